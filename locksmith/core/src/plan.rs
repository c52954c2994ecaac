//! locksmithd's decision: from what it knows now (whether the OS needs a reboot, whether this
//! host holds a slot, whether the window is open, whether the host is ready after boot) to
//! the one next step. The daemon gathers the facts, takes the step, and asks again; the
//! decision itself reads no clock and does no I/O.
//!
//! The rules, locksmith's with its reported bugs fixed:
//! - With no reboot needed, a slot this host holds is from before its last boot: it is given
//!   back once the readiness check passes (locksmith released it as soon as etcd answered).
//! - With a reboot needed outside the window, a held slot is given back rather than sat on
//!   until the window opens (flatcar/Flatcar#408), then the daemon waits for the window.
//! - Inside the window, `etcd-lock` takes a slot and reboots only while holding one; the
//!   window is checked again after the slot is taken, so a slot won late never reboots the
//!   host outside its window (coreos/bugs#1886).
//! - `etcd-lock` never reboots without a slot, whatever the store answers.

use jiff::Timestamp;

use crate::config::Strategy;

/// What the OS updater says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// An update is installed and needs a reboot.
    NeedsReboot,
    /// Anything else (idle, checking, downloading, ...).
    NotYet,
}

/// Whether this host holds a slot of its group's semaphore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// It does.
    Held,
    /// It does not.
    Free,
    /// The store could not be read.
    Unknown,
}

/// What the daemon knows at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The updater's status.
    pub update: Update,
    /// This host's slot (always `Free` under strategies other than `etcd-lock`).
    pub slot: Slot,
    /// `None` when the window is open now; else when it next opens.
    pub window_opens: Option<Timestamp>,
    /// Whether the readiness check passes (true without one).
    pub ready: bool,
}

/// The next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Give this host's slot back.
    Release,
    /// Take a slot.
    Lock,
    /// Reboot now.
    Reboot,
    /// Wait for the updater to say a reboot is needed (or the store to answer).
    WaitForUpdate,
    /// Wait for the readiness check to pass, then release.
    WaitForReady,
    /// Wait until the window opens.
    WaitForWindow(Timestamp),
}

/// The next step under `strategy` given `facts`.
#[must_use]
pub fn next_step(strategy: Strategy, facts: Facts) -> Step {
    let locking = strategy == Strategy::EtcdLock;
    if strategy == Strategy::Off {
        return Step::WaitForUpdate;
    }
    if facts.update == Update::NotYet {
        return match (locking, facts.slot, facts.ready) {
            (true, Slot::Held, true) => Step::Release,
            (true, Slot::Held, false) => Step::WaitForReady,
            _ => Step::WaitForUpdate,
        };
    }
    if let Some(opens) = facts.window_opens {
        return match (locking, facts.slot) {
            (true, Slot::Held) => Step::Release,
            _ => Step::WaitForWindow(opens),
        };
    }
    match (locking, facts.slot) {
        (false, _) | (true, Slot::Held) => Step::Reboot,
        (true, Slot::Free) => Step::Lock,
        (true, Slot::Unknown) => Step::WaitForUpdate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATER: Timestamp = Timestamp::UNIX_EPOCH;

    fn facts(update: Update, slot: Slot, open: bool, ready: bool) -> Facts {
        Facts {
            update,
            slot,
            window_opens: (!open).then_some(LATER),
            ready,
        }
    }

    // Goal: every combination of facts gets the step the rules give; no combination reboots
    // `etcd-lock` without a slot. Method: the table of all combinations that matter.
    #[test]
    fn decision_table() {
        use Slot::{Free, Held, Unknown};
        use Step::*;
        use Update::{NeedsReboot as Need, NotYet};
        let etcd = Strategy::EtcdLock;
        for (update, slot, open, ready, step) in [
            (NotYet, Held, true, true, Release),
            (NotYet, Held, false, true, Release),
            (NotYet, Held, true, false, WaitForReady),
            (NotYet, Free, true, true, WaitForUpdate),
            (NotYet, Unknown, true, true, WaitForUpdate),
            (Need, Free, true, true, Lock),
            (Need, Held, true, true, Reboot),
            (Need, Held, true, false, Reboot),
            (Need, Unknown, true, true, WaitForUpdate),
            (Need, Free, false, true, WaitForWindow(LATER)),
            (Need, Held, false, true, Release),
            (Need, Unknown, false, true, WaitForWindow(LATER)),
        ] {
            assert_eq!(
                next_step(etcd, facts(update, slot, open, ready)),
                step,
                "{update:?} {slot:?} open={open} ready={ready}"
            );
        }
        for slot in [Free, Unknown] {
            for open in [true, false] {
                for ready in [true, false] {
                    for update in [Need, NotYet] {
                        let step = next_step(etcd, facts(update, slot, open, ready));
                        assert_ne!(step, Reboot, "{update:?} {slot:?} {open} {ready}");
                    }
                }
            }
        }
    }

    // Goal: `reboot` ignores slots and reboots inside the window only; `off` never acts.
    // Method: a table.
    #[test]
    fn reboot_and_off() {
        let reboot = Strategy::Reboot;
        assert_eq!(
            next_step(reboot, facts(Update::NeedsReboot, Slot::Free, true, true)),
            Step::Reboot
        );
        assert_eq!(
            next_step(reboot, facts(Update::NeedsReboot, Slot::Free, false, true)),
            Step::WaitForWindow(LATER)
        );
        assert_eq!(
            next_step(reboot, facts(Update::NotYet, Slot::Free, true, true)),
            Step::WaitForUpdate
        );
        assert_eq!(
            next_step(
                Strategy::Off,
                facts(Update::NeedsReboot, Slot::Held, true, true)
            ),
            Step::WaitForUpdate
        );
    }
}
