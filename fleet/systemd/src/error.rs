//! From zbus errors to [`SystemdError`]: the one place that knows systemd's D-Bus error names
//! (systemd's `src/libsystemd/sd-bus/bus-common-errors.h` lists them) and which transport
//! failures mean "try again".
//!
//! Invariants: the result never carries a zbus type except as a type-erased `source`; no
//! decision anywhere else in the crate matches on an error name or message text. Depends on
//! zbus and fleet-core's port only.

use fleet_core::ports::SystemdError;
use zbus::DBusError as _;

/// Error names that say systemd has no such unit or unit file.
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
/// The unit is masked.
const UNIT_MASKED: &str = "org.freedesktop.systemd1.UnitMasked";
/// systemd 252 answers a job for a unit whose file failed to load with `EBADMSG`, which
/// sd-bus names `InconsistentMessage`; older versions used `LoadFailed`.
const LOAD_FAILED: [&str; 2] = [
    "org.freedesktop.DBus.Error.InconsistentMessage",
    "org.freedesktop.systemd1.LoadFailed",
];
/// systemd's refusals to build a job transaction.
const JOB_REFUSED: [&str; 6] = [
    "org.freedesktop.systemd1.TransactionIsDestructive",
    "org.freedesktop.systemd1.TransactionJobsConflicting",
    "org.freedesktop.systemd1.TransactionOrderIsCyclic",
    "org.freedesktop.systemd1.JobTypeNotApplicable",
    "org.freedesktop.systemd1.OnlyByDependency",
    "org.freedesktop.systemd1.ShuttingDown",
];
/// Denials by the bus policy or by polkit.
const ACCESS_DENIED: [&str; 2] = [
    "org.freedesktop.DBus.Error.AccessDenied",
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
];
/// The bus, not systemd, answered: no one owns the name, or the call timed out, or limits.
const BUS_TRANSIENT: [&str; 7] = [
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.LimitsExceeded",
];

/// `Subscribe` on a connection that already is: systemd 252 refuses a second one.
const ALREADY_SUBSCRIBED: &str = "org.freedesktop.systemd1.AlreadySubscribed";

/// Whether `Subscribe` failed only because this connection is subscribed already.
pub(crate) fn is_already_subscribed(error: &zbus::Error) -> bool {
    matches!(error, zbus::Error::MethodError(name, _, _) if name.as_str() == ALREADY_SUBSCRIBED)
}

/// The error of `method` (called about unit `name`, or `""` when about none).
pub(crate) fn classify(method: &'static str, name: &str, error: zbus::Error) -> SystemdError {
    match error {
        zbus::Error::MethodError(error_name, message, _) => answered(
            method,
            name,
            error_name.as_str(),
            message.unwrap_or_default(),
        ),
        zbus::Error::FDO(error) => {
            let message = error.description().unwrap_or_default().to_owned();
            answered(method, name, error.name().as_str(), message)
        }
        zbus::Error::Variant(_)
        | zbus::Error::InvalidReply
        | zbus::Error::MissingField
        | zbus::Error::InvalidField
        | zbus::Error::ExcessData
        | zbus::Error::IncorrectEndian => SystemdError::ReplyMalformed {
            method,
            source: Box::new(error),
        },
        other => SystemdError::BusUnavailable {
            method,
            source: Box::new(other),
        },
    }
}

/// An error reply named `error_name`.
fn answered(method: &'static str, name: &str, error_name: &str, message: String) -> SystemdError {
    let unit = || name.to_owned();
    if error_name == NO_SUCH_UNIT {
        SystemdError::UnitNotFound {
            name: unit(),
            message,
        }
    } else if error_name == UNIT_MASKED {
        SystemdError::UnitMasked { name: unit() }
    } else if LOAD_FAILED.contains(&error_name) {
        SystemdError::UnitNotLoadable {
            name: unit(),
            message,
        }
    } else if JOB_REFUSED.contains(&error_name) {
        SystemdError::JobRefused {
            name: unit(),
            error_name: error_name.to_owned(),
            message,
        }
    } else if ACCESS_DENIED.contains(&error_name) {
        SystemdError::AccessDenied { method, message }
    } else if BUS_TRANSIENT.contains(&error_name) {
        SystemdError::BusUnavailable {
            method,
            source: format!("{error_name}: {message}").into(),
        }
    } else {
        SystemdError::CallFailed {
            method,
            error_name: error_name.to_owned(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the error names seen from systemd 252's user manager (this crate's README) map to
    // their variants. Method: each name through `answered`.
    #[test]
    fn systemd_error_names_map_to_facts() {
        let not_found = answered(
            "StopUnit",
            "a.service",
            NO_SUCH_UNIT,
            "Unit a.service not loaded.".into(),
        );
        assert!(
            matches!(not_found, SystemdError::UnitNotFound { ref name, .. } if name == "a.service")
        );
        let bad = answered(
            "StartUnit",
            "b.service",
            "org.freedesktop.DBus.Error.InconsistentMessage",
            "Unit b.service failed to load properly".into(),
        );
        assert!(matches!(bad, SystemdError::UnitNotLoadable { .. }));
        let timeout = answered(
            "Reload",
            "",
            "org.freedesktop.DBus.Error.NoReply",
            String::new(),
        );
        assert!(timeout.is_transient());
        let other = answered("Reload", "", "org.example.Unheard", "?".into());
        assert!(
            matches!(other, SystemdError::CallFailed { ref error_name, .. } if error_name == "org.example.Unheard")
        );
        assert!(!other.is_transient());
    }
}
