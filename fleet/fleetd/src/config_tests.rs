//! fleet's configuration rules: defaults, precedence, every value syntax, refusals.
//! Method: hand-made INI text and environment maps.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn defaults_are_fleets() {
    // Goal: with no file and no environment, every key has fleet's default (and api_listen
    // Keel's).
    let config = Config::from_sources(None, &BTreeMap::new()).expect("defaults are valid");
    assert_eq!(config.verbosity, 0);
    assert_eq!(
        config.etcd_servers,
        vec!["http://127.0.0.1:2379", "http://127.0.0.1:4001"]
    );
    assert_eq!(config.etcd_key_prefix, "/_coreos.com/fleet/");
    assert_eq!(config.etcd_request_timeout, Duration::from_secs(1));
    assert_eq!(config.engine_reconcile_interval, Duration::from_secs(2));
    assert_eq!(config.engine_lease_ttl(), Duration::from_secs(10));
    assert_eq!(config.public_ip, None);
    assert!(config.metadata.is_empty());
    assert_eq!(config.agent_ttl, Duration::from_secs(30));
    assert_eq!(config.units_directory, PathBuf::from("/run/fleet/units/"));
    assert!(!config.systemd_user);
    assert_eq!(config.token_limit, 100);
    assert!(!config.disable_engine);
    assert_eq!(
        config.api_listen,
        vec![ListenAddress::Unix("/var/run/fleet.sock".into())]
    );
    assert_eq!(config.machine_id, None);
    assert_eq!((config.capacity_cpu, config.capacity_memory), (None, None));
    assert_eq!(config.engine_reschedule_grace, Duration::ZERO);
    assert_eq!(config.engine_rebalance_moves, 0);
    assert_eq!(config.engine_rebalance_interval, Duration::from_secs(30));
    assert!(config.ignored_keys.is_empty());
    assert_eq!(config.log_format, keel_cli::LogFormat::Text);
}

#[test]
fn log_format_takes_text_or_json() {
    // Goal: `log_format` (FLEET_LOG_FORMAT) asks for JSON logs; anything else is refused
    // naming the key, its source and the choices.
    let config = Config::from_sources(None, &env(&[("FLEET_LOG_FORMAT", "json")])).expect("valid");
    assert_eq!(config.log_format, keel_cli::LogFormat::Json);
    let error =
        Config::from_sources(Some("log_format = xml\n"), &BTreeMap::new()).expect_err("refused");
    let text = error.to_string();
    assert!(
        text.starts_with("invalid value \"xml\" for log_format (from the config file)")
            && text.contains("text or json"),
        "{text}"
    );
}

#[test]
fn capacity_overrides_parse_as_unit_requests_do() {
    // Goal: capacity_cpu and capacity_memory take the `Cpu=`/`Memory=` syntax, and a bad
    // value is refused naming the key and where it came from.
    let environment = env(&[
        ("FLEET_CAPACITY_CPU", "3500m"),
        ("FLEET_CAPACITY_MEMORY", "8G"),
        ("FLEET_ENGINE_RESCHEDULE_GRACE", "1m30s"),
    ]);
    let config = Config::from_sources(None, &environment).expect("valid");
    assert_eq!(config.capacity_cpu, Some(3500));
    assert_eq!(config.capacity_memory, Some(8 << 30));
    assert_eq!(config.engine_reschedule_grace, Duration::from_secs(90));
    let error = Config::from_sources(Some("capacity_memory=lots\n"), &BTreeMap::new())
        .expect_err("not an amount");
    assert!(
        error
            .to_string()
            .starts_with("invalid value \"lots\" for capacity_memory (from the config file)"),
        "{error}"
    );
}

#[test]
fn environment_beats_file_beats_default() {
    // Goal: fleet's precedence, key by key; comments and blank lines in the file; quoted values.
    let file = "# fleet.conf\n\
                ; another comment\n\
                \n\
                public_ip = 10.0.0.5\n\
                metadata=\"region=us, disk = ssd\"\n\
                agent_ttl=10s\n\
                systemd_user=true\n";
    let environment = env(&[
        ("FLEET_AGENT_TTL", "1m30s"),
        ("FLEET_TOKEN_LIMIT", "7"),
        ("PATH", "/usr/bin"),
    ]);
    let config = Config::from_sources(Some(file), &environment).expect("valid");
    assert_eq!(config.public_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(config.metadata, env(&[("region", "us"), ("disk", "ssd")]));
    assert_eq!(config.agent_ttl, Duration::from_secs(90));
    assert!(config.systemd_user);
    assert_eq!(config.token_limit, 7);
}

#[test]
fn server_lists_accept_json_style_brackets_and_quotes() {
    // Goal: fleet strips `[`, `]`, `"` and spaces around each item.
    let environment = env(&[(
        "FLEET_ETCD_SERVERS",
        r#"["http://10.0.0.1:2379", "http://10.0.0.2:2379"]"#,
    )]);
    let config = Config::from_sources(None, &environment).expect("valid");
    assert_eq!(
        config.etcd_servers,
        vec!["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
    );
}

#[test]
fn metadata_rules() {
    // Goal: items without `=` dropped, a repeated key holds every value once (comma-joined,
    // in order), whitespace trimmed.
    assert_eq!(
        parse_metadata(" a = 1 ,junk, b=2,a=3,a=1 "),
        env(&[("a", "1,3"), ("b", "2")])
    );
    assert!(parse_metadata("").is_empty());
}

#[test]
fn go_value_syntaxes() {
    // Goal: Go's boolean words and duration grammar, as fleet's flags parse them.
    for yes in ["1", "t", "T", "TRUE", "true", "True"] {
        assert_eq!(parse_go_bool(yes), Ok(true), "{yes}");
    }
    for no in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(parse_go_bool(no), Ok(false), "{no}");
    }
    assert!(parse_go_bool("yes").is_err());
    let cases = [
        ("30s", Duration::from_secs(30)),
        ("1m30s", Duration::from_secs(90)),
        ("1.5h", Duration::from_secs(5400)),
        ("250ms", Duration::from_millis(250)),
        ("0", Duration::ZERO),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_go_duration(text), Ok(expected), "{text}");
    }
    for bad in ["", "30", "s", "-5s", "5 s", "5d"] {
        assert!(parse_go_duration(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn listen_addresses() {
    // Goal: api_listen's comma list of unix and http addresses, and its refusals.
    let environment = env(&[(
        "FLEET_API_LISTEN",
        "unix:///run/fleet.sock, http://127.0.0.1:49153",
    )]);
    let config = Config::from_sources(None, &environment).expect("valid");
    assert_eq!(
        config.api_listen,
        vec![
            ListenAddress::Unix("/run/fleet.sock".into()),
            ListenAddress::Tcp("127.0.0.1:49153".into()),
        ]
    );
    for bad in ["unix://relative", "http://nohost", "tcp://1.2.3.4:5"] {
        let environment = env(&[("FLEET_API_LISTEN", bad)]);
        assert!(
            matches!(
                Config::from_sources(None, &environment),
                Err(ConfigError::InvalidValue {
                    key: "api_listen",
                    ..
                })
            ),
            "{bad}"
        );
    }
}

#[test]
fn bad_values_name_the_key_and_the_source() {
    // Goal: a clear error naming the key, the value and where it came from.
    let environment = env(&[("FLEET_ENGINE_RECONCILE_INTERVAL", "soon")]);
    let error = Config::from_sources(None, &environment).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "invalid value \"soon\" for engine_reconcile_interval (from \
         FLEET_ENGINE_RECONCILE_INTERVAL): expected seconds as a number, e.g. 1.5"
    );
    let error = Config::from_sources(Some("agent_ttl=0s\n"), &BTreeMap::new())
        .expect_err("zero TTL refused");
    assert!(
        error.to_string().contains("from the config file"),
        "{error}"
    );
    let error = Config::from_sources(Some("just words\n"), &BTreeMap::new())
        .expect_err("malformed line refused");
    assert_eq!(
        error,
        ConfigError::MalformedLine {
            line: 1,
            text: "just words".into()
        }
    );
    let zero = env(&[("FLEET_TOKEN_LIMIT", "0")]);
    assert!(Config::from_sources(None, &zero).is_err());
}

#[test]
fn deprecated_unknown_and_unsupported_keys_are_reported() {
    // Goal: fleet logs deprecated keys and ignores them; Keel also reports unknown file keys
    // and settings it cannot honour (store TLS and authentication, gRPC).
    let file = "verify_units=true\nno_such_key=1\netcd_cafile=/etc/ca.pem\nenable_grpc=false\n";
    let environment = env(&[("FLEET_AUTHORIZED_KEYS_FILE", "/x")]);
    let config = Config::from_sources(Some(file), &environment).expect("valid");
    assert_eq!(
        config.ignored_keys,
        vec![
            "authorized_keys_file",
            "etcd_cafile",
            "no_such_key",
            "verify_units"
        ]
    );
}

#[test]
fn the_dns_zone_of_published_units() {
    // Goal: units are published under discoveryd's default zone unless told otherwise; an
    // empty domain turns publishing off; a domain that is not a name is refused, naming it.
    let zone = |pairs: &[(&str, &str)]| Config::from_sources(None, &env(pairs)).map(|c| c.dns_zone);
    let default = zone(&[]).unwrap().expect("on by default");
    assert_eq!(
        (default.domain.as_str(), default.prefix.as_str()),
        ("skydns.local.", "skydns")
    );
    let other = zone(&[
        ("FLEET_DNS_DOMAIN", "svc.test"),
        ("FLEET_DNS_PREFIX", "/dns/"),
    ])
    .unwrap()
    .expect("a zone");
    assert_eq!(
        (other.domain.as_str(), other.prefix.as_str()),
        ("svc.test.", "dns")
    );
    assert_eq!(zone(&[("FLEET_DNS_DOMAIN", "")]).unwrap(), None);
    let error = zone(&[("FLEET_DNS_DOMAIN", "bad..name")])
        .unwrap_err()
        .to_string();
    assert!(error.contains("dns_domain"), "{error}");
}
