//! The conformance suite, and what only the D-Bus adapter can show (file modes, systemd's
//! runtime links, `systemctl`'s view), on real systemd user managers: one testkit host per
//! test, reached from outside through the host's `/proc/<pid>/root`, with the units
//! directory in the test's temporary directory, which the host sees at the same path.
//!
//! Needs root and systemd, dbus-user-session and util-linux: without them a test prints
//! `SKIPPED` and passes, unless `CI` is set (then it fails; `testkit::host::available`).

use crate::conformance::{self, Harness};
use crate::{Bus, DbusSystemd};
use fleet_core::ports::Systemd;
use fleet_core::resources::{Resources, SystemdLimits};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use testkit::host::{Host, HostConfig};

/// A testkit host with its user manager's bus address and a units directory.
struct RealHost {
    host: Host,
    address: String,
    units: PathBuf,
    /// Holds the host's scratch files and the units; dropped after the host is killed.
    _dir: tempfile::TempDir,
}

/// A started host named `name`, or `None` (after a `SKIPPED` notice) on a machine that
/// cannot run hosts.
fn real_host(name: &str) -> Option<RealHost> {
    testkit::host::available().ok()?;
    let dir = tempfile::tempdir().expect("temporary directory");
    let machine_id = format!(
        "{:0>32}",
        name.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let config = HostConfig {
        name: name.to_owned(),
        machine_id: machine_id[machine_id.len() - 32..].to_owned(),
        namespace: None,
        dir: dir.path().join("host"),
    };
    let host = Host::start(config).expect("the host starts");
    let bus = host.path_from_outside(&host.runtime_dir().join("bus"));
    Some(RealHost {
        address: format!("unix:path={}", bus.display()),
        units: dir.path().join("units"),
        host,
        _dir: dir,
    })
}

impl Harness for RealHost {
    type Systemd = DbusSystemd;

    async fn connect(&self) -> DbusSystemd {
        DbusSystemd::connect(&Bus::Address(self.address.clone()), self.units.clone())
            .await
            .expect("the adapter connects to the host's user manager")
    }

    fn unit_file_exists(&self, name: &str) -> bool {
        self.units.join(name).exists()
    }
}

impl RealHost {
    /// A path of the host's runtime directory, as this process reaches it.
    fn runtime_path(&self, relative: &str) -> PathBuf {
        self.host
            .path_from_outside(&self.host.runtime_dir().join(relative))
    }
}

// Goal: load writes and links the unit (conformance). Method: the suite's case on a host.
#[tokio::test]
async fn load_links_the_unit() {
    let Some(host) = real_host("sd-load") else {
        return;
    };
    conformance::load_links_the_unit(&host).await;
}

// Goal: start and stop arrive pushed, not polled (conformance). Method: the suite's case.
#[tokio::test]
async fn start_and_stop_arrive_as_changes() {
    let Some(host) = real_host("sd-start-stop") else {
        return;
    };
    conformance::start_and_stop_arrive_as_changes(&host).await;
}

// Goal: unload stops and forgets the unit (conformance). Method: the suite's case.
#[tokio::test]
async fn unload_forgets_the_unit() {
    let Some(host) = real_host("sd-unload") else {
        return;
    };
    conformance::unload_forgets_the_unit(&host).await;
}

// Goal: a restarted adapter sees its running unit as launched (conformance). Method: the
// suite's case, with two adapter instances on one host.
#[tokio::test]
async fn restarted_instance_lists_running_unit() {
    let Some(host) = real_host("sd-restart") else {
        return;
    };
    conformance::restarted_instance_lists_running_unit(&host).await;
}

// Goal: a failing unit's failure is delivered (conformance). Method: the suite's case.
#[tokio::test]
async fn failing_unit_reports_failed() {
    let Some(host) = real_host("sd-fail") else {
        return;
    };
    conformance::failing_unit_reports_failed(&host).await;
}

// Goal: a service's run is reported only after it started on its current file, with
// systemd's result and exit status (conformance). Method: the suite's case.
#[tokio::test]
async fn main_run_is_reported_since_load() {
    let Some(host) = real_host("sd-run") else {
        return;
    };
    conformance::main_run_is_reported_since_load(&host).await;
}

// Goal: a clean oneshot run is reported after systemd collected the unit (conformance).
// Method: the suite's case.
#[tokio::test]
async fn clean_run_is_reported_after_collection() {
    let Some(host) = real_host("sd-clean") else {
        return;
    };
    conformance::clean_run_is_reported_after_collection(&host).await;
}

// Goal: a start whose job systemd has queued, not yet run, reads as a run that has not
// ended, so the agent never starts a batch job twice; once it has run, its run reads as
// ended. Method: a oneshot ordered after a gate that stays starting; start the gate, then
// the oneshot, and read its run while its job waits (the unit still inactive); stop the
// gate, and the oneshot runs. Only the adapter can show it: a fake has no job queue.
#[tokio::test]
async fn queued_start_is_a_run_not_ended() {
    let Some(host) = real_host("sd-queued") else {
        return;
    };
    let systemd = host.connect().await;
    let (gate, queued) = ("queued-gate.service", "queued-job.service");
    conformance::load(
        &systemd,
        gate,
        "[Service]\nType=oneshot\nExecStart=/bin/sleep 600\n",
    )
    .await;
    let text = format!("[Unit]\nAfter={gate}\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n");
    conformance::load(&systemd, queued, &text).await;
    let mut changes = conformance::watch_one(&systemd, gate).await;
    systemd.start_unit(gate).await.expect("start_unit");
    conformance::wait_for_state(&mut changes, gate, conformance::is("activating", "start")).await;
    systemd.start_unit(queued).await.expect("start_unit");
    let waiting = systemd.unit_state(queued).await.expect("unit_state");
    assert_eq!(
        waiting.active_state, "inactive",
        "its job waits: {waiting:?}"
    );
    let pending = systemd.main_run(queued).await.expect("main_run");
    let pending = pending.expect("a queued start is a run");
    assert_eq!(pending.exited_at_ms, None, "{pending:?}");
    systemd.stop_unit(gate).await.expect("stop_unit");
    let ran = conformance::ended_run(&systemd, queued, |run| run.exited_at_ms.is_some()).await;
    assert_eq!(
        (ran.result.as_str(), ran.exit_status),
        ("success", 0),
        "{ran:?}"
    );
    assert!(
        ran.started_usec >= pending.started_usec,
        "{ran:?} {pending:?}"
    );
    for name in [queued, gate] {
        systemd.unload_unit(name).await.expect("unload_unit");
    }
}

// Goal: bad names and absent units are typed errors (conformance). Method: the suite's case.
#[tokio::test]
async fn bad_names_are_typed_errors() {
    let Some(host) = real_host("sd-names") else {
        return;
    };
    conformance::bad_names_are_typed_errors(&host).await;
}

// Goal: the adapter does on disk and in systemd what fleet's agent did (README): the
// file 0644, a runtime link to it, the `[Install]` links of an enabled unit; unload removes
// them all, and `systemctl --user status` then finds no such unit. Method: look at the
// host's runtime unit directory from outside, and run systemctl inside the host.
#[tokio::test]
async fn load_and_unload_files_and_links_as_fleet() {
    let Some(host) = real_host("sd-links") else {
        return;
    };
    let name = "links.service";
    let text = "[Service]\nExecStart=/bin/sleep 600\n\n[Install]\nWantedBy=default.target\n";
    let systemd = host.connect().await;
    systemd
        .load_unit(name, &conformance::unit_file(text))
        .await
        .expect("load_unit");
    let file = host.units.join(name);
    let mode = std::fs::metadata(&file)
        .expect("the file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let link = host.runtime_path(&format!("systemd/user/{name}"));
    let wants = host.runtime_path(&format!("systemd/user/default.target.wants/{name}"));
    for path in [&link, &wants] {
        assert_eq!(
            std::fs::read_link(path).expect("a link").as_path(),
            file.as_path()
        );
    }
    systemd.reload().await.expect("reload");
    systemd.unload_unit(name).await.expect("unload_unit");
    for path in [&file, &link, &wants] {
        assert!(
            !path.exists() && std::fs::symlink_metadata(path).is_err(),
            "{}",
            path.display()
        );
    }
    systemd.reload().await.expect("reload");
    let status = host.host.exec("systemctl", &["--user", "status", name]);
    let said = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(4), "systemctl said {said}");
    assert!(said.contains("could not be found"), "systemctl said {said}");
}

// Goal: set_limits gives a loaded service CPUQuota= and MemoryMax=, and clearing them sets
// both back to infinity, as `systemctl show` reports. Method: load, set, show, clear, show.
#[tokio::test]
async fn limits_become_cpu_quota_and_memory_max() {
    let Some(host) = real_host("sd-limits") else {
        return;
    };
    let name = "limited.service";
    let systemd = host.connect().await;
    systemd
        .load_unit(name, &conformance::unit_file(conformance::SLEEPER))
        .await
        .expect("load_unit");
    systemd.reload().await.expect("reload");
    let show = || {
        let shown = host.host.exec(
            "systemctl",
            &[
                "--user",
                "show",
                "-p",
                "CPUQuotaPerSecUSec",
                "-p",
                "MemoryMax",
                name,
            ],
        );
        let mut lines: Vec<String> = String::from_utf8_lossy(&shown.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    let limits = SystemdLimits::for_requests(Resources {
        cpu_millis: 500,
        memory_bytes: 256 << 20,
    });
    systemd.set_limits(name, limits).await.expect("set_limits");
    assert_eq!(show(), ["CPUQuotaPerSecUSec=500ms", "MemoryMax=268435456"]);
    systemd
        .set_limits(name, SystemdLimits::default())
        .await
        .expect("set_limits");
    assert_eq!(
        show(),
        ["CPUQuotaPerSecUSec=infinity", "MemoryMax=infinity"]
    );
    systemd.unload_unit(name).await.expect("unload_unit");
}

// Goal: a units directory systemd could not be given as a path is refused up front.
// Method: a relative directory, no host needed.
#[tokio::test]
async fn relative_units_directory_is_refused() {
    let refused = DbusSystemd::connect(&Bus::System, Path::new("units").to_owned()).await;
    assert!(matches!(
        refused,
        Err(fleet_core::ports::SystemdError::UnitFileIo { .. })
    ));
}
