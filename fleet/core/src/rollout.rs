//! Rolling replacement (`fleetctl replace`, coreos/fleet#760): moving a unit's targets (the
//! instances of a template, the one unit itself, or the machines of a global unit) to a new
//! unit file a few at a time, each behind a health gate, stopping at the first failure.
//!
//! Owns [`Strategy`], [`Observed`], [`advance`] and its [`Advance`]. The engine observes each
//! target (is it on the new version, for how long, has it been up without a break, did it
//! fail) and asks [`advance`] what to do next; the decision is pure, so the same observations
//! always give the same step, and the engine's only memory is when it first saw each target
//! updated and up.
//!
//! Invariants: at most `max_parallel` targets are ever updated and not yet healthy (the
//! engine adds [`Advance::update`] only up to the room left); a target counts as healthy once
//! it has been up for `min_healthy` without a break, and stays so; the first failed target,
//! in the order given, ends the rollout, and a failed rollout updates nothing more; a rollout
//! with every target updated and healthy is done. Depends on `std` only.

use std::time::Duration;

/// `--max-parallel`'s default: one target down at a time.
pub const MAX_PARALLEL_DEFAULT: u32 = 1;
/// `--min-healthy-time`'s default (Nomad's `min_healthy_time`).
pub const MIN_HEALTHY_DEFAULT: Duration = Duration::from_secs(10);
/// `--healthy-deadline`'s default (Nomad's `healthy_deadline`).
pub const HEALTHY_DEADLINE_DEFAULT: Duration = Duration::from_secs(300);

/// How a rollout proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strategy {
    /// At most this many targets updated and not yet healthy; at least 1.
    pub max_parallel: u32,
    /// A target is healthy once it has been up this long on the new version.
    pub min_healthy: Duration,
    /// A target not healthy this long after it was updated has failed.
    pub deadline: Duration,
}

impl Default for Strategy {
    fn default() -> Strategy {
        Strategy {
            max_parallel: MAX_PARALLEL_DEFAULT,
            min_healthy: MIN_HEALTHY_DEFAULT,
            deadline: HEALTHY_DEADLINE_DEFAULT,
        }
    }
}

/// What the engine saw of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Still on the old version.
    Old,
    /// On the new version and not yet known healthy.
    New {
        /// Since the engine first saw it on the new version.
        updated_for: Duration,
        /// Since it has been up (systemd `active`) on the new version without a break;
        /// `None` while it is not up.
        up_for: Option<Duration>,
        /// Why it failed (systemd `failed`, or it cannot be placed), if it did.
        failure: Option<String>,
        /// Its state in words, for the deadline's message (`activating/auto-restart`).
        state: String,
    },
    /// Known healthy on the new version.
    Healthy,
}

/// One target and what was seen of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The instance, unit or machine.
    pub name: String,
    /// What was seen.
    pub observed: Observed,
}

/// Where the rollout stands after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Targets are still to update or to become healthy.
    Running,
    /// Every target runs the new version and is healthy.
    Done,
    /// A target failed; nothing more is updated.
    Failed {
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },
}

/// Counts for `fleetctl replace --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Targets in the rollout.
    pub total: u32,
    /// On the new version (healthy or not).
    pub updated: u32,
    /// Healthy on the new version.
    pub healthy: u32,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// Targets to move to the new version now, in the order given.
    pub update: Vec<String>,
    /// Targets that became healthy with these observations.
    pub healthy: Vec<String>,
    /// Where the rollout stands once `update` is written.
    pub outcome: Outcome,
    /// The counts once `update` is written.
    pub progress: Progress,
}

/// The next step of a rollout under `strategy` whose targets were seen as `targets`.
#[must_use]
pub fn advance(strategy: &Strategy, targets: &[Target]) -> Advance {
    let mut healthy = Vec::new();
    let mut in_flight = 0u32;
    let mut failed = None;
    let mut progress = Progress {
        total: count(targets.len()),
        ..Progress::default()
    };
    for target in targets {
        match judge(strategy, &target.observed) {
            Judged::Old => {}
            Judged::Healthy { newly } => {
                progress.updated += 1;
                progress.healthy += 1;
                if newly {
                    healthy.push(target.name.clone());
                }
            }
            Judged::InFlight => {
                progress.updated += 1;
                in_flight += 1;
            }
            Judged::Failed(reason) => {
                progress.updated += 1;
                failed.get_or_insert_with(|| Outcome::Failed {
                    target: target.name.clone(),
                    reason,
                });
            }
        }
    }
    if let Some(outcome) = failed {
        return Advance {
            update: Vec::new(),
            healthy,
            outcome,
            progress,
        };
    }
    let room = strategy.max_parallel.max(1).saturating_sub(in_flight);
    let update: Vec<String> = targets
        .iter()
        .filter(|target| target.observed == Observed::Old)
        .take(usize::try_from(room).unwrap_or(usize::MAX))
        .map(|target| target.name.clone())
        .collect();
    progress.updated += count(update.len());
    let outcome = if progress.healthy == progress.total {
        Outcome::Done
    } else {
        Outcome::Running
    };
    Advance {
        update,
        healthy,
        outcome,
        progress,
    }
}

enum Judged {
    Old,
    Healthy { newly: bool },
    InFlight,
    Failed(String),
}

fn judge(strategy: &Strategy, observed: &Observed) -> Judged {
    match observed {
        Observed::Old => Judged::Old,
        Observed::Healthy => Judged::Healthy { newly: false },
        Observed::New {
            updated_for,
            up_for,
            failure,
            state,
        } => {
            if let Some(failure) = failure {
                Judged::Failed(failure.clone())
            } else if up_for.is_some_and(|up| up >= strategy.min_healthy) {
                Judged::Healthy { newly: true }
            } else if *updated_for >= strategy.deadline {
                Judged::Failed(format!(
                    "not healthy within {}s ({state})",
                    strategy.deadline.as_secs()
                ))
            } else {
                Judged::InFlight
            }
        }
    }
}

/// `duration` in whole milliseconds, as the rollout record and the API carry it (saturating).
#[must_use]
pub fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
