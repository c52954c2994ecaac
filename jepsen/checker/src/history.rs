//! Histories: the events a Jepsen client records, their JSON-lines form, and
//! the pairing of each invocation with its completion.
//!
//! Invariants enforced by [`pair`] (a violation is a harness bug, reported as
//! a [`HistoryError`], never silently repaired):
//! * event indexes strictly increase and `time_ns` never goes backwards;
//! * a process has at most one outstanding operation. An `info` completion
//!   never ends its operation (it may take effect at any later time), so the
//!   process is retired and must not invoke again (`jepsen.md` C.4 item 4);
//! * a completion names the same function and key as its invocation.
//!
//! `fail` means "definitely not applied", so failed operations are dropped.
//! An invocation still outstanding when the history ends is treated as `info`.
//!
//! This module knows nothing about the store; it depends only on serde.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// One recorded event: a process invoking an operation or learning its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history; strictly increasing (gaps allowed, e.g. for
    /// nemesis events that live in the same file).
    pub index: usize,
    /// Monotonic nanoseconds from the runner's single clock.
    pub time_ns: u64,
    /// Logical client process; at most one outstanding operation each.
    pub process: u64,
    /// Invocation or completion class (`type` on the wire, as in Jepsen).
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The operation: its input on `invoke`, its observed result on `ok`.
    #[serde(flatten)]
    pub op: Op,
}

/// The class of an event, named as in Jepsen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The request is about to be sent.
    Invoke,
    /// The operation definitely took effect (for reads: this is what it saw).
    Ok,
    /// The operation definitely did not take effect.
    Fail,
    /// Indeterminate: the operation may take effect at any time after its
    /// invocation, or never.
    Info,
}

/// An operation of one of the workloads, on one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "snake_case")]
pub enum Op {
    /// Register read. `value` is ignored on invoke; on `ok` it is the value
    /// seen, or `None` when the key was missing.
    Read {
        /// The register's key.
        key: String,
        /// The value observed (completion only).
        #[serde(default)]
        value: Option<String>,
    },
    /// Register write of `value`.
    Write {
        /// The register's key.
        key: String,
        /// The value written.
        value: String,
    },
    /// Register compare-and-swap: set `to` if the current value is `from`.
    /// An `ok` completion means the swap happened.
    Cas {
        /// The register's key.
        key: String,
        /// The value the register must hold.
        from: String,
        /// The value stored on success.
        to: String,
    },
    /// Set workload: add `element` to the set stored under `key`.
    Add {
        /// The set's key.
        key: String,
        /// The element added.
        element: u64,
    },
    /// Set workload: read the whole set. `elements` is ignored on invoke and
    /// required on `ok`.
    ReadSet {
        /// The set's key.
        key: String,
        /// The elements observed (completion only).
        #[serde(default)]
        elements: Option<BTreeSet<u64>>,
    },
}

impl Op {
    /// The key the operation touches; histories are checked per key.
    pub fn key(&self) -> &str {
        match self {
            Op::Read { key, .. }
            | Op::Write { key, .. }
            | Op::Cas { key, .. }
            | Op::Add { key, .. }
            | Op::ReadSet { key, .. } => key,
        }
    }

    /// The function name as written on the wire (`f`).
    pub fn function(&self) -> &'static str {
        match self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::Cas { .. } => "cas",
            Op::Add { .. } => "add",
            Op::ReadSet { .. } => "read_set",
        }
    }

    /// Whether the operation belongs to the set workload (otherwise register).
    pub fn is_set_workload(&self) -> bool {
        matches!(self, Op::Add { .. } | Op::ReadSet { .. })
    }

    /// Whether the operation only observes state.
    pub fn is_read(&self) -> bool {
        matches!(self, Op::Read { .. } | Op::ReadSet { .. })
    }
}

/// How a paired operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Took effect; carries the completion's op (for reads, what was seen).
    Ok(Op),
    /// Indeterminate (an `info` completion, or no completion at all).
    Info,
}

/// An invocation paired with its completion. Failed operations never appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The process that ran it.
    pub process: u64,
    /// The operation as invoked.
    pub op: Op,
    /// How it ended.
    pub outcome: Outcome,
    /// History index of the invocation.
    pub call_index: usize,
    /// History index of the `ok` completion; `None` for `info` (+∞).
    pub return_index: Option<usize>,
    /// Time of the invocation.
    pub call_ns: u64,
    /// Time of the `ok` completion; `None` for `info`.
    pub return_ns: Option<u64>,
}

/// A malformed history: the harness broke its own recording rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// Event indexes must strictly increase.
    #[error("event index {index} does not follow index {previous}")]
    IndexNotIncreasing {
        /// The offending index.
        index: usize,
        /// The index before it.
        previous: usize,
    },
    /// Time must be monotonic.
    #[error("event {index}: time went backwards from {previous_ns} ns to {time_ns} ns")]
    TimeWentBackwards {
        /// The offending event.
        index: usize,
        /// Its time.
        time_ns: u64,
        /// The time of the event before it.
        previous_ns: u64,
    },
    /// A completion arrived for a process with nothing outstanding.
    #[error("event {index}: completion for process {process} without an outstanding invoke")]
    CompletionWithoutInvoke {
        /// The offending event.
        index: usize,
        /// Its process.
        process: u64,
    },
    /// A process invoked while another of its operations was outstanding
    /// (including one that ended in `info`, which never ends).
    #[error("event {index}: process {process} invoked while event {outstanding} is outstanding")]
    InvokeWhileOutstanding {
        /// The offending event.
        index: usize,
        /// Its process.
        process: u64,
        /// The invoke still outstanding.
        outstanding: usize,
    },
    /// The completion names another function or key than its invocation.
    #[error("event {index}: completion does not match the operation invoked at event {invoke}")]
    CompletionMismatch {
        /// The offending completion.
        index: usize,
        /// Its invocation.
        invoke: usize,
    },
    /// An `ok` set read without the elements it saw.
    #[error("event {index}: ok read_set carries no elements")]
    MissingReadResult {
        /// The offending completion.
        index: usize,
    },
    /// Register and set operations share a key; they model different objects.
    #[error("key {key:?} mixes register and set operations")]
    MixedWorkloads {
        /// The key.
        key: String,
    },
    /// A line of a JSON-lines history could not be parsed.
    #[error("history line {line}: {message}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// Reading or writing the history failed.
    #[error("history i/o: {message}")]
    Io {
        /// The I/O error's message.
        message: String,
    },
}

/// Validates a history and pairs each invocation with its completion, in
/// invocation order. `fail` operations and `info` reads are dropped: neither
/// can have changed state.
///
/// # Errors
/// Any [`HistoryError`] other than `Parse`/`Io` when the history breaks the
/// recording rules in the module docs.
pub fn pair(events: &[Event]) -> Result<Vec<Operation>, HistoryError> {
    check_order(events)?;
    // process -> (slot of its outstanding op, whether that op already got `info`).
    let mut outstanding: HashMap<u64, (usize, bool)> = HashMap::new();
    let mut slots: Vec<Option<Operation>> = Vec::with_capacity(events.len() / 2 + 1);
    for event in events {
        if event.kind == EventKind::Invoke {
            if let Some(&(slot, _)) = outstanding.get(&event.process) {
                let outstanding = slots[slot].as_ref().map_or(0, |o| o.call_index);
                return Err(HistoryError::InvokeWhileOutstanding {
                    index: event.index,
                    process: event.process,
                    outstanding,
                });
            }
            outstanding.insert(event.process, (slots.len(), false));
            slots.push(Some(invoked(event)));
            continue;
        }
        let without_invoke = HistoryError::CompletionWithoutInvoke {
            index: event.index,
            process: event.process,
        };
        let Some(&(slot, false)) = outstanding.get(&event.process) else {
            return Err(without_invoke);
        };
        let Some(operation) = slots[slot].as_mut() else {
            return Err(without_invoke);
        };
        complete(operation, event)?;
        match event.kind {
            EventKind::Ok => {
                outstanding.remove(&event.process);
            }
            EventKind::Fail => {
                outstanding.remove(&event.process);
                slots[slot] = None;
            }
            // The process stays busy forever: an info op never ends.
            EventKind::Info | EventKind::Invoke => {
                outstanding.insert(event.process, (slot, true));
            }
        }
    }
    Ok(slots
        .into_iter()
        .flatten()
        .filter(|o| !(o.outcome == Outcome::Info && o.op.is_read()))
        .collect())
}

fn check_order(events: &[Event]) -> Result<(), HistoryError> {
    for pair in events.windows(2) {
        let (previous, event) = (&pair[0], &pair[1]);
        if event.index <= previous.index {
            return Err(HistoryError::IndexNotIncreasing {
                index: event.index,
                previous: previous.index,
            });
        }
        if event.time_ns < previous.time_ns {
            return Err(HistoryError::TimeWentBackwards {
                index: event.index,
                time_ns: event.time_ns,
                previous_ns: previous.time_ns,
            });
        }
    }
    Ok(())
}

fn invoked(event: &Event) -> Operation {
    Operation {
        process: event.process,
        op: event.op.clone(),
        outcome: Outcome::Info,
        call_index: event.index,
        return_index: None,
        call_ns: event.time_ns,
        return_ns: None,
    }
}

fn complete(operation: &mut Operation, event: &Event) -> Result<(), HistoryError> {
    let mismatch = HistoryError::CompletionMismatch {
        index: event.index,
        invoke: operation.call_index,
    };
    if event.op.function() != operation.op.function() || event.op.key() != operation.op.key() {
        return Err(mismatch);
    }
    if event.kind == EventKind::Ok {
        if let Op::ReadSet { elements: None, .. } = event.op {
            return Err(HistoryError::MissingReadResult { index: event.index });
        }
        operation.outcome = Outcome::Ok(event.op.clone());
        operation.return_index = Some(event.index);
        operation.return_ns = Some(event.time_ns);
    }
    Ok(())
}

/// Writes events as JSON lines, one event per line.
///
/// # Errors
/// [`HistoryError::Io`] when the writer fails.
pub fn write_jsonl<W: Write>(events: &[Event], mut writer: W) -> Result<(), HistoryError> {
    let io = |e: std::io::Error| HistoryError::Io {
        message: e.to_string(),
    };
    for event in events {
        let line = serde_json::to_string(event).map_err(|e| HistoryError::Io {
            message: e.to_string(),
        })?;
        writeln!(writer, "{line}").map_err(io)?;
    }
    writer.flush().map_err(io)
}

/// Reads JSON-lines events. Blank lines and nemesis events (`"process":
/// "nemesis"`, `jepsen.md` C.4 item 2) are skipped.
///
/// # Errors
/// [`HistoryError::Parse`] naming the line, or [`HistoryError::Io`].
pub fn read_jsonl<R: BufRead>(reader: R) -> Result<Vec<Event>, HistoryError> {
    let mut events = Vec::new();
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| HistoryError::Io {
            message: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let parse = |e: serde_json::Error| HistoryError::Parse {
            line: number + 1,
            message: e.to_string(),
        };
        let value: serde_json::Value = serde_json::from_str(&line).map_err(parse)?;
        if value.get("process").and_then(|p| p.as_str()) == Some("nemesis") {
            continue;
        }
        events.push(serde_json::from_value(value).map_err(parse)?);
    }
    Ok(events)
}
