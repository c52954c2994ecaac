//! Register (read / write / CAS) histories, valid and invalid.

use checker::Verdict;

use crate::support::*;

#[test]
fn sequential_history_is_linearizable() {
    // Goal: a plain sequential run of every register op is accepted.
    let mut h = History::new();
    h.done(1, read("k"), saw("k", None))
        .done(1, write("k", "1"), write("k", "1"))
        .done(2, read("k"), saw("k", Some("1")))
        .done(2, cas("k", "1", "2"), cas("k", "1", "2"))
        .done(1, read("k"), saw("k", Some("2")));
    assert_linearizable(&h);
}

#[test]
fn empty_history_is_linearizable() {
    // Goal: no operations means nothing to violate.
    assert_linearizable(&History::new());
}

#[test]
fn concurrent_ops_needing_reordering_are_linearizable() {
    // Goal: the search must reorder overlapping ops against invocation order:
    // write 2 is invoked after write 1 but both overlap a read that sees 1,
    // so write 2 must be placed first.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .invoke(2, write("k", "2"))
        .invoke(3, read("k"))
        .ok(3, saw("k", Some("1")))
        .ok(1, write("k", "1"))
        .ok(2, write("k", "2"))
        .done(3, read("k"), saw("k", Some("1")));
    assert_linearizable(&h);
}

#[test]
fn read_concurrent_with_write_may_see_either_value() {
    // Goal: two reads overlapping one write may see old then new.
    let mut h = History::new();
    h.done(1, write("k", "0"), write("k", "0"))
        .invoke(1, write("k", "1"))
        .done(2, read("k"), saw("k", Some("0")))
        .done(3, read("k"), saw("k", Some("1")))
        .ok(1, write("k", "1"));
    assert_linearizable(&h);
}

#[test]
fn stale_read_after_completed_write_is_flagged() {
    // Goal: a read invoked after write 2 completed must not return 1
    // (the anomaly of etcd's non-quorum reads); the window is the conflict.
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .done(1, write("k", "2"), write("k", "2"))
        .done(2, read("k"), saw("k", Some("1")));
    let window = assert_violation(&h, "k");
    assert_eq!(
        window,
        ["write \"1\" ok", "write \"2\" ok", "read -> \"1\""]
    );
}

#[test]
fn lost_acknowledged_write_is_flagged() {
    // Goal: a read after an acknowledged write sees the key missing.
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .done(2, read("k"), saw("k", None));
    let window = assert_violation(&h, "k");
    assert_eq!(window, ["write \"1\" ok", "read -> missing"]);
}

#[test]
fn cas_succeeding_twice_from_same_value_is_flagged() {
    // Goal: two acknowledged CAS 0->x from the same value cannot both win
    // (no write puts 0 back in between).
    let mut h = History::new();
    h.done(1, write("k", "0"), write("k", "0"))
        .invoke(1, cas("k", "0", "1"))
        .invoke(2, cas("k", "0", "2"))
        .ok(1, cas("k", "0", "1"))
        .ok(2, cas("k", "0", "2"));
    let window = assert_violation(&h, "k");
    assert_eq!(window, ["cas \"0\"->\"1\" ok", "cas \"0\"->\"2\" ok"]);
}

#[test]
fn cas_on_missing_key_is_flagged() {
    // Goal: a CAS needs the key present, so success on a missing key is wrong.
    let mut h = History::new();
    h.done(1, cas("k", "0", "1"), cas("k", "0", "1"));
    assert_violation(&h, "k");
}

#[test]
fn read_of_never_written_value_is_flagged() {
    // Goal: a read cannot invent a value.
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .done(2, read("k"), saw("k", Some("9")));
    let window = assert_violation(&h, "k");
    assert_eq!(window, ["read -> \"9\""]);
}

#[test]
fn read_from_the_future_is_flagged() {
    // Goal: a read that completed before a write was invoked cannot see it.
    let mut h = History::new();
    h.done(2, read("k"), saw("k", Some("1")))
        .done(1, write("k", "1"), write("k", "1"));
    assert_violation(&h, "k");
}

#[test]
fn failed_write_that_became_visible_is_flagged() {
    // Goal: `fail` means definitely not applied; a read seeing it is a bug
    // (jepsen.md D.5 item 3).
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .invoke(1, write("k", "2"))
        .fail(1, write("k", "2"))
        .done(2, read("k"), saw("k", Some("2")));
    assert_violation(&h, "k");
}

#[test]
fn info_write_taking_effect_late_is_linearizable() {
    // Goal: an info write may apply long after its invocation, even after
    // other ops completed.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .info(1, write("k", "1"))
        .done(2, read("k"), saw("k", None))
        .done(2, write("k", "2"), write("k", "2"))
        .done(2, read("k"), saw("k", Some("2")))
        .done(3, read("k"), saw("k", Some("1")));
    assert_linearizable(&h);
}

#[test]
fn info_write_never_taking_effect_is_linearizable() {
    // Goal: an info write may also never apply.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .info(1, write("k", "1"))
        .done(2, read("k"), saw("k", None))
        .done(2, read("k"), saw("k", None));
    assert_linearizable(&h);
}

#[test]
fn info_write_cannot_take_effect_before_invocation() {
    // Goal: "any time after invocation" excludes before: a read that completed
    // before the info write was invoked cannot see it.
    let mut h = History::new();
    h.done(2, read("k"), saw("k", Some("1")))
        .invoke(1, write("k", "1"))
        .info(1, write("k", "1"));
    assert_violation(&h, "k");
}

#[test]
fn info_write_applies_at_most_once() {
    // Goal: an info op is one possible effect, not a value that can reappear:
    // 1, then 2, then 1 again needs two applications.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .info(1, write("k", "1"))
        .done(2, read("k"), saw("k", Some("1")))
        .done(2, write("k", "2"), write("k", "2"))
        .done(2, read("k"), saw("k", Some("1")));
    assert_violation(&h, "k");
}

#[test]
fn info_cas_applies_only_if_compare_holds() {
    // Goal: an info CAS may apply only when the register holds `from`.
    let mut h = History::new();
    h.done(1, write("k", "0"), write("k", "0"))
        .invoke(1, cas("k", "0", "1"))
        .info(1, cas("k", "0", "1"))
        .done(2, read("k"), saw("k", Some("1")));
    assert_linearizable(&h);
    let mut bad = History::new();
    bad.done(1, write("k", "5"), write("k", "5"))
        .invoke(1, cas("k", "0", "1"))
        .info(1, cas("k", "0", "1"))
        .done(2, read("k"), saw("k", Some("1")));
    assert_violation(&bad, "k");
}

#[test]
fn info_read_is_ignored() {
    // Goal: an info read observed nothing and changes nothing.
    let mut h = History::new();
    h.invoke(1, read("k"))
        .info(1, read("k"))
        .done(2, read("k"), saw("k", None));
    assert_linearizable(&h);
}

#[test]
fn violation_is_reported_on_its_key_while_others_pass() {
    // Goal: per-key decomposition: a stale read on "b" is reported with key
    // "b" only, while interleaved valid ops on "a" and "c" pass.
    let mut h = History::new();
    h.done(1, write("a", "1"), write("a", "1"))
        .done(2, write("b", "1"), write("b", "1"))
        .invoke(3, write("c", "1"))
        .done(2, write("b", "2"), write("b", "2"))
        .done(1, read("a"), saw("a", Some("1")))
        .done(2, read("b"), saw("b", Some("1")))
        .ok(3, write("c", "1"))
        .done(3, read("c"), saw("c", Some("1")));
    let verdict = check(&h);
    let Verdict::NotLinearizable {
        key,
        other_failing_keys,
        window,
        ..
    } = &verdict
    else {
        panic!("expected violation, got:\n{verdict}");
    };
    assert_eq!(key, "b");
    assert!(other_failing_keys.is_empty());
    assert!(window.iter().all(|op| op.call_index >= 2), "{verdict}");
}

#[test]
fn several_failing_keys_are_all_named() {
    // Goal: the first failing key (in key order) is reported, the rest listed.
    let mut h = History::new();
    h.done(1, read("z"), saw("z", Some("x")))
        .done(1, read("m"), saw("m", Some("x")))
        .done(1, read("ok"), saw("ok", None));
    let verdict = check(&h);
    let Verdict::NotLinearizable {
        key,
        other_failing_keys,
        ..
    } = &verdict
    else {
        panic!("expected violation, got:\n{verdict}");
    };
    assert_eq!(key, "m");
    assert_eq!(other_failing_keys, &["z"]);
}

#[test]
fn report_names_frontier_and_renders() {
    // Goal: the frontier shows the longest prefix, the blocked op and its
    // concurrent candidates, and the text rendering names the key.
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .done(1, write("k", "2"), write("k", "2"))
        .invoke(3, write("k", "3"))
        .done(2, read("k"), saw("k", Some("1")))
        .ok(3, write("k", "3"));
    let verdict = check(&h);
    let Verdict::NotLinearizable { frontier, .. } = &verdict else {
        panic!("expected violation, got:\n{verdict}");
    };
    assert_eq!(frontier.prefix_len, 3, "{verdict}");
    assert_eq!(frontier.state, "Some(\"3\")", "{verdict}");
    let blocked = frontier.blocked.as_ref().expect("a blocked op");
    assert_eq!(blocked.text, "read -> \"1\"");
    assert_eq!(frontier.pending.len(), 1, "{verdict}");
    let text = verdict.to_string();
    assert!(text.contains("not linearizable: key \"k\""), "{text}");
    assert!(text.contains("read -> \"1\""), "{text}");
    let json = serde_json::to_value(&verdict).expect("serialises");
    assert_eq!(json["verdict"], "not_linearizable");
}
