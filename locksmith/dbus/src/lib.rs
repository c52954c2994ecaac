//! `locksmith-dbus`: locksmith's host side over D-Bus with zbus, the only locksmith crate
//! that depends on it.
//!
//! Owns the adapters of `locksmith_core::ports`: update_engine ([`DbusUpdateEngine`]:
//! `GetStatus`, and the `StatusUpdate` signal accepted only from the current owner of
//! `com.coreos.update1`, so no other process on the bus can trigger a reboot; any sender
//! only behind an explicit switch, for `locksmithctl send-need-reboot`), logind's `Reboot`
//! ([`DbusLogind`]), the `send-need-reboot` signal ([`send_need_reboot`]), and stand-ins of
//! both services for tests ([`stand_in`]).
//!
//! Invariants: no D-Bus type leaves the crate; a signal whose body is not `(x d s s x)` is
//! skipped with a warning, never a panic (coreos/bugs#1987).

#![warn(missing_docs)]

mod proxy;
pub mod stand_in;

use futures_util::StreamExt as _;
use locksmith_core::ports::{HostError, Rebooter, UpdateEngine};
use locksmith_core::update::{UpdateStatus, NEED_REBOOT};
use proxy::{LogindProxy, UpdateEngineProxy, UPDATE_INTERFACE, UPDATE_PATH};

/// Which bus to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The system bus (production).
    System,
    /// A bus at a D-Bus address (tests: a host's private system bus).
    Address(String),
}

/// A connection to a bus.
#[derive(Debug, Clone)]
pub struct HostBus {
    connection: zbus::Connection,
}

impl HostBus {
    /// Connects to `bus`.
    ///
    /// # Errors
    /// [`HostError::Call`] when the bus cannot be reached.
    pub async fn connect(bus: &Bus) -> Result<HostBus, HostError> {
        let connection = match bus {
            Bus::System => zbus::Connection::system().await,
            Bus::Address(address) => match zbus::connection::Builder::address(address.as_str()) {
                Ok(builder) => builder.build().await,
                Err(error) => Err(error),
            },
        }
        .map_err(|error| call_error("Hello", &error))?;
        Ok(HostBus { connection })
    }

    /// A round trip to the bus daemon: once it returns, the daemon has dispatched every
    /// message this connection sent before (it handles one connection's messages in order).
    ///
    /// # Errors
    /// [`HostError::Call`].
    pub async fn flush(&self) -> Result<(), HostError> {
        zbus::fdo::DBusProxy::new(&self.connection)
            .await
            .map_err(|error| call_error("GetId", &error))?
            .get_id()
            .await
            .map(drop)
            .map_err(|error| call_error("GetId", &zbus::Error::from(error)))
    }
}

/// The signals the adapter listens to (one adapter per daemon: the size of the owner's
/// stream does not matter).
#[allow(clippy::large_enum_variant)]
enum Statuses {
    /// From the current owner of update_engine's name.
    Owner(proxy::StatusUpdateStream),
    /// From anyone (the test switch).
    Anyone(zbus::MessageStream),
}

/// update_engine over D-Bus.
pub struct DbusUpdateEngine {
    proxy: UpdateEngineProxy<'static>,
    statuses: Statuses,
}

impl DbusUpdateEngine {
    /// Subscribes to `StatusUpdate` (from the name's owner only, unless `any_sender`); call
    /// [`UpdateEngine::status`] after this, so no change between the two is missed.
    ///
    /// # Errors
    /// [`HostError::Call`] when the subscription cannot be made.
    pub async fn connect(bus: &HostBus, any_sender: bool) -> Result<DbusUpdateEngine, HostError> {
        let proxy = UpdateEngineProxy::new(&bus.connection)
            .await
            .map_err(|error| call_error("AddMatch", &error))?;
        let statuses = if any_sender {
            let rule = zbus::MatchRule::builder()
                .msg_type(zbus::message::Type::Signal)
                .interface(UPDATE_INTERFACE)
                .and_then(|rule| rule.member("StatusUpdate"))
                .map_err(|error| call_error("AddMatch", &error))?
                .build();
            let stream = zbus::MessageStream::for_match_rule(rule, &bus.connection, None)
                .await
                .map_err(|error| call_error("AddMatch", &error))?;
            Statuses::Anyone(stream)
        } else {
            let stream = proxy
                .receive_status_update()
                .await
                .map_err(|error| call_error("AddMatch", &error))?;
            Statuses::Owner(stream)
        };
        Ok(DbusUpdateEngine { proxy, statuses })
    }
}

impl UpdateEngine for DbusUpdateEngine {
    async fn status(&self) -> Result<UpdateStatus, HostError> {
        let (last_checked_time, progress, current_operation, new_version, new_size) = self
            .proxy
            .get_status()
            .await
            .map_err(|error| call_error("GetStatus", &error))?;
        Ok(UpdateStatus {
            last_checked_time,
            progress,
            current_operation,
            new_version,
            new_size,
        })
    }

    async fn next_status(&mut self) -> Result<UpdateStatus, HostError> {
        let ended = HostError::Ended {
            what: "update_engine's StatusUpdate",
        };
        loop {
            let body = match &mut self.statuses {
                Statuses::Owner(stream) => {
                    stream.next().await.ok_or(ended.clone())?.message().body()
                }
                Statuses::Anyone(stream) => match stream.next().await.ok_or(ended.clone())? {
                    Ok(message) => message.body(),
                    Err(error) => {
                        tracing::warn!(%error, "unreadable message on the bus; skipped");
                        continue;
                    }
                },
            };
            match body.deserialize::<(i64, f64, String, String, i64)>() {
                Ok((last_checked_time, progress, current_operation, new_version, new_size)) => {
                    return Ok(UpdateStatus {
                        last_checked_time,
                        progress,
                        current_operation,
                        new_version,
                        new_size,
                    })
                }
                Err(error) => tracing::warn!(%error, "malformed StatusUpdate signal; skipped"),
            }
        }
    }
}

/// logind over D-Bus.
pub struct DbusLogind {
    proxy: LogindProxy<'static>,
}

impl DbusLogind {
    /// logind on `bus`.
    ///
    /// # Errors
    /// [`HostError::Call`].
    pub async fn connect(bus: &HostBus) -> Result<DbusLogind, HostError> {
        let proxy = LogindProxy::new(&bus.connection)
            .await
            .map_err(|error| call_error("Reboot", &error))?;
        Ok(DbusLogind { proxy })
    }
}

impl Rebooter for DbusLogind {
    async fn reboot(&self) -> Result<(), HostError> {
        // Not interactive: no polkit prompt, as locksmith asks.
        self.proxy
            .reboot(false)
            .await
            .map_err(|error| call_error("Reboot", &error))
    }
}

/// Emits update_engine's need-reboot `StatusUpdate` from this connection, as `locksmithctl
/// send-need-reboot` does: `(0, 0.0, UPDATE_STATUS_UPDATED_NEED_REBOOT, "", 0)`. Only a
/// locksmithd that accepts any sender acts on it.
///
/// # Errors
/// [`HostError::Call`].
pub async fn send_need_reboot(bus: &HostBus) -> Result<(), HostError> {
    bus.connection
        .emit_signal(
            None::<()>,
            UPDATE_PATH,
            UPDATE_INTERFACE,
            "StatusUpdate",
            &(0_i64, 0.0_f64, NEED_REBOOT, "", 0_i64),
        )
        .await
        .map_err(|error| call_error("StatusUpdate", &error))
}

fn call_error(call: &'static str, error: &zbus::Error) -> HostError {
    HostError::Call {
        call,
        message: error.to_string(),
    }
}

#[cfg(test)]
mod real_host_tests;
