//! Checker tests: hand-made histories (valid and invalid), malformed
//! histories, the step budget, and seeded randomized histories.

mod budget;
mod history;
mod random;
mod register;
mod set;
mod support;
