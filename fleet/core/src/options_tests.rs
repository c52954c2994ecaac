use super::*;

fn name(text: &str) -> UnitName {
    UnitName::parse(text).expect("valid unit name")
}

/// `[X-Fleet]` with `body`, read for the unit `unit`.
fn read(unit: &str, body: &str) -> Result<XFleetOptions, OptionsError> {
    let file = UnitFile::parse(&format!(
        "[Service]\nExecStart=/bin/true\n[X-Fleet]\n{body}"
    ))
    .expect("valid unit file");
    parse_x_fleet(&name(unit), &file)
}

fn requirements(body: &str) -> Requirements {
    read("web.service", body)
        .expect("accepted combination")
        .requirements
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

/// Goal: each `[X-Fleet]` option lands in its field. Method: one option at a time.
#[test]
fn each_option_fills_its_field() {
    assert_eq!(requirements(""), Requirements::default());
    assert_eq!(
        requirements("MachineID=abc123\n").machine_id.as_deref(),
        Some("abc123")
    );
    assert_eq!(
        requirements("MachineOf=db.service\nMachineOf=cache.service\n").machine_of,
        strings(&["db.service", "cache.service"])
    );
    assert_eq!(
        requirements("MachineMetadata=region=us\n").metadata,
        BTreeMap::from([("region".to_owned(), set(&["us"]))])
    );
    assert_eq!(
        requirements("Conflicts=web@*.service\n").conflicts,
        strings(&["web@*.service"])
    );
    assert_eq!(
        requirements("Replaces=old.service\n").replaces,
        strings(&["old.service"])
    );
    assert!(requirements("Global=true\n").global);
}

/// Goal: the deprecated aliases and their precedence (fleet `job.go`). Method: each
/// alias alone, then mixed with the modern key in either file order.
#[test]
fn deprecated_aliases_are_honoured() {
    for alias in ["X-ConditionMachineID", "X-ConditionMachineBootID"] {
        assert_eq!(
            requirements(&format!("{alias}=abc\n"))
                .machine_id
                .as_deref(),
            Some("abc"),
            "{alias}"
        );
    }
    // MachineID wins over its aliases wherever it appears; then X-ConditionMachineID wins
    // over X-ConditionMachineBootID; within a key the first value counts.
    let cases = [
        (
            "X-ConditionMachineID=alias\nMachineID=modern\nMachineID=later\n",
            "modern",
        ),
        (
            "X-ConditionMachineBootID=boot\nX-ConditionMachineID=alias\n",
            "alias",
        ),
        ("MachineID=\"first\" \"second\"\n", "first"),
    ];
    for (body, expected) in cases {
        assert_eq!(
            requirements(body).machine_id.as_deref(),
            Some(expected),
            "{body}"
        );
    }
    assert_eq!(
        requirements("MachineOf=b.service\nX-ConditionMachineOf=a.service\n").machine_of,
        strings(&["a.service", "b.service"])
    );
    assert_eq!(
        requirements("Conflicts=b*\nX-Conflicts=a*\n").conflicts,
        strings(&["a*", "b*"])
    );
    assert_eq!(
        requirements("X-ConditionMachineMetadata=disk=ssd\nMachineMetadata=disk=hdd\n").metadata,
        BTreeMap::from([("disk".to_owned(), set(&["hdd", "ssd"]))])
    );
    // Not aliases: bare MachineBootID, X-Replaces, X-ConditionGlobal; keys are case-sensitive.
    let options = read(
        "web.service",
        "MachineBootID=a\nX-Replaces=b\nX-ConditionGlobal=true\nglobal=true\nmachineid=x\n",
    )
    .expect("unknown keys are accepted");
    assert_eq!(options.requirements, Requirements::default());
    assert_eq!(
        options.unknown_keys,
        strings(&[
            "MachineBootID",
            "X-Replaces",
            "X-ConditionGlobal",
            "global",
            "machineid"
        ])
    );
}

/// Goal: fleet's value splitting (`parseMultivalueLine`, `splitCombine`). Method: a
/// table for `split_value`, then how each key splits further.
#[test]
fn value_splitting() {
    let cases: [(&str, &[&str]); 9] = [
        ("a=b", &["a=b"]),
        ("a=b c=d", &["a=b c=d"]),
        ("\"a=b\" \"c=d\"", &["a=b", "c=d"]),
        ("\"a=b c=d\"", &["a=b c=d"]),
        ("\"a\"  \"b\"", &["a", "", "b"]),
        ("\"a\"\t\"b\"", &["a\tb"]),
        ("\"a b\"c \"d\"", &["a bc", "d"]),
        ("\"", &[""]),
        ("x \"y\"", &["x \"y\""]),
    ];
    for (raw, expected) in cases {
        assert_eq!(split_value(raw), strings(expected), "{raw:?}");
    }
    // Conflicts are also split on whitespace, quoted or not; empty pieces vanish.
    assert_eq!(
        requirements("Conflicts=a* b*\tc*\nConflicts=\"d* e*\" \"f*\"\nConflicts=\n").conflicts,
        strings(&["a*", "b*", "c*", "d*", "e*", "f*"])
    );
    // Replaces and MachineOf are not: an unquoted value with spaces stays one value.
    let split = requirements("Replaces=a* b*\nReplaces=\"c*\" \"d*\"\n");
    assert_eq!(split.replaces, strings(&["a* b*", "c*", "d*"]));
    assert_eq!(
        requirements("MachineOf=a.service b.service\n").machine_of,
        strings(&["a.service b.service"])
    );
}

/// Goal: the `MachineMetadata` item rules: equality items group by key, other forms become
/// selectors, malformed items are refused. Method: valid items, then each malformed one.
#[test]
fn machine_metadata_items() {
    let requirements = requirements(
        "MachineMetadata=\"region=us\" \"region=eu\"\nMachineMetadata=disk=ssd\n\
         MachineMetadata=plain\nMachineMetadata=zone notin (a,b)\nMachineMetadata=cores>=4\n",
    );
    assert_eq!(
        requirements.metadata,
        BTreeMap::from([
            ("disk".to_owned(), set(&["ssd"])),
            ("region".to_owned(), set(&["eu", "us"])),
        ])
    );
    let selectors: Vec<String> = requirements
        .selectors
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        selectors,
        strings(&["plain", "zone notin (a,b)", "cores>=4"])
    );
    for item in ["a=b=c", "=x", "y=", "role=web role=db", "zone in a"] {
        let error = read("web.service", &format!("MachineMetadata={item}\n")).expect_err(item);
        assert!(
            matches!(error, OptionsError::Metadata(_)),
            "{item}: {error}"
        );
    }
}

/// Goal: `Cpu`, `Memory` and `SpreadBy` fill the requests and the spread key; the last value
/// counts, an empty one clears, a bad one is refused. Method: one option at a time.
#[test]
fn resource_requests_and_spread_key() {
    let wanted = requirements("Cpu=250m\nMemory=1G\nMemory=512M\nSpreadBy=zone\n");
    assert_eq!(
        wanted.requests,
        Resources {
            cpu_millis: 250,
            memory_bytes: 512 << 20
        }
    );
    assert_eq!(wanted.spread_by.as_deref(), Some("zone"));
    assert_eq!(requirements("Cpu=2\nCpu=\n").requests, Resources::ZERO);
    let bad_cpu = read("web.service", "Cpu=lots\n").expect_err("bad cpu");
    assert_eq!(
        bad_cpu.to_string(),
        "invalid Cpu value \"lots\": expected cores (2, 0.5) or millicores (500m), at least 1m"
    );
    let bad_memory = read("web.service", "Memory=2X\n").expect_err("bad memory");
    assert!(matches!(bad_memory, OptionsError::Quantity(_)));
    let bad_spread = read("web.service", "SpreadBy=zone=a\n").expect_err("bad key");
    assert_eq!(
        bad_spread.to_string(),
        "invalid SpreadBy value \"zone=a\": expected one metadata key"
    );
}

/// Goal: `Global` truthiness, case-insensitive, last value wins. Method: a table.
#[test]
fn global_truthiness() {
    for value in [
        "true", "TRUE", "True", "yes", "Yes", "1", "on", "ON", "t", "T",
    ] {
        assert!(is_truthy(value), "{value}");
        assert!(requirements(&format!("Global={value}\n")).global, "{value}");
    }
    for value in [
        "false", "no", "0", "off", "", "y", "tru", " true", "true!", "enabled",
    ] {
        assert!(!is_truthy(value), "{value}");
    }
    assert!(!requirements("Global=true\nGlobal=false\n").global);
    assert!(requirements("Global=no\nGlobal=yes\n").global);
    assert!(!requirements("Global=\"true\" \"false\"\n").global);
    // An unquoted value is one value, and "true false" is not truthy.
    assert!(!requirements("Global=true false\n").global);
}

/// Goal: specifiers `%n %N %p %i` use the unit's own name in every key, applied one
/// after the other as fleet's `unitPrintf`. Method: an instance, a plain unit, a chained case.
#[test]
fn specifiers_use_the_units_own_name() {
    let body = "MachineOf=%p-db@%i.service\nConflicts=%p@*.service\nMachineMetadata=role=%i\n\
                Replaces=%N.old\nMachineID=%n\n";
    let got = read("web@3.service", &format!("{body}Global=false\n"));
    // MachineID with the others is refused, so read the parts separately.
    assert_eq!(got, Err(OptionsError::MachineIdWithMachineOf));
    let instance = read(
        "web@3.service",
        "MachineOf=%p-db@%i.service\nMachineMetadata=role=%i\nReplaces=%N.old %n\n",
    )
    .expect("accepted")
    .requirements;
    assert_eq!(instance.machine_of, strings(&["web-db@3.service"]));
    assert_eq!(
        instance.metadata,
        BTreeMap::from([("role".to_owned(), set(&["3"]))])
    );
    assert_eq!(instance.replaces, strings(&["web@3.old web@3.service"]));
    let conflicts = read("web@3.service", "Conflicts=%p@*.service %n\n")
        .expect("accepted")
        .requirements
        .conflicts;
    assert_eq!(conflicts, strings(&["web@*.service", "web@3.service"]));
    // A plain name: %p is the name without suffix and %i is empty.
    let plain = read(
        "api.socket",
        "MachineOf=%p.service\nMachineMetadata=x=a%ib\n",
    )
    .expect("accepted")
    .requirements;
    assert_eq!(plain.machine_of, strings(&["api.service"]));
    assert_eq!(
        plain.metadata,
        BTreeMap::from([("x".to_owned(), set(&["ab"]))])
    );
    // A template: %i is empty too.
    let template = read("web@.service", "MachineID=m-%i-%N\n")
        .expect("accepted")
        .requirements;
    assert_eq!(template.machine_id.as_deref(), Some("m--web@"));
    // One after the other: `%%p` becomes `%i` once `%p` is replaced, then the instance.
    let chained = read("i@x.service", "MachineID=%%p\n")
        .expect("accepted")
        .requirements;
    assert_eq!(chained.machine_id.as_deref(), Some("x"));
    // Unknown specifiers stay as they are.
    assert_eq!(
        requirements("MachineID=%m%H%%\n").machine_id.as_deref(),
        Some("%m%H%%")
    );
}

/// Goal: unknown keys are reported once each, in order; other sections are not read.
/// Method: a file with unknown keys, repeats, and `[X-Fleet]`-looking keys elsewhere.
#[test]
fn unknown_keys_and_other_sections() {
    let file = UnitFile::parse(
        "[Unit]\nMachineID=ignored\n[X-Fleet]\nFoo=1\nMachineID=m1\nBar=2\nFoo=3\n\
         [x-fleet]\nGlobal=true\n",
    )
    .expect("valid");
    let options = parse_x_fleet(&name("web.service"), &file).expect("accepted");
    assert_eq!(options.unknown_keys, strings(&["Foo", "Bar"]));
    assert_eq!(options.requirements.machine_id.as_deref(), Some("m1"));
    assert!(!options.requirements.global);
}

/// Bodies fleet refuses, the refusal, and the text fleetctl and the API print.
const REFUSALS: [(&str, OptionsError, &str); 15] = [
    (
        "MachineID=m\nMachineOf=a.service\n",
        OptionsError::MachineIdWithMachineOf,
        "MachineID cannot be used with Peers",
    ),
    (
        "X-ConditionMachineBootID=m\nX-ConditionMachineOf=a.service\n",
        OptionsError::MachineIdWithMachineOf,
        "MachineID cannot be used with Peers",
    ),
    (
        "MachineID=m\nConflicts=a*\n",
        OptionsError::MachineIdWithConflicts,
        "MachineID cannot be used with Conflicts",
    ),
    (
        "X-ConditionMachineID=m\nX-Conflicts=a*\n",
        OptionsError::MachineIdWithConflicts,
        "MachineID cannot be used with Conflicts",
    ),
    (
        "MachineID=m\nGlobal=yes\n",
        OptionsError::MachineIdWithGlobal,
        "MachineID cannot be used with Global",
    ),
    (
        "MachineID=m\nReplaces=a*\n",
        OptionsError::MachineIdWithReplaces,
        "MachineID cannot be used with Replaces",
    ),
    (
        "Global=1\nMachineOf=a.service\n",
        OptionsError::GlobalWithMachineOf,
        "Global cannot be used with Peers",
    ),
    (
        "Global=on\nReplaces=a*\n",
        OptionsError::GlobalWithReplaces,
        "Global cannot be used with Replaces",
    ),
    (
        "Conflicts=a*\nReplaces=b*\n",
        OptionsError::ConflictsWithReplaces,
        "Conflicts cannot be used with Replaces",
    ),
    // Present but empty still counts, except for Conflicts, whose whitespace split leaves
    // nothing (fleet quirk).
    (
        "MachineID=\nMachineOf=a.service\n",
        OptionsError::MachineIdWithMachineOf,
        "MachineID cannot be used with Peers",
    ),
    (
        "MachineID=m\nReplaces=\n",
        OptionsError::MachineIdWithReplaces,
        "MachineID cannot be used with Replaces",
    ),
    (
        "Global=t\nMachineOf=\n",
        OptionsError::GlobalWithMachineOf,
        "Global cannot be used with Peers",
    ),
    // The first refusal in fleet's order wins.
    (
        "Conflicts=a*\nReplaces=b*\nMachineID=m\nGlobal=true\n",
        OptionsError::MachineIdWithConflicts,
        "MachineID cannot be used with Conflicts",
    ),
    (
        "Global=true\nReplaces=b*\nMachineID=m\n",
        OptionsError::MachineIdWithGlobal,
        "MachineID cannot be used with Global",
    ),
    (
        "Global=true\nReplaces=b*\nMachineOf=x.service\n",
        OptionsError::GlobalWithMachineOf,
        "Global cannot be used with Peers",
    ),
];

/// Goal: every refusal fleet makes, with fleet's exact text. Method: a table of bodies, the
/// variant, and the text fleetctl and the API print.
#[test]
fn refused_combinations() {
    for (body, expected, text) in REFUSALS {
        let error = read("web.service", body).expect_err("refused");
        assert_eq!(error, expected, "{body}");
        assert_eq!(error.to_string(), text, "{body}");
    }
}

/// Goal: a `MachineOf` unit matched by the unit's own `Conflicts` or `Replaces`, with
/// fleet's text, checked before the pair refusals. Method: a table.
#[test]
fn machine_of_matched_by_own_patterns() {
    let conflict = read(
        "web.service",
        "MachineOf=db@1.service\nConflicts=db@*.service\n",
    );
    assert_eq!(
        conflict,
        Err(OptionsError::MachineOfMatchesConflicts {
            machine_of: "db@1.service".into(),
            pattern: "db@*.service".into(),
        })
    );
    assert_eq!(
        conflict.expect_err("refused").to_string(),
        "unresolvable requirements: peer \"db@1.service\" matches conflict \"db@*.service\""
    );
    let replace = read("web.service", "MachineOf=db.service\nReplaces=d?.service\n");
    assert_eq!(
        replace,
        Err(OptionsError::MachineOfMatchesReplaces {
            machine_of: "db.service".into(),
            pattern: "d?.service".into(),
        })
    );
    assert_eq!(
        replace.expect_err("refused").to_string(),
        "unresolvable requirements: peer \"db.service\" matches replace \"d?.service\""
    );
    // Checked before the pairs: MachineID+MachineOf would also be refused.
    assert!(matches!(
        read(
            "web.service",
            "MachineID=m\nMachineOf=a.service\nConflicts=a.service\n"
        ),
        Err(OptionsError::MachineOfMatchesConflicts { .. })
    ));
    // For one MachineOf value its Conflicts are tried before its Replaces.
    assert!(matches!(
        read(
            "web.service",
            "MachineOf=a.service\nReplaces=a*\nX-Conflicts=*.service\n"
        ),
        Err(OptionsError::MachineOfMatchesConflicts { .. })
    ));
    // A malformed pattern matches nothing.
    assert!(read("web.service", "MachineOf=a.service\nConflicts=a[\n").is_ok());
}

/// Goal: the refusals are judged before specifier substitution, as fleet validates with an
/// empty unit name. Method: a pair that only matches after substitution is accepted (and
/// the requirements are substituted); a pair that matches before it is refused, naming the
/// raw values.
#[test]
fn refusals_use_values_before_substitution() {
    let accepted = read(
        "web@1.service",
        "MachineOf=%p.service\nConflicts=web.service\n",
    )
    .expect("fleet accepts this");
    assert_eq!(accepted.requirements.machine_of, strings(&["web.service"]));
    assert_eq!(accepted.requirements.conflicts, strings(&["web.service"]));
    assert_eq!(
        read(
            "web@1.service",
            "MachineOf=%p.service\nConflicts=%p.service\n"
        ),
        Err(OptionsError::MachineOfMatchesConflicts {
            machine_of: "%p.service".into(),
            pattern: "%p.service".into(),
        })
    );
    // A template's options are validated like any other unit's.
    assert_eq!(
        read("web@.service", "MachineID=%i\nGlobal=true\n"),
        Err(OptionsError::MachineIdWithGlobal)
    );
}

/// Goal: every combination fleet allows is accepted and kept. Method: a table of bodies.
#[test]
fn allowed_combinations() {
    let cases = [
        "Global=true\nMachineMetadata=role=web\n",
        "Global=true\nConflicts=web@*.service\n",
        "MachineID=m\nMachineMetadata=role=web\n",
        "MachineOf=db.service\nMachineMetadata=role=web\n",
        "MachineOf=db.service\nConflicts=web@*.service\n",
        "Replaces=old.service\nMachineMetadata=role=web\n",
        "Replaces=old.service\nMachineOf=db.service\n",
        // Not refusals: a false Global, and a Conflicts value that splits into nothing.
        "MachineID=m\nGlobal=false\n",
        "MachineID=m\nConflicts=\n",
        "Global=off\nReplaces=old.service\nMachineOf=db.service\n",
    ];
    for body in cases {
        let options = read("web.service", body);
        assert!(options.is_ok(), "{body}: {options:?}");
    }
    let kept = requirements("Global=true\nConflicts=web@*.service\nMachineMetadata=a=b\n");
    assert!(kept.global);
    assert_eq!(kept.conflicts, strings(&["web@*.service"]));
    assert_eq!(
        kept.metadata,
        BTreeMap::from([("a".to_owned(), set(&["b"]))])
    );
}

/// Goal: a timer names the unit it starts: `[Timer] Unit=` when given (the last, trimmed),
/// else its own name with `.service` (instances too); other unit types name none.
/// Method: timer files with and without `Unit=`, and a service.
#[test]
fn a_timer_names_the_unit_it_starts() {
    let triggers = |unit: &str, text: &str| {
        let file = UnitFile::parse(text).expect("valid unit file");
        parse_x_fleet(&name(unit), &file)
            .expect("accepted")
            .requirements
            .triggers
    };
    assert_eq!(
        triggers("nightly.timer", "[Timer]\nOnCalendar=daily\n").as_deref(),
        Some("nightly.service")
    );
    assert_eq!(
        triggers("report@3.timer", "[Timer]\nOnActiveSec=1\n").as_deref(),
        Some("report@3.service")
    );
    assert_eq!(
        triggers(
            "nightly.timer",
            "[Timer]\nUnit=first.service\nUnit= backup.service \n"
        )
        .as_deref(),
        Some("backup.service")
    );
    assert_eq!(
        triggers("web.service", "[Service]\nExecStart=/bin/true\n"),
        None
    );
}

/// Goal: a batch job is `Kind=batch`, or a `Type=oneshot` service without a true
/// `RemainAfterExit=`; `Kind=service` says no; a global oneshot is no batch job; `Kind=`
/// with another value, with `Global=true` or on a timer is refused with its reason.
/// Method: a table of unit files.
#[test]
fn a_batch_job_is_declared_or_a_oneshot_service() {
    let parse = |unit: &str, text: &str| {
        let file = UnitFile::parse(text).expect("valid unit file");
        parse_x_fleet(&name(unit), &file).map(|options| options.requirements.batch)
    };
    let cases = [
        ("[Service]\nExecStart=/bin/true\n", Ok(false)),
        ("[Service]\nType=oneshot\nExecStart=/bin/true\n", Ok(true)),
        (
            "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n",
            Ok(false),
        ),
        (
            "[Service]\nType=oneshot\nRemainAfterExit=yes\nRemainAfterExit=no\n",
            Ok(true),
        ),
        (
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\nKind=batch\n",
            Ok(true),
        ),
        (
            "[Service]\nType=oneshot\nExecStart=/bin/true\n[X-Fleet]\nKind=service\n",
            Ok(false),
        ),
        (
            "[Service]\nType=oneshot\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n",
            Ok(false),
        ),
        (
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\nKind=cron\n",
            Err("invalid Kind value \"cron\": expected batch or service".to_owned()),
        ),
        (
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\nKind=batch\nGlobal=true\n",
            Err("Kind=batch cannot be used with Global".to_owned()),
        ),
    ];
    for (text, expected) in cases {
        let got = parse("job.service", text).map_err(|error| error.to_string());
        assert_eq!(got, expected, "{text}");
    }
    let timer = parse(
        "job.timer",
        "[Timer]\nOnActiveSec=1\n[X-Fleet]\nKind=batch\n",
    );
    assert_eq!(
        timer.map_err(|error| error.to_string()),
        Err("Kind=batch needs a .service unit, not a .timer unit".to_owned())
    );
}

/// Goal: `Retries=` is a count from 0 to 100 (the last value counts, an empty one clears);
/// above 0 it needs a batch job; anything else is refused with its reason.
/// Method: a table of unit files.
#[test]
fn retries_are_a_bounded_count_for_batch_jobs() {
    let parse = |text: &str| {
        let file = UnitFile::parse(text).expect("valid unit file");
        parse_x_fleet(&name("job.service"), &file)
            .map(|options| options.requirements.retries)
            .map_err(|error| error.to_string())
    };
    let oneshot = "[Service]\nType=oneshot\nExecStart=/bin/false\n[X-Fleet]\n";
    let cases = [
        ("", Ok(0)),
        ("Retries=3\n", Ok(3)),
        ("Retries=1\nRetries=100\n", Ok(100)),
        ("Retries=2\nRetries=\n", Ok(0)),
        (
            "Retries=101\n",
            Err("invalid Retries value \"101\": expected a number from 0 to 100".to_owned()),
        ),
        (
            "Retries=-1\n",
            Err("invalid Retries value \"-1\": expected a number from 0 to 100".to_owned()),
        ),
        (
            "Retries=many\n",
            Err("invalid Retries value \"many\": expected a number from 0 to 100".to_owned()),
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(parse(&format!("{oneshot}{options}")), expected, "{options}");
    }
    let service = "[Service]\nExecStart=/bin/true\n[X-Fleet]\n";
    assert_eq!(parse(&format!("{service}Retries=0\n")), Ok(0));
    assert_eq!(
        parse(&format!("{service}Retries=2\n")),
        Err("Retries needs a batch job (Kind=batch, or a Type=oneshot service)".to_owned())
    );
    assert_eq!(parse(&format!("{service}Kind=batch\nRetries=2\n")), Ok(2));
}

/// Goal: `WhenCutOff=` is `keep` (the default) or `stop`, the last value counting; `stop`
/// with `Global=true` and any other value are refused with their reason.
/// Method: a table of unit files.
#[test]
fn when_cut_off_is_keep_or_stop() {
    let parse = |options: &str| {
        let text = format!("[Service]\nExecStart=/bin/true\n[X-Fleet]\n{options}");
        let file = UnitFile::parse(&text).expect("valid unit file");
        parse_x_fleet(&name("db.service"), &file)
            .map(|options| options.requirements.stop_when_cut_off)
            .map_err(|error| error.to_string())
    };
    let cases = [
        ("", Ok(false)),
        ("WhenCutOff=keep\n", Ok(false)),
        ("WhenCutOff=stop\n", Ok(true)),
        ("WhenCutOff=stop\nWhenCutOff=keep\n", Ok(false)),
        ("WhenCutOff=stop\nGlobal=false\n", Ok(true)),
        (
            "WhenCutOff=stop\nGlobal=true\n",
            Err("WhenCutOff=stop cannot be used with Global".to_owned()),
        ),
        (
            "WhenCutOff=halt\n",
            Err("invalid WhenCutOff value \"halt\": expected keep or stop".to_owned()),
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(parse(options), expected, "{options}");
    }
}
