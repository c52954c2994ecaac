//! The stack's life: the manager, then each part of the [`plan`] started and waited for in
//! order, one line per service once all are ready, the environment file, then a watch over
//! the children until SIGINT or SIGTERM (or a part that exits), and every part stopped in
//! reverse order, the private manager last. A part that does not come up stops the others
//! and is reported with the end of its log.

use crate::child::Child;
use crate::manager::{self, Choice, HostsRequest, Running};
use crate::plan::{self, Flags, Manager, Part, Place, Ready, Settings};
use crate::{probe, StackError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// How long one part may take to become ready.
pub const READY_DEADLINE: Duration = Duration::from_secs(60);

/// How often a starting part is checked.
const READY_POLL: Duration = Duration::from_millis(100);

/// How often the running children are looked at.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// The flags, before the manager is known.
#[derive(Debug, Clone)]
pub struct Options {
    pub flags: Flags,
    pub manager: Choice,
    /// `--hosts N`: test hosts in namespaces instead of one manager.
    pub hosts: Option<HostsRequest>,
    /// A second path for fleet's API socket (a symbolic link), such as fleetctl's default.
    pub fleet_link: Option<PathBuf>,
}

impl Options {
    fn settings(&self, manager: Manager) -> Settings {
        Settings {
            flags: self.flags.clone(),
            manager,
        }
    }

    /// Refuses flags the stack cannot use and binaries that are not there, before anything
    /// starts.
    fn check(&self) -> Result<(), StackError> {
        plan::check_addresses(&self.flags).map_err(StackError::Flag)?;
        if let Some(hosts) = &self.hosts {
            hosts.check()?;
            if self.manager == Choice::Own {
                return Err(StackError::Flag(
                    "--hosts runs fleetd in test hosts: --manager own cannot go with it".into(),
                ));
            }
        }
        let probe = self.settings(Manager::Own { bus: String::new() });
        for part in plan::parts(&probe) {
            if !part.program.is_file() {
                return Err(StackError::BinaryMissing { path: part.program });
            }
        }
        Ok(())
    }
}

/// SIGINT and SIGTERM.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> Result<Signals, StackError> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(StackError::Signals)?,
            terminate: signal(SignalKind::terminate()).map_err(StackError::Signals)?,
        })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Runs the stack until a signal; `Ok` when it was stopped by one.
///
/// # Errors
/// A bad flag, a missing binary, no manager for fleetd, a part that does not come up or
/// exits while the stack runs (everything started is stopped first).
pub async fn run(options: Options) -> Result<(), StackError> {
    options.check()?;
    let data = &options.flags.data_dir;
    for dir in [data.clone(), data.join("logs"), data.join("locksmith")] {
        std::fs::create_dir_all(&dir).map_err(StackError::io("creating", &dir))?;
    }
    let mut signals = Signals::new()?;
    let manager = match &options.hosts {
        Some(request) => manager::start_hosts(request, data)?,
        None => manager::start(options.manager, data)?,
    };
    let settings = options.settings(manager.plan());
    let mut started = Vec::new();
    let mut link = None;
    let outcome = match bring_up(&settings, &manager, &mut started, &mut signals).await {
        Ok(true) => {
            link = options
                .fleet_link
                .as_deref()
                .and_then(|path| link_fleet_socket(path, &plan::fleet_socket(&settings)));
            match announce(&settings, link.as_deref()) {
                Ok(()) => watch(&mut started, &mut signals).await,
                Err(error) => Err(error),
            }
        }
        Ok(false) => Ok(()),
        Err(error) => Err(error),
    };
    eprintln!("keel-stack: stopping");
    for child in started.iter_mut().rev() {
        child.stop(child.host().and_then(|index| manager.host(index)));
        tracing::info!(part = %child.name, "stopped");
    }
    if let Some(path) = link {
        unlink_fleet_socket(&path, &plan::fleet_socket(&settings));
    }
    drop(manager);
    outcome
}

/// Starts the parts in order, each once the one before is ready. `Ok(false)`: a signal came
/// first.
async fn bring_up(
    settings: &Settings,
    manager: &Running,
    started: &mut Vec<Child>,
    signals: &mut Signals,
) -> Result<bool, StackError> {
    let logs = settings.flags.data_dir.join("logs");
    for part in plan::parts(settings) {
        let mut child = match part.place {
            Place::Host(index) => match manager.host(index) {
                Some(host) => Child::start_in_host(&part, host)?,
                None => {
                    return Err(StackError::NoManager {
                        reason: format!("{} has no host {index} to run in", part.name),
                    })
                }
            },
            Place::Machine => Child::start_on_machine(&part, &logs)?,
        };
        let ready = tokio::select! {
            ready = wait_ready(&part, &mut child) => Some(ready),
            () = signals.next() => None,
        };
        // A part that has done its work and is gone has nothing to watch or stop; every
        // other one, ready or not, is stopped with the stack.
        if !(part.ready == Ready::ExitsCleanly && matches!(ready, Some(Ok(())))) {
            started.push(child);
        }
        match ready {
            None => return Ok(false),
            Some(Err(error)) => return Err(error),
            Some(Ok(())) => tracing::info!(part = %part.name, "ready"),
        }
    }
    Ok(true)
}

/// Waits until `part` is ready, or fails when it exits first or the deadline passes.
async fn wait_ready(part: &Part, child: &mut Child) -> Result<(), StackError> {
    let deadline = Instant::now() + READY_DEADLINE;
    let not_ready = |child: &Child, reason: String| StackError::NotReady {
        part: part.name.clone(),
        reason,
        log: child.log_tail(),
    };
    loop {
        if let Some(status) = child.exited() {
            return match part.ready {
                Ready::ExitsCleanly if status.success() => Ok(()),
                _ => Err(not_ready(child, format!("it exited with {status}"))),
            };
        }
        let ready = match &part.ready {
            Ready::HttpOk { url } => probe::get(url).await.is_ok_and(|r| r.status == 200),
            Ready::FleetMachine { socket } => {
                probe::fleet_machines(socket).await.is_some_and(|n| n > 0)
            }
            Ready::ExitsCleanly => false,
            Ready::Logged { text } => child.log_text().contains(text),
        };
        if ready {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let reason = format!("not ready after {READY_DEADLINE:?}");
            return Err(not_ready(child, reason));
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Writes the environment file and prints where everything is.
fn announce(settings: &Settings, link: Option<&Path>) -> Result<(), StackError> {
    let env = settings.flags.data_dir.join("env");
    std::fs::write(&env, plan::env_file(settings)).map_err(StackError::io("writing", &env))?;
    for part in plan::parts(settings) {
        println!("{}", part.line);
    }
    match link {
        Some(path) => println!(
            "fleetctl: no flags needed (unix://{} is fleetctl's default)",
            path.display()
        ),
        None => println!(
            "fleetctl: FLEETCTL_ENDPOINT=unix://{}",
            plan::fleet_socket(settings).display()
        ),
    }
    println!(
        "env: {} (`. {}` in another shell points the tools at this stack)",
        env.display(),
        env.display()
    );
    println!("stop: Ctrl-C, or kill {}", std::process::id());
    Ok(())
}

/// Watches the children until a signal (`Ok`) or until one exits (its error).
async fn watch(started: &mut [Child], signals: &mut Signals) -> Result<(), StackError> {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    loop {
        tokio::select! {
            () = signals.next() => return Ok(()),
            _ = tick.tick() => {
                for child in started.iter_mut() {
                    if let Some(status) = child.exited() {
                        return Err(StackError::Exited {
                            part: child.name.clone(),
                            status,
                            log: child.log_tail(),
                        });
                    }
                }
            }
        }
    }
}

/// Makes `link` a symbolic link to `socket` when the path is free or holds a link of an
/// earlier run; `None` (with a notice) when it cannot.
fn link_fleet_socket(link: &Path, socket: &Path) -> Option<PathBuf> {
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() && ours(link, socket) => {
            let _ = std::fs::remove_file(link);
        }
        Ok(_) => {
            tracing::info!(path = %link.display(), "in use; fleetctl needs the environment file");
            return None;
        }
        Err(_) => {}
    }
    match std::os::unix::fs::symlink(socket, link) {
        Ok(()) => Some(link.to_owned()),
        Err(error) => {
            tracing::info!(path = %link.display(), %error, "no link to fleet's socket; fleetctl needs the environment file");
            None
        }
    }
}

/// Whether `link` points at `socket`.
fn ours(link: &Path, socket: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|target| target == socket)
}

/// Removes `link` if it still points at `socket`.
fn unlink_fleet_socket(link: &Path, socket: &Path) {
    if ours(link, socket) {
        let _ = std::fs::remove_file(link);
    }
}
