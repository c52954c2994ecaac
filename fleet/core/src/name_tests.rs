use super::*;

/// Goal: every validation rule of fleet's `api.ValidateName`, including which one wins
/// when several fail. Method: a table of names and the expected error.
#[test]
fn parse_refuses_as_fleet_does_first_failure_wins() {
    let long_valid = format!(
        "{}.service",
        "a".repeat(UNIT_NAME_LENGTH_MAX - ".service".len())
    );
    assert!(UnitName::parse(&long_valid).is_ok(), "256 bytes is allowed");
    let too_long = format!("a{long_valid}");
    let cases: Vec<(&str, NameError)> = vec![
        ("", NameError::Empty),
        (&too_long, NameError::TooLong { length: 257 }),
        ("foo", NameError::NoDot),
        ("foo.", NameError::EndsInDot),
        ("foo.service.", NameError::EndsInDot),
        (
            "foo.txt",
            NameError::UnknownType {
                suffix: "txt".into(),
            },
        ),
        (
            "foo.Service",
            NameError::UnknownType {
                suffix: "Service".into(),
            },
        ),
        (
            "foo@.mount",
            NameError::UnknownTemplateType {
                suffix: "mount".into(),
            },
        ),
        (
            "foo@bar.device",
            NameError::UnknownTemplateType {
                suffix: "device".into(),
            },
        ),
        (
            "fo o.service",
            NameError::InvalidCharacter { character: ' ' },
        ),
        (
            "a/b.service",
            NameError::InvalidCharacter { character: '/' },
        ),
        ("%n.service", NameError::InvalidCharacter { character: '%' }),
        ("é.service", NameError::InvalidCharacter { character: 'é' }),
        // The character check comes before the `@` check.
        (
            "@x y.service",
            NameError::InvalidCharacter { character: ' ' },
        ),
        ("@.service", NameError::StartsWithAt),
        ("@foo.service", NameError::StartsWithAt),
        // The type check comes before the character check.
        (
            "fo o.txt",
            NameError::UnknownType {
                suffix: "txt".into(),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(UnitName::parse(text), Err(expected), "{text:?}");
    }
}

/// Goal: the name shapes fleet's API accepts. Method: names using every allowed character and type.
#[test]
fn parse_accepts_every_type_and_allowed_character() {
    for suffix in UNIT_TYPES {
        assert!(UnitName::parse(&format!("x.{suffix}")).is_ok(), "{suffix}");
    }
    for suffix in TEMPLATE_TYPES {
        assert!(UnitName::parse(&format!("x@.{suffix}")).is_ok(), "{suffix}");
    }
    for text in [
        "a-b_c:d.e\\x2d.service",
        "A9.socket",
        "foo@bar@baz.service",
        "foo@a.b.service",
        "x.target",
    ] {
        let name = UnitName::parse(text).expect("valid");
        assert_eq!(name.as_str(), text);
        assert_eq!(name.to_string(), text);
        assert_eq!(text.parse::<UnitName>().expect("valid"), name);
    }
}

/// (name, suffix, without suffix, prefix, instance, template, is template, is instance)
type Anatomy = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
    bool,
);

#[rustfmt::skip]
const ANATOMY: [Anatomy; 5] = [
    ("web.service", "service", "web", "web", None, None, false, false),
    ("web@.service", "service", "web@", "web", Some(""), Some("web@.service"), true, false),
    ("web@1.service", "service", "web@1", "web", Some("1"), Some("web@.service"), false, true),
    ("a.b@c.d@e.socket", "socket", "a.b@c.d@e", "a.b", Some("c.d@e"), Some("a.b@.socket"), false, true),
    ("my.app.timer", "timer", "my.app", "my.app", None, None, false, false),
];

/// Goal: the name anatomy of fleet's `UnitNameInfo`. Method: the `ANATOMY` table of
/// names and their suffix, stem, prefix, instance, template and kind.
#[test]
fn anatomy_of_plain_template_and_instance_names() {
    for (text, suffix, stem, prefix, instance, template, is_template, is_instance) in ANATOMY {
        let name = UnitName::parse(text).expect("valid");
        assert_eq!(name.suffix(), suffix, "{text}");
        assert_eq!(name.without_suffix(), stem, "{text}");
        assert_eq!(name.prefix(), prefix, "{text}");
        assert_eq!(name.instance(), instance, "{text}");
        assert_eq!(name.is_template(), is_template, "{text}");
        assert_eq!(name.is_instance(), is_instance, "{text}");
        let derived = name.template();
        assert_eq!(derived.as_ref().map(UnitName::as_str), template, "{text}");
        if let Some(derived) = derived {
            assert_eq!(UnitName::parse(derived.as_str()), Ok(derived.clone()));
        }
    }
}

/// Goal: fleetctl's `unitNameMangle`, quirks included. Method: a table of arguments.
#[test]
fn mangle_takes_the_basename_and_appends_service() {
    let cases = [
        ("hello", "hello.service"),
        ("hello.service", "hello.service"),
        ("/home/core/hello.service", "hello.service"),
        ("units/hello@1.service", "hello@1.service"),
        ("dir/", "dir.service"),
        ("a.socket", "a.socket"),
        ("a.timer", "a.timer"),
        ("a.path", "a.path"),
        ("a.device", "a.device"),
        ("a.mount", "a.mount"),
        ("a.automount", "a.automount"),
        // Quirk kept: types fleetctl does not recognise get `.service` appended.
        ("x.target", "x.target.service"),
        ("x.slice", "x.slice.service"),
        ("x.Service", "x.Service.service"),
        // A type word without its dot is not a type.
        ("myservice", "myservice.service"),
        ("", "..service"),
        ("/", "/.service"),
        ("///", "/.service"),
    ];
    for (argument, expected) in cases {
        assert_eq!(mangle(argument), expected, "{argument:?}");
    }
}

/// Goal: fleet's error texts verbatim, with Go's `%q` quoting. Method: compare Display texts.
#[test]
fn error_texts_are_fleets() {
    let texts = [
        ("", "unit name cannot be empty"),
        ("foo", "unit name must contain \".\""),
        ("foo.", "unit name cannot end in \".\""),
        ("foo.txt", "invalid unit type: \"txt\""),
        ("foo@.mount", "invalid unit type for template: \"mount\""),
        ("f o.service", "invalid character ' ' in unit name"),
        ("f'.service", "invalid character '\\'' in unit name"),
        ("f\t.service", "invalid character '\\t' in unit name"),
        ("f\u{1}.service", "invalid character '\\x01' in unit name"),
        ("@foo.service", "unit name cannot start in \"@\""),
    ];
    for (text, expected) in texts {
        let error = UnitName::parse(text).expect_err("invalid");
        assert_eq!(error.to_string(), expected, "{text:?}");
    }
    let long = "a".repeat(300);
    assert_eq!(
        UnitName::parse(&long).expect_err("too long").to_string(),
        "unit name exceeds maximum length (256)"
    );
}

/// Goal: Go's `strconv.Quote` shape for the characters our texts can hold. Method: a table.
#[test]
fn go_quote_escapes_like_go() {
    assert_eq!(go_quote("a.service"), "\"a.service\"");
    assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    assert_eq!(go_quote("a\nb"), "\"a\\nb\"");
    assert_eq!(go_quote("é☺"), "\"é☺\"");
    assert_eq!(go_quote("\u{7f}\u{a0}"), "\"\\x7f\\u00a0\"");
    assert_eq!(go_quote_char('"'), "'\"'");
}
