//! The `jepsen` binary as a user runs it.

use std::path::PathBuf;
use std::process::Command;

fn jepsen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jepsen"))
}

/// Goal: `jepsen check` gives the documented exit status and names the failing key.
/// Method: a hand-written stale-read history (write 1, write 2 acknowledged, then a read of
/// 1 that starts after both) and its linearizable twin.
#[test]
fn check_exit_status_and_report() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lines = |read: &str| {
        [
            r#"{"index":0,"time_ns":1,"process":0,"type":"invoke","f":"write","key":"/a","value":"1"}"#.to_owned(),
            r#"{"index":1,"time_ns":2,"process":0,"type":"ok","f":"write","key":"/a","value":"1"}"#.to_owned(),
            r#"{"index":2,"time_ns":3,"process":"nemesis","type":"info","f":"start-partition","value":null}"#.to_owned(),
            r#"{"index":3,"time_ns":4,"process":1,"type":"invoke","f":"write","key":"/a","value":"2"}"#.to_owned(),
            r#"{"index":4,"time_ns":5,"process":1,"type":"ok","f":"write","key":"/a","value":"2","node":"n2"}"#.to_owned(),
            r#"{"index":5,"time_ns":6,"process":2,"type":"invoke","f":"read","key":"/a"}"#.to_owned(),
            format!(r#"{{"index":6,"time_ns":7,"process":2,"type":"ok","f":"read","key":"/a","value":"{read}"}}"#),
        ]
        .join("\n")
    };
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines("1")).unwrap_or_else(|e| panic!("{e}"));
    let output = jepsen()
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not linearizable: key \"/a\""), "{stdout}");

    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, lines("2")).unwrap_or_else(|e| panic!("{e}"));
    let output = jepsen()
        .arg("check")
        .arg(&good)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(output.status.code(), Some(0));

    let output = jepsen()
        .args(["check", "/nonexistent/history.jsonl"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        output.status.code(),
        Some(2),
        "a missing history is a harness failure"
    );
}

/// Goal: the "indeterminate as failure" control works: a write that timed out (`info`) and
/// later became visible is fine as recorded, and rejected once `info` is read as `fail`
/// (`docs/jepsen.md`, controls). Method: one hand-written history, checked both ways.
#[test]
fn info_as_fail_control_rejects_a_visible_timed_out_write() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let history = dir.path().join("info.jsonl");
    let lines = [
        r#"{"index":0,"time_ns":1,"process":0,"type":"invoke","f":"write","key":"/a","value":"1"}"#,
        r#"{"index":1,"time_ns":2,"process":0,"type":"info","f":"write","key":"/a","value":"1"}"#,
        r#"{"index":2,"time_ns":3,"process":1,"type":"invoke","f":"read","key":"/a"}"#,
        r#"{"index":3,"time_ns":4,"process":1,"type":"ok","f":"read","key":"/a","value":"1"}"#,
    ];
    std::fs::write(&history, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let status = |extra: &[&str]| {
        jepsen()
            .arg("check")
            .args(extra)
            .arg(&history)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
            .status
            .code()
    };
    assert_eq!(status(&[]), Some(0), "an info write may have applied");
    assert_eq!(
        status(&["--info-as-fail"]),
        Some(1),
        "a failed write must not be seen"
    );
}

/// Goal: bad arguments are refused with a clear message, before anything starts.
#[test]
fn bad_arguments_are_refused() {
    for (args, needle) in [
        (
            vec!["run", "--nemesis", "partiton"],
            "unknown nemesis \"partiton\"",
        ),
        (
            vec!["run", "--workload", "registers"],
            "unknown workload \"registers\"",
        ),
        (vec!["run", "--time-limit", "soon"], "not a duration"),
        (vec!["run", "--nodes", "0"], "--nodes"),
    ] {
        let output = jepsen()
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// Goal: a short real run leaves the documented artifacts and says valid, and with stderr
/// piped (not a terminal) its progress is plain lines: the phase announced, status lines
/// counting operations, no carriage return or escape sequence. Method: 3 members, 12 s of
/// register load under partitions and kills; read the printed artifact directory (the last
/// line), its `results.json` and stderr. Needs root; elsewhere the run reports itself
/// skipped, which is checked instead.
#[test]
fn short_run_writes_artifacts() {
    let artifacts = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let output = jepsen()
        .args([
            "run",
            "--workload",
            "register",
            "--nemesis",
            "partition,kill",
            "--time-limit",
            "12s",
            "--fault-duration",
            "3s",
            "--heal-duration",
            "2s",
            "--nodes",
            "3",
            "--concurrency",
            "6",
            "--seed",
            "11",
            "--net",
            "10.80.0",
            "--netns-prefix",
            "jcl",
            "--bridge",
            "jclbr0",
        ])
        .arg("--artifacts")
        .arg(artifacts.path())
        .env("KEEL_BIN", testkit::keel_binary())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    if !testkit::lab::is_root() {
        assert!(last.starts_with("skipped: needs root"), "{stdout}");
        assert_eq!(output.status.code(), Some(0));
        return;
    }
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    assert!(
        stderr.contains("jepsen: phase 1/1 register: 12 s of load under faults"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("jepsen: phase 1/1 register, ") && l.contains(" ops, ")),
        "a status line while the load ran: {stderr}"
    );
    let dir = PathBuf::from(last);
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("results.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results["verdict"], "valid", "{results:#}");
    let ops = &results["ops"];
    assert!(ops["invoked"].as_u64().unwrap_or(0) > 20, "{results:#}");
    assert_eq!(
        ops["invoked"].as_u64(),
        Some(
            ops["ok"].as_u64().unwrap_or(0)
                + ops["fail"].as_u64().unwrap_or(0)
                + ops["info"].as_u64().unwrap_or(0)
        ),
        "every invocation is counted once"
    );
    assert!(
        results["faults"].as_object().is_some_and(|f| !f.is_empty()),
        "faults were injected: {results:#}"
    );
    assert_eq!(results["anomalies"], serde_json::json!([]));
    assert_eq!(results["lost_writes"], 0);
    for file in [
        "history.jsonl",
        "report.html",
        "checker.txt",
        "capabilities.txt",
    ] {
        assert!(dir.join(file).exists(), "{file} is written");
    }
    let replay = results["command"].as_str().unwrap_or_default();
    assert!(replay.contains("--seed 11"), "{replay}");
}
