//! The zbus proxies of systemd's D-Bus API: the Manager object and the Unit and Service
//! interfaces, only
//! the members the agent uses (systemd's `org.freedesktop.systemd1(5)` documents them).
//!
//! Invariants: nothing here is public outside the crate, so no D-Bus type leaves it. Property
//! caching is off for every proxy the adapter builds: the subscription is the one source of
//! pushed state, and zbus' cache would subscribe every proxy to signals of its own.

use zbus::zvariant::OwnedObjectPath;

/// Systemd's well-known name on the system bus and on a user manager's session bus.
pub(crate) const SYSTEMD_SERVICE: &str = "org.freedesktop.systemd1";
/// The Unit interface, whose `PropertiesChanged` signals carry state changes.
pub(crate) const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
/// Where unit objects live: the subscription's match rule covers this namespace.
pub(crate) const UNIT_PATH_NAMESPACE: &str = "/org/freedesktop/systemd1/unit";

/// A change of the unit file links, as systemd reports it: (type, file, destination).
pub(crate) type UnitFileChange = (String, String, String);

/// One row of `ListUnitsByNames`: name, description, load state, active state, sub state,
/// followed unit, object path, job id, job type, job path.
pub(crate) type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// `org.freedesktop.systemd1.Manager`.
#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
pub(crate) trait Manager {
    /// Symlinks unit files (absolute paths) into the unit search path.
    fn link_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<Vec<UnitFileChange>>;

    /// Enables unit files: the links their `[Install]` sections ask for.
    fn enable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
        force: bool,
    ) -> zbus::Result<(bool, Vec<UnitFileChange>)>;

    /// Removes every link of the named unit files (in the runtime or the persistent tree).
    fn disable_unit_files(
        &self,
        files: &[&str],
        runtime: bool,
    ) -> zbus::Result<Vec<UnitFileChange>>;

    /// `daemon-reload`; the reply comes once the manager has reloaded.
    fn reload(&self) -> zbus::Result<()>;

    /// Queues a start job; returns the job's path.
    fn start_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Queues a stop job; returns the job's path.
    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    /// Resets the unit's failed state.
    fn reset_failed_unit(&self, name: &str) -> zbus::Result<()>;

    /// Loads the unit if needed and returns its object path (systemd escapes the name).
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// Sets properties of a loaded unit and writes them as a drop-in (under `/run` when
    /// `runtime`), e.g. `CPUQuotaPerSecUSec` and `MemoryMax`.
    fn set_unit_properties(
        &self,
        name: &str,
        runtime: bool,
        properties: &[(&str, zbus::zvariant::Value<'_>)],
    ) -> zbus::Result<()>;

    /// Asks the manager to emit unit and job signals to this connection.
    fn subscribe(&self) -> zbus::Result<()>;

    /// `Reloading(active)`: `false` once a daemon-reload has finished.
    #[zbus(signal)]
    fn reloading(&self, active: bool) -> zbus::Result<()>;
}

/// `org.freedesktop.systemd1.Unit`, the three state properties.
#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
pub(crate) trait Unit {
    /// `LoadState`.
    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;

    /// `ActiveState`.
    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;

    /// `SubState`.
    #[zbus(property)]
    fn sub_state(&self) -> zbus::Result<String>;

    /// `Job`: the unit's queued job, `(0, "/")` when none.
    #[zbus(property)]
    fn job(&self) -> zbus::Result<(u32, zbus::zvariant::OwnedObjectPath)>;
}

/// `org.freedesktop.systemd1.Service`, what a batch job's completion reports.
#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
pub(crate) trait Service {
    /// `ExecMainStartTimestamp`: microseconds since the epoch; 0 when it never started.
    #[zbus(property)]
    fn exec_main_start_timestamp(&self) -> zbus::Result<u64>;

    /// `ExecMainExitTimestamp`: microseconds since the epoch; 0 while it runs.
    #[zbus(property)]
    fn exec_main_exit_timestamp(&self) -> zbus::Result<u64>;

    /// `ExecMainStatus`: exit status or signal number.
    #[zbus(property)]
    fn exec_main_status(&self) -> zbus::Result<i32>;

    /// `Result`: `success`, `exit-code`, `signal`, ...
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;
}
