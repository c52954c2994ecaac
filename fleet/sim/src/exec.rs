//! What a unit's main process does in the model, read from its file: it runs until stopped,
//! or it exits with a status after [`Model::run_time`](crate::Model).
//!
//! The model reads the last `[Service] ExecStart=` only: `/bin/true` exits 0, `/bin/false`
//! exits 1, a command holding `exit N` exits N; anything else runs until stopped. A unit
//! that is not a service runs (is active) until stopped.

use fleet_core::options::is_truthy;
use fleet_core::unit_file::UnitFile;

/// How the main process of a unit behaves in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Runs until stopped.
    Runs,
    /// Exits with this status; `remains` when the unit stays active after a clean exit
    /// (`RemainAfterExit=`).
    Exits {
        /// The exit status.
        status: i32,
        /// `RemainAfterExit=` is true.
        remains: bool,
    },
}

/// The behaviour of `file`'s main process.
pub(crate) fn behaviour(file: &UnitFile) -> Behaviour {
    let remains = file
        .last_value("Service", "RemainAfterExit")
        .is_some_and(is_truthy);
    let Some(command) = file.last_value("Service", "ExecStart") else {
        return Behaviour::Runs;
    };
    let status = match command {
        "/bin/true" => Some(0),
        "/bin/false" => Some(1),
        _ => exit_status(command),
    };
    match status {
        Some(status) => Behaviour::Exits { status, remains },
        None => Behaviour::Runs,
    }
}

/// `N` of the first `exit N` in `command`.
fn exit_status(command: &str) -> Option<i32> {
    let words: Vec<&str> = command
        .split(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == ';')
        .filter(|word| !word.is_empty())
        .collect();
    words
        .windows(2)
        .find(|pair| pair[0] == "exit")
        .and_then(|pair| pair[1].parse().ok())
}

#[cfg(test)]
mod tests {
    //! Method: a table of unit files.

    use super::*;

    #[test]
    fn commands_are_modelled_by_their_exit() {
        // Goal: true, false and `exit N` exit with their status; anything else runs.
        let cases = [
            (
                "[Service]\nExecStart=/bin/true\n",
                Behaviour::Exits {
                    status: 0,
                    remains: false,
                },
            ),
            (
                "[Service]\nExecStart=/bin/false\n",
                Behaviour::Exits {
                    status: 1,
                    remains: false,
                },
            ),
            (
                "[Service]\nExecStart=/bin/sh -c 'exit 3'\nRemainAfterExit=yes\n",
                Behaviour::Exits {
                    status: 3,
                    remains: true,
                },
            ),
            ("[Service]\nExecStart=/bin/sleep 600\n", Behaviour::Runs),
            ("[Timer]\nOnActiveSec=1\n", Behaviour::Runs),
        ];
        for (text, expected) in cases {
            let file = UnitFile::parse(text).expect("valid unit file");
            assert_eq!(behaviour(&file), expected, "{text}");
        }
    }
}
