//! What locksmithd does on its own host besides D-Bus: the coordinator state file (held with
//! an exclusive lock for the process's lifetime, rewritten atomically), the readiness check
//! (a command or an HTTP URL), the machine id, and the reboot command when one replaces
//! logind.

use anyhow::Context as _;
use locksmith_core::config::{coordinator_state, Strategy};
use locksmith_core::ports::{HostError, Rebooter};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the host's id is read.
const MACHINE_ID_PATH: &str = "/etc/machine-id";

/// How long one readiness probe may take.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// This host's machine id, trimmed.
///
/// # Errors
/// When `/etc/machine-id` cannot be read or is empty.
pub fn machine_id() -> anyhow::Result<String> {
    let text = std::fs::read_to_string(MACHINE_ID_PATH)
        .with_context(|| format!("cannot read {MACHINE_ID_PATH}"))?;
    let id = text.trim().to_owned();
    anyhow::ensure!(!id.is_empty(), "{MACHINE_ID_PATH} is empty");
    Ok(id)
}

/// The coordinator state file, locked while this process lives.
pub struct StateFile {
    path: PathBuf,
    strategy: Strategy,
    _held: File,
}

impl StateFile {
    /// Takes the file (creating its directory), failing when another coordinator holds it,
    /// and records `starting`.
    ///
    /// # Errors
    /// When the file cannot be written or another process holds its lock.
    pub fn take(path: &Path, strategy: Strategy) -> anyhow::Result<StateFile> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.try_lock().map_err(|_| {
            anyhow::anyhow!(
                "{} is locked: another update coordinator owns updates",
                path.display()
            )
        })?;
        let mut state = StateFile {
            path: path.to_owned(),
            strategy,
            _held: file,
        };
        state.set("starting")?;
        Ok(state)
    }

    /// Records `state` (`running`, `reboot-planned`, `rebooting`): a locked temporary file
    /// renamed over the old one, so readers never see half a file and the lock stays held.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn set(&mut self, state: &str) -> anyhow::Result<()> {
        let temporary = self.path.with_extension("tmp");
        let mut file = File::create(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        file.try_lock()
            .with_context(|| format!("cannot lock {}", temporary.display()))?;
        file.write_all(coordinator_state(self.strategy, state).as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))?;
        self._held = file;
        tracing::debug!(state, "coordinator state");
        Ok(())
    }
}

/// How the daemon tells that the host is ready after boot.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// Always ready.
    Always,
    /// `sh -c <command>` exits 0.
    Command(String),
    /// A GET of the URL answers 2xx.
    Url(String),
}

impl Readiness {
    /// Whether the host is ready now.
    pub async fn check(&self) -> bool {
        match self {
            Readiness::Always => true,
            Readiness::Command(command) => run_shell(command).await.is_ok(),
            Readiness::Url(url) => {
                let url = url.clone();
                let probe = tokio::task::spawn_blocking(move || {
                    ureq::get(&url).timeout(READY_TIMEOUT).call().is_ok()
                });
                probe.await.unwrap_or(false)
            }
        }
    }
}

/// `sh -c <command>`, successful when it exits 0.
async fn run_shell(command: &str) -> Result<(), String> {
    let status = tokio::process::Command::new("/bin/sh")
        .args(["-c", command])
        .status()
        .await
        .map_err(|error| error.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("exited with {status}"))
    }
}

/// A reboot by a configured command instead of logind.
pub struct CommandRebooter {
    /// The command, run by `sh -c`.
    pub command: String,
}

impl Rebooter for CommandRebooter {
    async fn reboot(&self) -> Result<(), HostError> {
        run_shell(&self.command)
            .await
            .map_err(|message| HostError::Call {
                call: "LOCKSMITHD_REBOOT_COMMAND",
                message,
            })
    }
}
