//! What every command runs with: the client, the output sinks, the polling pace, and a cache
//! of the cluster's machines for legends (fleet's `cachedMachineState`).
//!
//! Owns [`Session`], [`Console`], [`Poll`], [`Blocking`] and the machine legends. Invariants:
//! output goes only through [`Console`] (so commands are testable with in-memory sinks); a
//! failure to write to a sink is ignored, as fleet's `fmt.Print*` ignores it, and never
//! changes an exit code; the machine list is fetched at most once per missing ID.

use crate::client::Client;
use fleet_api::entities::Machine;
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

/// Length of a machine's short ID (fleet's `ShortID`).
pub const SHORT_ID_LENGTH: usize = 8;

/// Where a command writes: fleet's stdout and stderr.
pub struct Console<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl<'a> Console<'a> {
    /// A console writing to `out` and `err`.
    pub fn new(out: &'a mut dyn Write, err: &'a mut dyn Write) -> Console<'a> {
        Console { out, err }
    }

    /// Writes `text` and a newline to stdout.
    pub fn out_line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    /// Writes `text` as it is to stdout.
    pub fn out_text(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Writes `text` and a newline to stderr.
    pub fn err_line(&mut self, text: &str) {
        let _ = writeln!(self.err, "{text}");
    }

    /// stdout itself, for streamed bodies.
    pub fn stdout(&mut self) -> &mut dyn Write {
        self.out
    }

    /// Flushes both sinks.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}

/// How waiting polls fleetd: fleet's fleetctl checks every 250 ms, and one "attempt" of
/// `--block-attempts` lasts up to 2 s, so it is 8 polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// Time between two polls.
    pub interval: Duration,
    /// Polls that make one attempt.
    pub polls_per_attempt: u32,
}

impl Default for Poll {
    fn default() -> Poll {
        Poll {
            interval: Duration::from_millis(250),
            polls_per_attempt: 8,
        }
    }
}

/// Whether and how long a command waits for its units (fleet's `getBlockAttempts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    /// `--no-block`: trigger and return.
    NoBlock,
    /// Wait forever (`--block-attempts=0`, the default).
    Forever,
    /// Wait for up to this many attempts (at least 1).
    Attempts(u32),
}

impl Blocking {
    /// From `--no-block` and `--block-attempts`; `--no-block` wins, as in fleet.
    #[must_use]
    pub fn from_flags(no_block: bool, block_attempts: u32) -> Blocking {
        match (no_block, block_attempts) {
            (true, _) => Blocking::NoBlock,
            (false, 0) => Blocking::Forever,
            (false, attempts) => Blocking::Attempts(attempts),
        }
    }

    /// The number of polls allowed, `None` for no limit (also for `NoBlock`, which does not
    /// poll at all).
    #[must_use]
    pub fn polls_max(self, poll: Poll) -> Option<u64> {
        match self {
            Blocking::Attempts(attempts) => {
                Some(u64::from(attempts) * u64::from(poll.polls_per_attempt.max(1)))
            }
            Blocking::NoBlock | Blocking::Forever => None,
        }
    }
}

/// A command's environment.
pub struct Session<'a> {
    /// The client of fleetd.
    pub client: Client,
    /// The polling pace.
    pub poll: Poll,
    /// The output sinks.
    pub console: Console<'a>,
    machines: Option<Vec<Machine>>,
    /// IDs looked up and absent from a fresh list, so they are not fetched again.
    missing: BTreeSet<String>,
}

impl<'a> Session<'a> {
    /// A session over `client`, polling at `poll`, writing to `console`.
    pub fn new(client: Client, poll: Poll, console: Console<'a>) -> Session<'a> {
        Session {
            client,
            poll,
            console,
            machines: None,
            missing: BTreeSet::new(),
        }
    }

    /// The live machine `id`, from the cached list; the list is fetched again when `id` is
    /// not in it (a machine that joined since), once per such ID. A failed fetch counts as
    /// unknown.
    pub async fn machine(&mut self, id: &str) -> Option<Machine> {
        let cached = self
            .machines
            .as_ref()
            .and_then(|machines| machines.iter().find(|machine| machine.id == id));
        if let Some(machine) = cached {
            return Some(machine.clone());
        }
        if self.missing.contains(id) {
            return None;
        }
        match self.client.machines().await {
            Ok(machines) => {
                let found = machines.iter().find(|machine| machine.id == id).cloned();
                if found.is_none() {
                    self.missing.insert(id.to_owned());
                }
                self.machines = Some(machines);
                found
            }
            Err(error) => {
                tracing::debug!(%error, "machine list unavailable for legends");
                None
            }
        }
    }
}

/// fleet's `machineIDLegend`: the first 8 characters of the ID and `...`, or the whole ID
/// with `full`.
#[must_use]
pub fn machine_id_legend(id: &str, full: bool) -> String {
    if full {
        id.to_owned()
    } else {
        let short: String = id.chars().take(SHORT_ID_LENGTH).collect();
        format!("{short}...")
    }
}

/// fleet's `machineFullLegend`: the ID legend, then `/<ip>` when the IP is known.
#[must_use]
pub fn machine_full_legend(machine: &Machine, full: bool) -> String {
    let legend = machine_id_legend(&machine.id, full);
    if machine.primary_ip.is_empty() {
        legend
    } else {
        format!("{legend}/{}", machine.primary_ip)
    }
}

#[cfg(test)]
mod tests {
    //! Legends and blocking flags. Method: literal values.

    use super::*;

    #[test]
    fn legends_are_fleets() {
        // Goal: short ID with `...`, full ID with `--full`, `/ip` only when known.
        let machine = Machine {
            id: "113f16a7bdc54e5d8a8aa5ec2c4c5bf6".into(),
            primary_ip: "172.17.8.103".into(),
            ..Machine::default()
        };
        assert_eq!(
            machine_full_legend(&machine, false),
            "113f16a7.../172.17.8.103"
        );
        assert_eq!(
            machine_full_legend(&machine, true),
            "113f16a7bdc54e5d8a8aa5ec2c4c5bf6/172.17.8.103"
        );
        let no_ip = Machine {
            id: "abc".into(),
            ..Machine::default()
        };
        assert_eq!(machine_full_legend(&no_ip, false), "abc...");
    }

    #[test]
    fn blocking_follows_fleets_flags() {
        // Goal: `--no-block` wins; 0 attempts is forever; N attempts is N × polls per attempt.
        assert_eq!(Blocking::from_flags(true, 3), Blocking::NoBlock);
        assert_eq!(Blocking::from_flags(false, 0), Blocking::Forever);
        let poll = Poll::default();
        assert_eq!(Blocking::from_flags(false, 2).polls_max(poll), Some(16));
        assert_eq!(Blocking::Forever.polls_max(poll), None);
    }
}
