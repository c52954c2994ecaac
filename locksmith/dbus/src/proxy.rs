//! The zbus proxies of update_engine's and logind's D-Bus APIs: only the members locksmith
//! uses. Nothing here is public outside the crate.

/// update_engine's interface (and the stand-in's).
pub(crate) const UPDATE_INTERFACE: &str = "com.coreos.update1.Manager";
/// update_engine's object.
pub(crate) const UPDATE_PATH: &str = "/com/coreos/update1";
/// update_engine's well-known name.
pub(crate) const UPDATE_SERVICE: &str = "com.coreos.update1";
/// logind's well-known name.
pub(crate) const LOGIND_SERVICE: &str = "org.freedesktop.login1";
/// logind's manager object.
pub(crate) const LOGIND_PATH: &str = "/org/freedesktop/login1";

/// `com.coreos.update1.Manager`.
#[zbus::proxy(
    interface = "com.coreos.update1.Manager",
    default_service = "com.coreos.update1",
    default_path = "/com/coreos/update1",
    gen_blocking = false
)]
pub(crate) trait UpdateEngine {
    /// `(last_checked_time, progress, current_operation, new_version, new_size)`.
    fn get_status(&self) -> zbus::Result<(i64, f64, String, String, i64)>;

    /// The same five fields, on every change.
    #[zbus(signal)]
    fn status_update(
        &self,
        last_checked_time: i64,
        progress: f64,
        current_operation: String,
        new_version: String,
        new_size: i64,
    ) -> zbus::Result<()>;
}

/// `org.freedesktop.login1.Manager`.
#[zbus::proxy(
    interface = "org.freedesktop.login1.Manager",
    default_service = "org.freedesktop.login1",
    default_path = "/org/freedesktop/login1",
    gen_blocking = false
)]
pub(crate) trait Logind {
    /// Reboots the machine; `interactive` asks polkit to prompt.
    fn reboot(&self, interactive: bool) -> zbus::Result<()>;
}
