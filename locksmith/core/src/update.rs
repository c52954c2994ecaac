//! What update_engine reports (`com.coreos.update1.Manager`'s `GetStatus` reply and
//! `StatusUpdate` signal, both `(x last_checked_time, d progress, s current_operation,
//! s new_version, x new_size)`), and what locksmithd makes of it: only
//! `UPDATE_STATUS_UPDATED_NEED_REBOOT` asks for a reboot; every other operation, known or not,
//! is "not yet".

use crate::plan::Update;

/// The operation that asks for a reboot.
pub const NEED_REBOOT: &str = "UPDATE_STATUS_UPDATED_NEED_REBOOT";

/// One status report.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateStatus {
    /// When update_engine last checked, seconds since the Unix epoch.
    pub last_checked_time: i64,
    /// Download progress, 0 to 1.
    pub progress: f64,
    /// `UPDATE_STATUS_IDLE`, `UPDATE_STATUS_DOWNLOADING`, ..., [`NEED_REBOOT`].
    pub current_operation: String,
    /// The version being installed.
    pub new_version: String,
    /// Its size in bytes.
    pub new_size: i64,
}

impl UpdateStatus {
    /// Whether it asks for a reboot.
    #[must_use]
    pub fn update(&self) -> Update {
        if self.current_operation == NEED_REBOOT {
            Update::NeedsReboot
        } else {
            Update::NotYet
        }
    }

    /// The line locksmithd prints for each status it receives.
    #[must_use]
    pub fn log_line(&self) -> String {
        format!(
            "LastCheckedTime={} Progress={} CurrentOperation={:?} NewVersion={} NewSize={}",
            self.last_checked_time,
            self.progress,
            self.current_operation,
            self.new_version,
            self.new_size
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: only the need-reboot operation asks for a reboot; the log line is locksmith's.
    // Method: a table of operations, and one line golden.
    #[test]
    fn operations() {
        let status = |operation: &str| UpdateStatus {
            last_checked_time: 1_700_000_000,
            progress: 0.5,
            current_operation: operation.to_owned(),
            new_version: "3510.2.0".to_owned(),
            new_size: 100,
        };
        for operation in [
            "UPDATE_STATUS_IDLE",
            "UPDATE_STATUS_DOWNLOADING",
            "",
            "SOMETHING_NEW",
        ] {
            assert_eq!(status(operation).update(), Update::NotYet, "{operation}");
        }
        assert_eq!(status(NEED_REBOOT).update(), Update::NeedsReboot);
        assert_eq!(
            status(NEED_REBOOT).log_line(),
            "LastCheckedTime=1700000000 Progress=0.5 CurrentOperation=\"UPDATE_STATUS_UPDATED_NEED_REBOOT\" NewVersion=3510.2.0 NewSize=100"
        );
    }
}
