//! The linearizability check of a whole history: partition by key
//! (P-compositionality, Horn & Kroening 2015), map each key's operations onto
//! its model, search each key on a bounded pool of std threads, and turn the
//! first failure into a [`Verdict`] with a shrunk counterexample.
//!
//! Bounds: at most `CheckOptions::threads` threads; each key's search spends
//! at most `step_budget` steps, and shrinking a failing key's window at most
//! another `step_budget`. Running out yields `Unknown`, never a guess.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::history::{pair, Event, HistoryError, Op, Operation, Outcome};
use crate::model::{
    Model, RegisterInput, RegisterModel, RegisterOutput, SetInput, SetModel, SetOutput,
};
use crate::report::{Frontier, OpSummary, Verdict};
use crate::search::{search, Call, SearchResult, Stuck};

/// How many operations of the longest prefix a report shows.
const PREFIX_TAIL_MAX: usize = 5;

/// Search limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// Steps each key's search may take before the key is `Unknown`.
    pub step_budget: u64,
    /// Worker threads checking keys in parallel (at least one is used).
    pub threads: usize,
    /// Whether to shrink a failing key's operations to a small window.
    pub shrink_window: bool,
    /// Steps shrinking may take in total for the failing key; when spent the
    /// window is reported partly shrunk (`window_minimal: false`).
    pub shrink_budget: u64,
}

impl Default for CheckOptions {
    /// A few seconds of search per key on one core; the runner keeps keys
    /// short enough that real histories need far less.
    fn default() -> Self {
        CheckOptions {
            step_budget: 5_000_000,
            threads: 2,
            shrink_window: true,
            shrink_budget: 200_000,
        }
    }
}

/// Validates, pairs and checks a history of events.
///
/// # Errors
/// A [`HistoryError`] when the history is malformed (see [`pair`]).
pub fn check_events(events: &[Event], options: &CheckOptions) -> Result<Verdict, HistoryError> {
    check_operations(&pair(events)?, options)
}

/// Checks already-paired operations.
///
/// # Errors
/// [`HistoryError::MixedWorkloads`] when a key has both register and set ops.
///
/// # Panics
/// Re-raises a panic of a worker thread (a bug in the checker itself).
pub fn check_operations(
    operations: &[Operation],
    options: &CheckOptions,
) -> Result<Verdict, HistoryError> {
    let partitions = partition(operations)?;
    let outcomes = run_parallel(&partitions, options);
    Ok(combine(&partitions, outcomes, options))
}

/// A key's operations in invocation order.
type Partition<'a> = (String, Vec<&'a Operation>);

fn partition(operations: &[Operation]) -> Result<Vec<Partition<'_>>, HistoryError> {
    let mut keys: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in operations {
        keys.entry(operation.op.key()).or_default().push(operation);
    }
    let mut partitions = Vec::with_capacity(keys.len());
    for (key, mut ops) in keys {
        let set_ops = ops.iter().filter(|o| o.op.is_set_workload()).count();
        if set_ops != 0 && set_ops != ops.len() {
            return Err(HistoryError::MixedWorkloads {
                key: key.to_owned(),
            });
        }
        ops.sort_by_key(|o| o.call_index);
        partitions.push((key.to_owned(), ops));
    }
    Ok(partitions)
}

/// The result for one key.
enum KeyOutcome {
    Linearizable,
    NotLinearizable {
        window: Vec<OpSummary>,
        window_minimal: bool,
        frontier: Frontier,
    },
    Unknown,
}

fn run_parallel(partitions: &[Partition<'_>], options: &CheckOptions) -> Vec<KeyOutcome> {
    let threads = options.threads.clamp(1, partitions.len().max(1));
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((_, ops)) = partitions.get(index) else {
                return done;
            };
            done.push((index, check_key(ops, options)));
        }
    };
    let mut results: Vec<(usize, KeyOutcome)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        let mut results = Vec::with_capacity(partitions.len());
        for handle in handles {
            match handle.join() {
                Ok(done) => results.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, outcome)| outcome).collect()
}

fn combine(
    partitions: &[Partition<'_>],
    outcomes: Vec<KeyOutcome>,
    options: &CheckOptions,
) -> Verdict {
    let mut verdict = None;
    let mut other_failing = Vec::new();
    let mut unknown = Vec::new();
    for ((key, _), outcome) in partitions.iter().zip(outcomes) {
        match outcome {
            KeyOutcome::Linearizable => {}
            KeyOutcome::Unknown => unknown.push(key.clone()),
            KeyOutcome::NotLinearizable { .. } if verdict.is_some() => {
                other_failing.push(key.clone())
            }
            KeyOutcome::NotLinearizable {
                window,
                window_minimal,
                frontier,
            } => {
                verdict = Some((key.clone(), window, window_minimal, frontier));
            }
        }
    }
    match verdict {
        Some((key, window, window_minimal, frontier)) => Verdict::NotLinearizable {
            key,
            window,
            window_minimal,
            frontier: Box::new(frontier),
            other_failing_keys: other_failing,
        },
        None if !unknown.is_empty() => Verdict::Unknown {
            keys: unknown,
            step_budget: options.step_budget,
        },
        None => Verdict::Linearizable,
    }
}

fn check_key(ops: &[&Operation], options: &CheckOptions) -> KeyOutcome {
    let is_set = ops.first().is_some_and(|o| o.op.is_set_workload());
    if is_set {
        check_with(&SetModel, ops, set_call, options)
    } else {
        check_with(&RegisterModel, ops, register_call, options)
    }
}

/// Maps a paired operation to the model's (input, output), or `None` when it
/// cannot affect the check (an info read).
type Convert<M> = fn(&Operation) -> Option<(<M as Model>::Input, <M as Model>::Output)>;

/// Converts one key's operations into model calls, searches, and on failure
/// builds the frontier and the shrunk window.
fn check_with<M: Model>(
    model: &M,
    ops: &[&Operation],
    convert: Convert<M>,
    options: &CheckOptions,
) -> KeyOutcome {
    let mut calls = Vec::with_capacity(ops.len());
    let mut origin = Vec::with_capacity(ops.len());
    for (position, operation) in ops.iter().enumerate() {
        if let Some((input, output)) = convert(operation) {
            calls.push(Call {
                input,
                output,
                call_index: operation.call_index,
                return_index: operation.return_index,
            });
            origin.push(position);
        }
    }
    let summary = |call: usize| OpSummary::of(ops[origin[call]]);
    let mut steps_left = options.step_budget;
    let stuck = match search(model, &calls, &mut steps_left) {
        SearchResult::Linearizable => return KeyOutcome::Linearizable,
        SearchResult::OutOfBudget => return KeyOutcome::Unknown,
        SearchResult::NotLinearizable(stuck) => stuck,
    };
    let (window, window_minimal) = if options.shrink_window {
        shrink(model, &calls, stuck.blocked, options.shrink_budget)
    } else {
        (stuck.pending.clone(), false)
    };
    KeyOutcome::NotLinearizable {
        window: window.into_iter().map(summary).collect(),
        window_minimal,
        frontier: frontier(&stuck, summary),
    }
}

fn frontier(stuck: &Stuck, summary: impl Fn(usize) -> OpSummary) -> Frontier {
    let tail_start = stuck.prefix.len().saturating_sub(PREFIX_TAIL_MAX);
    Frontier {
        prefix_len: stuck.prefix.len(),
        prefix_tail: stuck.prefix[tail_start..]
            .iter()
            .map(|&c| summary(c))
            .collect(),
        state: stuck.state.clone(),
        blocked: stuck.blocked.map(&summary),
        pending: stuck.pending.iter().map(|&c| summary(c)).collect(),
    }
}

/// How the shrinker treats one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Kept with its recorded outcome.
    Required,
    /// Kept as indeterminate: may apply any time after its call, or never.
    Relaxed,
    /// Left out.
    Deleted,
}

/// Greedy shrinking, keeping each change only if the result still cannot be
/// ordered. First, in one step, delete every op invoked after the blocked op
/// returned (usually most of the key, and it keeps the passes below cheap).
/// Then two passes, latest call first:
/// 1. relax each op to indeterminate. Relaxing only adds freedom, so the ops
///    left `Required` are exactly those whose acknowledged outcome is needed
///    for the conflict (1-minimal);
/// 2. delete each relaxed op. Deleting a possible explanation can change the
///    reason for failing (a stale read would become a read of an unwritten
///    value), which is why pass 1 relaxes instead of deleting.
///
/// The survivors form a sub-history that cannot be ordered on its own, also
/// with their recorded outcomes (those only constrain more). Returns them in
/// call order and whether both passes finished within `step_budget`.
fn shrink<M: Model>(
    model: &M,
    calls: &[Call<M::Input, M::Output>],
    blocked: Option<usize>,
    step_budget: u64,
) -> (Vec<usize>, bool) {
    let mut roles = vec![Role::Required; calls.len()];
    let mut steps_left = step_budget;
    if let Some(cut) = blocked.and_then(|b| calls[b].return_index) {
        let cut_roles: Vec<Role> = calls
            .iter()
            .map(|c| {
                if c.call_index > cut {
                    Role::Deleted
                } else {
                    Role::Required
                }
            })
            .collect();
        match search(model, &subset(calls, &cut_roles), &mut steps_left) {
            SearchResult::NotLinearizable(_) => roles = cut_roles,
            SearchResult::Linearizable => {}
            SearchResult::OutOfBudget => return (kept(&roles), false),
        }
    }
    for (from, to) in [
        (Role::Required, Role::Relaxed),
        (Role::Relaxed, Role::Deleted),
    ] {
        for candidate in (0..calls.len()).rev() {
            if roles[candidate] != from {
                continue;
            }
            roles[candidate] = to;
            match search(model, &subset(calls, &roles), &mut steps_left) {
                SearchResult::NotLinearizable(_) => {}
                SearchResult::Linearizable => roles[candidate] = from,
                SearchResult::OutOfBudget => {
                    roles[candidate] = from;
                    return (kept(&roles), false);
                }
            }
        }
    }
    (kept(&roles), true)
}

fn subset<I: Clone, O: Clone>(calls: &[Call<I, O>], roles: &[Role]) -> Vec<Call<I, O>> {
    let mut subset = Vec::with_capacity(calls.len());
    for (call, role) in calls.iter().zip(roles) {
        match role {
            Role::Required => subset.push(call.clone()),
            // An optional op with no return entry: exactly how `info` is searched.
            Role::Relaxed => subset.push(Call {
                return_index: None,
                ..call.clone()
            }),
            Role::Deleted => {}
        }
    }
    subset
}

fn kept(roles: &[Role]) -> Vec<usize> {
    (0..roles.len())
        .filter(|&i| roles[i] != Role::Deleted)
        .collect()
}

fn register_call(operation: &Operation) -> Option<(RegisterInput, RegisterOutput)> {
    match (&operation.op, &operation.outcome) {
        (Op::Read { .. }, Outcome::Ok(Op::Read { value, .. })) => {
            Some((RegisterInput::Read, RegisterOutput::Read(value.clone())))
        }
        // An info read has no effect and observed nothing.
        (Op::Read { .. }, _) => None,
        (Op::Write { value, .. }, _) => {
            Some((RegisterInput::Write(value.clone()), RegisterOutput::Applied))
        }
        (Op::Cas { from, to, .. }, _) => Some((
            RegisterInput::Cas {
                from: from.clone(),
                to: to.clone(),
            },
            RegisterOutput::Applied,
        )),
        (Op::Add { .. } | Op::ReadSet { .. }, _) => None,
    }
}

fn set_call(operation: &Operation) -> Option<(SetInput, SetOutput)> {
    match (&operation.op, &operation.outcome) {
        (Op::Add { element, .. }, _) => Some((SetInput::Add(*element), SetOutput::Added)),
        (
            Op::ReadSet { .. },
            Outcome::Ok(Op::ReadSet {
                elements: Some(seen),
                ..
            }),
        ) => Some((SetInput::Read, SetOutput::Read(seen.clone()))),
        _ => None,
    }
}
