//! Running the real `etcdctl` in v2 mode: to completion under a deadline, or in the background
//! (watch, exec-watch) until it exits or is killed. Output goes to files, so a chatty process
//! can never block on a full pipe.

use super::etcd::remove_etcd_environment;
use super::poll;
use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Debian's `etcd-client` installs it here.
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// etcdctl's own `--total-timeout` is 5 s; past this the harness kills it.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// How an etcdctl run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Ended by a signal the harness did not send.
    Signal(i32),
    /// Killed by the harness on purpose (exec-watch never exits by itself).
    Killed,
    /// Still running at its deadline, so killed.
    TimedOut,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(signal) => write!(f, "ended by signal {signal}"),
            Exit::Killed => write!(f, "killed by the harness"),
            Exit::TimedOut => write!(f, "killed at its deadline"),
        }
    }
}

/// What one etcdctl run printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub exit: Exit,
}

/// An etcdctl process the harness started; killed by PID on drop if still running.
pub struct Running {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Start `etcdctl <args>` with `ETCDCTL_API=2`, writing its output to `<output>.stdout` and
/// `<output>.stderr`.
pub fn spawn(args: &[String], output: &Path) -> Running {
    let stdout = output.with_extension("stdout");
    let stderr = output.with_extension("stderr");
    let mut command = Command::new(ETCDCTL);
    remove_etcd_environment(&mut command);
    command
        .env("ETCDCTL_API", "2")
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).expect("an output file in the temporary directory"))
        .stderr(std::fs::File::create(&stderr).expect("an output file in the temporary directory"));
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {ETCDCTL}: {error}"));
    Running {
        child: Some(child),
        stdout,
        stderr,
    }
}

/// Run `etcdctl <args>` to completion (or [`COMMAND_DEADLINE`]).
pub fn run(args: &[String], output: &Path) -> Outcome {
    spawn(args, output).wait(COMMAND_DEADLINE)
}

impl Running {
    /// Wait up to `deadline` for the process to exit; kill it if it does not.
    pub fn wait(mut self, deadline: Duration) -> Outcome {
        let child = self
            .child
            .as_mut()
            .expect("a Running owns its child until it ends");
        let waited = poll(deadline, "etcdctl to exit", || match child.try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err("still running".to_string()),
            Err(error) => Err(format!("waiting for etcdctl: {error}")),
        });
        match waited {
            Ok(status) => {
                self.child = None;
                let exit = match (status.code(), status.signal()) {
                    (Some(code), _) => Exit::Code(code),
                    (None, signal) => Exit::Signal(signal.unwrap_or(0)),
                };
                self.outcome(exit)
            }
            Err(_) => self.kill(Exit::TimedOut),
        }
    }

    /// Kill the process now (SIGKILL to its PID) and collect what it printed.
    pub fn stop(self) -> Outcome {
        self.kill(Exit::Killed)
    }

    fn kill(mut self, exit: Exit) -> Outcome {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.outcome(exit)
    }

    fn outcome(&self, exit: Exit) -> Outcome {
        let read = |path: &Path| {
            std::fs::read_to_string(path).unwrap_or_else(|error| format!("<unreadable: {error}>"))
        };
        Outcome {
            stdout: read(&self.stdout),
            stderr: read(&self.stderr),
            exit,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
