//! keel-bench's progress output as a script sees it: stderr piped, so plain lines.

use std::process::Command;

/// Goal: with stderr not a terminal, progress is plain lines on stderr (no carriage return,
/// no escape sequence), ending with the run's last line, and stdout holds only the report.
/// Method: `keel-bench --json --total 200 fsync` on a 1 MiB file in a temp dir.
#[test]
fn piped_progress_is_plain_lines_on_stderr() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new(env!("CARGO_BIN_EXE_keel-bench"))
        .args([
            "--json",
            "--total",
            "200",
            "fsync",
            "--file-mib",
            "1",
            "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("keel-bench: fsync 200 syncs, "),
        "{stderr}"
    );
    assert!(last.ends_with(", done"), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("stdout is JSON: {e}"));
    assert_eq!(report["syncs"], 200);
}
