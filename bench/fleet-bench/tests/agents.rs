//! The simulated-agent benchmark's harness on a tiny cluster, so it keeps working: the
//! numbers are the benchmark's business, the phases and the report are this test's.
//!
//! Method: `fleet-bench agents` with 4 machines, 12 units, one Keel member, a 2 s TTL; its
//! JSON line read back.

use std::process::Command;

#[test]
fn the_agents_benchmark_runs_every_phase_and_reports() {
    // Goal: every unit runs, a lost machine's units run elsewhere, and the report counts
    // at least one write per unit start and the presence refreshes of the steady window.
    let output = Command::new(env!("CARGO_BIN_EXE_fleet-bench"))
        .args([
            "agents",
            "--machines",
            "4",
            "--units",
            "12",
            "--members",
            "1",
        ])
        .args(["--agent-ttl", "2", "--steady", "2", "--deadline", "60"])
        .output()
        .expect("fleet-bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(report["units"], 12, "{report}");
    assert!(
        report["writesPerUnitStart"].as_f64() >= Some(1.0),
        "{report}"
    );
    assert!(report["steady"]["writes"].as_u64() >= Some(4), "{report}");
    assert!(
        report["lossToExpirySeconds"].as_f64() > Some(0.0),
        "{report}"
    );
    assert!(
        report["expiryToRunningElsewhereSeconds"].as_f64() >= Some(0.0),
        "{report}"
    );
}
