use super::*;

fn option(section: &str, name: &str, value: &str) -> UnitOption {
    UnitOption {
        section: section.to_owned(),
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

fn parse(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("valid unit file")
}

/// One golden case: a unit file, its canonical text written by hand, and the SHA-1 of that
/// text computed independently with Python's `hashlib.sha1`.
struct Golden {
    label: &'static str,
    input: &'static str,
    canonical: &'static str,
    sha1_hex: &'static str,
}

const GOLDEN: [Golden; 9] = [
    Golden {
        label: "simple service",
        input: "[Unit]\nDescription=Hello World\n\n[Service]\n\
                ExecStart=/bin/bash -c \"while true; do echo Hello; sleep 1; done\"\n",
        canonical: "[Unit]\nDescription=Hello World\n\n[Service]\n\
                    ExecStart=/bin/bash -c \"while true; do echo Hello; sleep 1; done\"\n",
        sha1_hex: "e691c7738733e8cc13741640221b78ed8b6c2ec9",
    },
    Golden {
        label: "interleaved sections",
        input: "[Unit]\nDescription=web\n[Service]\nExecStart=/usr/bin/web\n[Unit]\n\
                After=docker.service\n[Install]\nWantedBy=multi-user.target\n[Service]\n\
                Restart=always\n",
        canonical: "[Unit]\nDescription=web\nAfter=docker.service\n\n[Service]\n\
                    ExecStart=/usr/bin/web\nRestart=always\n\n[Install]\n\
                    WantedBy=multi-user.target\n",
        sha1_hex: "8d0c7ee3620d751723724569bce0abc772aff7b7",
    },
    Golden {
        label: "comments",
        input: "# leading comment\n; another one\n[Unit]\n# inside a section\n\
                Description=commented   \n  ; indented comment\n# continued comment \\\n\
                Description=still the comment\n[Service]\n\
                ExecStart=/bin/true # not a comment\n#last",
        canonical: "[Unit]\nDescription=commented\n\n[Service]\n\
                    ExecStart=/bin/true # not a comment\n",
        sha1_hex: "691e3e873f776a95d95af17ba30ce5ecf4586918",
    },
    Golden {
        label: "continuation lines",
        input: "[Service]\nExecStart=/bin/sh -c \\\n    \"echo one; \\\n     echo two\"   \n\
                ExecStop=/bin/kill $MAINPID\n",
        canonical: "[Service]\nExecStart=/bin/sh -c \\\n    \"echo one; \\\n     echo two\"\n\
                    ExecStop=/bin/kill $MAINPID\n",
        sha1_hex: "8a42c899a73b1a352032d53245afa076b95d3970",
    },
    Golden {
        label: "continuation ended by a blank line keeps its line break",
        input: "[Service]\nEnvironment=A=1 \\\n   \nUser=core\n",
        canonical: "[Service]\nEnvironment=A=1 \\\n\nUser=core\n",
        sha1_hex: "a5059f6828489094b914ff65a9e0b62cf513b462",
    },
    Golden {
        label: "X-Fleet section",
        input: "[Unit]\nDescription=%p instance %i\n\n[Service]\n\
                ExecStart=/usr/bin/docker run --name %n busybox\n\n[X-Fleet]\n\
                \tConflicts = web@*.service  \n\
                MachineMetadata=\"region=us-east\" \"disk=ssd\"\nGlobal=false\n",
        canonical: "[Unit]\nDescription=%p instance %i\n\n[Service]\n\
                    ExecStart=/usr/bin/docker run --name %n busybox\n\n[X-Fleet]\n\
                    Conflicts=web@*.service\n\
                    MachineMetadata=\"region=us-east\" \"disk=ssd\"\nGlobal=false\n",
        sha1_hex: "ec4ed83d95014c242573d17b87ef3c56ae67d83e",
    },
    Golden {
        label: "empty values",
        input: "[Service]\nEnvironment=\nExecStart=\nExecStart=/bin/true\n[Unit]\nDescription=   ",
        canonical: "[Service]\nEnvironment=\nExecStart=\nExecStart=/bin/true\n\n[Unit]\n\
                    Description=\n",
        sha1_hex: "8f15f8aab2287b804ae56d0e06bdbbc3ff5a3b34",
    },
    Golden {
        label: "CRLF line ends and text before the first header",
        input: "junk=ignored\r\n[Unit]\r\nDescription=crlf\r\n\r\n[Service]\r\n\
                ExecStart=/bin/true\r\n",
        canonical: "[Unit]\nDescription=crlf\n\n[Service]\nExecStart=/bin/true\n",
        sha1_hex: "49dd929436098acd8b8425782c22fa92ab94cec6",
    },
    Golden {
        label: "empty file",
        input: "\n  \n# nothing\n",
        canonical: "",
        sha1_hex: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    },
];

/// Goal: canonical text and unit hash match fleet's on hand-checked files. Method:
/// parse each golden input, compare the canonical text with the hand-written one and the hash
/// with SHA-1 computed outside Rust, then check that the canonical text parses back to the
/// same options and hash.
#[test]
fn golden_canonical_text_and_hash() {
    for golden in &GOLDEN {
        let file = parse(golden.input);
        assert_eq!(file.canonical_text(), golden.canonical, "{}", golden.label);
        assert_eq!(file.hash().to_hex(), golden.sha1_hex, "{}", golden.label);
        let again = parse(&file.canonical_text());
        assert_eq!(again.options(), file.options(), "{}", golden.label);
        assert_eq!(again.hash(), file.hash(), "{}", golden.label);
        let rebuilt = UnitFile::from_options(file.options().to_vec()).expect("representable");
        assert_eq!(rebuilt, file, "{}", golden.label);
    }
}

/// Goal: the parsed values of continuation lines and empty values, option by option.
/// Method: compare the option lists of two golden inputs.
#[test]
fn continuation_and_empty_values_parse_as_go_systemd() {
    assert_eq!(
        parse(GOLDEN[3].input).options(),
        [
            option(
                "Service",
                "ExecStart",
                "/bin/sh -c \\\n    \"echo one; \\\n     echo two\""
            ),
            option("Service", "ExecStop", "/bin/kill $MAINPID"),
        ]
    );
    assert_eq!(
        parse(GOLDEN[6].input).options(),
        [
            option("Service", "Environment", ""),
            option("Service", "ExecStart", ""),
            option("Service", "ExecStart", "/bin/true"),
            option("Unit", "Description", ""),
        ]
    );
}

/// Goal: layout differences that do not change the options do not change the hash.
/// Method: variants of one unit (comments, blank lines, spacing, split sections) must all
/// hash like the plain text.
#[test]
fn whitespace_and_comment_variants_hash_the_same() {
    let plain = parse("[Unit]\nDescription=web\n[Service]\nExecStart=/usr/bin/web\nUser=core\n");
    let variants = [
        "[Unit]\nDescription=web\n\n[Service]\nExecStart=/usr/bin/web\nUser=core",
        "# header comment\n[Unit]\n  Description   =   web  \n\n\n[Service]\n; x\n\
         \tExecStart=/usr/bin/web\t\n   User=core\n\n",
        "[Unit]\r\nDescription=web\r\n[Service]\r\nExecStart=/usr/bin/web\r\nUser=core\r\n",
        "[Service]\nExecStart=/usr/bin/web\n[Unit]\nDescription=web\n[Service]\nUser=core\n",
        "before any header\n[Unit]   \nDescription=web\n[Service]\t\nExecStart=/usr/bin/web\n\
         # trailing \\\ncomment\nUser=core\n",
    ];
    for (index, variant) in variants.iter().enumerate() {
        let file = parse(variant);
        if index == 3 {
            // Sections come in order of first appearance, so this one starts with [Service].
            assert_ne!(file.hash(), plain.hash());
            assert_eq!(file.values("Service", "User"), ["core"]);
            continue;
        }
        assert_eq!(file.options(), plain.options(), "variant {index}");
        assert_eq!(file.hash(), plain.hash(), "variant {index}");
    }
}

/// Goal: go-systemd's lexer quirks that fleet inherits. Method: inputs and the options they
/// yield.
#[test]
fn go_systemd_lexer_quirks() {
    // Before the first header a `[` anywhere opens a section, and `#` anywhere a comment.
    assert_eq!(
        parse("Key=[Odd]\nName=value\n").options(),
        [option("Odd", "Name", "value")]
    );
    assert!(parse("Key=a # [Hidden]\nName=value\n").options().is_empty());
    // A section name may span lines and is not trimmed.
    assert_eq!(
        parse("[ A\nB ]\nk=v").options(),
        [option(" A\nB ", "k", "v")]
    );
    // An empty section name and an empty option name are accepted.
    assert_eq!(parse("[]\n=v\n").options(), [option("", "", "v")]);
    // The name ends at the first `=`.
    assert_eq!(parse("[S]\nA=B=C\n").options(), [option("S", "A", "B=C")]);
    // A continuation takes the next line whatever it holds, comments and headers included.
    assert_eq!(
        parse("[S]\nA=1 \\\n# not a comment\n[T]\nB=2\n").options(),
        [
            option("S", "A", "1 \\\n# not a comment"),
            option("T", "B", "2")
        ]
    );
    // A backslash followed by spaces does not continue.
    assert_eq!(
        parse("[S]\nA=1 \\  \nB=2\n").options(),
        [option("S", "A", "1 \\"), option("S", "B", "2")]
    );
    // With CRLF the `\r` stays before the line break, so a backslash there does not continue.
    assert_eq!(
        parse("[S]\r\nA=1 \\\r\nB=2\r\n").options(),
        [option("S", "A", "1 \\"), option("S", "B", "2")]
    );
    // A comment continues after dropping exactly one trailing space.
    assert_eq!(
        parse("[S]\n#a \\ \nB=hidden\n#c \\  \nD=4\n").options(),
        [option("S", "D", "4")]
    );
}

/// Goal: a value ending in a backslash at the very end of the text is the one parse result
/// whose canonical text reads back differently (go-systemd keeps no line break there, but the
/// canonical text adds one). Method: parse, check the value, reparse the canonical text.
#[test]
fn trailing_backslash_at_end_of_text() {
    let file = parse("[S]\nA=1 \\");
    assert_eq!(file.options(), [option("S", "A", "1 \\")]);
    assert_eq!(file.canonical_text(), "[S]\nA=1 \\\n");
    assert_eq!(
        parse(&file.canonical_text()).options(),
        [option("S", "A", "1 \\\n")]
    );
    assert!(UnitFile::from_options(file.options().to_vec()).is_err());
}

/// Goal: the 2048-byte line limit, measured as go-systemd does: bytes before the next
/// `\r` or `\n`. Method: lines just under and at the limit in several places.
#[test]
fn line_length_limit() {
    let value_ok = "x".repeat(LINE_LENGTH_MAX - 3);
    assert!(UnitFile::parse(&format!("[S]\nA={value_ok}\n")).is_ok());
    assert!(UnitFile::parse(&format!("[S]\nA={value_ok}\r\n")).is_ok());
    let value_long = "x".repeat(LINE_LENGTH_MAX - 2);
    for text in [
        format!("[S]\nA={value_long}\n"),
        format!("[S]\nA={value_long}"),
        format!("[S]\nA=1 \\\n{}\n", "y".repeat(LINE_LENGTH_MAX)),
        format!("#{}\n[S]\nA=1\n", "c".repeat(LINE_LENGTH_MAX)),
        format!("{}\n[S]\nA=1\n", "z".repeat(LINE_LENGTH_MAX + 10)),
    ] {
        let error = UnitFile::parse(&text).expect_err("too long");
        assert!(
            matches!(error, UnitFileError::LineTooLong { .. }),
            "{error:?}"
        );
    }
    // As in go-systemd, a comment's continuation lines are skipped unchecked.
    let comment = format!("[S]\n# x \\\n{}\nA=1\n", "c".repeat(3 * LINE_LENGTH_MAX));
    assert_eq!(parse(&comment).options(), [option("S", "A", "1")]);
    assert_eq!(
        UnitFile::parse(&format!("[S]\nA=1\nB={value_long}\n")),
        Err(UnitFileError::LineTooLong { line: 3 })
    );
}

/// Goal: each parse error, with its line. Method: a table of texts and errors.
#[test]
fn parse_errors_carry_the_line() {
    let cases = [
        (
            "[Unit\nDescription=x\n",
            UnitFileError::SectionUnterminated { line: 1 },
        ),
        (
            "[A]\nk=v\n\n[B",
            UnitFileError::SectionUnterminated { line: 4 },
        ),
        (
            "[Unit] trailing\n",
            UnitFileError::GarbageAfterSection {
                line: 1,
                section: "Unit".into(),
                garbage: "trailing".into(),
            },
        ),
        (
            "[Unit]\nA=1\n[Service]x=1\n",
            UnitFileError::GarbageAfterSection {
                line: 3,
                section: "Service".into(),
                garbage: "x=1".into(),
            },
        ),
        (
            "[Unit]\nDescription\nA=1\n",
            UnitFileError::OptionWithoutEquals { line: 2 },
        ),
        (
            "[Unit]\nA=1\nDescription",
            UnitFileError::OptionWithoutEquals { line: 3 },
        ),
        (
            "[Unit]\nBad\rName=1\n",
            UnitFileError::OptionWithoutEquals { line: 2 },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(UnitFile::parse(text), Err(expected), "{text:?}");
    }
    assert_eq!(
        UnitFileError::OptionWithoutEquals { line: 2 }.to_string(),
        "line 2: option name not followed by \"=\""
    );
    assert_eq!(
        UnitFileError::LineTooLong { line: 7 }.to_string(),
        "line 7: line too long (max 2048 bytes)"
    );
}

/// Goal: the API create path groups options by section and refuses options that would not
/// survive canonical text. Method: a valid list, then one list per defect.
#[test]
fn from_options_groups_and_refuses_what_cannot_round_trip() {
    let file = UnitFile::from_options(vec![
        option("Unit", "Description", "x"),
        option("Service", "ExecStart", "/bin/a \\\n  --flag"),
        option("Unit", "After", ""),
        option("Service", "Environment", "A=1 \\\n"),
    ])
    .expect("representable");
    assert_eq!(
        file.canonical_text(),
        "[Unit]\nDescription=x\nAfter=\n\n[Service]\nExecStart=/bin/a \\\n  --flag\n\
         Environment=A=1 \\\n\n"
    );
    assert_eq!(parse(&file.canonical_text()), file);

    let long = "v".repeat(LINE_LENGTH_MAX);
    let cases = [
        (option("S", "A", &long), OptionDefect::LineTooLong),
        (
            option("S]", "A", "1"),
            OptionDefect::SectionNameHoldsBracket,
        ),
        (option("S", "A\nB", "1"), OptionDefect::LineBreak),
        (option("S", "A", "1\n2"), OptionDefect::LineBreak),
        (option("S", "A", "1\r2\n3"), OptionDefect::LineBreak),
        (option("S", " A", "1"), OptionDefect::ReadsBackDifferently),
        (option("S", "A", " 1"), OptionDefect::ReadsBackDifferently),
        (option("S", "A", "1 "), OptionDefect::ReadsBackDifferently),
        (option("S", "A=B", "1"), OptionDefect::ReadsBackDifferently),
        (option("S", "#A", "1"), OptionDefect::ReadsBackDifferently),
        (option("S", ";A", "1"), OptionDefect::ReadsBackDifferently),
        (option("S", "A", "1\\"), OptionDefect::ReadsBackDifferently),
        (option("S", "A", "1\\\n\n2"), OptionDefect::LineBreak),
        (
            option("S", "A", "1\\\n "),
            OptionDefect::ReadsBackDifferently,
        ),
    ];
    for (bad, defect) in cases {
        let error = UnitFile::from_options(vec![option("Unit", "Description", "ok"), bad.clone()])
            .expect_err("not representable");
        assert_eq!(
            error,
            UnitFileError::OptionNotRepresentable {
                index: 1,
                section: bad.section.clone(),
                name: bad.name.clone(),
                defect,
            },
            "{bad:?}"
        );
    }
}

/// Goal: the accessors fleet uses on a unit file. Method: one file with repeated options.
#[test]
fn values_description_and_install() {
    let file = parse(
        "[Unit]\nDescription=first\nDescription=second\n[Service]\nExecStart=a\n\
         ExecStart=b\n[X-Fleet]\nDescription=not this one\n",
    );
    assert_eq!(file.values("Service", "ExecStart"), ["a", "b"]);
    assert!(file.values("Service", "Nope").is_empty());
    assert!(file.values("service", "ExecStart").is_empty());
    // fleet's `Description()` takes the first value.
    assert_eq!(file.description(), Some("first"));
    assert!(!file.has_install_section());
    assert_eq!(parse("[Service]\nX=1\n").description(), None);
    assert!(parse("[Install]\nWantedBy=multi-user.target\n").has_install_section());
    // A header alone creates no option, so no section.
    assert!(!parse("[Install]\n[Service]\nX=1\n").has_install_section());
}

/// Goal: the hash's text forms and raw bytes (fleet `unit.Hash`). Method: round trips and
/// refusals.
#[test]
fn unit_hash_forms() {
    let hash = UnitHash::of_text("");
    assert_eq!(hash.to_hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_eq!(hash.short(), "da39a3e");
    assert_eq!(hash.to_string(), hash.to_hex());
    assert_eq!(
        format!("{hash:?}"),
        "UnitHash(da39a3ee5e6b4b0d3255bfef95601890afd80709)"
    );
    assert_eq!(UnitHash::from_hex(&hash.to_hex()), Ok(hash));
    assert_eq!(
        UnitHash::from_hex("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
        Ok(hash)
    );
    assert_eq!("da39a3ee5e6b4b0d3255bfef95601890afd80709".parse(), Ok(hash));
    assert_eq!(UnitHash::from_bytes(*hash.as_bytes()), hash);
    assert_eq!(hash.as_bytes()[0], 0xda);
    assert_eq!(hash.as_bytes()[19], 0x09);
    assert_eq!(
        UnitHash::from_hex("da39"),
        Err(UnitHashError::WrongLength { length: 4 })
    );
    assert_eq!(
        UnitHash::from_hex("da39a3ee5e6b4b0d3255bfef95601890afd8070g"),
        Err(UnitHashError::InvalidDigit {
            character: 'g',
            position: 39
        })
    );
    assert_eq!(
        UnitHash::from_hex(&format!("é{}", "0".repeat(38))),
        Err(UnitHashError::InvalidDigit {
            character: 'é',
            position: 0
        })
    );
}

/// Goal: parsing stays linear in the text (the line-length check and line numbers must not
/// rescan it per option). Method: a file of 50,000 options and 1,000 sections parses, groups
/// and round-trips well within the test's time.
#[test]
fn large_files_parse_in_linear_time() {
    let mut text = String::new();
    for index in 0..50_000 {
        if index % 50 == 0 {
            text.push_str(&format!("[Section{}]\n", index % 1000));
        }
        text.push_str(&format!("Key{index}=value {index}\n"));
    }
    let file = parse(&text);
    assert_eq!(file.options().len(), 50_000);
    let rebuilt = UnitFile::from_options(file.options().to_vec()).expect("representable");
    assert_eq!(rebuilt.hash(), file.hash());
    assert_eq!(parse(&file.canonical_text()), file);
}
