//! `reboot` and `send-need-reboot`, which speak D-Bus: the binary runs inside a real test host
//! (its system bus is the host's private one, its `/etc/machine-id` the host's) against a real
//! Keel member, with stand-ins of logind and update_engine owning their names on that bus.
//!
//! Needs root, systemd and dbus: without them a test prints `SKIPPED` and passes, unless `CI`
//! is set (then it fails; `testkit::host::available`).

use kv_client::{Client, ClientConfig};
use locksmith_core::ports::UpdateEngine as _;
use locksmith_core::update::{UpdateStatus, NEED_REBOOT};
use locksmith_dbus::stand_in::{LogindStandIn, UpdateEngineStandIn};
use locksmith_dbus::{Bus, DbusUpdateEngine, HostBus};
use locksmith_store::SemaphoreStore;
use std::process::Output;
use std::time::Duration;
use testkit::host::{Host, HostConfig};
use testkit::Cluster;

const DEADLINE: Duration = Duration::from_secs(20);

fn host(name: &str, dir: &std::path::Path, machine_id: &str) -> Option<Host> {
    testkit::host::available().ok()?;
    let config = HostConfig {
        name: name.to_owned(),
        machine_id: machine_id.to_owned(),
        namespace: None,
        dir: dir.join(name),
    };
    Some(Host::start(config).expect("the host starts"))
}

fn inside(host: &Host, args: &[&str]) -> Output {
    host.exec(env!("CARGO_BIN_EXE_locksmithctl"), args)
}

fn idle() -> UpdateStatus {
    UpdateStatus {
        last_checked_time: 0,
        progress: 0.0,
        current_operation: "UPDATE_STATUS_IDLE".to_owned(),
        new_version: String::new(),
        new_size: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_takes_a_slot_then_asks_logind() {
    // Goal: `reboot` takes a slot for this host's machine id and asks logind once; run again
    // while holding it, it reboots again instead of failing (coreos/locksmith#58); with the
    // only slot held by another host it fails with locksmith's text, exit 1, and no reboot.
    // Method: locksmithctl inside a host with logind's stand-in on its bus.
    let cluster = Cluster::start(1, &[]);
    let endpoint = cluster.url(0).to_owned();
    let dir = tempfile::tempdir().expect("temporary directory");
    let machine = "0123456789abcdef0123456789abcdef";
    let Some(host) = host("lkctl-reboot", dir.path(), machine) else {
        return;
    };
    let logind = LogindStandIn::start(&host.system_bus_address_from_outside())
        .await
        .expect("logind's stand-in");
    let store = SemaphoreStore::new(
        Client::new(ClientConfig::new(vec![endpoint.clone()])).expect("client"),
        "",
    );
    let reboot = inside(&host, &["-endpoint", &endpoint, "reboot"]);
    assert_eq!(reboot.status.code(), Some(0), "{reboot:?}");
    assert!(logind.wait_for_reboots(1, DEADLINE).await);
    assert_eq!(
        store.read().await.expect("read").semaphore.holders,
        [machine]
    );
    let again = inside(&host, &["-endpoint", &endpoint, "reboot"]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert!(logind.wait_for_reboots(2, DEADLINE).await);

    assert!(store.unlock(machine, 0).await.expect("unlock"));
    store.lock("other", 0).await.expect("lock");
    let full = inside(&host, &["-endpoint", &endpoint, "reboot"]);
    assert_eq!(full.status.code(), Some(1), "{full:?}");
    assert_eq!(
        String::from_utf8_lossy(&full.stderr),
        "Error locking: semaphore is at 0\n"
    );
    assert_eq!(logind.reboots(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_need_reboot_reaches_only_listeners_of_any_sender() {
    // Goal: `send-need-reboot` emits update_engine's need-reboot signal on the system bus; a
    // listener that takes any sender gets it, one that takes only the name's owner does not.
    // Method: locksmithctl inside a host whose bus has update_engine's stand-in; the owner then
    // signals idle, which must be the owner-only listener's first signal.
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(host) = host(
        "lkctl-signal",
        dir.path(),
        "fedcba9876543210fedcba9876543210",
    ) else {
        return;
    };
    let address = host.system_bus_address_from_outside();
    let updater = UpdateEngineStandIn::start(&address, idle())
        .await
        .expect("update_engine's stand-in");
    let bus = HostBus::connect(&Bus::Address(address))
        .await
        .expect("connect");
    let mut anyone = DbusUpdateEngine::connect(&bus, true)
        .await
        .expect("subscribe");
    let mut owner = DbusUpdateEngine::connect(&bus, false)
        .await
        .expect("subscribe");
    let sent = inside(&host, &["send-need-reboot"]);
    assert_eq!(sent.status.code(), Some(0), "{sent:?}");
    let taken = tokio::time::timeout(DEADLINE, anyone.next_status())
        .await
        .expect("in time")
        .expect("a status");
    assert_eq!(taken.current_operation, NEED_REBOOT);
    updater.set_status(idle()).await.expect("signal");
    let first = tokio::time::timeout(DEADLINE, owner.next_status())
        .await
        .expect("in time")
        .expect("a status");
    assert_eq!(first.current_operation, "UPDATE_STATUS_IDLE");
}
