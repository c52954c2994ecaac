//! `discoveryctl` against a real Keel member: `announce` keeps its record alive while the
//! health check passes, withdraws it when it fails and on SIGTERM; `ls` and `rm` read and
//! remove records with clear errors.

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use testkit::{wait_for, Cluster};

const DEADLINE: Duration = Duration::from_secs(30);
const KEY: &str = "/v2/keys/skydns/local/skydns/web/x1";

fn discoveryctl(cluster: &Cluster, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_discoveryctl"));
    command
        .args(["--machines", cluster.url(0)])
        .args(args)
        .stdin(Stdio::null());
    command
}

fn output(cluster: &Cluster, args: &[&str]) -> Output {
    discoveryctl(cluster, args)
        .output()
        .expect("discoveryctl runs")
}

/// The key's event at or after `index`: (action, modifiedIndex).
fn event_from(cluster: &Cluster, index: u64) -> (String, u64) {
    let reply = cluster
        .get(
            cluster.url(0),
            &format!("{KEY}?wait=true&waitIndex={index}"),
        )
        .expect("the watch answers");
    let json = reply.json();
    let action = json["action"].as_str().expect("an action").to_owned();
    (
        action,
        json["node"]["modifiedIndex"].as_u64().expect("an index"),
    )
}

/// Stops the announcer with SIGTERM if the test failed before it did.
struct Announcer(Child);

impl Drop for Announcer {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

// Goal: the announcer writes its record with the key TTL, refreshes it before it expires
// (the key's history holds only sets, never an expire), withdraws it with a delete when the
// health check fails, writes it again when the check passes, and deletes it on SIGTERM,
// exiting 0.
// Method: a health command testing a file; key TTL 4 s (refreshes every 2.6–3 s); the key's
// events read from its history with waitIndex.
#[test]
fn announce_refreshes_withdraws_and_cleans_up() {
    let cluster = Cluster::start(1, &[]);
    let dir = tempfile::tempdir().expect("a directory");
    let flag = dir.path().join("healthy");
    std::fs::write(&flag, "").expect("flag written");
    let check = format!("test -e {}", flag.display());
    let child = discoveryctl(
        &cluster,
        &[
            "announce",
            "web",
            "10.0.0.1:80",
            "--instance",
            "x1",
            "--ttl",
            "4",
            "--priority",
            "5",
            "--health-cmd",
            &check,
        ],
    )
    .stderr(Stdio::null())
    .spawn()
    .expect("discoveryctl starts");
    let mut announcer = Announcer(child);
    let first = wait_for(DEADLINE, "the record", || {
        cluster
            .get(cluster.url(0), KEY)
            .ok()
            .filter(|r| r.status == 200)
    });
    let node = &first.json()["node"];
    assert_eq!(
        node["value"],
        r#"{"host":"10.0.0.1","port":80,"priority":5}"#
    );
    assert!(node["ttl"].as_u64().is_some_and(|ttl| ttl <= 4), "{node}");
    let mut index = node["modifiedIndex"].as_u64().expect("an index");
    for _refresh in 0..2 {
        let (action, at) = event_from(&cluster, index + 1);
        assert_eq!(action, "set", "refreshed before expiry");
        index = at;
    }
    std::fs::remove_file(&flag).expect("flag removed");
    let (action, at) = event_from(&cluster, index + 1);
    assert_eq!(action, "delete", "withdrawn, not expired");
    std::fs::write(&flag, "").expect("flag written");
    let (action, at) = event_from(&cluster, at + 1);
    assert_eq!(action, "set", "written again once healthy");
    let killed = Command::new("kill")
        .args(["-TERM", &announcer.0.id().to_string()])
        .status();
    assert!(killed.expect("kill runs").success());
    let status = announcer.0.wait().expect("exits");
    assert!(status.success(), "{status}");
    let (action, _) = event_from(&cluster, at + 1);
    assert_eq!(action, "delete", "withdrawn on exit");
}

// Goal: `ls` lists every record of the zone in a table (an invalid value shown with its
// reason, the config key left out), `ls NAME --json` the records below a name; `rm` refuses a
// name with several records without --recursive, removes one instance or all; names outside
// the zone and missing records are errors with exit code 1.
// Method: records written over HTTP; each command's stdout, stderr and exit code compared.
#[test]
fn ls_and_rm_read_and_remove_records() {
    let cluster = Cluster::start(1, &[]);
    let put = |key: &str, value: &str| {
        let reply = cluster
            .put(
                cluster.url(0),
                &format!("/v2/keys{key}"),
                &[("value", value)],
            )
            .expect("written");
        assert!(reply.status < 300, "{}", reply.body);
    };
    put(
        "/skydns/local/skydns/web/x1",
        r#"{"host":"10.0.0.1","port":80}"#,
    );
    put(
        "/skydns/local/skydns/web/x2",
        r#"{"host":"10.0.0.2","port":80,"priority":5,"weight":10,"text":"two"}"#,
    );
    put("/skydns/local/skydns/broken", "not json");
    put("/skydns/config", r#"{"ttl":60}"#);
    let listed = output(&cluster, &["ls"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        "NAME                  HOST      PORT  PRIORITY  WEIGHT  TTL  KEY TTL  TEXT\n\
         broken.skydns.local.  (invalid: malformed service record: expected ident at line 1 column 2)\n\
         x1.web.skydns.local.  10.0.0.1  80    0         0       0    -\n\
         x2.web.skydns.local.  10.0.0.2  80    5         10      0    -        two\n"
    );
    let json = output(&cluster, &["ls", "web", "--json"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["service"]["text"], "two");
    assert_eq!(lines[0]["key"], "/skydns/local/skydns/web/x1");
    let failures: [(&[&str], &str); 4] = [
        (&["rm", "web"], "discoveryctl: /skydns/local/skydns/web holds several records: give --recursive to remove them all\n"),
        (&["ls", "nothing"], "discoveryctl: no records at nothing.skydns.local.\n"),
        (&["rm", "www.example.org."], "discoveryctl: \"www.example.org.\" is not a name in skydns.local.\n"),
        (&["rm", "web", "--instance", "x9"], "discoveryctl: no record at /skydns/local/skydns/web/x9\n"),
    ];
    for (args, expected) in failures {
        let failed = output(&cluster, args);
        assert_eq!(failed.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&failed.stderr),
            expected,
            "{args:?}"
        );
    }
    let removed = output(&cluster, &["rm", "web", "--instance", "x1"]);
    assert_eq!(
        String::from_utf8_lossy(&removed.stdout),
        "removed /skydns/local/skydns/web/x1\n"
    );
    let removed = output(&cluster, &["rm", "web", "-r"]);
    assert!(removed.status.success());
    assert_eq!(output(&cluster, &["ls", "web"]).status.code(), Some(1));
}
