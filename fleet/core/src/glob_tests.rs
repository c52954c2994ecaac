use super::*;

/// Goal: the answers of Go's `path.Match` on the cases Go's own test table documents
/// (`src/path/match_test.go` in golang/go), with an error read as no match, as fleet reads it.
/// Method: a table of (pattern, name, matches).
#[test]
fn go_documented_cases() {
    let cases = [
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ab/c", false),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
    ];
    for (pattern, name, expected) in cases {
        assert_eq!(glob_match(pattern, name), expected, "{pattern:?} {name:?}");
    }
}

/// Goal: Go's malformed patterns (the `ErrBadPattern` rows of Go's table, and more) match
/// nothing, even where the malformed part comes after a part that matches. Method: each
/// pattern against names that a lenient reading would match.
#[test]
fn malformed_patterns_match_nothing() {
    let cases = [
        ("[]a]", "]"),
        ("[-]", "-"),
        ("[x-]", "x"),
        ("[x-]", "-"),
        ("[-x]", "x"),
        ("\\", "a"),
        ("\\", "\\"),
        ("[a-b-c]", "a"),
        ("[", "a"),
        ("[", "["),
        ("[^", "a"),
        ("[^bc", "a"),
        ("a[", "a"),
        ("a[", "ab"),
        ("a/b[", "x"),
        ("[]", "]"),
        ("[^]", "x"),
        ("x*[", "xy"),
        ("foo*\\", "foo"),
        ("*[", "a"),
        ("web.service[", "web.service"),
    ];
    for (pattern, name) in cases {
        assert!(!glob_match(pattern, name), "{pattern:?} {name:?}");
        assert_eq!(
            match_all(pattern.as_bytes(), name.as_bytes()),
            Err(BadPattern)
        );
    }
}

/// Goal: the forms fleet users write in `Conflicts=`/`Replaces=`. Method: a table.
#[test]
fn unit_name_patterns() {
    let cases = [
        ("web@*.service", "web@1.service", true),
        ("web@*.service", "web@.service", true),
        ("web@*.service", "web.service", false),
        ("web*", "web@1.service", true),
        ("*.service", "x.socket", false),
        ("web@?.service", "web@12.service", false),
        ("web@[0-9].service", "web@7.service", true),
        ("web@[!0-9].service", "web@!.service", true),
        ("web@[^0-9].service", "web@7.service", false),
        ("", "", true),
        ("", "x", false),
        ("x", "", false),
        ("*", "", true),
        ("**", "ab", true),
        ("a**b", "axxb", true),
        ("?", "", false),
        ("\\a", "a", true),
        ("[\\a]", "a", true),
    ];
    for (pattern, name, expected) in cases {
        assert_eq!(glob_match(pattern, name), expected, "{pattern:?} {name:?}");
    }
}

/// Goal: details of Go's semantics a character-based reimplementation would get wrong.
/// Method: cases derived from reading Go's `path.Match`.
#[test]
fn go_specific_details() {
    // A class, unlike `?` and `*`, may match a `/`.
    assert!(glob_match("a[^x]b", "a/b"));
    assert!(glob_match("a[/]b", "a/b"));
    assert!(!glob_match("a?b", "a/b"));
    // A star is not restricted to start from a character boundary: after skipping one byte
    // of `☺` (three bytes), each `?` takes one of the remaining bytes.
    assert!(glob_match("*??", "☺"));
    assert!(!glob_match("??", "☺"));
    // `*` inside a class is literal.
    assert!(glob_match("[*]", "*"));
    assert!(!glob_match("[*]", "a"));
}

/// Goal: no exponential blow-up on patterns with many stars (the classic backtracking
/// attack). Method: a pattern and name that force the worst case; the test finishes quickly
/// because the algorithm is O(pattern × name).
#[test]
fn many_stars_are_bounded() {
    let name = "a".repeat(20_000);
    let pattern = format!("{}b", "a*".repeat(40));
    assert!(!glob_match(&pattern, &name));
    let matching = format!("{name}b");
    assert!(glob_match(&pattern, &matching));
}

/// Goal: the literal prefix stops at the first operator and says whether it is the whole
/// pattern. Method: a table.
#[test]
fn literal_prefixes() {
    assert_eq!(literal_prefix("db.service"), ("db.service", true));
    assert_eq!(literal_prefix("web@*.service"), ("web@", false));
    assert_eq!(literal_prefix("a?c"), ("a", false));
    assert_eq!(literal_prefix("[ab]x"), ("", false));
    assert_eq!(literal_prefix("a\\*"), ("a", false));
}
