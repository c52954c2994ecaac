//! Failures and restarts over time, counted without I/O from fleet's state reports as
//! Keel's watch delivers them: each change of `states/<unit>/<machine>` carries the report
//! before and after, so a unit that became `failed` counts one failure, and one that went
//! into systemd's `auto-restart` sub-state (its `Restart=` at work) or from `failed` back to
//! starting counts one restart. What the agents reported is what is counted: a change that
//! systemd and the agent folded into one report (faster than the agent's write) is not seen,
//! nor anything while the dashboard's watch is away.
//!
//! Totals per unit since the dashboard started, and the last [`BUCKETS`] buckets of
//! [`BUCKET_SECONDS`] for the plot.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// fleet's default key prefix (fleetd's `etcd_key_prefix`).
pub const FLEET_PREFIX: &str = "/_coreos.com/fleet";

/// fleet's state reports, under its default key prefix.
pub const FLEET_STATES: &str = "/_coreos.com/fleet/states/";

/// One bucket of the plot, in seconds.
pub const BUCKET_SECONDS: u64 = 10;

/// Buckets kept: ten minutes.
pub const BUCKETS: usize = 60;

/// Units whose totals are kept, at most (the first ones seen; the plot counts all).
const UNITS_MAX: usize = 10_000;

/// Failures and restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub failures: u64,
    pub restarts: u64,
}

/// What one report change says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Failure,
    Restart,
}

/// The part of a state report the counts look at.
#[derive(serde::Deserialize)]
struct Report {
    #[serde(rename = "activeState", default)]
    active: String,
    #[serde(rename = "subState", default)]
    sub: String,
}

fn report(value: Option<&str>) -> Option<Report> {
    serde_json::from_str(value?).ok()
}

/// What the change of a report from `before` to `after` (its JSON values) counts as; a
/// value that is not a report counts nothing.
pub fn classify(before: Option<&str>, after: Option<&str>) -> Option<Change> {
    let after = report(after)?;
    let before = report(before);
    let (was_active, was_sub) = before
        .as_ref()
        .map_or(("", ""), |b| (b.active.as_str(), b.sub.as_str()));
    if after.active == "failed" && was_active != "failed" {
        return Some(Change::Failure);
    }
    // `auto-restart`, and systemd 254's `auto-restart-queued` after it: one restart.
    let auto_restart =
        after.sub.starts_with("auto-restart") && !was_sub.starts_with("auto-restart");
    let started_again =
        was_active == "failed" && matches!(after.active.as_str(), "activating" | "active");
    (auto_restart || started_again).then_some(Change::Restart)
}

/// The unit of a state report's key, when `key` is one.
fn unit_of(key: &str) -> Option<&str> {
    let (unit, machine) = key.strip_prefix(FLEET_STATES)?.split_once('/')?;
    (!unit.is_empty() && !machine.is_empty() && !machine.contains('/')).then_some(unit)
}

/// The counts so far.
#[derive(Debug, Default)]
pub struct Tally {
    per_unit: BTreeMap<String, Counts>,
    /// (bucket number = seconds / [`BUCKET_SECONDS`], counts), oldest first.
    buckets: VecDeque<(u64, Counts)>,
}

/// What the page shows of the [`Tally`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HistoryView {
    pub bucket_seconds: u64,
    /// Failures per bucket, oldest first, the current bucket last ([`BUCKETS`] of them).
    pub failures: Vec<u64>,
    pub restarts: Vec<u64>,
    /// Since the dashboard started.
    pub total: Counts,
}

impl Tally {
    /// Counts the change of `key` from `before` to `after` at `now` (seconds).
    pub fn record(&mut self, key: &str, before: Option<&str>, after: Option<&str>, now: u64) {
        let Some(unit) = unit_of(key) else { return };
        let Some(change) = classify(before, after) else {
            return;
        };
        let add = |counts: &mut Counts| match change {
            Change::Failure => counts.failures += 1,
            Change::Restart => counts.restarts += 1,
        };
        if let Some(counts) = self.per_unit.get_mut(unit) {
            add(counts);
        } else if self.per_unit.len() < UNITS_MAX {
            add(self.per_unit.entry(unit.to_owned()).or_default());
        }
        let bucket = now / BUCKET_SECONDS;
        match self.buckets.back_mut() {
            Some((last, counts)) if *last == bucket => add(counts),
            _ => {
                let mut counts = Counts::default();
                add(&mut counts);
                self.buckets.push_back((bucket, counts));
            }
        }
        let oldest = bucket.saturating_sub(BUCKETS as u64 - 1);
        while self.buckets.front().is_some_and(|(b, _)| *b < oldest) {
            self.buckets.pop_front();
        }
    }

    /// A unit's totals.
    pub fn unit(&self, name: &str) -> Counts {
        self.per_unit.get(name).copied().unwrap_or_default()
    }

    /// The last [`BUCKETS`] buckets up to `now` (seconds), and the totals.
    pub fn view(&self, now: u64) -> HistoryView {
        let current = now / BUCKET_SECONDS;
        let first = current.saturating_sub(BUCKETS as u64 - 1);
        let mut view = HistoryView {
            bucket_seconds: BUCKET_SECONDS,
            failures: vec![0; BUCKETS],
            restarts: vec![0; BUCKETS],
            total: Counts::default(),
        };
        for (bucket, counts) in &self.buckets {
            if let Some(slot) = bucket
                .checked_sub(first)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < BUCKETS)
            {
                view.failures[slot] = counts.failures;
                view.restarts[slot] = counts.restarts;
            }
        }
        for counts in self.per_unit.values() {
            view.total.failures += counts.failures;
            view.total.restarts += counts.restarts;
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(active: &str, sub: &str) -> String {
        format!(
            r#"{{"loadState":"loaded","activeState":"{active}","subState":"{sub}","machineState":{{"ID":"m1"}},"unitHash":"h"}}"#
        )
    }

    /// Goal: a failure is counted once when a unit becomes failed, a restart when systemd
    /// restarts it (auto-restart) or it starts again after failing; a refreshed report of
    /// the same state, a first report, a stop and garbage count nothing. Method: pairs of
    /// reports through `classify`.
    #[test]
    fn changes_of_a_report_count_as_systemd_means_them() {
        let s = |active, sub| Some(state(active, sub));
        let case = |before: Option<String>, after: Option<String>| {
            classify(before.as_deref(), after.as_deref())
        };
        assert_eq!(
            case(s("active", "running"), s("failed", "failed")),
            Some(Change::Failure)
        );
        assert_eq!(case(None, s("failed", "failed")), Some(Change::Failure));
        assert_eq!(case(s("failed", "failed"), s("failed", "failed")), None);
        assert_eq!(
            case(
                s("active", "running"),
                s("activating", "auto-restart-queued")
            ),
            Some(Change::Restart)
        );
        assert_eq!(
            case(
                s("activating", "auto-restart"),
                s("activating", "auto-restart-queued")
            ),
            None
        );
        assert_eq!(
            case(s("active", "running"), s("activating", "auto-restart")),
            Some(Change::Restart)
        );
        assert_eq!(
            case(
                s("activating", "auto-restart"),
                s("activating", "auto-restart")
            ),
            None
        );
        assert_eq!(
            case(s("failed", "failed"), s("activating", "start")),
            Some(Change::Restart)
        );
        assert_eq!(case(s("active", "running"), s("active", "running")), None);
        assert_eq!(case(None, s("active", "running")), None);
        assert_eq!(case(s("active", "running"), s("inactive", "dead")), None);
        assert_eq!(case(s("active", "running"), Some("not json".into())), None);
        assert_eq!(case(s("active", "running"), None), None);
    }

    /// Goal: counts land in the bucket of their time, the plot keeps the last ten minutes
    /// with the current bucket last, per-unit totals add up, and keys that are not state
    /// reports are ignored. Method: changes at chosen seconds, then views at later times.
    #[test]
    fn buckets_slide_and_totals_stay() {
        let mut tally = Tally::default();
        let fail = state("failed", "failed");
        let restart = state("activating", "auto-restart");
        let key = "/_coreos.com/fleet/states/web.service/m1";
        tally.record(key, None, Some(&restart), 1000);
        tally.record(key, Some(&restart), Some(&fail), 1005);
        tally.record(
            "/_coreos.com/fleet/job/web.service/object",
            None,
            Some(&fail),
            1005,
        );
        tally.record(
            "/_coreos.com/fleet/states/web.service",
            None,
            Some(&fail),
            1005,
        );
        tally.record(
            "/_coreos.com/fleet/states/db.service/m2",
            None,
            Some(&fail),
            1020,
        );
        assert_eq!(
            tally.unit("web.service"),
            Counts {
                failures: 1,
                restarts: 1
            }
        );
        assert_eq!(
            tally.unit("db.service"),
            Counts {
                failures: 1,
                restarts: 0
            }
        );
        assert_eq!(tally.unit("other.service"), Counts::default());
        let view = tally.view(1020);
        assert_eq!(view.failures.len(), BUCKETS);
        assert_eq!(view.failures[BUCKETS - 1], 1, "db's failure, this bucket");
        assert_eq!(
            (view.failures[BUCKETS - 3], view.restarts[BUCKETS - 3]),
            (1, 1)
        );
        assert_eq!(
            view.total,
            Counts {
                failures: 2,
                restarts: 1
            }
        );
        let later = tally.view(1000 + BUCKETS as u64 * BUCKET_SECONDS);
        assert_eq!(
            later.restarts.iter().sum::<u64>(),
            0,
            "web's bucket slid out"
        );
        assert_eq!(later.failures.iter().sum::<u64>(), 1);
        assert_eq!(
            later.total,
            Counts {
                failures: 2,
                restarts: 1
            }
        );
    }

    /// Goal: buckets older than the plot's window are dropped, not kept forever. Method: two
    /// changes far apart.
    #[test]
    fn old_buckets_are_dropped() {
        let mut tally = Tally::default();
        let key = "/_coreos.com/fleet/states/web.service/m1";
        let fail = state("failed", "failed");
        tally.record(key, None, Some(&fail), 1000);
        tally.record(
            key,
            Some(&fail),
            Some(&state("activating", "auto-restart")),
            5000,
        );
        assert_eq!(tally.buckets.len(), 1);
    }
}
