//! The fleet v1 HTTP API as fleet's `fleetd` serves it, on Keel's registry, plus Keel's own
//! routes under `/keel/v1/` (why a unit waits, `systemctl status` and the journal of a unit
//! on its host).
//!
//! Owns: the router ([`router`]) with fleet's routing table under `/fleet/v1` and its legacy
//! alias `/v1-alpha`; the handlers for units, state reports, machines and the discovery
//! document; the derivation of a unit's current state from its placement and its host's
//! report; Keel's routes with their forwarding to the unit's host; the execution of
//! `systemctl` and `journalctl` ([`inspect`]); serving on unix, TCP and socket-activated
//! listeners ([`serve`]).
//!
//! Invariants:
//! - every response carries `Server: fleetd/<version>`, and every 4xx and 5xx fleet's JSON
//!   error envelope with `Content-Type: application/json`;
//! - until [`Readiness`] is set, every request is answered 503 "fleet server unable to
//!   communicate with etcd", as is any request during which the store could not be reached;
//! - a request answered 4xx has written nothing to the store: every check runs before the
//!   first write;
//! - no cache: every request reads the registry, so adding machines adds no watch traffic;
//! - a request forwarded to another fleetd carries a marker and is never forwarded again.
//!
//! Must not depend on the store's crates: it sees the cluster only through `fleet-registry`.

mod allocation;
mod completions;
mod cordon;
mod current;
mod discovery;
mod error;
mod forward;
pub mod inspect;
mod keel;
mod limits;
mod machines;
mod put;
mod replicas;
mod request;
mod rollout;
mod router;
pub mod serve;
mod states;
mod units;
mod why;

pub use error::{ApiError, UNAVAILABLE_MESSAGE};
pub use inspect::{InspectError, JournalRequest, LocalInspector, UnitInspector};
pub use router::{router, SERVER_HEADER};
pub use serve::{bind, inherited, not_inherited, serve, ApiListener, ServeError};

use fleet_core::model::MachineId;
use fleet_registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether this fleetd has registered its machine and may answer requests. Cloned handles
/// share one flag: the binary keeps one and sets it, the API reads it on every request.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A flag that starts unset: every request is answered 503 until [`Readiness::set`].
    #[must_use]
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Sets the flag: `true` once the machine is registered, `false` while it is
    /// re-registering (fleet's server answers 503 meanwhile).
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// The flag.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What the API server needs, given by the binary.
pub struct ApiSettings {
    /// The registry every request reads and writes.
    pub registry: Registry,
    /// `token_limit`: the page size of every list.
    pub token_limit: u16,
    /// This fleetd's machine: units placed here are inspected here, others on their host.
    pub machine: MachineId,
    /// Set by the binary once the machine is registered.
    pub readiness: Readiness,
    /// Runs `systemctl status` and `journalctl` for units on this machine.
    pub inspector: Arc<dyn UnitInspector>,
    /// The daemon's state, for `GET /metrics`.
    pub status: crate::status::Status,
}

/// The state shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    shared: Arc<ApiSettings>,
}

impl ApiState {
    /// The state for a server with `settings`.
    ///
    /// # Panics
    /// When `settings.token_limit` is 0 (the configuration refuses it).
    #[must_use]
    pub fn new(settings: ApiSettings) -> ApiState {
        assert!(settings.token_limit > 0, "token_limit must be at least 1");
        ApiState {
            shared: Arc::new(settings),
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    pub(crate) fn token_limit(&self) -> u16 {
        self.shared.token_limit
    }

    pub(crate) fn machine(&self) -> &MachineId {
        &self.shared.machine
    }

    pub(crate) fn status(&self) -> &crate::status::Status {
        &self.shared.status
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.shared.readiness.is_ready()
    }

    pub(crate) fn inspector(&self) -> &dyn UnitInspector {
        self.shared.inspector.as_ref()
    }
}
