//! `bench/compare` end to end on a tiny workload: Keel and the real etcd side by side, every
//! workload and the memory/restart measurement, with the results file checked. No timing is
//! asserted, only that every number was measured and nothing failed or was left running.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ETCD: &str = "/usr/bin/etcd";

/// Stops the script the way a user would (SIGTERM: it stops every server it started), then
/// kills it if it does not exit in time.
struct StopOnDrop(Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..300 {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn alive(pid: u64) -> bool {
    // A zombie is not running; it only waits for its parent, which has exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn compare_runs_end_to_end_on_a_tiny_workload() {
    if !testkit::reference_tools_present(&[(ETCD, "etcd-server")]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("results.json");
    let data = dir.path().join("data");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compare");
    let log = dir.path().join("compare.log");
    let child = Command::new("python3")
        .arg(&script)
        .arg("--tiny")
        .arg("--keel")
        .arg(testkit::keel_binary())
        .arg("--bench")
        .arg(env!("CARGO_BIN_EXE_keel-bench"))
        .arg("--data-root")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs bench/compare");
    let mut child = StopOnDrop(child);
    let status = testkit::wait_for(Duration::from_secs(600), "bench/compare to finish", || {
        child.0.try_wait().ok().flatten()
    });
    let code = status.code();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(code, Some(0), "bench/compare failed:\n{output}");
    for heading in [
        "fsync floor",
        "keel/etcd",
        "put-c256",
        "watch-w1000",
        "restart to serving",
    ] {
        assert!(output.contains(heading), "no `{heading}` in:\n{output}");
    }
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("results file")).expect("JSON");
    assert!(
        results["fsync"]["syncs"].as_u64().unwrap_or(0) > 0,
        "{results:#}"
    );
    let rows = results["speed"].as_array().expect("speed rows");
    assert_eq!(rows.len(), 7, "{results:#}");
    for row in rows {
        let name = row["workload"].as_str().unwrap_or_default();
        for system in ["keel", "etcd"] {
            let numbers = &row[system];
            assert_eq!(numbers["errors"], 0, "{name} on {system}: {numbers:#}");
            assert!(
                numbers["p50_ms"].as_f64().unwrap_or(0.0) > 0.0 || name.starts_with("watch"),
                "{name} on {system}: {numbers:#}"
            );
            assert!(
                numbers["server_cpu_us_per_req"].as_f64().is_some(),
                "{name} on {system}"
            );
            assert!(
                numbers["peak_rss_mib"].as_f64().unwrap_or(0.0) > 0.0,
                "{name} on {system}"
            );
            if !name.starts_with("watch") {
                assert!(
                    numbers["req_s"].as_f64().unwrap_or(0.0) > 0.0,
                    "{name} on {system}"
                );
            }
        }
    }
    let memory = results["memory"].as_array().expect("memory rows");
    assert_eq!(memory.len(), 2, "{results:#}");
    for system in memory {
        assert_eq!(system["keys"], 2000, "{system:#}");
        assert!(
            system["restart_to_serving_s"].as_f64().unwrap_or(0.0) > 0.0,
            "{system:#}"
        );
        let rss = system["rss_mib"].as_array().expect("rss per member");
        assert_eq!(rss.len(), 3, "{system:#}");
        assert!(
            rss.iter().all(|r| r.as_f64().unwrap_or(0.0) > 0.0),
            "{system:#}"
        );
    }
    let pids = results["server_pids"].as_array().expect("pids");
    assert_eq!(
        pids.len(),
        3 * 2 * 3,
        "keel+etcd, speed+memory, restart: {pids:?}"
    );
    for pid in pids {
        assert!(
            !alive(pid.as_u64().expect("pid")),
            "server {pid} still running"
        );
    }
    assert!(!data.join("keel-mem").exists() && !data.join("etcd-mem").exists());
}
