//! Real test hosts on one machine: `keel-host`'s hosts (a private mount and PID namespace, and
//! when asked a network namespace of a [`crate::lab::Lab`], with its own system bus, journal
//! and `systemd --user`) with a test kit's manners: [`available`] skips a test outside CI
//! when the machine cannot run hosts and fails it in CI, and [`Host::exec`] and
//! [`Host::spawn`] panic where the library returns an error. Every other method is the
//! library's, through `Deref`. `docs/testing.md` ("Real hosts") lists what each host has and
//! the pitfalls handled.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Output};

pub use keel_host::{HostConfig, HostError, START_DEADLINE};

/// A running host. Dropping it kills it and removes its cgroups.
#[derive(Debug)]
pub struct Host(keel_host::Host);

impl Host {
    /// Starts a host and waits until its manager is up ([`keel_host::Host::start`]).
    ///
    /// # Errors
    /// As [`keel_host::Host::start`]; nothing is left running.
    pub fn start(config: HostConfig) -> Result<Host, HostError> {
        keel_host::Host::start(config).map(Host)
    }

    /// Runs `program args` inside the host to completion and returns what it printed.
    ///
    /// # Panics
    /// When `nsenter` cannot be started.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        self.0
            .exec(program, args)
            .unwrap_or_else(|e| panic!("nsenter for `{program}` could not start: {e}"))
    }

    /// Starts a long-running program inside the host ([`keel_host::Host::spawn`]).
    ///
    /// # Panics
    /// When its log cannot be opened or `nsenter` cannot be started.
    pub fn spawn(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
        self.0
            .spawn(program, args, env)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Deref for Host {
    type Target = keel_host::Host;

    fn deref(&self) -> &keel_host::Host {
        &self.0
    }
}

impl DerefMut for Host {
    fn deref_mut(&mut self) -> &mut keel_host::Host {
        &mut self.0
    }
}

/// Whether this machine can run hosts ([`keel_host::missing`]). Like
/// [`crate::reference_tools_present`]: outside CI a missing piece prints a `SKIPPED` notice
/// and returns the reason (the test then returns); in CI (`CI` set, `scripts/test.sh`
/// installs the packages) it fails the test.
///
/// # Errors
/// The reason, when something is missing outside CI.
///
/// # Panics
/// When something is missing and `CI` is set.
pub fn available() -> Result<(), String> {
    let missing = keel_host::missing();
    if missing.is_empty() {
        return Ok(());
    }
    let reason = format!("real test hosts need {}", missing.join(", "));
    assert!(std::env::var_os("CI").is_none(), "{reason}, but CI is set");
    eprintln!("SKIPPED: {reason}; set CI=1 to fail instead");
    Err(reason)
}
