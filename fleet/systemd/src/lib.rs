//! `fleet-systemd`: fleet's systemd adapter, the only crate of the workspace that speaks
//! D-Bus. [`DbusSystemd`] implements [`fleet_core::ports::Systemd`] with zbus proxies of
//! systemd's Manager and Unit interfaces, on the system bus or on a user manager's bus.
//!
//! Owns: the proxies (`proxy`), the mapping of D-Bus errors to
//! [`fleet_core::ports::SystemdError`] (`error`), the units directory's files
//! (`unit_files`), the pushed state subscription ([`StateChanges`]) and its bounds
//! ([`limits`]); with the `conformance` feature, the suite every implementation of the port
//! passes ([`conformance`]).
//!
//! Invariants: no zbus or zvariant type appears in a public signature; blocking file work
//! never runs on a tokio worker; nothing polls systemd on a timer. Depends on fleet-core
//! (the port), zbus and tokio; no other workspace crate.

#![warn(missing_docs)]

mod adapter;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
pub mod limits;
mod proxy;
mod unit_files;
mod watch;

pub use adapter::{Bus, DbusSystemd};
pub use watch::StateChanges;

#[cfg(test)]
mod real_host_tests;
