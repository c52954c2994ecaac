//! The systemd manager fleetd drives: the caller's own user manager when one answers on
//! `$XDG_RUNTIME_DIR/bus`, else (as root) a private `systemd --user` in a host of its own
//! (keel-host), with a machine ID kept in the data directory so fleet sees the same machine
//! on every run.

use crate::plan::Manager;
use crate::StackError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which manager to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// The caller's own user manager if it answers, else a private one.
    Auto,
    /// The caller's own user manager only.
    Own,
    /// A private `systemd --user` (needs root).
    Private,
}

/// The manager in use; a private one stops when this is dropped.
pub enum Running {
    Own { bus: String },
    Private(Box<keel_host::Host>),
}

impl Running {
    /// What the plan needs to know of it.
    pub fn plan(&self) -> Manager {
        match self {
            Running::Own { bus } => Manager::Own { bus: bus.clone() },
            Running::Private(host) => Manager::Private {
                bus: host.session_bus_address(),
            },
        }
    }

    /// The private manager's host, when it is one.
    pub fn host(&self) -> Option<&keel_host::Host> {
        match self {
            Running::Own { .. } => None,
            Running::Private(host) => Some(host),
        }
    }
}

/// Finds or starts the manager `choice` asks for.
///
/// # Errors
/// No user manager answers (for `own`), a private one cannot run here (for `private`, or
/// `auto` without an own one), or it did not start.
pub fn start(choice: Choice, data_dir: &Path) -> Result<Running, StackError> {
    let own = own_bus();
    match (choice, own) {
        (Choice::Auto | Choice::Own, Some(bus)) => Ok(Running::Own { bus }),
        (Choice::Own, None) => Err(StackError::NoManager {
            reason: "no user manager answers on $XDG_RUNTIME_DIR/bus".into(),
        }),
        (Choice::Auto | Choice::Private, _) => {
            let missing = keel_host::missing();
            if !missing.is_empty() {
                return Err(StackError::NoManager {
                    reason: format!(
                        "no user manager answers on $XDG_RUNTIME_DIR/bus, and a private one needs {}",
                        missing.join(", ")
                    ),
                });
            }
            let config = keel_host::HostConfig {
                name: "keel-stack".into(),
                machine_id: machine_id(&data_dir.join("machine-id"))?,
                namespace: None,
                dir: data_dir.join("host"),
            };
            // Detached: a terminal's Ctrl-C must reach only the stack, which stops fleetd
            // before the host.
            Ok(Running::Private(Box::new(keel_host::Host::start_detached(
                config,
            )?)))
        }
    }
}

/// The session bus of the caller's user manager, when `systemctl --user` reaches it.
fn own_bus() -> Option<String> {
    let runtime = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    if !runtime.join("bus").exists() {
        return None;
    }
    let state = Command::new("systemctl")
        .args(["--user", "is-system-running"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let state = String::from_utf8_lossy(&state.stdout);
    matches!(state.trim(), "running" | "degraded")
        .then(|| format!("unix:path={}", runtime.join("bus").display()))
}

/// The machine ID kept at `path`: read, or made once from the kernel's random UUID.
fn machine_id(path: &Path) -> Result<String, StackError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let id = text.trim();
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_ascii_lowercase());
        }
    }
    let uuid_path = Path::new("/proc/sys/kernel/random/uuid");
    let uuid = std::fs::read_to_string(uuid_path).map_err(StackError::io("reading", uuid_path))?;
    let id: String = uuid.trim().chars().filter(|c| *c != '-').collect();
    std::fs::write(path, format!("{id}\n")).map_err(StackError::io("writing", path))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the machine ID is made once and then kept, and a damaged file is replaced.
    /// Method: three reads of one path, the file overwritten with garbage before the third.
    #[test]
    fn machine_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("machine-id");
        let first = machine_id(&path).unwrap();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(machine_id(&path).unwrap(), first);
        std::fs::write(&path, "not an id\n").unwrap();
        let third = machine_id(&path).unwrap();
        assert_ne!(third, first);
        assert_eq!(machine_id(&path).unwrap(), third);
    }
}
