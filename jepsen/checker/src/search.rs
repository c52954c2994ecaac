//! The Wing–Gong depth-first search with Lowe's memoisation, in the form of
//! Horn & Kroening and Porcupine (`jepsen.md` B.1), for one key's operations.
//!
//! The history is a doubly linked list of call and return entries in history
//! order. Linearizing an operation "lifts" its call and return out of the list;
//! backtracking puts them back. A return entry reached while scanning means the
//! operation returning there must already have been linearized, so the search
//! backtracks. Every (linearized set, model state) pair is visited at most once.
//!
//! Indeterminate (`info`) operations have no return entry (they return at +∞)
//! and are optional: the search succeeds once every required operation is
//! linearized, whatever info operations remain.
//!
//! Bounds: each loop iteration is one step, charged to the caller's budget;
//! the search stops when it is spent with [`SearchResult::OutOfBudget`]. The cache gains at
//! most one entry per step, so memory is bounded by the budget too.

use std::collections::HashSet;

use crate::model::Model;

/// One operation as the search sees it.
#[derive(Debug, Clone)]
pub(crate) struct Call<I, O> {
    pub input: I,
    pub output: O,
    /// History index of the invocation.
    pub call_index: usize,
    /// History index of the completion; `None` for info (never returns).
    pub return_index: Option<usize>,
}

/// Where the deepest search attempt got stuck, as indexes into the calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stuck {
    /// The longest linearizable prefix found, in linearization order.
    pub prefix: Vec<usize>,
    /// The model state after that prefix, rendered with `Debug`.
    pub state: String,
    /// The operation whose return was reached without it being linearized.
    pub blocked: Option<usize>,
    /// Operations not in the prefix that were invoked before `blocked`
    /// returned: every candidate for the next linearization point.
    pub pending: Vec<usize>,
}

/// The outcome of one search.
#[derive(Debug, Clone)]
pub(crate) enum SearchResult {
    Linearizable,
    NotLinearizable(Stuck),
    OutOfBudget,
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;

/// The entry list: node 0 is the head, op `i` has call node `2i+1` and return
/// node `2i+2` (unused for info ops).
struct Entries {
    next: Vec<usize>,
    prev: Vec<usize>,
    has_return: Vec<bool>,
}

impl Entries {
    fn new<I, O>(calls: &[Call<I, O>]) -> Self {
        // (history index, node). Invoke and completion indexes are distinct
        // positions in one history, so the order is total.
        let mut order: Vec<(usize, usize)> = Vec::with_capacity(calls.len() * 2);
        for (op, call) in calls.iter().enumerate() {
            order.push((call.call_index, call_node(op)));
            if let Some(index) = call.return_index {
                order.push((index, call_node(op) + 1));
            }
        }
        order.sort_unstable();
        let nodes = calls.len() * 2 + 1;
        let mut entries = Entries {
            next: vec![NIL; nodes],
            prev: vec![NIL; nodes],
            has_return: calls.iter().map(|c| c.return_index.is_some()).collect(),
        };
        let mut last = HEAD;
        for &(_, node) in &order {
            entries.next[last] = node;
            entries.prev[node] = last;
            last = node;
        }
        entries
    }

    fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        if next != NIL {
            self.prev[next] = prev;
        }
    }

    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        if next != NIL {
            self.prev[next] = node;
        }
    }

    fn lift(&mut self, op: usize) {
        self.unlink(call_node(op));
        if self.has_return[op] {
            self.unlink(call_node(op) + 1);
        }
    }

    /// Exact inverse of `lift` (dancing links: reverse order).
    fn unlift(&mut self, op: usize) {
        if self.has_return[op] {
            self.relink(call_node(op) + 1);
        }
        self.relink(call_node(op));
    }
}

fn call_node(op: usize) -> usize {
    2 * op + 1
}

/// Decodes a node into (op, is_call).
fn node_op(node: usize) -> (usize, bool) {
    ((node - 1) / 2, (node - 1).is_multiple_of(2))
}

/// Runs the search over `calls`, spending at most `steps_left` steps (and
/// deducting the steps spent).
pub(crate) fn search<M: Model>(
    model: &M,
    calls: &[Call<M::Input, M::Output>],
    steps_left: &mut u64,
) -> SearchResult {
    let mut entries = Entries::new(calls);
    let mut required_left = calls.iter().filter(|c| c.return_index.is_some()).count();
    let mut linearized = vec![0_u64; calls.len().div_ceil(64)];
    let mut cache: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    let mut deepest = Stuck {
        state: format!("{state:?}"),
        ..Stuck::default()
    };
    let mut entry = entries.next[HEAD];
    loop {
        if required_left == 0 {
            return SearchResult::Linearizable;
        }
        if *steps_left == 0 {
            return SearchResult::OutOfBudget;
        }
        *steps_left -= 1;
        let (op, is_call) = if entry == NIL {
            (NIL, false)
        } else {
            node_op(entry)
        };
        if is_call {
            if let Some(next_state) = model.step(&state, &calls[op].input, &calls[op].output) {
                flip(&mut linearized, op);
                if cache.insert((linearized.clone(), next_state.clone())) {
                    stack.push((op, std::mem::replace(&mut state, next_state)));
                    entries.lift(op);
                    required_left -= usize::from(calls[op].return_index.is_some());
                    if stack.len() > deepest.prefix.len() {
                        deepest = Stuck {
                            prefix: stack.iter().map(|(op, _)| *op).collect(),
                            state: format!("{state:?}"),
                            ..Stuck::default()
                        };
                    }
                    entry = entries.next[HEAD];
                    continue;
                }
                flip(&mut linearized, op);
            }
            entry = entries.next[entry];
            continue;
        }
        // A return entry (or the end of the list): the op returning here was
        // not linearized in this branch, so undo the last choice.
        if stack.len() == deepest.prefix.len() && deepest.blocked.is_none() && op != NIL {
            deepest.blocked = Some(op);
            deepest.pending = candidates(&entries, entry);
        }
        let Some((op, previous)) = stack.pop() else {
            return SearchResult::NotLinearizable(deepest);
        };
        flip(&mut linearized, op);
        entries.unlift(op);
        required_left += usize::from(calls[op].return_index.is_some());
        state = previous;
        entry = entries.next[call_node(op)];
    }
}

fn flip(bits: &mut [u64], op: usize) {
    bits[op / 64] ^= 1 << (op % 64);
}

/// The unlinearized ops whose calls precede `stop` in the list.
fn candidates(entries: &Entries, stop: usize) -> Vec<usize> {
    let mut ops = Vec::new();
    let mut node = entries.next[HEAD];
    while node != NIL && node != stop {
        let (op, is_call) = node_op(node);
        if is_call {
            ops.push(op);
        }
        node = entries.next[node];
    }
    ops
}
