//! The adapters on a real D-Bus daemon: a testkit host's private system bus, reached from
//! outside, where the stand-ins own update_engine's and logind's names.
//!
//! Needs root and dbus: without them a test prints `SKIPPED` and passes, unless `CI` is set
//! (then it fails; `testkit::host::available`).

use crate::stand_in::{LogindStandIn, UpdateEngineStandIn};
use crate::{send_need_reboot, Bus, DbusLogind, DbusUpdateEngine, HostBus};
use locksmith_core::ports::{Rebooter as _, UpdateEngine as _};
use locksmith_core::update::{UpdateStatus, NEED_REBOOT};
use std::path::Path;
use std::time::Duration;
use testkit::host::{Host, HostConfig};

/// How long a signal may take to arrive on a loaded machine.
const SIGNAL_DEADLINE: Duration = Duration::from_secs(20);

/// A started host and its system bus's address as this process reaches it.
fn host(name: &str, dir: &Path) -> Option<(Host, String)> {
    testkit::host::available().ok()?;
    let config = HostConfig {
        name: name.to_owned(),
        machine_id: format!("{:0>32}", name.len()),
        namespace: None,
        dir: dir.join("host"),
    };
    let host = Host::start(config).expect("the host starts");
    let address = host.system_bus_address_from_outside();
    Some((host, address))
}

fn status(operation: &str, version: &str) -> UpdateStatus {
    UpdateStatus {
        last_checked_time: 1_700_000_000,
        progress: 1.0,
        current_operation: operation.to_owned(),
        new_version: version.to_owned(),
        new_size: 4096,
    }
}

// Goal: GetStatus reads the updater's status; StatusUpdate signals are taken only from the
// current owner of com.coreos.update1 (an impostor's need-reboot is not), and a malformed one
// is skipped without ending the subscription; with the test switch, anyone's is taken.
// Method: the stand-in owns the name on a host's bus; an impostor connection emits
// send-need-reboot and flushes it through the daemon before the owner signals, so the first
// signal read tells which was taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_signals_come_only_from_the_owner() {
    let dir = tempfile_dir();
    let Some((_host, address)) = host("lk-signal", dir.path()) else {
        return;
    };
    let bus = Bus::Address(address.clone());
    let updater = UpdateEngineStandIn::start(&address, status("UPDATE_STATUS_IDLE", ""))
        .await
        .expect("the stand-in owns the name");
    let connection = HostBus::connect(&bus).await.expect("connect");
    let mut owner_only = DbusUpdateEngine::connect(&connection, false)
        .await
        .expect("subscribe");
    let mut anyone = DbusUpdateEngine::connect(&connection, true)
        .await
        .expect("subscribe");
    let current = owner_only.status().await.expect("GetStatus");
    assert_eq!(current.current_operation, "UPDATE_STATUS_IDLE");

    let impostor = HostBus::connect(&bus).await.expect("connect");
    send_need_reboot(&impostor).await.expect("emit");
    impostor.flush().await.expect("flush");
    updater.signal_malformed().await.expect("emit");
    updater
        .set_status(status("UPDATE_STATUS_DOWNLOADING", "2.0"))
        .await
        .expect("emit");
    let first = tokio::time::timeout(SIGNAL_DEADLINE, owner_only.next_status())
        .await
        .expect("a signal in time")
        .expect("the subscription lives");
    assert_eq!(
        first.current_operation, "UPDATE_STATUS_DOWNLOADING",
        "{first:?}"
    );
    let taken = tokio::time::timeout(SIGNAL_DEADLINE, anyone.next_status())
        .await
        .expect("a signal in time")
        .expect("the subscription lives");
    assert_eq!(
        taken.current_operation, NEED_REBOOT,
        "the switch takes anyone's"
    );
    updater
        .set_status(status(NEED_REBOOT, "2.0"))
        .await
        .expect("emit");
    let next = tokio::time::timeout(SIGNAL_DEADLINE, owner_only.next_status())
        .await
        .expect("a signal in time")
        .expect("the subscription lives");
    assert_eq!(
        (next.current_operation.as_str(), next.new_version.as_str()),
        (NEED_REBOOT, "2.0")
    );
    assert_eq!(owner_only.status().await.expect("GetStatus"), next);
}

// Goal: Reboot reaches logind's owner, non-interactively, once per call. Method: the logind
// stand-in on a host's bus counts calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_calls_logind() {
    let dir = tempfile_dir();
    let Some((_host, address)) = host("lk-reboot", dir.path()) else {
        return;
    };
    let logind = LogindStandIn::start(&address)
        .await
        .expect("the stand-in owns the name");
    let connection = HostBus::connect(&Bus::Address(address))
        .await
        .expect("connect");
    let rebooter = DbusLogind::connect(&connection).await.expect("proxy");
    rebooter.reboot().await.expect("Reboot");
    assert!(logind.wait_for_reboots(1, SIGNAL_DEADLINE).await);
    assert_eq!(logind.reboots(), 1);
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}
