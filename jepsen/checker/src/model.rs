//! Sequential specifications the search checks histories against.
//!
//! Written from the etcd v2 semantics in `jepsen.md` B.4/B.5 alone; this
//! module must never depend on or copy from `v2store` (STYLE §3: the oracle
//! must be independent of the code under test).
//!
//! A model is deterministic: `step` either accepts the (input, output) pair in
//! a state and returns the single next state, or rejects it. Indeterminate
//! (`info`) operations need no special step: the search treats them as
//! optional, so "applied here" and "never applied" are both explored, which is
//! how `info` splits the set of possible states (STYLE §2.11).

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential object: an initial state and a partial transition function.
pub trait Model {
    /// A state of the object. `Eq + Hash` so the search can memoise
    /// (linearized set, state) pairs; `Debug` for failure reports.
    type State: Clone + Eq + Hash + Debug;
    /// What the client asked for.
    type Input: Clone + Debug;
    /// What the client observed (for `info` operations: whatever makes the
    /// step succeed when applied, since nothing was observed).
    type Output: Clone + Debug;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after applying `input` with observed `output` in `state`,
    /// or `None` when the object could not have produced `output` there.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;
}

/// A register request on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set the value.
    Write(String),
    /// Set `to` if the value is `from`.
    Cas {
        /// The value required.
        from: String,
        /// The value stored on success.
        to: String,
    },
}

/// What a register client observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutput {
    /// A read saw this value (`None`: the key was missing).
    Read(Option<String>),
    /// A write or successful CAS was acknowledged (or may have applied).
    Applied,
}

/// One key of the etcd v2 tree used as a register with compare-and-swap.
/// State: `None` while the key is missing, else its value. Initially missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type State = Option<String>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Self::State {
        None
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State> {
        match (input, output) {
            (RegisterInput::Read, RegisterOutput::Read(seen)) => {
                (seen == state).then(|| state.clone())
            }
            (RegisterInput::Write(value), RegisterOutput::Applied) => Some(Some(value.clone())),
            // A successful CAS needs the key present with exactly `from`; a
            // missing key fails the compare (etcd error 100).
            (RegisterInput::Cas { from, to }, RegisterOutput::Applied) => {
                (state.as_deref() == Some(from.as_str())).then(|| Some(to.clone()))
            }
            // An input paired with the wrong kind of output can never happen.
            _ => None,
        }
    }
}

/// A set request on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetInput {
    /// Add an element.
    Add(u64),
    /// Read every element.
    Read,
}

/// What a set client observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutput {
    /// An add was acknowledged (or may have applied).
    Added,
    /// A read saw exactly these elements.
    Read(BTreeSet<u64>),
}

/// A grow-only set per key (the set and in-order-key append workloads):
/// adds are idempotent, a read must see exactly every element added before
/// it. Initially empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetModel;

impl Model for SetModel {
    type State = BTreeSet<u64>;
    type Input = SetInput;
    type Output = SetOutput;

    fn init(&self) -> Self::State {
        BTreeSet::new()
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State> {
        match (input, output) {
            (SetInput::Add(element), SetOutput::Added) => {
                let mut next = state.clone();
                next.insert(*element);
                Some(next)
            }
            (SetInput::Read, SetOutput::Read(seen)) => (seen == state).then(|| state.clone()),
            _ => None,
        }
    }
}
