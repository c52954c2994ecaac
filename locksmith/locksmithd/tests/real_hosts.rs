//! locksmithd on real test hosts against a real Keel member: each host's private system bus
//! carries stand-ins of update_engine and logind (owned by this test process from outside the
//! host), and locksmithd runs inside the host as it would on a machine, reading its own
//! `/etc/machine-id` and the system bus.
//!
//! Needs root, systemd and dbus: without them a test prints `SKIPPED` and passes, unless `CI`
//! is set (then it fails; `testkit::host::available`).

use kv_client::{Client, ClientConfig};
use locksmith_core::update::{UpdateStatus, NEED_REBOOT};
use locksmith_dbus::stand_in::{LogindStandIn, UpdateEngineStandIn};
use locksmith_store::SemaphoreStore;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};
use testkit::host::{Host, HostConfig};
use testkit::Cluster;

/// How long a step may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// A host with the stand-ins on its bus.
struct LockHost {
    host: Host,
    updater: UpdateEngineStandIn,
    logind: LogindStandIn,
    machine: String,
}

/// locksmithd inside a host; killed when dropped.
struct Running(Child);

impl Running {
    /// Kills the daemon itself and waits until it is gone (its state-file lock with it), as
    /// a host going down does, before a new one starts.
    fn stop(&mut self, host: &Host) {
        if let Some(pid) = host.program_pid(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let deadline = Instant::now() + DEADLINE;
            while proc.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The program dies with its nsenter parent (parent-death signal).
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(operation: &str) -> UpdateStatus {
    UpdateStatus {
        last_checked_time: 1_700_000_000,
        progress: 1.0,
        current_operation: operation.to_owned(),
        new_version: "2.0.0".to_owned(),
        new_size: 1,
    }
}

async fn lock_host(name: &str, dir: &Path, operation: &str) -> Option<LockHost> {
    testkit::host::available().ok()?;
    let machine = format!(
        "{:0>32}",
        name.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let machine = machine[machine.len() - 32..].to_owned();
    let host = Host::start(HostConfig {
        name: name.to_owned(),
        machine_id: machine.clone(),
        namespace: None,
        dir: dir.join(name),
    })
    .expect("the host starts");
    let address = host.system_bus_address_from_outside();
    let updater = UpdateEngineStandIn::start(&address, status(operation))
        .await
        .expect("update_engine's stand-in");
    let logind = LogindStandIn::start(&address)
        .await
        .expect("logind's stand-in");
    Some(LockHost {
        host,
        updater,
        logind,
        machine,
    })
}

fn start(host: &LockHost, endpoint: &str, extra: &[(&str, &str)]) -> Running {
    let state = host.host.dir().join("coordinator.conf");
    let state = state.to_string_lossy().into_owned();
    let mut env = vec![
        ("REBOOT_STRATEGY", "etcd-lock"),
        ("LOCKSMITHD_ENDPOINT", endpoint),
        ("LOCKSMITHD_STATE_FILE", state.as_str()),
        ("LOCKSMITHD_UPDATE_CONF", "/nonexistent"),
        ("LOCKSMITHD_RETRY_MIN", "50ms"),
        ("LOCKSMITHD_RETRY_MAX", "200ms"),
        ("RUST_LOG", "info"),
    ];
    env.extend_from_slice(extra);
    Running(host.host.spawn(env!("CARGO_BIN_EXE_locksmithd"), &[], &env))
}

/// Polls `condition` until it holds or [`DEADLINE`] passes; whether it held.
async fn eventually(mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Waits until locksmithd's log on `host` shows `text`, failing with the log otherwise.
async fn wait_for_log(host: &LockHost, text: &str) {
    assert!(
        eventually(async || host.host.log("locksmithd").contains(text)).await,
        "no {text:?} in the log:\n{}",
        host.host.log("locksmithd")
    );
}

async fn holders(store: &SemaphoreStore) -> Vec<String> {
    store.read().await.expect("read").semaphore.holders
}

/// The value of `series` in locksmithd's scrape at `addr`, when it answers.
async fn scraped(addr: &str, series: &str) -> Option<f64> {
    let url = format!("http://{addr}/metrics");
    let text = tokio::task::spawn_blocking(move || ureq::get(&url).call().ok()?.into_string().ok())
        .await
        .ok()??;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

fn state_file(host: &LockHost) -> String {
    std::fs::read_to_string(host.host.dir().join("coordinator.conf")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboots_only_with_a_slot_and_releases_after_a_ready_boot() {
    // Goal: with etcd-lock and a reboot needed, locksmithd does not reboot while another
    // host holds the only slot; once it is free it takes it, reboots through logind once,
    // and records `rebooting`; after the "boot" (a new daemon, the updater idle) it keeps the
    // slot until the readiness check passes, then gives it back. Method: one Keel member, one
    // host with stand-ins; the slot held by another id first; the reboot is asked for and
    // the daemon restarted as after a boot; readiness is a file's existence. Its metrics
    // count the wait on the full semaphore, the slot taken and the reboot.
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(host) = lock_host("lk-one", dir.path(), NEED_REBOOT).await else {
        return;
    };
    let client = Client::new(ClientConfig::new(vec![endpoint.clone()])).expect("client");
    let store = SemaphoreStore::new(client, "");
    store
        .lock("other", 0)
        .await
        .expect("the other host takes the slot");

    let metrics = format!("127.0.0.1:{}", testkit::free_port());
    let mut daemon = start(
        &host,
        &endpoint,
        &[("LOCKSMITHD_METRICS_ADDR", metrics.as_str())],
    );
    assert!(
        eventually(async || state_file(&host).contains("STATE=reboot-planned")).await,
        "locksmithd plans the reboot: {}",
        host.host.log("locksmithd")
    );
    wait_for_log(&host, "Failed to acquire lock").await;
    assert_eq!(host.logind.reboots(), 0, "no reboot without a slot");
    assert!(scraped(&metrics, "locksmith_waits_total").await >= Some(1.0));
    assert_eq!(
        scraped(&metrics, "locksmith_semaphore_holders").await,
        Some(1.0)
    );
    assert_eq!(
        scraped(&metrics, "locksmith_semaphore_max").await,
        Some(1.0)
    );
    assert_eq!(scraped(&metrics, "locksmith_holding").await, Some(0.0));
    assert!(store.unlock("other", 0).await.expect("unlock"));
    assert!(
        host.logind.wait_for_reboots(1, DEADLINE).await,
        "{}",
        host.host.log("locksmithd")
    );
    assert_eq!(holders(&store).await, std::slice::from_ref(&host.machine));
    assert!(eventually(async || state_file(&host).contains("STATE=rebooting")).await);
    assert_eq!(
        scraped(&metrics, "locksmith_reboots_total").await,
        Some(1.0)
    );
    assert_eq!(
        scraped(&metrics, "locksmith_locks_acquired_total").await,
        Some(1.0)
    );
    assert_eq!(scraped(&metrics, "locksmith_holding").await, Some(1.0));
    assert_eq!(
        state_file(&host),
        "NAME=locksmithd\nSTRATEGY=etcd-lock\nSTATE=rebooting\n"
    );
    daemon.stop(&host.host);

    // The boot: the updater is idle again; the daemon starts anew.
    host.updater
        .set_status(status("UPDATE_STATUS_IDLE"))
        .await
        .expect("status");
    let ready: PathBuf = host.host.dir().join("ready");
    let check = format!("test -e {}", ready.display());
    let _daemon = start(
        &host,
        &endpoint,
        &[("LOCKSMITHD_READY_COMMAND", check.as_str())],
    );
    wait_for_log(&host, "waiting for the readiness check").await;
    assert_eq!(
        holders(&store).await,
        std::slice::from_ref(&host.machine),
        "held until ready"
    );
    std::fs::write(&ready, "").expect("ready");
    assert!(
        eventually(async || holders(&store).await.is_empty()).await,
        "{}",
        host.host.log("locksmithd")
    );
    assert_eq!(host.logind.reboots(), 1);
}

/// Five hosts needing a reboot, `max` slots: every host reboots exactly once, each while it
/// holds a slot and never with more than `max` holders; a rebooted host "boots" (a new daemon,
/// the updater idle) and releases its slot, which lets the next one go.
async fn rolling_reboots(prefix: &str, max: i64) {
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let client = Client::new(ClientConfig::new(vec![endpoint.clone()])).expect("client");
    let store = SemaphoreStore::new(client, "");
    store.set_max(max, 0).await.expect("set_max");
    let mut hosts = Vec::new();
    for number in 0..5 {
        let name = format!("{prefix}{number}");
        let Some(host) = lock_host(&name, dir.path(), NEED_REBOOT).await else {
            return;
        };
        hosts.push(host);
    }
    let mut daemons: Vec<Running> = hosts
        .iter()
        .map(|host| start(host, &endpoint, &[]))
        .collect();
    let mut rebooted = vec![false; hosts.len()];
    let mut most_holders = 0;
    let deadline = Instant::now() + DEADLINE * 2;
    while rebooted.contains(&false) {
        assert!(
            Instant::now() < deadline,
            "not every host rebooted: {rebooted:?}"
        );
        let held = holders(&store).await;
        most_holders = most_holders.max(held.len());
        assert!(
            held.len() <= usize::try_from(max).expect("small"),
            "{held:?}"
        );
        for (index, host) in hosts.iter().enumerate() {
            if rebooted[index] || host.logind.reboots() == 0 {
                continue;
            }
            let held = holders(&store).await;
            assert!(
                held.contains(&host.machine),
                "{} rebooted without a slot: {held:?}",
                host.machine
            );
            rebooted[index] = true;
            host.updater
                .set_status(status("UPDATE_STATUS_IDLE"))
                .await
                .expect("status");
            daemons[index].stop(&host.host);
            daemons[index] = start(host, &endpoint, &[]);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(eventually(async || holders(&store).await.is_empty()).await);
    for host in &hosts {
        assert_eq!(host.logind.reboots(), 1, "{}", host.host.log("locksmithd"));
    }
    assert!(most_holders >= 1);
    drop(daemons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hosts_reboot_one_at_a_time() {
    // Goal: with max=1 five hosts that all need a reboot go one at a time, each only while
    // it holds the slot, each exactly once. Method: `rolling_reboots` on five real hosts and
    // one Keel member, the holders read between every observation.
    rolling_reboots("lk-a", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hosts_reboot_at_most_two_at_a_time() {
    // Goal: with max=2 never more than two holders, every host rebooting once while holding
    // a slot. Method: `rolling_reboots` with two slots.
    rolling_reboots("lk-b", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_is_reaped_after_the_maximum_hold() {
    // Goal: a host that died holding the only slot stops no one for longer than the maximum
    // hold: another host needing a reboot reaps it, with a record, and reboots. Method: the
    // slot taken for a host id that never comes back; a host with LOCKSMITHD_MAX_HOLD=1s.
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(host) = lock_host("lk-reap", dir.path(), NEED_REBOOT).await else {
        return;
    };
    let client = Client::new(ClientConfig::new(vec![endpoint.clone()])).expect("client");
    let store = SemaphoreStore::new(client, "");
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("fits");
    store.lock("dead-host", now_ms).await.expect("lock");
    let _daemon = start(&host, &endpoint, &[("LOCKSMITHD_MAX_HOLD", "1s")]);
    assert!(
        host.logind.wait_for_reboots(1, DEADLINE).await,
        "{}",
        host.host.log("locksmithd")
    );
    let read = store.read().await.expect("read").semaphore;
    assert_eq!(read.holders, std::slice::from_ref(&host.machine));
    let book = read.keel.expect("a hold book");
    assert_eq!(book.reaped.len(), 1);
    assert_eq!(book.reaped[0].holder, "dead-host");
    assert_eq!(book.reaped[0].by, format!("locksmithd on {}", host.machine));
    assert!(book.reaped[0].reaped_at_ms >= now_ms + 1000);
}

/// A FleetLock request as Zincati sends it; the status.
async fn fleetlock(base: &str, operation: &str, id: &str) -> u16 {
    let url = format!("{base}/v1/{operation}");
    let body = format!(r#"{{"client_params":{{"id":"{id}","group":"default"}}}}"#);
    tokio::task::spawn_blocking(move || {
        match ureq::post(&url)
            .set("fleet-lock-protocol", "true")
            .send_string(&body)
        {
            Ok(response) => response.status(),
            Err(ureq::Error::Status(status, _)) => status,
            Err(error) => panic!("no answer from {url}: {error}"),
        }
    })
    .await
    .expect("the request ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zincati_and_locksmithd_share_one_group() {
    // Goal: a FleetLock client (as Zincati) and a locksmithd host contend for one slot of
    // the default group: while Zincati holds it the host does not reboot; when Zincati gives
    // it back (steady-state) the host takes it and reboots, and Zincati's next pre-reboot is
    // refused. Method: fleetlockd served in-process and a locksmithd host on one Keel member.
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(host) = lock_host("lk-mixed", dir.path(), NEED_REBOOT).await else {
        return;
    };
    let client = Client::new(ClientConfig::new(vec![endpoint.clone()])).expect("client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    // Ends with the test's runtime.
    tokio::spawn(fleetlockd::serve(listener, client.clone()));
    assert_eq!(fleetlock(&base, "pre-reboot", "zincati-1").await, 200);
    let _daemon = start(&host, &endpoint, &[]);
    wait_for_log(&host, "Failed to acquire lock").await;
    assert_eq!(host.logind.reboots(), 0);
    assert_eq!(
        fleetlock(&base, "pre-reboot", "zincati-1").await,
        200,
        "recursive"
    );
    assert_eq!(fleetlock(&base, "steady-state", "zincati-1").await, 200);
    assert!(
        host.logind.wait_for_reboots(1, DEADLINE).await,
        "{}",
        host.host.log("locksmithd")
    );
    let store = SemaphoreStore::new(client, "");
    assert_eq!(holders(&store).await, std::slice::from_ref(&host.machine));
    assert_eq!(fleetlock(&base, "pre-reboot", "zincati-1").await, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_outside_now_delays_the_reboot_until_it_opens() {
    // Goal: a host that needs a reboot outside its window waits, and reboots once the window
    // opens, not before. Method: a Keel schedule whose window opens 8 s after the daemon
    // starts (to the second, in UTC); logind's stand-in records when Reboot arrives.
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(host) = lock_host("lk-window", dir.path(), NEED_REBOOT).await else {
        return;
    };
    let opens = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    let clock = opens
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%H:%M:%S")
        .to_string();
    let windows = format!("{clock} 1h");
    let _daemon = start(
        &host,
        &endpoint,
        &[
            ("LOCKSMITHD_REBOOT_WINDOWS", windows.as_str()),
            ("LOCKSMITHD_REBOOT_WINDOW_TZ", "UTC"),
        ],
    );
    wait_for_log(&host, "waiting for the reboot window").await;
    assert_eq!(host.logind.reboots(), 0);
    assert!(
        host.logind.wait_for_reboots(1, DEADLINE).await,
        "{}",
        host.host.log("locksmithd")
    );
    // The window starts at the whole second.
    let start = jiff::Timestamp::from_second(opens.as_second()).expect("a time");
    let asked = jiff::Timestamp::try_from(host.logind.reboot_times()[0]).expect("a time");
    assert!(
        asked >= start,
        "asked at {asked}, the window opens at {start}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_need_reboot_from_another_process_is_ignored() {
    // Goal: only update_engine (the owner of com.coreos.update1) can ask for a reboot: a
    // need-reboot signal from any other process on the bus (`locksmithctl send-need-reboot`)
    // changes nothing, while the owner's next signal is taken. Method: locksmithd idle on a
    // host; send-need-reboot from inside the host; then the owner signals `downloading`;
    // once locksmithd has logged that status, it must have logged no need-reboot before it,
    // and logind must have had no call.
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(host) = lock_host("lk-impostor", dir.path(), "UPDATE_STATUS_IDLE").await else {
        return;
    };
    let _daemon = start(&host, &endpoint, &[]);
    wait_for_log(&host, "locksmithd starting").await;
    // The workspace's binaries are built before the tests (`scripts/test.sh`).
    let ctl = Path::new(env!("CARGO_BIN_EXE_locksmithd")).with_file_name("locksmithctl");
    assert!(
        ctl.exists(),
        "{} is missing: run cargo build --bins first",
        ctl.display()
    );
    let sent = host
        .host
        .exec(ctl.to_str().expect("a UTF-8 path"), &["send-need-reboot"]);
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    host.updater
        .set_status(status("UPDATE_STATUS_DOWNLOADING"))
        .await
        .expect("status");
    wait_for_log(&host, "UPDATE_STATUS_DOWNLOADING").await;
    let log = host.host.log("locksmithd");
    assert!(
        !log.contains(&format!("CurrentOperation=\"{NEED_REBOOT}\"")),
        "{log}"
    );
    assert_eq!(host.logind.reboots(), 0);
}
