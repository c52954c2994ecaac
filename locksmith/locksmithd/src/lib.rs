//! `locksmithd`'s library: the daemon's loop ([`run`]), what it does on its host besides
//! D-Bus ([`host`]), and the wiring from settings to a running daemon ([`setup`]). The binary
//! (`main.rs`) reads the settings and runs it.
//!
//! Must not depend on the store's crates (Keel is reached through `locksmith-store` and
//! `kv-client`) nor on zbus (only through `locksmith-dbus`).

pub mod host;
pub mod metrics;
pub mod run;
pub mod setup;
