//! Grow-only set (append / in-order keys) histories.

use crate::support::*;

#[test]
fn sequential_set_history_is_linearizable() {
    // Goal: adds then reads of exactly the added elements are accepted.
    let mut h = History::new();
    h.done(1, read_set("s"), saw_set("s", &[]))
        .done(1, add("s", 1), add("s", 1))
        .done(2, add("s", 2), add("s", 2))
        .done(1, read_set("s"), saw_set("s", &[1, 2]));
    assert_linearizable(&h);
}

#[test]
fn concurrent_adds_seen_in_any_order() {
    // Goal: reads concurrent with two adds may see either one first.
    let mut h = History::new();
    h.invoke(1, add("s", 1))
        .invoke(2, add("s", 2))
        .done(3, read_set("s"), saw_set("s", &[2]))
        .ok(1, add("s", 1))
        .ok(2, add("s", 2))
        .done(3, read_set("s"), saw_set("s", &[1, 2]));
    assert_linearizable(&h);
}

#[test]
fn lost_acknowledged_element_is_flagged() {
    // Goal: an acknowledged add missing from a later read is a lost write.
    let mut h = History::new();
    h.done(1, add("s", 1), add("s", 1))
        .done(2, add("s", 2), add("s", 2))
        .done(3, read_set("s"), saw_set("s", &[2]));
    let window = assert_violation(&h, "s");
    assert_eq!(window, ["add 1 ok", "read_set -> {2}"]);
}

#[test]
fn element_disappearing_between_reads_is_flagged() {
    // Goal: the set only grows, so a later read cannot lose an element.
    let mut h = History::new();
    h.invoke(1, add("s", 1))
        .done(2, read_set("s"), saw_set("s", &[1]))
        .done(2, read_set("s"), saw_set("s", &[]))
        .ok(1, add("s", 1));
    assert_violation(&h, "s");
}

#[test]
fn info_add_may_appear_late_or_never() {
    // Goal: an info add may show up after later reads, or never.
    let mut h = History::new();
    h.invoke(1, add("s", 1))
        .info(1, add("s", 1))
        .done(2, read_set("s"), saw_set("s", &[]))
        .done(2, add("s", 2), add("s", 2))
        .done(2, read_set("s"), saw_set("s", &[2]))
        .done(3, read_set("s"), saw_set("s", &[1, 2]));
    assert_linearizable(&h);
    let mut never = History::new();
    never
        .invoke(1, add("s", 1))
        .info(1, add("s", 1))
        .done(2, read_set("s"), saw_set("s", &[]));
    assert_linearizable(&never);
}

#[test]
fn element_from_failed_add_is_flagged() {
    // Goal: an element whose add failed must never be read.
    let mut h = History::new();
    h.invoke(1, add("s", 7))
        .fail(1, add("s", 7))
        .done(2, read_set("s"), saw_set("s", &[7]));
    assert_violation(&h, "s");
}
