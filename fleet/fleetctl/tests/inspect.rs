//! End-to-end tests of `cat`, `status` and `journal` through fleetd's Keel extensions, and
//! of the unix-socket transport.
//!
//! Method: a fake fleetd (on 127.0.0.1:0, and on a unix socket in a temporary directory)
//! holding units and the texts its `status` and `journal` endpoints serve; fleetctl's real
//! client runs each command; output, exit codes and the requests sent are compared.

mod support;

use support::{option, unit, Cluster, Engine, Fake, MACHINE_A, MACHINE_B};

fn cluster() -> Cluster {
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.put(unit(
        "hello.service",
        "Hello World",
        "launched",
        "launched",
        MACHINE_A,
    ));
    cluster.put(unit(
        "goodbye.service",
        "Goodbye",
        "launched",
        "launched",
        MACHINE_B,
    ));
    cluster.put(unit("idle.service", "Idle", "inactive", "inactive", ""));
    let mut monitor = unit("monitor.service", "Monitor", "launched", "", "");
    monitor.options.push(option("X-Fleet", "Global", "true"));
    cluster.put(monitor);
    cluster.status_texts.insert(
        "hello.service".into(),
        "● hello.service - Hello World\n   Active: active (running)\n".into(),
    );
    cluster.status_texts.insert(
        "goodbye.service".into(),
        "● goodbye.service - Goodbye".into(),
    );
    cluster
        .journal_texts
        .insert("hello.service".into(), "-- Logs begin --\nhello\n".into());
    cluster
}

#[tokio::test]
async fn cat_prints_the_canonical_text() {
    // Goal: the canonical text (sections separated by one blank line); fleet's errors for a
    // missing unit and for a wrong number of arguments.
    let fake = Fake::tcp(cluster()).await;
    let text = fake.run(&["cat", "hello"]).await;
    assert_eq!(
        text.stdout,
        "[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n"
    );
    assert_eq!(text.code, 0);
    let missing = fake.run(&["cat", "nope.service"]).await;
    assert_eq!(
        (missing.stderr.as_str(), missing.code),
        ("Unit nope.service not found\n", 1)
    );
    let two = fake.run(&["cat", "a.service", "b.service"]).await;
    assert_eq!(
        (two.stderr.as_str(), two.code),
        ("One unit file must be provided\n", 1)
    );
}

#[tokio::test]
async fn status_runs_remotely_through_fleetd() {
    // Goal: each unit's status text from fleetd, one blank line between units (a text
    // without a final newline gets one); fleet's refusals for missing, inactive and global
    // units, checked before any status is asked.
    let fake = Fake::tcp(cluster()).await;
    let both = fake.run(&["status", "hello", "goodbye.service"]).await;
    assert_eq!(
        both.stdout,
        "● hello.service - Hello World\n   Active: active (running)\n\n● goodbye.service - Goodbye\n"
    );
    assert_eq!((both.stderr.as_str(), both.code), ("", 0));
    let refusals = [
        ("nope.service", "Unit nope.service does not exist.\n"),
        ("idle.service", "Unit idle.service does not appear to be running.\n"),
        (
            "monitor.service",
            "Unable to get status of global unit monitor.service. Check on a host directly using systemctl.\n",
        ),
    ];
    for (name, stderr) in refusals {
        let refused = fake.run(&["status", "hello.service", name]).await;
        assert_eq!(
            (
                refused.stdout.as_str(),
                refused.stderr.as_str(),
                refused.code
            ),
            ("", stderr, 1)
        );
    }
    let asked = fake.with(|cluster| {
        cluster
            .requests
            .iter()
            .filter(|request| request.contains("/status"))
            .count()
    });
    assert_eq!(
        asked, 2,
        "only the first, successful run asked for status texts"
    );
}

#[tokio::test]
async fn journal_passes_its_options_and_reports_errors() {
    // Goal: `--lines`, `--output` and `-f` reach fleetd's journal endpoint; the text is
    // copied to stdout; fleet's refusals for global, inactive and missing units; a fleetd
    // error is shown with its message.
    let fake = Fake::tcp(cluster()).await;
    let journal = fake
        .run(&["journal", "--lines", "5", "--output=json", "-f", "hello"])
        .await;
    assert_eq!(
        (journal.stdout.as_str(), journal.code),
        ("-- Logs begin --\nhello\n", 0)
    );
    assert!(fake.with(|cluster| cluster.requests.contains(
        &"GET /keel/v1/units/hello.service/journal?lines=5&output=json&follow=true".to_owned()
    )));
    let cases = [
        (
            "monitor.service",
            "Unable to get journal for global unit monitor.service. Check on a host directly using journalctl.\n",
        ),
        ("idle.service", "Unit idle.service does not appear to be running.\n"),
        ("nope.service", "Unit nope.service does not exist.\n"),
        (
            "goodbye.service",
            "Error retrieving journal of unit goodbye.service: unit is not running on any machine (HTTP 409)\n",
        ),
    ];
    for (name, stderr) in cases {
        let refused = fake.run(&["journal", name]).await;
        assert_eq!(
            (refused.stderr.as_str(), refused.code),
            (stderr, 1),
            "{name}"
        );
    }
    let none = fake.run(&["journal"]).await;
    assert_eq!(
        (none.stderr.as_str(), none.code),
        ("One unit file must be provided.\n", 1)
    );
}

#[tokio::test]
async fn everything_works_over_a_unix_socket() {
    // Goal: the default transport: a table, a state change and a status over a unix socket.
    let fake = Fake::unix(cluster()).await;
    assert!(fake.endpoint.starts_with("unix:///"));
    let machines = fake.run(&["list-machines", "--no-legend"]).await;
    assert_eq!(
        (machines.stdout.as_str(), machines.code),
        (
            "113f16a7...\t172.17.8.103\taz=us-west-1b\n85c0c595...\t172.17.8.102\t-\n",
            0
        )
    );
    let stopped = fake.run(&["stop", "--no-block", "hello.service"]).await;
    assert_eq!(stopped.stdout, "Triggered unit hello.service stop\n");
    assert_eq!(
        stopped.stderr,
        "Successfully stopped units [hello.service].\n"
    );
    let status = fake.run(&["status", "goodbye"]).await;
    assert_eq!(status.stdout, "● goodbye.service - Goodbye\n");
}
