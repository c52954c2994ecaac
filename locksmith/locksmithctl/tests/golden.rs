//! Every command's output and exit code, from the built binary against a real Keel member:
//! locksmith's texts where locksmith has them, and the exit codes it should have had (1 on
//! every error, 2 on a usage error).

use kv_client::{Client, ClientConfig, GetOptions, SetOptions};
use locksmith_core::semaphore::DEFAULT_KEY;
use std::process::Command;
use testkit::Cluster;

/// What one run printed and how it exited.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn locksmithctl(endpoint: &str, args: &[&str]) -> Run {
    locksmithctl_env(endpoint, args, &[])
}

fn locksmithctl_env(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_locksmithctl"));
    command.env_clear();
    if !endpoint.is_empty() {
        command.args(["-endpoint", endpoint]);
    }
    command.args(args).envs(env.iter().copied());
    let output = command.output().expect("locksmithctl runs");
    Run {
        code: output.status.code().expect("an exit code"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(stdout: &str) -> Run {
    Run {
        code: 0,
        stdout: stdout.to_owned(),
        stderr: String::new(),
    }
}

fn error(code: i32, stderr: &str) -> Run {
    Run {
        code,
        stdout: String::new(),
        stderr: format!("{stderr}\n"),
    }
}

async fn modified_index(client: &Client, key: &str) -> u64 {
    client
        .get(key, GetOptions::default())
        .await
        .expect("the key exists")
        .node
        .modified_index
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_unlock_set_max_and_status() {
    // Goal: the semaphore commands print locksmith's texts and exit 0 or 1 as they should;
    // lock and unlock are idempotent per holder; status shows holders with their token and
    // hold age. Method: a sequence of commands on one member; the holder table's age column
    // is checked for shape, the token against the stored index.
    let cluster = Cluster::start(1, &[]);
    let url = cluster.url(0).to_owned();
    let client = Client::new(ClientConfig::new(vec![url.clone()])).expect("client");
    assert_eq!(
        locksmithctl(&url, &["status"]),
        ok("Available: 1\nMax: 1\n")
    );
    assert_eq!(locksmithctl(&url, &["lock", "m1"]), ok(""));
    let token = modified_index(&client, DEFAULT_KEY).await;
    let status = locksmithctl(&url, &["status"]);
    assert_eq!(status.code, 0);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(
        lines[..4],
        ["Available: 0", "Max: 1", "", "MACHINE ID  HELD FOR  TOKEN"]
    );
    let row: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(
        (row[0], row[2]),
        ("m1", token.to_string().as_str()),
        "{status:?}"
    );
    assert!(row[1].ends_with('s'), "{status:?}");
    assert_eq!(lines.len(), 5);
    assert_eq!(
        locksmithctl(&url, &["lock", "m2"]),
        error(1, "Error locking: semaphore is at 0")
    );
    assert_eq!(locksmithctl(&url, &["lock", "m1"]), ok(""));
    assert_eq!(
        locksmithctl(&url, &["set-max"]),
        error(1, "New maximum value must be set.")
    );
    assert_eq!(
        locksmithctl(&url, &["set-max", "two"]),
        error(1, "Invalid maximum value: two")
    );
    assert_eq!(
        locksmithctl(&url, &["set-max", "-1"]),
        error(
            1,
            "Error setting value: maximum must not be negative, got -1"
        )
    );
    assert_eq!(
        locksmithctl(&url, &["set-max", "3"]),
        ok("Old-Max: 1\nMax: 3\n")
    );
    assert_eq!(
        locksmithctl(&url, &["set-max", "3"]),
        ok("Old-Max: 3\nMax: 3\n")
    );
    assert_eq!(locksmithctl(&url, &["unlock", "m1"]), ok(""));
    assert_eq!(locksmithctl(&url, &["unlock", "m1"]), ok(""));
    assert_eq!(
        locksmithctl(&url, &["status"]),
        ok("Available: 3\nMax: 3\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_json_reap_and_environment() {
    // Goal: `-group` and `LOCKSMITHCTL_GROUP`/`_ENDPOINT` pick the semaphore; `status --all`
    // lists every group, the default first; `--json` carries tokens and ages; `reap` removes
    // a holder over the maximum hold and says so. Method: commands on one member.
    let cluster = Cluster::start(1, &[]);
    let url = cluster.url(0).to_owned();
    assert_eq!(locksmithctl(&url, &["-group", "lb", "lock", "a"]), ok(""));
    let env = [
        ("LOCKSMITHCTL_ENDPOINT", url.as_str()),
        ("LOCKSMITHCTL_GROUP", "lb"),
    ];
    let status = locksmithctl_env("", &["status"], &env);
    assert!(
        status
            .stdout
            .starts_with("Available: 0\nMax: 1\n\nMACHINE ID"),
        "{status:?}"
    );
    assert_eq!(
        locksmithctl(&url, &["status", "--all"])
            .stdout
            .lines()
            .filter(|line| line.starts_with("Group:"))
            .collect::<Vec<_>>(),
        ["Group: (default)", "Group: lb"]
    );
    let json = locksmithctl(&url, &["-group", "lb", "status", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(value["group"], "lb");
    assert_eq!(
        (value["available"].as_i64(), value["max"].as_i64()),
        (Some(0), Some(1))
    );
    let holder = &value["holders"][0];
    assert_eq!(holder["machineId"], "a");
    assert!(
        holder["token"].as_u64().is_some_and(|token| token > 0),
        "{json:?}"
    );
    assert!(holder["heldForSeconds"].is_u64(), "{json:?}");
    let all = locksmithctl(&url, &["status", "--all", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&all.stdout).expect("JSON");
    assert_eq!(all.as_array().map(Vec::len), Some(2));

    assert_eq!(
        locksmithctl(&url, &["-group", "lb", "reap", "-max-hold", "1h"]),
        ok("")
    );
    let reaped = locksmithctl(&url, &["-group", "lb", "reap", "-max-hold", "0"]);
    assert_eq!(reaped.code, 0, "{reaped:?}");
    assert!(reaped.stdout.starts_with("Reaped a (token "), "{reaped:?}");
    assert_eq!(
        locksmithctl(&url, &["-group", "lb", "status"]),
        ok("Available: 1\nMax: 1\n")
    );
    assert_eq!(locksmithctl(&url, &["reap", "-max-hold", "soon"]).code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_usage() {
    // Goal: Keel unreachable, a malformed document, flags Keel cannot serve yet, an unknown
    // command: each a clear message and a non-zero exit (locksmith crashed or exited 0 on
    // some); `-version` and help exit 0. Method: commands against a closed port and a member
    // holding a malformed document.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let down = locksmithctl(&closed, &["status"]);
    assert_eq!(down.code, 1);
    assert!(
        down.stderr.starts_with("Error initializing etcd client: "),
        "{down:?}"
    );
    assert_eq!(
        locksmithctl(&closed, &["-etcd-cafile", "/ca.pem", "status"]).stderr,
        "Error initializing etcd client: TLS (-etcd-cafile, -etcd-certfile, -etcd-keyfile) is not supported yet\n"
    );
    assert_eq!(
        locksmithctl("", &["bogus"]),
        Run {
            code: 2,
            stdout:
                "locksmithctl: unknown subcommand: \"bogus\"\nRun 'locksmithctl help' for usage.\n"
                    .to_owned(),
            stderr: String::new()
        }
    );
    assert_eq!(locksmithctl("", &["-nosuchflag", "status"]).code, 2);
    assert_eq!(
        locksmithctl("", &["-version"]),
        ok(&format!(
            "locksmithctl version {}\n",
            env!("CARGO_PKG_VERSION")
        ))
    );
    let help = locksmithctl("", &["help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("set-max"), "{help:?}");

    let cluster = Cluster::start(1, &[]);
    let url = cluster.url(0).to_owned();
    let client = Client::new(ClientConfig::new(vec![url.clone()])).expect("client");
    client
        .set(DEFAULT_KEY, "{\"semaphore\":", SetOptions::default())
        .await
        .expect("set");
    let malformed = locksmithctl(&url, &["status"]);
    assert_eq!(malformed.code, 1);
    assert!(
        malformed.stderr.starts_with("Error reading the semaphore: coreos.com/updateengine/rebootlock/semaphore: malformed semaphore document"),
        "{malformed:?}"
    );
    let lock = locksmithctl(&url, &["lock", "m1"]);
    assert_eq!(lock.code, 1);
    assert!(lock.stderr.starts_with("Error locking: "), "{lock:?}");
}
