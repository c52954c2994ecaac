//! The checker's verdict and its counterexample, as JSON (for the run's
//! artifacts) and as compact text (for the CI log).
//!
//! What a violation report contains, and why:
//! * `key`: linearizability is local (P-compositionality), so one key's
//!   sub-history is the whole story;
//! * `window`: a small set of that key's operations that has no legal order
//!   on its own (for a stale read: the two writes and the read). Shrinking
//!   first relaxes every operation it can to "indeterminate" (the conflict
//!   survives without its acknowledgment), leaving a 1-minimal set whose
//!   outcomes matter, then drops the relaxed ones not needed as possible
//!   explanations. The reader can verify it by hand in a few lines;
//! * `frontier`: where the full search got stuck: how long the longest
//!   linearizable prefix was, its last operations, the model state after it,
//!   the operation whose response came before it could be linearized, and the
//!   pending operations concurrent with it (all the candidates that were tried).
//!   This locates the violation in time, which the window alone does not.

use std::fmt;

use serde::Serialize;

use crate::history::{Op, Operation, Outcome};

/// One operation in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpSummary {
    /// History index of the invocation (find it in the history file).
    pub call_index: usize,
    /// History index of the `ok` completion; `None` for `info`.
    pub return_index: Option<usize>,
    /// The process that ran it.
    pub process: u64,
    /// Invocation time.
    pub call_ns: u64,
    /// Completion time; `None` for `info`.
    pub return_ns: Option<u64>,
    /// The operation and its result, e.g. `read -> "3"` or `cas "1"->"2" info`.
    pub text: String,
}

impl OpSummary {
    /// Summarises a paired operation.
    pub fn of(operation: &Operation) -> Self {
        OpSummary {
            call_index: operation.call_index,
            return_index: operation.return_index,
            process: operation.process,
            call_ns: operation.call_ns,
            return_ns: operation.return_ns,
            text: describe(operation),
        }
    }
}

fn describe(operation: &Operation) -> String {
    let request = match &operation.op {
        Op::Read { .. } => "read".to_owned(),
        Op::Write { value, .. } => format!("write {value:?}"),
        Op::Cas { from, to, .. } => format!("cas {from:?}->{to:?}"),
        Op::Add { element, .. } => format!("add {element}"),
        Op::ReadSet { .. } => "read_set".to_owned(),
    };
    match &operation.outcome {
        Outcome::Info => format!("{request} info"),
        Outcome::Ok(Op::Read { value: Some(v), .. }) => format!("{request} -> {v:?}"),
        Outcome::Ok(Op::Read { value: None, .. }) => format!("{request} -> missing"),
        Outcome::Ok(Op::ReadSet {
            elements: Some(e), ..
        }) => format!("{request} -> {e:?}"),
        Outcome::Ok(_) => format!("{request} ok"),
    }
}

/// Where the full search of the failing key got stuck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frontier {
    /// Length of the longest linearizable prefix found.
    pub prefix_len: usize,
    /// Its last few operations, in linearization order.
    pub prefix_tail: Vec<OpSummary>,
    /// The model state after the prefix (`Debug` rendering).
    pub state: String,
    /// The operation that returned before it could be linearized.
    pub blocked: Option<OpSummary>,
    /// Every operation not in the prefix invoked before `blocked` returned
    /// (including `blocked`): the candidates none of which led to a full order.
    pub pending: Vec<OpSummary>,
}

/// The result of checking a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every key has a legal order.
    Linearizable,
    /// Some key has none. Reported for the first failing key in key order.
    NotLinearizable {
        /// The key whose operations cannot be ordered.
        key: String,
        /// A shrunk set of operations that cannot be ordered, in call order
        /// (see the module docs for how it is shrunk).
        window: Vec<OpSummary>,
        /// Whether shrinking finished; `false` when it was off (the window is
        /// then the frontier's pending ops) or its budget ran out (the window
        /// is then only partly shrunk).
        window_minimal: bool,
        /// Where the full search got stuck.
        frontier: Box<Frontier>,
        /// Other keys that also failed.
        other_failing_keys: Vec<String>,
    },
    /// No violation found, but the step budget ran out on these keys: the
    /// search gave up rather than guess (CI treats this as a failure).
    Unknown {
        /// The keys left undecided.
        keys: Vec<String>,
        /// The per-key step budget that was exhausted.
        step_budget: u64,
    },
}

impl Verdict {
    /// Whether the history was shown linearizable.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

fn write_op(f: &mut fmt::Formatter<'_>, op: &OpSummary) -> fmt::Result {
    let end = op
        .return_ns
        .map_or_else(|| "inf".to_owned(), |t| t.to_string());
    writeln!(
        f,
        "  #{:<6} p{:<4} [{} .. {}] {}",
        op.call_index, op.process, op.call_ns, end, op.text
    )
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => writeln!(f, "linearizable"),
            Verdict::Unknown { keys, step_budget } => writeln!(
                f,
                "unknown: step budget {step_budget} exhausted on keys {keys:?} \
                 (shorten keys: fewer ops per key)"
            ),
            Verdict::NotLinearizable {
                key,
                window,
                window_minimal,
                frontier,
                other_failing_keys,
            } => {
                let kind = if *window_minimal {
                    "minimal"
                } else {
                    "unshrunk"
                };
                writeln!(f, "not linearizable: key {key:?}")?;
                writeln!(
                    f,
                    "operations that cannot be ordered ({kind}, call index, process, time ns):"
                )?;
                for op in window {
                    write_op(f, op)?;
                }
                writeln!(
                    f,
                    "search frontier: {} ops linearized, state {}, last:",
                    frontier.prefix_len, frontier.state
                )?;
                for op in &frontier.prefix_tail {
                    write_op(f, op)?;
                }
                if let Some(blocked) = &frontier.blocked {
                    writeln!(f, "could not linearize before its return:")?;
                    write_op(f, blocked)?;
                }
                writeln!(f, "pending candidates:")?;
                for op in &frontier.pending {
                    write_op(f, op)?;
                }
                if !other_failing_keys.is_empty() {
                    writeln!(f, "other failing keys: {other_failing_keys:?}")?;
                }
                Ok(())
            }
        }
    }
}
