//! `locksmith-core`: the pure, I/O-free core of Keel's locksmith: the reboot semaphore that
//! hosts take a slot of before they reboot, and when they may reboot.
//!
//! Owns:
//! - the semaphore document exactly as CoreOS locksmith stores it, with Keel's additions that
//!   older clients ignore, its key paths and its operations (lock, unlock, set-max, reap), each
//!   a function from one read of the document to the document to write ([`semaphore`]);
//! - reboot windows: locksmith's `[Day ]H:M` plus a length, and the opt-in syntax of several
//!   windows, weekday sets and a time zone, with their arithmetic ([`window`]);
//! - locksmithd's settings from its environment and `update.conf` files, and its state file's
//!   text ([`config`]); what update_engine reports ([`update`]); and the daemon's decision,
//!   from the facts of one moment to its next step ([`plan`]); the host services it drives,
//!   as traits ([`ports`]);
//! - the FleetLock protocol's requests and answers, for `fleetlockd` ([`fleetlock`]), and
//!   Go's flag spellings for the binaries ([`flags`]).
//!
//! Invariants: nothing here reads a clock, a file, the network or an environment variable:
//! time arrives as data. Must not depend on any workspace crate
//! (`scripts/check_crate_graph.py`), on tokio or on zbus.

#![warn(missing_docs)]

pub mod config;
pub mod flags;
pub mod fleetlock;
pub mod plan;
pub mod ports;
pub mod semaphore;
pub mod update;
pub mod window;
