//! Tests of the rolling replacement's step. Method: hand-made observations for each rule, and
//! a property test that runs whole rollouts against a model of targets that come up, fail or
//! hang, applying every step as the engine would.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::*;
use proptest::prelude::{prop, prop_assert, prop_oneof, proptest, Just, ProptestConfig};
use proptest::strategy::Strategy as _;

const SEC: Duration = Duration::from_secs(1);

fn strategy(max_parallel: u32) -> Strategy {
    Strategy {
        max_parallel,
        min_healthy: 5 * SEC,
        deadline: 60 * SEC,
    }
}

fn target(name: &str, observed: Observed) -> Target {
    Target {
        name: name.to_owned(),
        observed,
    }
}

fn new(updated: u64, up: Option<u64>, failure: Option<&str>) -> Observed {
    Observed::New {
        updated_for: Duration::from_secs(updated),
        up_for: up.map(Duration::from_secs),
        failure: failure.map(str::to_owned),
        state: "activating/start".to_owned(),
    }
}

#[test]
fn updates_up_to_max_parallel_in_the_order_given() {
    // Goal: a fresh rollout takes the first `max_parallel` targets, in order.
    // Method: four old targets, max-parallel 2.
    let targets: Vec<Target> = ["a@1", "a@2", "a@3", "a@4"]
        .iter()
        .map(|name| target(name, Observed::Old))
        .collect();
    let step = advance(&strategy(2), &targets);
    assert_eq!(step.update, vec!["a@1", "a@2"]);
    assert_eq!(step.outcome, Outcome::Running);
    assert_eq!(
        step.progress,
        Progress {
            total: 4,
            updated: 2,
            healthy: 0
        }
    );
}

#[test]
fn waits_while_the_updated_ones_are_not_healthy() {
    // Goal: the health gate: up for less than min-healthy blocks the next update; up long
    // enough makes room, and the target is reported as newly healthy once.
    // Method: one in-flight target up for 3 s, then 5 s, then known healthy.
    let s = strategy(1);
    let waiting = advance(
        &s,
        &[
            target("u1", new(4, Some(3), None)),
            target("u2", Observed::Old),
        ],
    );
    assert!(waiting.update.is_empty());
    assert!(waiting.healthy.is_empty());
    let moving = advance(
        &s,
        &[
            target("u1", new(6, Some(5), None)),
            target("u2", Observed::Old),
        ],
    );
    assert_eq!(moving.update, vec!["u2"]);
    assert_eq!(moving.healthy, vec!["u1"]);
    let later = advance(
        &s,
        &[target("u1", Observed::Healthy), target("u2", Observed::Old)],
    );
    assert!(later.healthy.is_empty());
    assert_eq!(later.update, vec!["u2"]);
}

#[test]
fn the_first_failure_in_order_stops_the_rollout() {
    // Goal: a failed target ends it with that target and its reason; nothing more updates.
    // Method: two failures (the first in order wins) beside old targets and room to spare.
    let step = advance(
        &strategy(5),
        &[
            target("w@1", Observed::Healthy),
            target("w@2", new(2, None, Some("failed (exit-code)"))),
            target("w@3", new(2, None, Some("cannot be placed"))),
            target("w@4", Observed::Old),
        ],
    );
    assert!(step.update.is_empty());
    assert_eq!(
        step.outcome,
        Outcome::Failed {
            target: "w@2".into(),
            reason: "failed (exit-code)".into()
        }
    );
}

#[test]
fn a_target_never_healthy_fails_at_the_deadline() {
    // Goal: a unit that keeps restarting (never up for long) fails once the deadline passes,
    // saying the state it was in.
    // Method: up for 1 s, 59 s then 60 s after the update.
    let s = strategy(1);
    let before = advance(&s, &[target("x", new(59, Some(1), None))]);
    assert_eq!(before.outcome, Outcome::Running);
    let after = advance(&s, &[target("x", new(60, Some(1), None))]);
    assert_eq!(
        after.outcome,
        Outcome::Failed {
            target: "x".into(),
            reason: "not healthy within 60s (activating/start)".into()
        }
    );
}

#[test]
fn done_when_every_target_is_healthy_and_empty_is_done() {
    // Goal: completion, including a template with no instances.
    // Method: all healthy; no targets; a max-parallel of 0 treated as 1.
    let done = advance(&strategy(1), &[target("a", Observed::Healthy)]);
    assert_eq!(done.outcome, Outcome::Done);
    assert_eq!(advance(&strategy(1), &[]).outcome, Outcome::Done);
    let zero = advance(&strategy(0), &[target("a", Observed::Old)]);
    assert_eq!(zero.update, vec!["a"]);
}

/// How a modelled target behaves once updated.
#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Up after this many seconds, and stays up.
    Up(u64),
    /// Fails after this many seconds.
    Fails(u64),
    /// Never comes up.
    Hangs,
}

fn fate() -> impl proptest::strategy::Strategy<Value = Fate> {
    prop_oneof![
        6 => (0u64..20).prop_map(Fate::Up),
        1 => (0u64..20).prop_map(Fate::Fails),
        1 => Just(Fate::Hangs),
    ]
}

/// What the engine would observe of a target updated at `since` at time `now`.
fn observe(fate: Fate, since: u64, now: u64) -> Observed {
    let age = now - since;
    let (up_for, failure) = match fate {
        Fate::Up(after) if age >= after => (Some(Duration::from_secs(age - after)), None),
        Fate::Fails(after) if age >= after => (None, Some("failed".to_owned())),
        _ => (None, None),
    };
    Observed::New {
        updated_for: Duration::from_secs(age),
        up_for,
        failure,
        state: "activating".to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn never_more_than_max_parallel_down_and_always_ends(
        fates in prop::collection::vec(fate(), 0..12),
        max_parallel in 1u32..4,
    ) {
        // Goal: the invariants over whole rollouts: updated-but-not-healthy never exceeds
        // max-parallel; a rollout ends (done or failed) within a bounded number of steps;
        // done means every target healthy, failed names a target that failed or hung, and
        // with no failing or hanging target it is done.
        // Method: one step per modelled second; updates applied at once, healthy targets
        // remembered, as the engine does.
        let s = strategy(max_parallel);
        let mut updated_at: Vec<Option<u64>> = vec![None; fates.len()];
        let mut healthy = vec![false; fates.len()];
        let bound = 1 + (fates.len() as u64) * (s.deadline.as_secs() + 2);
        let mut outcome = Outcome::Running;
        for now in 0..bound {
            let targets: Vec<Target> = fates.iter().enumerate().map(|(i, fate)| {
                let observed = match (healthy[i], updated_at[i]) {
                    (true, _) => Observed::Healthy,
                    (false, None) => Observed::Old,
                    (false, Some(since)) => observe(*fate, since, now),
                };
                target(&format!("t{i:02}"), observed)
            }).collect();
            let step = advance(&s, &targets);
            for name in &step.healthy {
                healthy[name[1..].parse::<usize>().unwrap()] = true;
            }
            for name in &step.update {
                let i: usize = name[1..].parse().unwrap();
                prop_assert!(updated_at[i].is_none());
                updated_at[i] = Some(now);
            }
            let down = (0..fates.len()).filter(|i| updated_at[*i].is_some() && !healthy[*i]).count();
            prop_assert!(down <= max_parallel as usize, "{down} down at {now}");
            outcome = step.outcome;
            if outcome != Outcome::Running {
                break;
            }
        }
        let bad = fates.iter().any(|fate| !matches!(fate, Fate::Up(_)));
        match outcome {
            Outcome::Done => {
                prop_assert!(healthy.iter().all(|h| *h));
                prop_assert!(!bad || fates.is_empty());
            }
            Outcome::Failed { target, .. } => {
                let i: usize = target[1..].parse().unwrap();
                prop_assert!(!matches!(fates[i], Fate::Up(_)));
            }
            Outcome::Running => prop_assert!(false, "rollout did not end"),
        }
    }
}
