//! History validation, pairing and the JSON-lines format.

use checker::history::{pair, read_jsonl, write_jsonl};
use checker::{check_events, CheckOptions, EventKind, HistoryError, Outcome};

use crate::support::*;

#[test]
fn completion_without_invoke_is_rejected() {
    // Goal: an ok with nothing outstanding on its process is a harness bug.
    let mut h = History::new();
    h.ok(1, write("k", "1"));
    assert_eq!(
        pair(&h.events),
        Err(HistoryError::CompletionWithoutInvoke {
            index: 0,
            process: 1
        })
    );
}

#[test]
fn two_outstanding_invokes_are_rejected() {
    // Goal: a process has at most one op in flight.
    let mut h = History::new();
    h.invoke(1, write("k", "1")).invoke(1, read("k"));
    assert_eq!(
        pair(&h.events),
        Err(HistoryError::InvokeWhileOutstanding {
            index: 1,
            process: 1,
            outstanding: 0
        })
    );
}

#[test]
fn invoke_after_info_on_same_process_is_rejected() {
    // Goal: an info op never ends, so its process is retired for good.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .info(1, write("k", "1"))
        .invoke(1, read("k"));
    assert!(matches!(
        pair(&h.events),
        Err(HistoryError::InvokeWhileOutstanding { .. })
    ));
}

#[test]
fn completion_after_info_is_rejected() {
    // Goal: an op gets exactly one completion.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .info(1, write("k", "1"))
        .ok(1, write("k", "1"));
    assert!(matches!(
        pair(&h.events),
        Err(HistoryError::CompletionWithoutInvoke { .. })
    ));
}

#[test]
fn time_going_backwards_is_rejected() {
    // Goal: timestamps come from one monotonic clock.
    let mut h = History::new();
    h.invoke(1, write("k", "1")).ok(1, write("k", "1"));
    h.events[1].time_ns = 0;
    h.events[0].time_ns = 5;
    assert_eq!(
        check_events(&h.events, &CheckOptions::default()),
        Err(HistoryError::TimeWentBackwards {
            index: 1,
            time_ns: 0,
            previous_ns: 5
        })
    );
}

#[test]
fn non_increasing_index_is_rejected() {
    // Goal: event indexes give the real-time order, so they must increase.
    let mut h = History::new();
    h.invoke(1, write("k", "1")).ok(1, write("k", "1"));
    h.events[1].index = 0;
    assert!(matches!(
        pair(&h.events),
        Err(HistoryError::IndexNotIncreasing { .. })
    ));
}

#[test]
fn mismatched_completion_is_rejected() {
    // Goal: a completion must name the invoked function and key.
    let mut h = History::new();
    h.invoke(1, write("k", "1")).ok(1, write("other", "1"));
    assert_eq!(
        pair(&h.events),
        Err(HistoryError::CompletionMismatch {
            index: 1,
            invoke: 0
        })
    );
}

#[test]
fn ok_set_read_without_elements_is_rejected() {
    // Goal: an ok set read must say what it saw.
    let mut h = History::new();
    h.invoke(1, read_set("s")).ok(1, read_set("s"));
    assert_eq!(
        pair(&h.events),
        Err(HistoryError::MissingReadResult { index: 1 })
    );
}

#[test]
fn mixed_workloads_on_one_key_are_rejected() {
    // Goal: register and set ops model different objects; never mix them.
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .done(1, add("k", 1), add("k", 1));
    assert_eq!(
        check_events(&h.events, &CheckOptions::default()),
        Err(HistoryError::MixedWorkloads {
            key: "k".to_owned()
        })
    );
}

#[test]
fn pairing_drops_fail_and_info_reads_and_keeps_unfinished_as_info() {
    // Goal: fail = not applied (dropped); info reads have no effect (dropped);
    // an invoke with no completion by the end is indeterminate.
    let mut h = History::new();
    h.invoke(1, write("k", "1"))
        .fail(1, write("k", "1"))
        .invoke(2, read("k"))
        .info(2, read("k"))
        .invoke(1, write("k", "2"));
    let operations = pair(&h.events).expect("well formed");
    assert_eq!(operations.len(), 1);
    assert_eq!(operations[0].outcome, Outcome::Info);
    assert_eq!(operations[0].return_index, None);
    assert_eq!(operations[0].call_index, 4);
}

#[test]
fn jsonl_round_trip_and_wire_names() {
    // Goal: histories save and load losslessly, with Jepsen-like field names.
    let mut h = History::new();
    h.done(1, read("k"), saw("k", None))
        .done(1, cas("k", "a", "b"), cas("k", "a", "b"))
        .done(2, read_set("s"), saw_set("s", &[3, 1]))
        .invoke(3, add("s", 4))
        .info(3, add("s", 4));
    let mut bytes = Vec::new();
    write_jsonl(&h.events, &mut bytes).expect("writes");
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    let first = text.lines().next().expect("a line");
    assert_eq!(
        first,
        r#"{"index":0,"time_ns":0,"process":1,"type":"invoke","f":"read","key":"k","value":null}"#
    );
    assert_eq!(read_jsonl(bytes.as_slice()).expect("reads"), h.events);
}

#[test]
fn jsonl_skips_nemesis_and_names_bad_lines() {
    // Goal: nemesis events share the file and are skipped; a bad line is a
    // typed parse error with its line number.
    let text = concat!(
        r#"{"index":0,"time_ns":1,"process":"nemesis","type":"info","f":"kill","value":"n1"}"#,
        "\n\n",
        r#"{"index":1,"time_ns":2,"process":1,"type":"invoke","f":"write","key":"k","value":"1"}"#,
        "\n"
    );
    let events = read_jsonl(text.as_bytes()).expect("reads");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Invoke);
    let bad = "{\"index\":0}\n";
    assert!(matches!(
        read_jsonl(bad.as_bytes()),
        Err(HistoryError::Parse { line: 1, .. })
    ));
}

#[test]
fn check_file_reads_a_saved_history() {
    // Goal: the runner's path: save a history, check it from disk.
    let mut h = History::new();
    h.done(1, write("k", "1"), write("k", "1"))
        .done(2, read("k"), saw("k", Some("2")));
    let path = std::env::temp_dir().join(format!("checker-test-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&path).expect("creates");
    write_jsonl(&h.events, file).expect("writes");
    let verdict = checker::check_file(&path, &CheckOptions::default()).expect("checks");
    std::fs::remove_file(&path).expect("removes");
    assert!(!verdict.is_linearizable());
    let missing = checker::check_file(&path, &CheckOptions::default());
    assert!(matches!(missing, Err(HistoryError::Io { .. })));
}
