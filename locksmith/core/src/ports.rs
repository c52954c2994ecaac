//! The host services locksmithd drives, as traits its loop is written against: the OS
//! updater (update_engine's status and its changes) and the reboot itself (logind, or a
//! command). The D-Bus adapter implements them with zbus; tests implement them in memory.
//!
//! Invariants: no D-Bus type appears here; every call can fail with a [`HostError`] and none
//! panics on what the bus delivers.

use crate::update::UpdateStatus;
use std::future::Future;

/// A host service did not answer or answered wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// A call failed.
    #[error("{call}: {message}")]
    Call {
        /// The method called (`GetStatus`, `Reboot`, ...).
        call: &'static str,
        /// The bus's error.
        message: String,
    },
    /// The connection or the signal subscription ended.
    #[error("the subscription to {what} ended")]
    Ended {
        /// What was subscribed to.
        what: &'static str,
    },
}

/// update_engine.
pub trait UpdateEngine: Send {
    /// The current status (`GetStatus`).
    ///
    /// # Errors
    /// [`HostError::Call`].
    fn status(&self) -> impl Future<Output = Result<UpdateStatus, HostError>> + Send;

    /// The next status update from the updater itself (a `StatusUpdate` signal from the
    /// current owner of its name); malformed signals are skipped.
    ///
    /// # Errors
    /// [`HostError::Ended`].
    fn next_status(&mut self) -> impl Future<Output = Result<UpdateStatus, HostError>> + Send;
}

/// What reboots the host.
pub trait Rebooter: Send + Sync {
    /// Asks for the reboot; returning is not rebooting (the host goes down later).
    ///
    /// # Errors
    /// [`HostError::Call`].
    fn reboot(&self) -> impl Future<Output = Result<(), HostError>> + Send;
}
