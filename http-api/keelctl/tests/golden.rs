//! Golden test: `keelctl` prints what `etcdctl` v2 (etcd 3.4) prints against the same Keel
//! cluster, with the same exit code.
//!
//! Method: start a real 3-member cluster (testkit); run every step of the script twice, once
//! with etcdctl on the prefix `/etcdctl-tree` and once with keelctl on `/keelctl-tree` (the same sequence on disjoint
//! trees, so both see the same shapes); normalise (prefix → `/P`, every digit run → `#`, which
//! masks store indexes, TTLs, ports and in-order names) and compare stdout, stderr and exit code.
//! Live watches are started for both, the test waits until `/v2/stats/store` counts their
//! watchers, writes, and collects output with a deadline. Without /usr/bin/etcdctl the test is
//! skipped with a notice, unless `CI` is set.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ETCDCTL: &str = "/usr/bin/etcdctl";
const COMMAND_DEADLINE: Duration = Duration::from_secs(20);

/// One run's observable behaviour.
#[derive(Debug, PartialEq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn command(tool: &str, endpoint: &str) -> Command {
    let mut command = Command::new(if tool == "etcdctl" {
        ETCDCTL
    } else {
        env!("CARGO_BIN_EXE_keelctl")
    });
    for (name, _) in std::env::vars() {
        if name.starts_with("ETCD") || name.starts_with("KEELCTL") {
            command.env_remove(name);
        }
    }
    command
        .env("ETCDCTL_API", "2")
        .env("ETCDCTL_ENDPOINTS", endpoint);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn args_for(step: &str, prefix: &str) -> Vec<String> {
    step.split_whitespace()
        .map(|word| word.replace("/P", prefix))
        .collect()
}

fn collect(mut child: Child, deadline: Duration, until: impl Fn(&str) -> bool) -> Outcome {
    // The pipes are read on threads so a full pipe never blocks the child.
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut stdout = Vec::new();
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout_pipe.read(&mut buffer) {
            if read == 0 {
                break;
            }
            stdout.extend_from_slice(&buffer[..read]);
            let _ = tx.send(String::from_utf8_lossy(&stdout).into_owned());
        }
        String::from_utf8_lossy(&stdout).into_owned()
    });
    let errors = std::thread::spawn(move || {
        let mut stderr = String::new();
        let _ = stderr_pipe.read_to_string(&mut stderr);
        stderr
    });
    let start = Instant::now();
    let mut code = None;
    while start.elapsed() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            code = status.code();
            break;
        }
        if let Ok(seen) = rx.recv_timeout(Duration::from_millis(20)) {
            if until(&seen) {
                break;
            }
        }
    }
    if code.is_none() {
        let _ = child.kill(); // our own child, by PID
        let _ = child.wait();
    }
    Outcome {
        stdout: reader.join().unwrap(),
        stderr: errors.join().unwrap(),
        code,
    }
}

fn normalise(text: &str, prefix: &str) -> String {
    let replaced = text.replace(prefix, "/P");
    let mut out = String::new();
    let mut in_digits = false;
    for character in replaced.chars() {
        if character.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(character);
        }
    }
    out
}

fn normalised(outcome: &Outcome, prefix: &str) -> Outcome {
    Outcome {
        stdout: normalise(&outcome.stdout, prefix),
        stderr: normalise(&outcome.stderr, prefix),
        code: outcome.code,
    }
}

fn watchers(cluster: &testkit::Cluster) -> u64 {
    (0..3)
        .map(|i| {
            cluster
                .get(cluster.url(i), "/v2/stats/store")
                .map_or(0, |reply| reply.json()["watchers"].as_u64().unwrap_or(0))
        })
        .sum()
}

/// The script: `/P` is the tool's prefix. Steps starting with `!watch` are live watches: the
/// rest is the command, then the write that triggers it, separated by ` => `.
const SCRIPT: &[&str] = &[
    "set /P/a one",
    "-o json set /P/a two",
    "-o extended set /P/a three",
    "get /P/a",
    "-o json get /P/a",
    "-o extended get /P/a",
    "get /P/missing",
    "-o json get /P/missing",
    "get",
    "set /P/b",
    "set --ttl 100 /P/t tee",
    "-o json get /P/t",
    "set --swap-with-value three /P/a four",
    "set --swap-with-value nope /P/a five",
    "set --swap-with-index 1 /P/a six",
    "mk /P/m em",
    "mk /P/m em",
    "-o json mk --in-order /P/q first",
    "mk --in-order --ttl 50 /P/q second",
    "get --sort /P/q",
    "ls --sort /P/q",
    "mkdir /P/d",
    "mkdir /P/d",
    "-o json mkdir /P/d2",
    "-o extended mkdir --ttl 60 /P/d3",
    "get /P/d",
    "setdir /P/s",
    "setdir /P/s",
    "-o json setdir /P/s2",
    "update /P/a seven",
    "update /P/nope x",
    "-o json update --ttl 30 /P/a eight",
    "updatedir /P/d",
    "-o json updatedir --ttl 40 /P/d",
    "updatedir /P/nodir",
    "set /P/x/y/z deep",
    "ls /P",
    "ls --sort -r /P",
    "ls --sort -r -p /P",
    "ls -p --sort /P/x",
    "-o json ls --sort /P/x",
    "-o extended ls --sort /P/x",
    "ls --quorum /P/a",
    "get -q /P/a",
    "rm /P/d",
    "rm --dir /P/d",
    "rm /P/x",
    "-o json rm --dir /P/x",
    "rm -r /P/x",
    "rm --recursive /P/nope",
    "rm --with-value nope /P/m",
    "rm --with-value em /P/m",
    "rm --with-index 1 /P/a",
    "-o extended rm /P/a",
    "rmdir /P/d2",
    "rmdir /P/s",
    "-o json rmdir /P/s2",
    "rmdir",
    "rm",
    "watch --after-index 1 /P/t",
    "-o json watch -r --after-index 1 /P/q",
    "member list",
    "member list extra",
    "member add",
    // A successful add would change the cluster between the two tools' runs; the URL check
    // is compared instead; `member update abc` below compares the server's 404 message.
    "member add newbie foo",
    "member add newbie http://nohostport",
    "member remove",
    "member remove 12345",
    "member update",
    "member update abc http://127.0.0.1:1",
    "cluster-health",
    "--no-sync --endpoints http://127.0.0.1:1 get /P/a",
    "--timeout 3s --total-timeout 10s get /P/t",
    "--no-sync get /P/t",
    "!watch watch /P/w => set /P/w ww",
    "!watch -o json watch -r /P/wr => set /P/wr/a wra",
    "!watch watch --forever /P/wf => set /P/wf wf1",
    "!watch -o extended watch -f -r /P/wx => mkdir /P/wx/dir",
];

fn run_step(cluster: &testkit::Cluster, tool: &str, prefix: &str, step: &str) -> Outcome {
    let endpoint = cluster.url(0).to_owned();
    let Some(live) = step.strip_prefix("!watch ") else {
        let child = command(tool, &endpoint)
            .args(args_for(step, prefix))
            .spawn()
            .unwrap();
        return collect(child, COMMAND_DEADLINE, |_| false);
    };
    let (watch, write) = live.split_once(" => ").unwrap();
    // A watch killed by the step before may still be registered for a moment; counting from
    // an idle cluster keeps its late removal from hiding this step's registration.
    testkit::wait_for(COMMAND_DEADLINE, "earlier watches to be dropped", || {
        (watchers(cluster) == 0).then_some(())
    });
    let child = command(tool, &endpoint)
        .args(args_for(watch, prefix))
        .spawn()
        .unwrap();
    testkit::wait_for(COMMAND_DEADLINE, "the watch to register", || {
        (watchers(cluster) > 0).then_some(())
    });
    let status = command("keelctl", &endpoint)
        .args(args_for(write, prefix))
        .status()
        .unwrap();
    assert!(status.success(), "trigger {write} failed");
    let forever = watch.contains("-f");
    collect(child, COMMAND_DEADLINE, move |seen| {
        forever && !seen.is_empty() && (seen.ends_with("\n\n") || !seen.contains("Key:"))
    })
}

/// exec-watch from history: the trigger is written first and the watch starts after the
/// index before it, so the event is replayed whether or not the watch was registered in time
/// (no race on registration, which a watcher count cannot observe reliably).
fn exec_watch(cluster: &testkit::Cluster, tool: &str, prefix: &str) -> Outcome {
    let endpoint = cluster.url(0).to_owned();
    let script =
        "echo $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_MODIFIED_INDEX";
    let key = format!("{prefix}/ew");
    let before = cluster
        .get(&endpoint, "/v2/keys/?quorum=true")
        .unwrap()
        .etcd_index
        .unwrap();
    assert!(command("keelctl", &endpoint)
        .args(["set", key.as_str(), "ev"])
        .status()
        .unwrap()
        .success());
    let after = before.to_string();
    // etcdctl's own parsing: with no `--` left after the flag parser, the key is the last
    // argument and the command comes before it.
    let child = command(tool, &endpoint)
        .args([
            "exec-watch",
            "--after-index",
            after.as_str(),
            "--",
            "sh",
            "-c",
            script,
            key.as_str(),
        ])
        .spawn()
        .unwrap();
    let outcome = collect(child, COMMAND_DEADLINE, |seen| seen.ends_with('\n'));
    Outcome {
        code: None,
        ..outcome
    }
}

#[test]
fn keelctl_prints_what_etcdctl_prints() {
    if !testkit::reference_tools_present(&[(ETCDCTL, "etcd-client")]) {
        return;
    }
    let cluster = testkit::Cluster::start(3, &[]);
    testkit::wait_for(
        testkit::READY_DEADLINE,
        "members to publish client URLs",
        || {
            let reply = cluster.get(cluster.url(0), "/v2/members").ok()?;
            let members = reply.json()["members"].as_array()?.clone();
            members
                .iter()
                .all(|m| m["clientURLs"].as_array().is_some_and(|u| !u.is_empty()))
                .then_some(())
        },
    );
    let mut failures = Vec::new();
    for step in SCRIPT {
        let etcdctl = normalised(
            &run_step(&cluster, "etcdctl", "/etcdctl-tree", step),
            "/etcdctl-tree",
        );
        let keelctl = normalised(
            &run_step(&cluster, "keelctl", "/keelctl-tree", step),
            "/keelctl-tree",
        );
        if etcdctl != keelctl {
            failures.push(format!(
                "step `{step}`:\n  etcdctl: {etcdctl:?}\n  keelctl: {keelctl:?}"
            ));
        }
    }
    let etcdctl = normalised(
        &exec_watch(&cluster, "etcdctl", "/etcdctl-tree"),
        "/etcdctl-tree",
    );
    let keelctl = normalised(
        &exec_watch(&cluster, "keelctl", "/keelctl-tree"),
        "/keelctl-tree",
    );
    if etcdctl != keelctl || keelctl.stdout != "set /P/ew ev #\n" {
        failures.push(format!(
            "step exec-watch:\n  etcdctl: {etcdctl:?}\n  keelctl: {keelctl:?}"
        ));
    }
    assert!(SCRIPT.len() + 1 >= 40);
    assert!(
        failures.is_empty(),
        "{} of {} steps differ:\n{}",
        failures.len(),
        SCRIPT.len() + 1,
        failures.join("\n")
    );
}
