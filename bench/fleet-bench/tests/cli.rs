//! The binary as a script runs it: its version, and its progress with stderr piped.
//!
//! Method: `fleet-bench --version`, and `fleet-bench engine` on 6 machines and 60 units with
//! two passes, its stderr read back.

use std::process::Command;

#[test]
fn version_names_the_binary() {
    // Goal: `--version` answers like the other binaries, with the workspace's version.
    let output = Command::new(env!("CARGO_BIN_EXE_fleet-bench"))
        .arg("--version")
        .output()
        .expect("fleet-bench runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("fleet-bench {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn piped_progress_is_one_plain_line_per_phase() {
    // Goal: with stderr not a terminal, each phase starts with a plain line numbering it,
    // the run ends with a `done` line, nothing carries a carriage return or an escape
    // sequence, and stdout still holds the one JSON line.
    let output = Command::new(env!("CARGO_BIN_EXE_fleet-bench"))
        .args(["engine", "--machines", "6", "--units", "60", "--runs", "2"])
        .output()
        .expect("fleet-bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "fleet-bench: phase 1/3 generate the cluster",
            "fleet-bench: phase 2/3 placement pass 1",
            "fleet-bench: phase 3/3 placement pass 2",
        ],
        "{stderr}"
    );
    assert!(
        lines[3].starts_with("fleet-bench: done, 3 phases in "),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(report["units"], 60);
}
