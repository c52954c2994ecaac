//! `keel-stack`: the whole Keel stack on one machine in one command. It starts the other
//! binaries (found beside its own executable) as child processes, each once the one before
//! is ready: the systemd manager fleetd drives (the caller's own, or a private one), `keel`,
//! `fleetd`, `discoveryd`, `locksmithd` and the [`dashboard`]; prints one line per service
//! once all are up, writes an environment file for the command-line tools, and stops
//! everything it started on SIGINT or SIGTERM, in reverse order. With `--hosts N` fleetd
//! runs once in each of N test hosts in network namespaces instead (testkit's lab), for a
//! multi-machine demo. It links no service crate: like any user, it sees them only through
//! their executables and public APIs (`docs/operations.md`, "The whole stack on one
//! machine").
//!
//! The decisions are in [`plan`] (no I/O); [`manager`], [`child`] and [`probe`] do the
//! processes and the checks; [`run`] puts them in order.

pub mod child;
pub mod dashboard;
pub mod manager;
pub mod plan;
pub mod probe;
pub mod run;

use std::path::{Path, PathBuf};

/// Why the stack did not come up, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A file operation or a program start failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A binary of the stack is not beside `keel-stack`.
    #[error("{} not found (build every binary with `cargo build --bins`, or give --bin-dir)", path.display())]
    BinaryMissing { path: PathBuf },
    /// A flag's value cannot be used.
    #[error("{0}")]
    Flag(String),
    /// fleetd has no systemd manager to drive.
    #[error("fleetd needs a systemd manager: {reason}")]
    NoManager { reason: String },
    /// The private manager's host did not start.
    #[error("the private systemd manager: {0}")]
    Host(#[from] keel_host::HostError),
    /// A part was not ready in time, or exited while starting.
    #[error("{part} did not come up: {reason}\n{log}")]
    NotReady {
        part: String,
        reason: String,
        log: String,
    },
    /// A part exited while the stack ran.
    #[error("{part} exited with {status}; the stack stopped\n{log}")]
    Exited {
        part: String,
        status: std::process::ExitStatus,
        log: String,
    },
    /// The signal handlers could not be installed.
    #[error("signal handlers: {0}")]
    Signals(std::io::Error),
}

impl StackError {
    /// A `map_err` for a file operation on `path`.
    pub fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StackError {
        let path = path.to_owned();
        move |source| StackError::Io {
            action,
            path,
            source,
        }
    }
}
