//! Hosts on one machine: each [`Host`] is a private mount and PID namespace (and, when asked,
//! a network namespace, such as one of testkit's lab) running its own system bus
//! (`dbus-daemon`), journal (`systemd-journald`, in memory) and systemd manager
//! (`systemd --user`, serving the real `org.freedesktop.systemd1` API), with its own
//! `/etc/machine-id`. The tests' hosts (testkit's `host` module) and `keel-stack`'s private
//! user manager are these. Callers run commands inside one ([`Host::exec`],
//! [`Host::command`]) and start daemons in it ([`Host::spawn`]); `docs/testing.md` ("Real
//! hosts") lists what each host has and the pitfalls handled here.
//!
//! Invariants:
//! - Each host's first process sits in cgroups of its own (`keel-host.<owner pid>.<name>`, in
//!   the unified hierarchy and in `name=systemd` when mounted), so several managers never
//!   build their unit cgroups at the same paths, and journald maps unit output to the host's
//!   own units.
//! - Everything a host mounts stays in its mount namespace (`--propagation private`), and
//!   every process of a host is in its PID namespace: `kill -9` of the first process ends them
//!   all. The launcher (`unshare --kill-child`) also takes the host down when it dies, so a
//!   test process killed by its runner's process-group signal leaves no host behind.
//! - Only processes this crate started are signalled, by PID: a host's first process, and on
//!   start the processes in cgroups left by an earlier owner process that died before its
//!   hosts were dropped.
//!
//! Needs root; [`missing`] says what this machine lacks to run hosts. Depends on no workspace
//! crate.

mod cgroup;
mod launch;
mod process;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cgroup::{cgroup_hierarchies, create_cgroups, remove_cgroups, remove_leftover_cgroups};
use launch::{launch, write_host_files, ENVIRONMENT_REMOVED};
use process::{parent_of, poll_until, processes_where};

/// How long a host may take until its manager answers (about 0.2 s when idle here; CI shares
/// 2 cores with builds).
pub const START_DEADLINE: Duration = Duration::from_secs(30);

/// How long the processes of a killed host may take to disappear, and its cgroups with them.
const CLEANUP_DEADLINE: Duration = Duration::from_secs(10);

/// The runtime directory (`XDG_RUNTIME_DIR`) inside every host: on the host's private `/run`.
const RUNTIME_DIR: &str = "/run/user/0";

/// The system bus socket inside every host.
const SYSTEM_BUS_ADDRESS: &str = "unix:path=/run/dbus/system_bus_socket";

/// Programs and files a host needs, each with the Debian package that provides it.
const REQUIREMENTS: &[(&str, &str)] = &[
    ("/usr/bin/unshare", "util-linux"),
    ("/usr/bin/nsenter", "util-linux"),
    ("/usr/bin/setpriv", "util-linux"),
    ("/usr/bin/dbus-daemon", "dbus-daemon (via dbus)"),
    ("/lib/systemd/systemd", "systemd"),
    ("/lib/systemd/systemd-journald", "systemd"),
    ("/usr/bin/journalctl", "systemd"),
    ("/usr/bin/systemctl", "systemd"),
    ("/usr/bin/systemd-run", "systemd"),
    // The session bus at $XDG_RUNTIME_DIR/bus is this socket unit's dbus-daemon.
    ("/usr/lib/systemd/user/dbus.socket", "dbus-user-session"),
    // Bind-mount targets: a file can only be mounted over an existing one.
    ("/etc/machine-id", "systemd (its postinst writes it)"),
];

/// What a host is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// 1 to 32 of `[A-Za-z0-9_-]`; unique among the hosts of one test process.
    pub name: String,
    /// 32 lowercase hexadecimal characters, as in machine-id(5).
    pub machine_id: String,
    /// A network namespace under `/run/netns` (e.g. [`crate::lab::Lab::namespace`]), or
    /// `None` for the machine's own network.
    pub namespace: Option<String>,
    /// Scratch directory of this host (absolute, created if missing, one per host): the
    /// script, bus and journal configuration, `HOME`, `XDG_CONFIG_HOME` and logs. The caller
    /// owns and removes it (typically under a test's temporary directory).
    pub dir: PathBuf,
}

/// Why a host could not start, or a program could not be started in it.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A field of [`HostConfig`] is not acceptable.
    #[error("host {field}: {reason}")]
    ConfigInvalid { field: &'static str, reason: String },
    /// A host with this name already runs in this process.
    #[error("a host named {name} already runs")]
    NameTaken { name: String },
    /// A file or cgroup operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: String,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The launcher could not be started.
    #[error("launching the host: {source}")]
    LaunchFailed { source: std::io::Error },
    /// `nsenter` for a program in the host could not be started.
    #[error("starting {program} in the host: {source}")]
    SpawnFailed {
        program: String,
        source: std::io::Error,
    },
    /// The host's first process exited, or its manager did not answer by the deadline.
    #[error("host not ready after {waited:?} (manager said {last_answer:?}); host log:\n{log}")]
    NotReady {
        waited: Duration,
        last_answer: String,
        log: String,
    },
}

/// What this machine lacks to run hosts, empty when nothing: root, a cgroup2 hierarchy, and
/// every program in [`REQUIREMENTS`] (each named with the Debian package that has it).
pub fn missing() -> Vec<String> {
    let mut missing: Vec<String> = REQUIREMENTS
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(path, package)| format!("{path} (Debian package {package})"))
        .collect();
    if !is_root() {
        missing.push("root".into());
    }
    if cgroup_hierarchies().is_empty() {
        missing.push("a mounted cgroup2 hierarchy".into());
    }
    missing
}

/// Whether this process runs as root (real user ID 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A running host. Dropping it kills it and removes its cgroups.
#[derive(Debug)]
pub struct Host {
    config: HostConfig,
    /// `unshare`, or `nsenter --net` that exec'd it; its child is the first process.
    launcher: Child,
    /// The first process's PID in the root PID namespace.
    first_pid: u32,
    /// `/proc/<pid>/ns/pid` of the first process: every process of the host shows it.
    pid_namespace: PathBuf,
    /// The host's cgroup directory in each mounted hierarchy.
    cgroups: Vec<PathBuf>,
    killed: bool,
    /// Whether the launcher and every program started in the host have process groups of
    /// their own ([`Host::start_detached`]).
    detached: bool,
}

impl Host {
    /// Starts a host and waits (up to [`START_DEADLINE`]) until its manager reports `running`
    /// or `degraded` and its session bus and journal sockets exist. Removes, first, the
    /// cgroups (and their processes) of hosts whose test process died without dropping them.
    ///
    /// # Errors
    /// A bad config, a name already running, a failed file or cgroup operation, or a host that
    /// exits or does not answer in time (its log is in the error). Nothing is left running.
    pub fn start(config: HostConfig) -> Result<Host, HostError> {
        Host::start_with(config, false)
    }

    /// As [`Host::start`], but the launcher and every program later started in the host
    /// ([`Host::command`], [`Host::spawn`]) run in process groups of their own, so a
    /// terminal's Ctrl-C reaches only the owner, which stops them in its own order. Such a
    /// host does not end with its owner's process group: an owner killed by SIGKILL leaves
    /// it to the next start of any owner (leftover cleanup).
    ///
    /// # Errors
    /// As [`Host::start`].
    pub fn start_detached(config: HostConfig) -> Result<Host, HostError> {
        Host::start_with(config, true)
    }

    fn start_with(config: HostConfig, detached: bool) -> Result<Host, HostError> {
        validate(&config)?;
        remove_leftover_cgroups();
        // The cgroups claim the name first: a second host of that name must not rewrite the
        // files (the bind-mounted machine ID among them) of the running one.
        let cgroups = create_cgroups(&config.name)?;
        let launched = write_host_files(&config).and_then(|()| launch(&config, &cgroups, detached));
        let launcher = match launched {
            Ok(launcher) => launcher,
            Err(error) => {
                remove_cgroups(&cgroups);
                return Err(error);
            }
        };
        let mut host = Host {
            first_pid: 0,
            pid_namespace: PathBuf::new(),
            config,
            launcher,
            cgroups,
            killed: false,
            detached,
        };
        // On error, dropping `host` kills whatever started and removes the cgroups.
        host.wait_ready()?;
        Ok(host)
    }

    /// Finds the first process, then polls the manager until it is up.
    fn wait_ready(&mut self) -> Result<(), HostError> {
        let start = Instant::now();
        let mut last_answer = String::from("nothing yet");
        let mut pause = Duration::from_millis(5);
        while start.elapsed() < START_DEADLINE {
            if let Ok(Some(status)) = self.launcher.try_wait() {
                last_answer = format!("the host exited with {status}");
                break;
            }
            if self.first_pid == 0 {
                self.find_first_process();
            } else if self.answers(&mut last_answer) {
                return Ok(());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        Err(HostError::NotReady {
            waited: start.elapsed(),
            last_answer,
            log: self.log("host"),
        })
    }

    /// The launcher's child is the first process; its PID namespace must differ from ours.
    fn find_first_process(&mut self) {
        let launcher = self.launcher.id();
        let Some(pid) = processes_where(|pid| parent_of(pid) == Some(launcher)).pop() else {
            return;
        };
        let own = std::fs::read_link("/proc/self/ns/pid").ok();
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        if theirs.is_some() && theirs != own {
            self.first_pid = pid;
            self.pid_namespace = theirs.unwrap_or_default();
        }
    }

    /// Whether the manager is up and both sockets exist; `last_answer` gets what it said.
    fn answers(&self, last_answer: &mut String) -> bool {
        let output = match self.exec("systemctl", &["--user", "is-system-running"]) {
            Ok(output) => output,
            Err(error) => {
                *last_answer = format!("nsenter could not start: {error}");
                return false;
            }
        };
        *last_answer = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !matches!(last_answer.as_str(), "running" | "degraded") {
            let stderr = String::from_utf8_lossy(&output.stderr);
            *last_answer = format!("{last_answer} {}", stderr.trim()).trim().to_owned();
            return false;
        }
        ["/run/user/0/bus", "/run/systemd/journal/stdout"]
            .iter()
            .all(|socket| self.path_from_outside(Path::new(socket)).exists())
    }

    /// A command that runs `program` inside the host (its mount, PID and network
    /// namespaces, working directory [`Host::dir`]) with the host's environment:
    /// `XDG_RUNTIME_DIR`, `DBUS_SESSION_BUS_ADDRESS`, `DBUS_SYSTEM_BUS_ADDRESS`, `HOME`,
    /// `XDG_CONFIG_HOME`. The child is `nsenter`, which forks `program` into the PID
    /// namespace and exits with its status (on a killed host, it fails).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--target={}", self.first_pid))
            .args(["--mount", "--pid", "--net"])
            .arg(format!("--wd={}", self.config.dir.display()))
            .arg("--")
            .arg(program);
        for name in ENVIRONMENT_REMOVED {
            command.env_remove(name);
        }
        command
            .env("XDG_RUNTIME_DIR", RUNTIME_DIR)
            .env("DBUS_SESSION_BUS_ADDRESS", self.session_bus_address())
            .env("DBUS_SYSTEM_BUS_ADDRESS", SYSTEM_BUS_ADDRESS)
            .env("HOME", self.config.dir.join("home"))
            .env("XDG_CONFIG_HOME", self.config.dir.join("config"))
            .stdin(Stdio::null());
        if self.detached {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        command
    }

    /// Runs `program args` inside the host to completion and returns what it printed.
    ///
    /// # Errors
    /// When `nsenter` cannot be started.
    pub fn exec(&self, program: &str, args: &[&str]) -> std::io::Result<Output> {
        self.command(program).args(args).output()
    }

    /// Starts a long-running `program args` inside the host with `env` added to the host's
    /// environment, stdout and stderr appended to `<dir>/<program's file name>.log` (see
    /// [`Host::log`]). It dies with the host. The returned child is the `nsenter` in the root
    /// namespace: killing it kills the program too (parent-death signal), and
    /// [`Host::program_pid`] gives the program's own PID for other signals.
    ///
    /// # Errors
    /// When the log cannot be opened or `nsenter` cannot be started.
    pub fn spawn(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Child, HostError> {
        let name = Path::new(program)
            .file_name()
            .map_or_else(|| program.to_owned(), |n| n.to_string_lossy().into_owned());
        let log = self.config.dir.join(format!("{name}.log"));
        let io = |action: &str| {
            let (action, path) = (action.to_owned(), log.clone());
            move |source| HostError::Io {
                action,
                path,
                source,
            }
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io("opening"))?;
        let stderr = file.try_clone().map_err(io("cloning"))?;
        self.command("setpriv")
            .args(["--pdeathsig", "KILL", "--", program])
            .args(args)
            .envs(env.iter().copied())
            .stdout(file)
            .stderr(stderr)
            .spawn()
            .map_err(|source| HostError::SpawnFailed {
                program: program.to_owned(),
                source,
            })
    }

    /// The root-namespace PID of the program a [`Host::spawn`] child started (the child of
    /// that `nsenter`), once it exists.
    pub fn program_pid(&self, child: &Child) -> Option<u32> {
        let nsenter = child.id();
        processes_where(|pid| parent_of(pid) == Some(nsenter)).pop()
    }

    /// Root-namespace PIDs of every process inside the host (empty once it is dead).
    pub fn processes(&self) -> Vec<u32> {
        if self.killed {
            return Vec::new();
        }
        processes_where(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                .is_ok_and(|ns| ns == self.pid_namespace)
        })
    }

    /// The root-namespace PID of the host's process whose PID inside the host is `inside`
    /// (what the host's tools print, e.g. `systemctl --user show -p MainPID`).
    pub fn root_pid(&self, inside: u32) -> Option<u32> {
        self.processes().into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("NSpid:"))
                    .and_then(|ids| ids.split_whitespace().last())
                    .is_some_and(|id| id == inside.to_string())
            })
        })
    }

    /// `inside` (an absolute path as the host sees it, e.g. under [`Host::runtime_dir`]) as
    /// the test process reaches it: through `/proc/<first pid>/root`. Unix sockets connect
    /// through it too.
    pub fn path_from_outside(&self, inside: &Path) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.first_pid))
            .join(inside.strip_prefix("/").unwrap_or(inside))
    }

    /// `kill -9` of the first process: the kernel then kills every process of the PID
    /// namespace, and the mount namespace (with `/run` and the machine-id mounts) goes with
    /// them. Waits until they are gone. Idempotent.
    pub fn kill(&mut self) {
        if self.killed {
            return;
        }
        // The PID is the first process's only while it is still in the host's PID namespace
        // (a host that ended on its own may have freed it for reuse).
        let first_pid_ours = self.first_pid != 0
            && std::fs::read_link(format!("/proc/{}/ns/pid", self.first_pid))
                .is_ok_and(|ns| ns == self.pid_namespace);
        if first_pid_ours {
            let _ = Command::new("kill")
                .args(["-9", &self.first_pid.to_string()])
                .stderr(Stdio::null())
                .status();
        } else {
            // Not found yet, or gone: the launcher is our child (its PID cannot be reused
            // before we wait for it), and `--kill-child` passes SIGKILL on to the first process.
            let _ = self.launcher.kill();
        }
        // The launcher exits when its child does.
        let _ = self.launcher.wait();
        let pid_namespace = self.pid_namespace.clone();
        let gone = poll_until(CLEANUP_DEADLINE, || {
            processes_where(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/pid"))
                    .is_ok_and(|ns| ns == pid_namespace)
            })
            .is_empty()
        });
        if !gone {
            eprintln!(
                "keel-host: processes of host {} outlived it",
                self.config.name
            );
        }
        self.killed = true;
    }

    /// Boots a killed host again: the same name, machine ID, network namespace and files,
    /// with fresh `/run`, bus, journal and manager. Nothing when it was not killed.
    ///
    /// # Errors
    /// As [`Host::start`]; the host then stays killed.
    pub fn restart(&mut self) -> Result<(), HostError> {
        if !self.killed {
            return Ok(());
        }
        // Give the name back first: its cgroups are what claims it.
        remove_cgroups(&self.cgroups);
        self.cgroups.clear();
        let booted = Host::start_with(self.config.clone(), self.detached)?;
        // The old value is killed and owns no cgroups: dropping it does nothing more.
        drop(std::mem::replace(self, booted));
        Ok(())
    }

    /// Whether the host has not been killed (it may still have died on its own).
    pub fn is_running(&self) -> bool {
        !self.killed
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn machine_id(&self) -> &str {
        &self.config.machine_id
    }

    /// The network namespace the host runs in, `None` for the machine's.
    pub fn namespace(&self) -> Option<&str> {
        self.config.namespace.as_deref()
    }

    /// The first process's PID in the root PID namespace (PID 1 inside the host).
    pub fn pid(&self) -> u32 {
        self.first_pid
    }

    /// `XDG_RUNTIME_DIR` as seen inside the host (on its private `/run`).
    pub fn runtime_dir(&self) -> &Path {
        Path::new(RUNTIME_DIR)
    }

    /// The user manager's bus as seen inside the host: `unix:path=$XDG_RUNTIME_DIR/bus`.
    pub fn session_bus_address(&self) -> String {
        format!("unix:path={RUNTIME_DIR}/bus")
    }

    /// The private system bus as seen inside the host.
    pub fn system_bus_address(&self) -> &'static str {
        SYSTEM_BUS_ADDRESS
    }

    /// The private system bus as a process outside the host reaches it (through the host's
    /// `/proc/<pid>/root`), for stand-ins of system services such as update_engine or logind.
    pub fn system_bus_address_from_outside(&self) -> String {
        let inside = SYSTEM_BUS_ADDRESS.trim_start_matches("unix:path=");
        format!(
            "unix:path={}",
            self.path_from_outside(Path::new(inside)).display()
        )
    }

    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// The log `<dir>/<name>.log` (`host` for the first process's output, else a spawned
    /// program's file name), or empty when there is none.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.config.dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
        remove_cgroups(&self.cgroups);
    }
}

fn validate(config: &HostConfig) -> Result<(), HostError> {
    let invalid = |field, reason: &str| {
        Err(HostError::ConfigInvalid {
            field,
            reason: reason.to_owned(),
        })
    };
    let name_ok = (1..=32).contains(&config.name.len())
        && config
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return invalid("name", "1 to 32 of [A-Za-z0-9_-]");
    }
    let id_ok = config.machine_id.len() == 32
        && config
            .machine_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !id_ok {
        return invalid("machine_id", "32 lowercase hexadecimal characters");
    }
    if let Some(namespace) = &config.namespace {
        if !Path::new("/run/netns").join(namespace).exists() {
            return invalid("namespace", "no such network namespace under /run/netns");
        }
    }
    if !config.dir.is_absolute() {
        return invalid("dir", "must be absolute (it is used inside the host)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> HostConfig {
        HostConfig {
            name: "h1".into(),
            machine_id: "0123456789abcdef0123456789abcdef".into(),
            namespace: None,
            dir: PathBuf::from("/tmp/h1"),
        }
    }

    fn field_refused(config: &HostConfig) -> Option<&'static str> {
        match validate(config) {
            Err(HostError::ConfigInvalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    /// Goal: every malformed field is refused before anything is created. Method: one bad
    /// field at a time against a good config.
    #[test]
    fn validate_refuses_each_bad_field() {
        assert!(validate(&config()).is_ok());
        for name in ["", "a.b", "a/b", &"x".repeat(33)] {
            let bad = HostConfig {
                name: name.into(),
                ..config()
            };
            assert_eq!(field_refused(&bad), Some("name"), "{name:?}");
        }
        for id in ["0123", "0123456789ABCDEF0123456789ABCDEF", &"g".repeat(32)] {
            let bad = HostConfig {
                machine_id: id.into(),
                ..config()
            };
            assert_eq!(field_refused(&bad), Some("machine_id"), "{id:?}");
        }
        let bad = HostConfig {
            namespace: Some("no-such-testkit-ns".into()),
            ..config()
        };
        assert_eq!(field_refused(&bad), Some("namespace"));
        let bad = HostConfig {
            dir: PathBuf::from("relative/h1"),
            ..config()
        };
        assert_eq!(field_refused(&bad), Some("dir"));
    }
}
