//! End-to-end tests of refusals: malformed unit files, invalid names and `[X-Fleet]`
//! combinations (refused before anything is sent), unsupported drivers, tunnels and
//! endpoints, unreachable and silent servers, command prefixes, help, version and verify.
//!
//! Method: fleetctl's real `run` against a fake fleetd on 127.0.0.1:0 (or against nothing);
//! stdout, stderr and exit codes compared with literal text; the fake's request log shows
//! that refused units never reach it.

mod support;

use support::{run_fleetctl, service_text, write, Cluster, Engine, Fake};

#[tokio::test]
async fn bad_units_are_refused_before_sending() {
    // Goal: each bad unit gets fleetctl's `Error creating units: ...` line and exit 1, and
    // no PUT reaches fleetd.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let malformed = write(
        directory.path(),
        "broken.service",
        "[Unit]\nDescription=x\n[Service\n",
    );
    let combination = write(
        directory.path(),
        "pinned.service",
        &format!(
            "{}\n[X-Fleet]\nMachineID=113f16a7\nGlobal=true\n",
            service_text("Pinned")
        ),
    );
    let fake = Fake::tcp(Cluster::new(Engine::Instant)).await;
    let cases = [
        (
            vec!["submit", malformed.as_str()],
            format!("Error creating units: failed getting Unit({malformed}) from file: line 3: unable to find end of section\n"),
        ),
        (
            vec!["start", combination.as_str()],
            "Error creating units: MachineID cannot be used with Global\n".to_owned(),
        ),
        (
            vec!["load", "bad name"],
            "Error creating units: invalid character ' ' in unit name\n".to_owned(),
        ),
        (
            vec!["submit", "nothere.service"],
            "Error creating units: unable to find Unit(nothere.service) in Registry or on filesystem\n".to_owned(),
        ),
        (
            vec!["submit", "web@1.service"],
            "Error creating units: failed getting Unit(web@1.service) from template: unable to find template Unit(web@.service) in Registry or on filesystem\n".to_owned(),
        ),
    ];
    for (args, stderr) in cases {
        let refused = fake.run(&args).await;
        assert_eq!(refused.stderr, stderr, "{args:?}");
        assert_eq!((refused.stdout.as_str(), refused.code), ("", 1), "{args:?}");
    }
    assert_eq!(fake.with(|cluster| cluster.writes()), Vec::<String>::new());
}

#[tokio::test]
async fn unknown_x_fleet_keys_warn_but_submit() {
    // Goal: fleet's warning for an unknown `[X-Fleet]` key; the unit is still created.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = write(
        directory.path(),
        "odd.service",
        &format!("{}\n[X-Fleet]\nMachineRegion=eu\n", service_text("Odd")),
    );
    let fake = Fake::tcp(Cluster::new(Engine::Instant)).await;
    let submitted = fake.run(&["submit", &path]).await;
    assert_eq!(
        submitted.stderr,
        "WARNING: Unit odd.service: unrecognized requirement in [X-Fleet] section: \"MachineRegion\"\n"
    );
    assert_eq!(
        (submitted.stdout.as_str(), submitted.code),
        ("Unit odd.service inactive\n", 0)
    );
}

#[tokio::test]
async fn unsupported_transports_are_refused() {
    // Goal: the etcd driver, tunnels, TLS, ssh and fd-forward each get a clear refusal,
    // exit 1; a bad endpoint gets fleet's `Unable to initialize client`.
    let cases: [(&[&str], &str); 6] = [
        (
            &["fleetctl", "--driver=etcd", "list-units"],
            "--driver=etcd is not supported by this fleetctl: it talks to fleetd's HTTP API only (--driver=API)\n",
        ),
        (
            &["fleetctl", "--tunnel", "bastion:22", "list-units"],
            "--tunnel is not supported by this fleetctl: reach fleetd directly with --endpoint=http://host:port\n",
        ),
        (
            &["fleetctl", "list-units", "--ca-file=/etc/ca.pem"],
            "--ca-file, --cert-file and --key-file are not supported by this fleetctl: it has no TLS\n",
        ),
        (
            &["fleetctl", "ssh", "113f16a7", "--", "uptime"],
            "fleetctl ssh is not supported by this fleetctl: it talks to fleetd's HTTP API only (status and journal work without SSH)\n",
        ),
        (
            &["fleetctl", "--endpoint", "ftp://host", "list-units"],
            "Unable to initialize client: endpoint \"ftp://host\": expected http://host:port or unix:///path/to/socket\n",
        ),
        (
            &["fleetctl", "--endpoint", "https://host:443", "list-units"],
            "Unable to initialize client: endpoint \"https://host:443\": https is not supported by this fleetctl; use http:// or unix://\n",
        ),
    ];
    for (args, stderr) in cases {
        let refused = run_fleetctl(args).await;
        assert_eq!(refused.stderr, stderr, "{args:?}");
        assert_eq!((refused.stdout.as_str(), refused.code), ("", 1), "{args:?}");
    }
}

#[tokio::test]
async fn unreachable_and_silent_servers() {
    // Goal: a missing socket names the endpoint and the OS error; a server that accepts but
    // never answers is cut off by `--request-timeout`.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let socket = format!("unix://{}/missing.sock", directory.path().display());
    let missing = run_fleetctl(&["fleetctl", "--endpoint", &socket, "list-machines"]).await;
    assert_eq!(
        missing.stderr,
        format!("Error retrieving list of active machines: cannot reach fleetd at {socket}: No such file or directory (os error 2)\n")
    );
    assert_eq!(missing.code, 1);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let endpoint = format!("http://{}", silent.local_addr().expect("an address"));
    let timed_out = run_fleetctl(&[
        "fleetctl",
        "--endpoint",
        &endpoint,
        "--request-timeout=0.05",
        "list-units",
    ])
    .await;
    assert_eq!(
        timed_out.stderr,
        format!("Error retrieving list of units from repository: fleetd at {endpoint} did not answer within 50ms\n")
    );
    assert_eq!(timed_out.code, 1);
}

#[tokio::test]
async fn prefixes_flags_and_a_comma_list_of_endpoints() {
    // Goal: a unique prefix runs its command; an ambiguous one is a usage error (exit 1);
    // global flags may follow the command; only the first endpoint of a list is used.
    let fake = Fake::tcp(Cluster::new(Engine::Frozen)).await;
    let list = format!("{},http://127.0.0.1:1", fake.endpoint);
    let machines = run_fleetctl(&["fleetctl", "list-m", "--no-legend", "--endpoint", &list]).await;
    assert_eq!(
        (machines.stdout.as_str(), machines.code),
        (
            "113f16a7...\t172.17.8.103\taz=us-west-1b\n85c0c595...\t172.17.8.102\t-\n",
            0
        )
    );
    let ambiguous = fake.run(&["st", "x.service"]).await;
    assert_eq!(ambiguous.code, 1);
    assert!(ambiguous.stderr.contains("'st'"), "{}", ambiguous.stderr);
    let unknown_flag = fake.run(&["list-units", "--bogus"]).await;
    assert_eq!(unknown_flag.code, 1);
    let go_bool = fake
        .run(&["list-machines", "--no-legend=false", "--fields=ip"])
        .await;
    assert_eq!(go_bool.stdout, "IP\n172.17.8.103\n172.17.8.102\n");
}

#[tokio::test]
async fn version_verify_and_help() {
    // Goal: `version`, `--version` and `-v` print `fleetctl version <v>`; `verify` warns and
    // exits 2; no arguments and `help [command]` print fleet's help blocks, exit 0.
    let version = format!("fleetctl version {}\n", env!("CARGO_PKG_VERSION"));
    for args in [
        &["fleetctl", "version"][..],
        &["fleetctl", "--version"],
        &["fleetctl", "-v"],
    ] {
        let printed = run_fleetctl(args).await;
        assert_eq!(
            (printed.stdout.as_str(), printed.code),
            (version.as_str(), 0)
        );
    }
    let verify = run_fleetctl(&["fleetctl", "verify", "a.service"]).await;
    assert_eq!(
        verify.stderr,
        "WARNING: The signed/verified units feature is DEPRECATED and cannot be used.\n"
    );
    assert_eq!(verify.code, 2);
    let help = run_fleetctl(&["fleetctl"]).await;
    assert_eq!(help.code, 0);
    for block in [
        "NAME:\n",
        "USAGE:\n",
        "VERSION:\n",
        "COMMANDS:\n",
        "DESCRIPTION:\n",
        "GLOBAL OPTIONS:\n",
    ] {
        assert!(help.stdout.contains(block), "{block} in {}", help.stdout);
    }
    assert!(help.stdout.contains("list-unit-files"));
    let start = run_fleetctl(&["fleetctl", "help", "start"]).await;
    assert_eq!(start.code, 0);
    assert!(start
        .stdout
        .starts_with("NAME:\n  fleetctl start - Instruct systemd to start"));
    for block in [
        "USAGE:\n",
        "DESCRIPTION:\n",
        "OPTIONS:\n",
        "GLOBAL OPTIONS:\n",
        "--block-attempts",
    ] {
        assert!(start.stdout.contains(block), "{block} in {}", start.stdout);
    }
}
