//! The stack's child processes: started from a [`Part`], on the machine or inside the
//! private manager's host, their output appended to a log; stopped by PID with SIGTERM, then
//! SIGKILL after [`STOP_DEADLINE`].
//!
//! A child on the machine runs in a process group of its own, so a terminal's Ctrl-C
//! reaches only the stack, which then stops the parts in reverse order; through `setpriv
//! --pdeathsig TERM` (util-linux, on every Debian; without it a warning says the parts
//! outlive a killed stack) it is also told to stop when the stack dies without stopping it.
//! A child in the host dies with the host (keel-host's `spawn`, in a detached host).
//!
//! A log is appended to across runs; a part's readiness and error messages read only what
//! it wrote in this run (from the log's length at its start).

use crate::plan::{Part, Place};
use crate::StackError;
use rustix::process::{kill_process, Pid, Signal};
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a part may take to exit after SIGTERM before it gets SIGKILL.
pub const STOP_DEADLINE: Duration = Duration::from_secs(15);

/// How often a stopping part is looked at.
const STOP_POLL: Duration = Duration::from_millis(20);

/// util-linux's `setpriv`, which sets the parent-death signal and execs the program.
const SETPRIV: &str = "/usr/bin/setpriv";

/// Lines of a part's log shown when it fails.
const LOG_TAIL_LINES: usize = 20;

/// A running part.
pub struct Child {
    pub name: String,
    log: PathBuf,
    /// The log's length when this run of the part started.
    log_start: u64,
    process: std::process::Child,
    /// For a part in a host (its index, [`Place::Host`]): `process` is its `nsenter`, and
    /// the program's PID is found through the host.
    host: Option<usize>,
}

impl Child {
    /// Starts `part` on the machine, its output appended to `<logs>/<name>.log`.
    ///
    /// # Errors
    /// The log cannot be opened or the program cannot be started.
    pub fn start_on_machine(part: &Part, logs: &Path) -> Result<Child, StackError> {
        debug_assert_eq!(part.place, Place::Machine);
        let log = logs.join(format!("{}.log", part.name));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(StackError::io("opening", &log))?;
        let log_start = file.metadata().map_or(0, |meta| meta.len());
        let stderr = file.try_clone().map_err(StackError::io("opening", &log))?;
        let mut command = if Path::new(SETPRIV).exists() {
            let mut command = Command::new(SETPRIV);
            command
                .args(["--pdeathsig", "TERM", "--"])
                .arg(&part.program);
            command
        } else {
            tracing::warn!(
                part = %part.name,
                "no {SETPRIV} (util-linux): the part outlives the stack if the stack is killed"
            );
            Command::new(&part.program)
        };
        let process = command
            .args(&part.args)
            .envs(part.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(StackError::io("starting", &part.program))?;
        Ok(Child {
            name: part.name.clone(),
            log,
            log_start,
            process,
            host: None,
        })
    }

    /// Starts `part` inside `host`; its log is the host's `<program>.log`.
    ///
    /// # Errors
    /// The log cannot be opened or `nsenter` cannot be started.
    pub fn start_in_host(part: &Part, host: &keel_host::Host) -> Result<Child, StackError> {
        let Place::Host(index) = part.place else {
            return Err(StackError::Flag(format!(
                "{} runs on the machine",
                part.name
            )));
        };
        let program = part.program.display().to_string();
        let args: Vec<&str> = part.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = part
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let file_name = part
            .program
            .file_name()
            .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
        let log = host.dir().join(format!("{file_name}.log"));
        let log_start = std::fs::metadata(&log).map_or(0, |meta| meta.len());
        let process = host.spawn(&program, &args, &env)?;
        Ok(Child {
            name: part.name.clone(),
            log,
            log_start,
            process,
            host: Some(index),
        })
    }

    /// The index of the host it runs in ([`Place::Host`]), `None` on the machine.
    pub fn host(&self) -> Option<usize> {
        self.host
    }

    /// Its exit status once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// What the part wrote to its log in this run (empty when it cannot be read).
    pub fn log_text(&self) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        let start = usize::try_from(self.log_start).unwrap_or(usize::MAX);
        String::from_utf8_lossy(bytes.get(start..).unwrap_or_default()).into_owned()
    }

    /// The log's last lines, for an error message.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "{} (from {}):\n{}",
            self.name,
            self.log.display(),
            lines[start..].join("\n")
        )
    }

    /// The program's PID: the child's own, or for a part in the host the program that its
    /// `nsenter` started.
    fn program_pid(&self, host: Option<&keel_host::Host>) -> Option<u32> {
        if self.host.is_some() {
            host.and_then(|host| host.program_pid(&self.process))
        } else {
            Some(self.process.id())
        }
    }

    /// SIGTERM, then SIGKILL after [`STOP_DEADLINE`]; waits until it has exited. `host` is
    /// the one it runs in ([`Child::host`]), for a part inside one.
    pub fn stop(&mut self, host: Option<&keel_host::Host>) {
        if self.exited().is_some() {
            return;
        }
        let signalled = self
            .program_pid(host)
            .and_then(|pid| i32::try_from(pid).ok())
            .and_then(Pid::from_raw)
            .is_some_and(|pid| kill_process(pid, Signal::TERM).is_ok());
        if !signalled {
            tracing::warn!(
                part = %self.name,
                "no process to send SIGTERM to; killing it"
            );
        }
        let deadline = Instant::now() + STOP_DEADLINE;
        while signalled && Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(STOP_POLL);
        }
        if signalled {
            tracing::warn!(part = %self.name, "did not stop after SIGTERM; killing it");
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
