//! The daemon's loop: gather the facts of the moment (the updater's last status, this host's
//! slot, the window, readiness), ask `locksmith_core::plan` for the next step, take it, and
//! ask again. Waits are for a status signal, a deadline or shutdown, whichever comes first.
//!
//! Invariants: a reboot is asked for only when the plan says so, which under `etcd-lock`
//! needs a slot this host was seen to hold in the read just made; failures back off
//! (doubling, capped) and never end the loop; shutdown ends every wait.

use crate::host::{Readiness, StateFile};
use anyhow::Context as _;
use jiff::Timestamp;
use locksmith_core::config::Strategy;
use locksmith_core::plan::{next_step, Facts, Slot, Step, Update};
use locksmith_core::ports::{Rebooter, UpdateEngine};
use locksmith_core::semaphore::SemaphoreError;
use locksmith_core::window::Schedule;
use locksmith_store::{SemaphoreStore, StoreError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Wall time for the loop: the system's, or one that starts at a given instant and moves
/// with tokio's clock, so a test with paused time can cross a reboot window in no time.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system's clock.
    System,
    /// `start`, plus the tokio time elapsed since `at`.
    Tokio {
        /// The wall time at `at`.
        start: Timestamp,
        /// The tokio instant it corresponds to.
        at: tokio::time::Instant,
    },
}

impl Clock {
    /// Now.
    #[must_use]
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Tokio { start, at } => {
                let elapsed = jiff::SignedDuration::try_from(at.elapsed()).unwrap_or_default();
                start.checked_add(elapsed).unwrap_or(start)
            }
        }
    }

    /// Now, in milliseconds since the Unix epoch.
    #[must_use]
    pub fn now_ms(self) -> u64 {
        u64::try_from(self.now().as_millisecond()).unwrap_or(0)
    }
}

/// How often the slot is read again while nothing else happens.
const RECHECK_INTERVAL: Duration = Duration::from_secs(300);

/// Pauses between failed attempts: doubling from the first to the cap.
struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    fn new((min, max): (Duration, Duration)) -> Backoff {
        Backoff {
            next: min,
            min,
            max,
        }
    }

    fn step(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

/// The daemon, wired.
pub struct Daemon<U, R> {
    /// The strategy.
    pub strategy: Strategy,
    /// When reboots may start.
    pub schedule: Schedule,
    /// The group's semaphore (with `etcd-lock`).
    pub store: Option<SemaphoreStore>,
    /// This host's id.
    pub machine: String,
    /// Reap holders older than this while waiting for a slot.
    pub max_hold: Option<Duration>,
    /// update_engine.
    pub updater: U,
    /// What reboots.
    pub rebooter: R,
    /// The readiness check after boot.
    pub readiness: Readiness,
    /// The coordinator state file.
    pub state: StateFile,
    /// The pauses after failures.
    pub retry: (Duration, Duration),
    /// Wall time.
    pub clock: Clock,
    /// What it counts, for `/metrics`.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// What a step asks of the loop.
enum After {
    /// Decide again now.
    Again,
    /// Wait this long (or for a status signal), then decide again.
    Pause(Duration),
    /// Wait for shutdown only.
    Sleep,
}

impl<U: UpdateEngine, R: Rebooter> Daemon<U, R> {
    /// Runs until `shutdown`.
    ///
    /// # Errors
    /// When the state file cannot be written.
    pub async fn run(
        mut self,
        mut update: Update,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut backoff = Backoff::new(self.retry);
        self.state.set("running")?;
        loop {
            let facts = self.facts(update).await;
            let step = next_step(self.strategy, facts);
            tracing::debug!(?facts, ?step, "next step");
            let after = match step {
                Step::Release => self.release(&mut backoff).await,
                Step::Lock => {
                    self.state.set("reboot-planned")?;
                    self.lock(&mut backoff).await
                }
                Step::Reboot => {
                    self.state.set("reboot-planned")?;
                    self.reboot(&mut backoff).await?
                }
                Step::WaitForUpdate if facts.slot == Slot::Unknown => After::Pause(backoff.step()),
                Step::WaitForUpdate => After::Pause(RECHECK_INTERVAL),
                Step::WaitForReady => {
                    tracing::info!("waiting for the readiness check before releasing the slot");
                    After::Pause(backoff.step())
                }
                Step::WaitForWindow(opens) => {
                    tracing::info!(%opens, "waiting for the reboot window");
                    After::Pause(until(opens, self.clock.now()))
                }
            };
            let pause = match after {
                After::Again => continue,
                After::Pause(pause) => pause,
                After::Sleep => {
                    shutdown.cancelled().await;
                    return Ok(());
                }
            };
            if !self.wait(pause, &mut update, &shutdown).await? {
                tracing::info!("shutting down");
                return Ok(());
            }
        }
    }

    async fn facts(&self, update: Update) -> Facts {
        let slot = match (&self.store, self.strategy) {
            (Some(store), Strategy::EtcdLock) => match store.read().await {
                Ok(read) => {
                    let held = read.semaphore.is_held_by(&self.machine);
                    let semaphore = &read.semaphore;
                    self.metrics
                        .semaphore(semaphore.holders.len(), semaphore.max, held);
                    if held {
                        Slot::Held
                    } else {
                        Slot::Free
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot read the semaphore");
                    Slot::Unknown
                }
            },
            _ => Slot::Free,
        };
        let now = self.clock.now();
        let window_opens = (!self.schedule.is_open(now)).then(|| self.schedule.next_open(now));
        let ready = if slot == Slot::Held && update == Update::NotYet {
            self.readiness.check().await
        } else {
            true
        };
        Facts {
            update,
            slot,
            window_opens,
            ready,
        }
    }

    async fn release(&self, backoff: &mut Backoff) -> After {
        let Some(store) = &self.store else {
            return After::Sleep;
        };
        match store.unlock(&self.machine, self.clock.now_ms()).await {
            Ok(released) => {
                if released {
                    tracing::info!("Unlocked existing lock for this machine");
                }
                backoff.reset();
                After::Again
            }
            Err(error) => {
                let pause = backoff.step();
                tracing::warn!(%error, retry_in = ?pause, "Unlocking old locks failed");
                After::Pause(pause)
            }
        }
    }

    async fn lock(&self, backoff: &mut Backoff) -> After {
        let Some(store) = &self.store else {
            return After::Sleep;
        };
        let error = match store.lock(&self.machine, self.clock.now_ms()).await {
            Ok(token) => {
                tracing::info!(%token, "acquired the reboot lock");
                self.metrics.locked();
                backoff.reset();
                return After::Again;
            }
            Err(error) => error,
        };
        let full = matches!(error, StoreError::Refused(SemaphoreError::Full { .. }));
        if full {
            self.metrics.waited();
        }
        if let (true, Some(max_hold)) = (full, self.max_hold) {
            if self.reap(store, max_hold).await {
                return After::Again;
            }
        }
        let pause = backoff.step();
        tracing::info!(%error, retry_in = ?pause, "Failed to acquire lock");
        After::Pause(pause)
    }

    /// Reaps holders over `max_hold`; whether any was.
    async fn reap(&self, store: &SemaphoreStore, max_hold: Duration) -> bool {
        let by = format!("locksmithd on {}", self.machine);
        let reason = "held longer than LOCKSMITHD_MAX_HOLD";
        match store.reap(max_hold, &by, reason, self.clock.now_ms()).await {
            Ok(reaped) => {
                for reaping in &reaped {
                    tracing::warn!(holder = %reaping.holder, token = %reaping.token, "reaped a stale holder");
                }
                self.metrics.reaped(reaped.len());
                !reaped.is_empty()
            }
            Err(error) => {
                tracing::warn!(%error, "cannot reap stale holders");
                false
            }
        }
    }

    async fn reboot(&mut self, backoff: &mut Backoff) -> anyhow::Result<After> {
        match self.rebooter.reboot().await {
            Ok(()) => {
                self.metrics.rebooted();
                self.state.set("rebooting")?;
                tracing::info!("Reboot sent. Going to sleep.");
                Ok(After::Sleep)
            }
            Err(error) => {
                let pause = backoff.step();
                tracing::error!(%error, retry_in = ?pause, "the reboot was refused");
                Ok(After::Pause(pause))
            }
        }
    }

    /// Waits up to `pause` for a status signal (which updates `update`); false on shutdown.
    ///
    /// # Errors
    /// When update_engine's signals end (systemd restarts the daemon).
    async fn wait(
        &mut self,
        pause: Duration,
        update: &mut Update,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<bool> {
        tokio::select! {
            () = shutdown.cancelled() => Ok(false),
            () = tokio::time::sleep(pause) => Ok(true),
            status = self.updater.next_status() => {
                let status = status.context("update_engine's signals ended")?;
                tracing::info!("{}", status.log_line());
                *update = status.update();
                Ok(true)
            }
        }
    }
}

/// The time from `now` until `at` (zero if past).
fn until(at: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
