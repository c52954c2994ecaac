//! Config validation: endpoint forms and every cross-field rule.

use super::*;

fn refused(endpoint: &str) -> EndpointProblem {
    match Endpoint::parse(endpoint) {
        Err(ConfigError::Endpoint { problem, .. }) => problem,
        other => panic!("{endpoint:?} should be refused, got {other:?}"),
    }
}

// Goal: only http://host:port is accepted, normalised; every other form names its problem.
#[test]
fn endpoint_forms() {
    let accepted = [
        ("http://127.0.0.1:2379", "http://127.0.0.1:2379"),
        ("http://127.0.0.1:2379/", "http://127.0.0.1:2379"),
        ("HTTP://node-1.example:4001", "http://node-1.example:4001"),
        ("http://[::1]:2379", "http://[::1]:2379"),
    ];
    for (text, normal) in accepted {
        assert_eq!(Endpoint::parse(text).unwrap().to_string(), normal);
    }
    assert_eq!(refused("127.0.0.1:2379"), EndpointProblem::MissingScheme);
    assert_eq!(refused("https://127.0.0.1:2379"), EndpointProblem::Https);
    assert_eq!(refused("unix://socket:1"), EndpointProblem::Scheme);
    assert_eq!(refused("http://127.0.0.1:2379/v2"), EndpointProblem::Path);
    assert_eq!(refused("http://127.0.0.1:2379?x"), EndpointProblem::Path);
    assert_eq!(
        refused("http://user@127.0.0.1:2379"),
        EndpointProblem::UserInfo
    );
    assert_eq!(refused("http://127.0.0.1"), EndpointProblem::MissingPort);
    assert_eq!(refused("http://:2379"), EndpointProblem::Host);
    assert_eq!(refused("http://a b:2379"), EndpointProblem::Host);
    assert_eq!(refused("http://::1:2379"), EndpointProblem::Host);
    assert_eq!(refused("http://127.0.0.1:0"), EndpointProblem::Port);
    assert_eq!(refused("http://127.0.0.1:65536"), EndpointProblem::Port);
    assert_eq!(refused("http://127.0.0.1:x"), EndpointProblem::Port);
}

// Goal: the defaults validate; duplicates collapse.
#[test]
fn defaults_validate_and_duplicates_collapse() {
    assert!(ClientConfig::default().validate().is_ok());
    let config = ClientConfig::new(vec![
        "http://127.0.0.1:1".to_owned(),
        "http://127.0.0.1:1/".to_owned(),
        "http://127.0.0.1:2".to_owned(),
    ]);
    assert_eq!(config.validate().unwrap().len(), 2);
}

// Goal: endpoint-list and cross-field rules refuse with the fields named.
#[test]
fn field_rules() {
    let base = ClientConfig::default();
    let check = |config: ClientConfig| config.validate().unwrap_err();
    assert_eq!(check(ClientConfig::new(vec![])), ConfigError::NoEndpoints);
    let many = (1..=65)
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect();
    assert!(matches!(
        check(ClientConfig::new(many)),
        ConfigError::TooManyEndpoints { count: 65, .. }
    ));
    let zero = ClientConfig {
        request_timeout: Duration::ZERO,
        ..base.clone()
    };
    assert_eq!(
        check(zero),
        ConfigError::ZeroDuration {
            field: "request_timeout"
        }
    );
    let slow_connect = ClientConfig {
        connect_timeout: Duration::from_secs(20),
        ..base.clone()
    };
    assert_eq!(
        check(slow_connect),
        ConfigError::Order {
            smaller: "connect_timeout",
            larger: "request_timeout"
        }
    );
}

// Goal: the bounds on single fields refuse with the field named.
#[test]
fn field_bounds() {
    let base = ClientConfig::default();
    let check = |config: ClientConfig| config.validate().unwrap_err();
    let backoff = ClientConfig {
        backoff_min: Duration::from_secs(2),
        ..base.clone()
    };
    assert!(matches!(
        check(backoff),
        ConfigError::Order {
            smaller: "backoff_min",
            ..
        }
    ));
    let busy_watch = ClientConfig {
        watch_poll_timeout: Duration::from_millis(1),
        ..base.clone()
    };
    assert!(matches!(
        check(busy_watch),
        ConfigError::TooShort {
            field: "watch_poll_timeout",
            ..
        }
    ));
    let attempts = ClientConfig {
        attempts_max: 0,
        ..base.clone()
    };
    assert!(matches!(
        check(attempts),
        ConfigError::AttemptsMax { value: 0, .. }
    ));
    let small = ClientConfig {
        response_bytes_max: 10,
        ..base
    };
    assert!(matches!(
        check(small),
        ConfigError::ResponseBytesMax { value: 10, .. }
    ));
}
