//! The step budget: an undecided search says `Unknown`, never a wrong answer.

use checker::{check_events, CheckOptions, Verdict};

use crate::support::*;

/// Many fully concurrent writes of distinct values followed by a read of a
/// value nobody wrote: refuting it means visiting every subset of the writes.
fn pathological(writers: u64) -> History {
    let mut h = History::new();
    for p in 0..writers {
        h.invoke(p, write("k", &p.to_string()));
    }
    for p in 0..writers {
        h.ok(p, write("k", &p.to_string()));
    }
    h.done(writers, read("k"), saw("k", Some("never")));
    h
}

#[test]
fn exhausted_budget_yields_unknown() {
    // Goal: with a small budget the pathological history is `Unknown`, naming
    // the key and the budget, not `NotLinearizable` or `Linearizable`.
    let options = CheckOptions {
        step_budget: 1_000,
        ..CheckOptions::default()
    };
    let verdict = check_events(&pathological(12).events, &options).expect("well formed");
    assert_eq!(
        verdict,
        Verdict::Unknown {
            keys: vec!["k".to_owned()],
            step_budget: 1_000
        }
    );
    assert!(verdict.to_string().starts_with("unknown"));
}

#[test]
fn enough_budget_decides_the_same_history() {
    // Goal: the same history is refuted once the budget suffices, so Unknown
    // above really was a budget effect.
    let verdict =
        check_events(&pathological(8).events, &CheckOptions::default()).expect("well formed");
    assert!(
        matches!(verdict, Verdict::NotLinearizable { .. }),
        "{verdict}"
    );
}

#[test]
fn unshrunk_window_is_the_frontier_candidates() {
    // Goal: with shrinking off, the verdict stays NotLinearizable, says the
    // window is not minimal, and the window is the frontier's pending ops.
    let options = CheckOptions {
        shrink_window: false,
        ..CheckOptions::default()
    };
    let verdict = check_events(&pathological(4).events, &options).expect("well formed");
    let Verdict::NotLinearizable {
        window,
        window_minimal,
        frontier,
        ..
    } = &verdict
    else {
        panic!("expected violation, got:\n{verdict}");
    };
    assert!(!window_minimal);
    assert_eq!(window, &frontier.pending);
    assert!(verdict.to_string().contains("unshrunk"), "{verdict}");
}

#[test]
fn shrunk_window_of_pathological_history_is_the_bad_read() {
    // Goal: shrinking removes every write that is not part of the conflict.
    let window = assert_violation(&pathological(6), "k");
    assert_eq!(window, ["read -> \"never\""]);
}
