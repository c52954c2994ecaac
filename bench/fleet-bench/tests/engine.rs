//! The engine benchmarks' harness on a tiny cluster, so they keep working: the numbers are
//! the benchmark's business, the report is this test's.
//!
//! Method: `fleet-bench engine` with 6 machines and 60 units, pure and against one Keel
//! member; each JSON line read back.

use serde_json::Value;
use std::process::Command;

fn engine(extra: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_fleet-bench"))
        .args(["engine", "--machines", "6", "--units", "60"])
        .args(extra)
        .output()
        .expect("fleet-bench runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).expect("one JSON line")
}

#[test]
fn the_pure_pass_decides_every_unit() {
    // Goal: every generated unit is either placed or reported unplaceable.
    let report = engine(&["--runs", "1"]);
    let placed = report["placed"].as_u64().expect("placed");
    assert!(placed > 0, "{report}");
    assert_eq!(
        placed + report["unplaceable"].as_u64().expect("unplaceable"),
        60
    );
}

#[test]
fn the_pass_through_keel_indexes_every_placement_and_counts_its_writes() {
    // Goal: fleetd's engine, started after the cluster is written, indexes what the pure
    // pass places (the run ends only then), and the report counts at least a placement
    // and an index entry per placed unit.
    let report = engine(&["--members", "1", "--deadline", "60"]);
    let placed = report["placed"].as_u64().expect("placed");
    assert!(placed > 0, "{report}");
    assert_eq!(
        placed + report["unplaceable"].as_u64().expect("unplaceable"),
        60
    );
    assert!(
        report["writesPerPlacement"].as_f64() >= Some(2.0),
        "{report}"
    );
    assert!(
        report["placementsPerSecond"].as_f64() > Some(0.0),
        "{report}"
    );
}
