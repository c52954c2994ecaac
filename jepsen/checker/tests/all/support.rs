//! A small builder for hand-made histories and helpers to assert verdicts.

use checker::{check_events, CheckOptions, Event, EventKind, Op, Verdict};

/// Builds a history one event at a time; time advances by 10 ns per event.
#[derive(Default)]
pub struct History {
    pub events: Vec<Event>,
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    fn push(&mut self, process: u64, kind: EventKind, op: Op) -> &mut Self {
        let index = self.events.len();
        self.events.push(Event {
            index,
            time_ns: 10 * index as u64,
            process,
            kind,
            op,
        });
        self
    }

    pub fn invoke(&mut self, process: u64, op: Op) -> &mut Self {
        self.push(process, EventKind::Invoke, op)
    }

    pub fn ok(&mut self, process: u64, op: Op) -> &mut Self {
        self.push(process, EventKind::Ok, op)
    }

    pub fn fail(&mut self, process: u64, op: Op) -> &mut Self {
        self.push(process, EventKind::Fail, op)
    }

    pub fn info(&mut self, process: u64, op: Op) -> &mut Self {
        self.push(process, EventKind::Info, op)
    }

    /// An operation with no concurrency: invoke then ok.
    pub fn done(&mut self, process: u64, invoked: Op, completed: Op) -> &mut Self {
        self.invoke(process, invoked).ok(process, completed)
    }
}

pub fn read(key: &str) -> Op {
    Op::Read {
        key: key.to_owned(),
        value: None,
    }
}

pub fn saw(key: &str, value: Option<&str>) -> Op {
    Op::Read {
        key: key.to_owned(),
        value: value.map(str::to_owned),
    }
}

pub fn write(key: &str, value: &str) -> Op {
    Op::Write {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

pub fn cas(key: &str, from: &str, to: &str) -> Op {
    Op::Cas {
        key: key.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

pub fn add(key: &str, element: u64) -> Op {
    Op::Add {
        key: key.to_owned(),
        element,
    }
}

pub fn read_set(key: &str) -> Op {
    Op::ReadSet {
        key: key.to_owned(),
        elements: None,
    }
}

pub fn saw_set(key: &str, elements: &[u64]) -> Op {
    Op::ReadSet {
        key: key.to_owned(),
        elements: Some(elements.iter().copied().collect()),
    }
}

pub fn check(history: &History) -> Verdict {
    check_events(&history.events, &CheckOptions::default()).expect("well-formed history")
}

pub fn assert_linearizable(history: &History) {
    let verdict = check(history);
    assert!(
        verdict.is_linearizable(),
        "expected linearizable, got:\n{verdict}"
    );
}

/// Asserts a violation on `key` and returns the window's op texts.
pub fn assert_violation(history: &History, key: &str) -> Vec<String> {
    let verdict = check(history);
    match &verdict {
        Verdict::NotLinearizable {
            key: found, window, ..
        } => {
            assert_eq!(found, key, "wrong key in:\n{verdict}");
            assert!(!window.is_empty(), "empty window in:\n{verdict}");
            window.iter().map(|op| op.text.clone()).collect()
        }
        other => panic!("expected a violation on {key:?}, got:\n{other}"),
    }
}
