use super::*;
use locksmith_core::ports::HostError;
use locksmith_core::update::{UpdateStatus, NEED_REBOOT};
use std::sync::{Arc, Mutex};

/// An updater whose signals never come: the daemon acts on the status it started with.
struct QuietUpdater;

impl UpdateEngine for QuietUpdater {
    async fn status(&self) -> Result<UpdateStatus, HostError> {
        Ok(UpdateStatus {
            last_checked_time: 0,
            progress: 1.0,
            current_operation: NEED_REBOOT.to_owned(),
            new_version: String::new(),
            new_size: 0,
        })
    }

    async fn next_status(&mut self) -> Result<UpdateStatus, HostError> {
        std::future::pending().await
    }
}

/// Records when it was asked to reboot, by the daemon's clock.
#[derive(Clone)]
struct RecordingRebooter {
    clock: Clock,
    at: Arc<Mutex<Vec<Timestamp>>>,
    asked: Arc<tokio::sync::Notify>,
}

impl Rebooter for RecordingRebooter {
    async fn reboot(&self) -> Result<(), HostError> {
        self.at.lock().expect("not poisoned").push(self.clock.now());
        self.asked.notify_one();
        Ok(())
    }
}

// Goal: a reboot needed outside the window waits for the window and happens inside it, not
// before: a Sunday-noon need with a Monday 04:00 window reboots at Monday 04:00. Method: the
// daemon under strategy `reboot` on paused tokio time, its clock tied to tokio's, the updater
// needing a reboot from the start; the rebooter records the daemon's time of the request.
#[tokio::test(start_paused = true)]
async fn a_reboot_waits_for_the_window() {
    let start: Timestamp = "2026-03-15T12:00:00Z".parse().expect("an instant");
    let clock = Clock::Tokio {
        start,
        at: tokio::time::Instant::now(),
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let state = StateFile::take(&dir.path().join("coordinator.conf"), Strategy::Reboot)
        .expect("the state file");
    let rebooter = RecordingRebooter {
        clock,
        at: Arc::default(),
        asked: Arc::default(),
    };
    let daemon = Daemon {
        strategy: Strategy::Reboot,
        schedule: Schedule::parse("Mon 04:00 1h", jiff::tz::TimeZone::UTC).expect("a schedule"),
        store: None,
        machine: "m1".to_owned(),
        max_hold: None,
        updater: QuietUpdater,
        rebooter: rebooter.clone(),
        readiness: Readiness::Always,
        state,
        retry: (Duration::from_secs(5), Duration::from_secs(300)),
        clock,
        metrics: Arc::default(),
    };
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(daemon.run(Update::NeedsReboot, shutdown.clone()));
    let asked = tokio::time::timeout(Duration::from_secs(7 * 86_400), rebooter.asked.notified());
    asked.await.expect("a reboot within a week");
    let at = rebooter.at.lock().expect("not poisoned").clone();
    assert_eq!(at.len(), 1);
    let opens: Timestamp = "2026-03-16T04:00:00Z".parse().expect("an instant");
    assert!(at[0] >= opens, "rebooted at {} before the window", at[0]);
    assert!(
        at[0] <= opens + jiff::SignedDuration::from_hours(1),
        "{}",
        at[0]
    );
    let text = std::fs::read_to_string(dir.path().join("coordinator.conf")).expect("state");
    assert_eq!(text, "NAME=locksmithd\nSTRATEGY=reboot\nSTATE=rebooting\n");
    shutdown.cancel();
    running.await.expect("joined").expect("a clean exit");
}
