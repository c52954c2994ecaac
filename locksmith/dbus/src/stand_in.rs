//! Stand-ins of update_engine and logind for tests: each owns its service's well-known name
//! on a bus (a test host's private system bus lets root own any name) and serves the members
//! locksmith uses. The update_engine stand-in answers `GetStatus` and emits `StatusUpdate`
//! when told; the logind stand-in counts `Reboot` calls.
//!
//! Invariants: the stand-ins' signals come from the connection that owns the name, as the
//! real services' do; nothing here is used outside tests.

use crate::call_error;
use crate::proxy::{LOGIND_PATH, LOGIND_SERVICE, UPDATE_INTERFACE, UPDATE_PATH, UPDATE_SERVICE};
use locksmith_core::ports::HostError;
use locksmith_core::update::UpdateStatus;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The status fields as they travel.
type StatusBody = (i64, f64, String, String, i64);

fn body(status: &UpdateStatus) -> StatusBody {
    (
        status.last_checked_time,
        status.progress,
        status.current_operation.clone(),
        status.new_version.clone(),
        status.new_size,
    )
}

/// The served object of the update_engine stand-in.
struct UpdateObject {
    status: Arc<Mutex<UpdateStatus>>,
}

#[zbus::interface(name = "com.coreos.update1.Manager")]
impl UpdateObject {
    fn get_status(&self) -> StatusBody {
        let status = self
            .status
            .lock()
            .expect("the status lock is never poisoned");
        body(&status)
    }
}

/// update_engine's stand-in.
pub struct UpdateEngineStandIn {
    connection: zbus::Connection,
    status: Arc<Mutex<UpdateStatus>>,
}

impl UpdateEngineStandIn {
    /// Owns `com.coreos.update1` on the bus at `address`, reporting `status`.
    ///
    /// # Errors
    /// [`HostError::Call`] when the bus or the name cannot be had.
    pub async fn start(address: &str, status: UpdateStatus) -> Result<Self, HostError> {
        let status = Arc::new(Mutex::new(status));
        let object = UpdateObject {
            status: Arc::clone(&status),
        };
        let connection = own(address, UPDATE_SERVICE, UPDATE_PATH, object).await?;
        Ok(UpdateEngineStandIn { connection, status })
    }

    /// Reports `status` from now on, and signals it.
    ///
    /// # Errors
    /// [`HostError::Call`].
    pub async fn set_status(&self, status: UpdateStatus) -> Result<(), HostError> {
        let signalled = body(&status);
        *self
            .status
            .lock()
            .expect("the status lock is never poisoned") = status;
        self.signal(&signalled).await
    }

    /// Signals a `StatusUpdate` whose body is a lone string, as a broken sender might.
    ///
    /// # Errors
    /// [`HostError::Call`].
    pub async fn signal_malformed(&self) -> Result<(), HostError> {
        self.signal(&("UPDATE_STATUS_UPDATED_NEED_REBOOT",)).await
    }

    /// Emits `StatusUpdate` with `body` from the connection that owns the name.
    async fn signal<B>(&self, body: &B) -> Result<(), HostError>
    where
        B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.connection
            .emit_signal(
                None::<()>,
                UPDATE_PATH,
                UPDATE_INTERFACE,
                "StatusUpdate",
                body,
            )
            .await
            .map_err(|error| call_error("StatusUpdate", &error))
    }
}

/// The served object of the logind stand-in.
struct LogindObject {
    reboots: Arc<AtomicU32>,
    times: Arc<Mutex<Vec<SystemTime>>>,
    changed: Arc<tokio::sync::Notify>,
}

#[zbus::interface(name = "org.freedesktop.login1.Manager")]
impl LogindObject {
    fn reboot(&self, _interactive: bool) {
        self.times
            .lock()
            .expect("the times lock is never poisoned")
            .push(SystemTime::now());
        self.reboots.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}

/// logind's stand-in: counts reboots.
pub struct LogindStandIn {
    _connection: zbus::Connection,
    reboots: Arc<AtomicU32>,
    times: Arc<Mutex<Vec<SystemTime>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl LogindStandIn {
    /// Owns `org.freedesktop.login1` on the bus at `address`.
    ///
    /// # Errors
    /// [`HostError::Call`] when the bus or the name cannot be had.
    pub async fn start(address: &str) -> Result<Self, HostError> {
        let reboots = Arc::new(AtomicU32::new(0));
        let changed = Arc::new(tokio::sync::Notify::new());
        let times = Arc::new(Mutex::new(Vec::new()));
        let object = LogindObject {
            reboots: Arc::clone(&reboots),
            times: Arc::clone(&times),
            changed: Arc::clone(&changed),
        };
        let connection = own(address, LOGIND_SERVICE, LOGIND_PATH, object).await?;
        Ok(LogindStandIn {
            _connection: connection,
            reboots,
            times,
            changed,
        })
    }

    /// `Reboot` calls so far.
    #[must_use]
    pub fn reboots(&self) -> u32 {
        self.reboots.load(Ordering::SeqCst)
    }

    /// When each `Reboot` call arrived.
    #[must_use]
    pub fn reboot_times(&self) -> Vec<SystemTime> {
        self.times
            .lock()
            .expect("the times lock is never poisoned")
            .clone()
    }

    /// Waits until at least `count` reboots were asked for, within `deadline`; whether they
    /// were.
    pub async fn wait_for_reboots(&self, count: u32, deadline: Duration) -> bool {
        tokio::time::timeout(deadline, async {
            loop {
                let changed = self.changed.notified();
                if self.reboots() >= count {
                    return;
                }
                changed.await;
            }
        })
        .await
        .is_ok()
    }
}

/// A connection to the bus at `address` that owns `name` and serves `object` at `path`.
async fn own<I: zbus::object_server::Interface>(
    address: &str,
    name: &'static str,
    path: &'static str,
    object: I,
) -> Result<zbus::Connection, HostError> {
    zbus::connection::Builder::address(address)
        .and_then(|builder| builder.name(name))
        .and_then(|builder| builder.serve_at(path, object))
        .map_err(|error| call_error("RequestName", &error))?
        .build()
        .await
        .map_err(|error| call_error("RequestName", &error))
}
