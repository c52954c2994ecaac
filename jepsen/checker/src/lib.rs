//! Linearizability checker for Keel's Jepsen-style harness (`jepsen.md` B).
//!
//! A history of `invoke` / `ok` / `fail` / `info` events ([`history`]) is
//! paired, split per key, and each key's operations are searched for a legal
//! order against an independent sequential model ([`model`]) with the
//! Wing–Gong–Lowe algorithm ([`linearizable`]). `info` operations may take
//! effect at any time after their invocation, or never. The result is a
//! [`Verdict`]: linearizable, not linearizable (with the key and the operations
//! that cannot be ordered, see [`report`]), or unknown when the step budget ran
//! out.
//!
//! This crate depends on no workspace crate: the oracle must not share code
//! with the store it judges (STYLE §3).

pub mod history;
pub mod linearizable;
pub mod model;
pub mod report;
mod search;

use std::path::Path;

pub use history::{Event, EventKind, HistoryError, Op, Operation, Outcome};
pub use linearizable::{check_events, check_operations, CheckOptions};
pub use report::{Frontier, OpSummary, Verdict};

/// Loads a JSON-lines history file and checks it.
///
/// # Errors
/// [`HistoryError::Io`] when the file cannot be read, `Parse` for a bad line,
/// or any validation error from [`history::pair`].
pub fn check_file(path: &Path, options: &CheckOptions) -> Result<Verdict, HistoryError> {
    let file = std::fs::File::open(path).map_err(|e| HistoryError::Io {
        message: format!("{}: {e}", path.display()),
    })?;
    let events = history::read_jsonl(std::io::BufReader::new(file))?;
    check_events(&events, options)
}
