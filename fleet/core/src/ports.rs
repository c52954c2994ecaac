//! The agent's port to its host's systemd: the [`Systemd`] trait, the plain state it reports
//! ([`UnitState`], [`StateChange`]) and its error ([`SystemdError`]). The adapter over D-Bus is
//! `fleet-systemd`; fakes implement the same trait and pass the same conformance suite.
//!
//! What the agent needs, and nothing more: the five tasks of [`crate::agent_plan::Task`]
//! (load, unload, daemon-reload, start, stop), the state of one unit, what the units
//! directory holds (so a restarted fleetd sees the units it left running, read from systemd
//! rather than from fleet's in-memory cache: coreos/fleet#1086), and a subscription
//! to state changes of the units it watches, pushed by systemd instead of fleet's poll of every
//! unit every second (coreos/fleet#1163).
//!
//! Invariants: unit states are systemd's words verbatim (`LoadState`, `ActiveState`,
//! `SubState`); a unit counts as running exactly when its `ActiveState` is one of
//! [`RUNNING_ACTIVE_STATES`]. Must not depend on zbus, on tokio or on any I/O: only `std`,
//! `thiserror` and the `Stream` trait of `futures-core`.

use crate::agent_plan::{LocalState, LocalUnit};
use crate::resources::SystemdLimits;
use crate::unit_file::UnitFile;
use futures_core::Stream;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;

/// `ActiveState` values of a unit that runs or is on its way to running: the agent treats
/// such a unit as launched. `refreshing` is what newer systemd versions report while a unit
/// is active and re-reading its configuration.
pub const RUNNING_ACTIVE_STATES: [&str; 4] = ["active", "activating", "reloading", "refreshing"];

/// A unit's state in systemd, verbatim (fleet reports these three words as its `UnitState`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnitState {
    /// `LoadState`: `loaded`, `not-found`, `error`, `bad-setting`, `masked`, ...
    pub load_state: String,
    /// `ActiveState`: `active`, `inactive`, `failed`, `activating`, `deactivating`, ...
    pub active_state: String,
    /// `SubState`, specific to the unit type: `running`, `dead`, `failed`, `exited`, ...
    pub sub_state: String,
}

impl UnitState {
    /// Whether the unit runs or is starting ([`RUNNING_ACTIVE_STATES`]).
    #[must_use]
    pub fn is_running(&self) -> bool {
        RUNNING_ACTIVE_STATES.contains(&self.active_state.as_str())
    }

    /// The agent's view of a unit whose file is loaded: launched when running, else loaded.
    #[must_use]
    pub fn local_state(&self) -> LocalState {
        if self.is_running() {
            LocalState::Launched
        } else {
            LocalState::Loaded
        }
    }
}

/// A service's last run of its main process since the agent wrote its file: what a batch
/// job's completion reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainRun {
    /// `ExecMainStartTimestamp`: when the main process started, in microseconds since the
    /// Unix epoch.
    pub started_usec: u64,
    /// systemd's `Result` of the service: `success`, `exit-code`, `signal`, `timeout`, ...
    pub result: String,
    /// `ExecMainStatus`: the exit status, or the number of the signal that ended it.
    pub exit_status: i32,
    /// `ExecMainExitTimestamp` in milliseconds since the Unix epoch; `None` while it runs.
    pub exited_at_ms: Option<u64>,
}

/// A watched unit's state changed (or was read for the first time after it became watched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The unit's name.
    pub name: String,
    /// Its state now.
    pub state: UnitState,
}

/// What went wrong talking to systemd, as facts a caller can branch on.
///
/// Classes ([`SystemdError::is_transient`] tells the second one):
/// - the unit or the call was wrong, an answer rather than an outage: `InvalidUnitName`,
///   `UnitNotFound`, `UnitMasked`, `UnitNotLoadable`, `JobRefused`, `CallFailed`;
/// - transient, retry next round: `BusUnavailable`, `SubscriptionClosed`;
/// - needs an operator (permissions, a broken units directory, too many units):
///   `AccessDenied`, `UnitFileIo`, `WatchLimitExceeded`, `ReplyMalformed`.
///
/// No task's outcome is indeterminate for the agent: every task is idempotent and the next
/// round reads systemd's state again.
#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    /// Not a unit name systemd accepts (checked before anything is written or sent).
    #[error("invalid unit name {name:?}")]
    InvalidUnitName {
        /// The name as given.
        name: String,
    },
    /// systemd has no such unit loaded, or no such unit file (`NoSuchUnit`).
    #[error("unit {name} not found by systemd: {message}")]
    UnitNotFound {
        /// The unit.
        name: String,
        /// systemd's message.
        message: String,
    },
    /// The unit is masked (`UnitMasked`).
    #[error("unit {name} is masked")]
    UnitMasked {
        /// The unit.
        name: String,
    },
    /// systemd could not load the unit's file (bad syntax or settings), so it refuses jobs
    /// for it until the file is fixed and the manager reloaded.
    #[error("unit {name} failed to load: {message}")]
    UnitNotLoadable {
        /// The unit.
        name: String,
        /// systemd's message.
        message: String,
    },
    /// systemd refused to queue the job (a destructive or conflicting transaction, a job type
    /// that does not apply, a unit that may only be started as a dependency).
    #[error("systemd refused the job for {name}: {error_name}: {message}")]
    JobRefused {
        /// The unit.
        name: String,
        /// The D-Bus error name, e.g. `org.freedesktop.systemd1.TransactionIsDestructive`.
        error_name: String,
        /// systemd's message.
        message: String,
    },
    /// The bus or systemd denied the call to this process.
    #[error("access denied to {method}: {message}")]
    AccessDenied {
        /// The Manager method called.
        method: &'static str,
        /// The message of the denial.
        message: String,
    },
    /// systemd answered with an error that none of the variants above names.
    #[error("systemd answered {method} with {error_name}: {message}")]
    CallFailed {
        /// The Manager method called.
        method: &'static str,
        /// The D-Bus error name.
        error_name: String,
        /// systemd's message.
        message: String,
    },
    /// The bus could not be reached, the connection broke, or systemd did not answer in
    /// time: retry.
    #[error("bus unavailable during {method}")]
    BusUnavailable {
        /// The call (or connection step) that failed.
        method: &'static str,
        /// The transport's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A reply or signal did not have the shape systemd documents.
    #[error("unexpected reply to {method}")]
    ReplyMalformed {
        /// The call or signal.
        method: &'static str,
        /// The decoding error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reading, writing or removing a file under the units directory failed.
    #[error("unit file {path}")]
    UnitFileIo {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// More units were to be watched than the adapter's bound allows.
    #[error("{requested} units to watch, at most {max} allowed")]
    WatchLimitExceeded {
        /// How many were asked for.
        requested: usize,
        /// The bound.
        max: usize,
    },
    /// The subscription stopped delivering changes (the bus connection closed): subscribe
    /// again and re-read the states.
    #[error("the state subscription closed")]
    SubscriptionClosed,
}

impl SystemdError {
    /// Whether retrying later (next round, a new subscription) may succeed unchanged.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SystemdError::BusUnavailable { .. } | SystemdError::SubscriptionClosed
        )
    }
}

/// The agent's host systemd: one manager, one units directory that this agent owns.
///
/// Every method is idempotent, so a task repeated after a crash or a lost reply does no harm.
/// Jobs are fire-and-forget as in fleet: `start_unit` and `stop_unit` return once systemd has
/// queued the job, and the outcome arrives as state changes.
pub trait Systemd: Send + Sync {
    /// The subscription's stream: changes of watched units, in the order systemd made them
    /// per unit. A slow reader never blocks the adapter: a unit's changes that were not read
    /// yet coalesce into its latest state. After an `Err` the stream ends.
    type StateChanges: Stream<Item = Result<StateChange, SystemdError>> + Send + Unpin + 'static;

    /// Writes `file`'s canonical text to `<units directory>/<name>` (mode 0644, creating the
    /// directory) and links it into systemd for this boot (runtime, replacing any link); a
    /// unit with an `[Install]` section is also enabled for this boot, as fleet does. The
    /// manager sees a changed file after [`Systemd::reload`].
    ///
    /// # Errors
    /// `InvalidUnitName` before anything is written; `UnitFileIo` when the file cannot be
    /// written; systemd's refusal of the link or enable, after which the file is removed
    /// again.
    fn load_unit(
        &self,
        name: &str,
        file: &UnitFile,
    ) -> impl Future<Output = Result<(), SystemdError>> + Send;

    /// Stops the unit; then, only when the stop was accepted (or systemd has no such unit,
    /// so nothing can run), unlinks it, resets its failed state and removes its file, so a
    /// unit that cannot be stopped keeps its file and is retried.
    ///
    /// # Errors
    /// `InvalidUnitName`; the refusal of the stop (the file stays); `UnitFileIo`.
    fn unload_unit(&self, name: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;

    /// `daemon-reload`: the manager re-reads every unit file. Returns once it has.
    ///
    /// # Errors
    /// The manager's refusal, or the bus.
    fn reload(&self) -> impl Future<Output = Result<(), SystemdError>> + Send;

    /// Queues a start job (mode `replace`).
    ///
    /// # Errors
    /// `InvalidUnitName`, `UnitNotFound`, `UnitMasked`, `UnitNotLoadable`, `JobRefused`, or
    /// the bus.
    fn start_unit(&self, name: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;

    /// Queues a stop job (mode `replace`).
    ///
    /// # Errors
    /// `InvalidUnitName`, `UnitNotFound` (systemd knows no such unit and none runs),
    /// `JobRefused`, or the bus.
    fn stop_unit(&self, name: &str) -> impl Future<Output = Result<(), SystemdError>> + Send;

    /// Sets a service's CPU and memory limits for this boot (a runtime drop-in: systemd's
    /// `SetUnitProperties` with `CPUQuotaPerSecUSec` and `MemoryMax`), `None` meaning no
    /// limit, so limits from an earlier version of the unit do not linger. Other unit types
    /// are left alone. The unit must be loaded.
    ///
    /// # Errors
    /// `InvalidUnitName`; systemd's refusal; the bus.
    fn set_limits(
        &self,
        name: &str,
        limits: SystemdLimits,
    ) -> impl Future<Output = Result<(), SystemdError>> + Send;

    /// The unit's state now. A unit systemd has no file for reads as `not-found`.
    ///
    /// # Errors
    /// `InvalidUnitName`, or the bus.
    fn unit_state(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<UnitState, SystemdError>> + Send;

    /// The last run of the service `name`'s main process, when it was started after its file
    /// in the units directory was last written (`ExecMainStartTimestamp` against the file's
    /// modification time): `None` when it has not run since it was loaded, so a unit loaded
    /// again with a new file has not run. A clock stepped back between the write and the
    /// start reads as not run. A start this port made since the last run systemd knows of,
    /// whose job is still queued or whose unit is still starting, is a run that has not
    /// ended (started when the port started it), so it is never started twice. A run that
    /// ended cleanly is reported (as `success`, its start standing in for its end) also once
    /// systemd has collected the unit and forgotten it, when this port started the unit
    /// since its file was written and it is inactive with no job queued.
    ///
    /// # Errors
    /// `InvalidUnitName`, `UnitFileIo` when the file cannot be read, or the bus.
    fn main_run(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<MainRun>, SystemdError>> + Send;

    /// The unit files in the units directory that systemd has loaded, with the hash of each
    /// file's text and whether the unit runs (`Launched`) or not (`Loaded`). A file that
    /// systemd does not know (`not-found`: written but never linked, e.g. after a crash
    /// between the two steps) is left out, so the agent loads it again; a missing directory
    /// means no units.
    ///
    /// # Errors
    /// `UnitFileIo` when the directory or a file cannot be read; the bus.
    fn local_units(
        &self,
    ) -> impl Future<Output = Result<BTreeMap<String, LocalUnit>, SystemdError>> + Send;

    /// Makes `names` the watched units, replacing the previous set. Each live subscription
    /// then delivers every newly watched unit's current state once, followed by its changes,
    /// and stops delivering units no longer watched.
    ///
    /// # Errors
    /// `InvalidUnitName` or `WatchLimitExceeded`; the previous set stays watched.
    fn watch_units(&self, names: &BTreeSet<String>) -> Result<(), SystemdError>;

    /// Subscribes to systemd's state changes of the watched units (see
    /// [`Systemd::StateChanges`]); the watched units' current states arrive first.
    ///
    /// # Errors
    /// The manager's refusal of the subscription, or the bus.
    fn subscribe(&self) -> impl Future<Output = Result<Self::StateChanges, SystemdError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(active_state: &str) -> UnitState {
        UnitState {
            load_state: "loaded".into(),
            active_state: active_state.into(),
            sub_state: "whatever".into(),
        }
    }

    // Goal: the running rule the agent plans with (`agent_plan`). Method: each ActiveState systemd
    // documents, mapped to the agent's local state.
    #[test]
    fn running_active_states_are_launched_and_the_rest_loaded() {
        for active in ["active", "activating", "reloading", "refreshing"] {
            assert_eq!(
                state(active).local_state(),
                LocalState::Launched,
                "{active}"
            );
        }
        for active in ["inactive", "failed", "deactivating", "maintenance", ""] {
            assert_eq!(state(active).local_state(), LocalState::Loaded, "{active}");
        }
    }

    // Goal: the transient class is exactly the outage variants. Method: one of each kind.
    #[test]
    fn only_outages_are_transient() {
        let outage = SystemdError::BusUnavailable {
            method: "StartUnit",
            source: "connection reset".into(),
        };
        assert!(outage.is_transient());
        assert!(SystemdError::SubscriptionClosed.is_transient());
        let answer = SystemdError::UnitNotFound {
            name: "a.service".into(),
            message: "Unit a.service not found.".into(),
        };
        assert!(!answer.is_transient());
        let refused = SystemdError::WatchLimitExceeded {
            requested: 5,
            max: 4,
        };
        assert!(!refused.is_transient());
    }
}
