//! A model of fleet-core's [`Systemd`] port, for simulated agents: a [`SimHost`] keeps a
//! units directory and the units its "systemd" knows in memory; units start, run and stop
//! after the delays of a [`Model`], and a main process runs until stopped or exits as its
//! `ExecStart=` says ([`exec`]). Every [`SimSystemd`] connected to one host sees the same
//! units, as a restarted fleetd sees its host's systemd.
//!
//! It passes the port's conformance suite (`fleet-systemd`'s `conformance`, run by this
//! crate's tests), which is what makes it a model of systemd rather than a stub.
//!
//! Invariants: a state change of a unit reaches every subscription of every instance that
//! watches it, and unread changes of one unit coalesce into its latest state; a transition scheduled by a start or a stop is dropped when a later
//! start or stop of the same unit came first (each unit counts its jobs); the host's lock is
//! never held across an await. Depends on fleet-core and tokio's timer and channels.

mod exec;

use fleet_core::name::systemd_accepts;
use fleet_core::ports::{StateChange, SystemdError, UnitState};
use fleet_core::unit_file::UnitFile;
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the modelled systemd takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// From a start job to the main process running.
    pub start_delay: Duration,
    /// From a stop job to the unit inactive.
    pub stop_delay: Duration,
    /// How long a main process that exits runs.
    pub run_time: Duration,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            start_delay: Duration::from_millis(5),
            stop_delay: Duration::from_millis(5),
            run_time: Duration::from_millis(5),
        }
    }
}

/// One simulated machine's systemd and units directory.
#[derive(Debug, Clone, Default)]
pub struct SimHost {
    host: Arc<Mutex<Host>>,
    model: Model,
}

impl SimHost {
    /// A host whose units take `model`'s times.
    #[must_use]
    pub fn new(model: Model) -> SimHost {
        SimHost {
            host: Arc::default(),
            model,
        }
    }

    /// A new instance of the port on this host (a fleetd's connection).
    #[must_use]
    pub fn connect(&self) -> SimSystemd {
        let id = {
            let mut host = lock(&self.host);
            host.next_instance += 1;
            let id = host.next_instance;
            host.instances.insert(id, Instance::default());
            id
        };
        SimSystemd {
            host: Arc::clone(&self.host),
            model: self.model,
            id,
        }
    }

    /// Whether the units directory holds `name`'s file.
    #[must_use]
    pub fn unit_file_exists(&self, name: &str) -> bool {
        lock(&self.host).files.contains_key(name)
    }
}

/// The port on a [`SimHost`].
#[derive(Debug)]
pub struct SimSystemd {
    host: Arc<Mutex<Host>>,
    model: Model,
    id: u64,
}

impl Drop for SimSystemd {
    fn drop(&mut self) {
        lock(&self.host).instances.remove(&self.id);
    }
}

/// One subscription's unread changes, as the port asks: a unit's changes not read yet
/// coalesce into its latest state, so the queue holds at most one entry per watched unit and
/// a slow reader blocks nothing.
type Unread = Arc<Mutex<BTreeMap<String, UnitState>>>;

fn unread(unread: &Unread) -> MutexGuard<'_, BTreeMap<String, UnitState>> {
    unread.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The host's end of a subscription.
#[derive(Debug)]
struct Subscriber {
    unread: Unread,
    /// Rung (never blocking: capacity 1, a full bell already rings) when a change arrives.
    bell: mpsc::Sender<()>,
}

impl Subscriber {
    /// Queues `change`; `false` once the stream is gone.
    fn deliver(&self, change: StateChange) -> bool {
        if self.bell.is_closed() {
            return false;
        }
        unread(&self.unread).insert(change.name, change.state);
        // Full means the reader has a ring waiting already.
        let _ = self.bell.try_send(());
        true
    }
}

#[derive(Debug, Default)]
struct Instance {
    watched: BTreeSet<String>,
    subscribers: Vec<Subscriber>,
}

#[derive(Debug, Default)]
struct Host {
    /// The units directory: each file with when it was written (µs since the epoch).
    files: BTreeMap<String, (UnitFile, u64)>,
    /// What systemd has loaded.
    units: BTreeMap<String, Unit>,
    instances: BTreeMap<u64, Instance>,
    next_instance: u64,
}

#[derive(Debug)]
struct Unit {
    /// The file as systemd last read it.
    file: UnitFile,
    active: &'static str,
    sub: &'static str,
    run: Option<Run>,
    /// Jobs so far: a scheduled transition applies only while it is the latest.
    jobs: u64,
}

#[derive(Debug, Clone)]
struct Run {
    started_usec: u64,
    result: &'static str,
    status: i32,
    exited_usec: Option<u64>,
}

impl Unit {
    fn state(&self) -> UnitState {
        state("loaded", self.active, self.sub)
    }

    fn is_running(&self) -> bool {
        self.state().is_running()
    }
}

fn state(load: &str, active: &str, sub: &str) -> UnitState {
    UnitState {
        load_state: load.to_owned(),
        active_state: active.to_owned(),
        sub_state: sub.to_owned(),
    }
}

fn not_found() -> UnitState {
    state("not-found", "inactive", "dead")
}

fn lock(host: &Mutex<Host>) -> MutexGuard<'_, Host> {
    host.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_usec() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
}

/// The names the port accepts ([`systemd_accepts`]).
fn check(name: &str) -> Result<(), SystemdError> {
    if systemd_accepts(name) {
        Ok(())
    } else {
        Err(SystemdError::InvalidUnitName {
            name: name.to_owned(),
        })
    }
}

fn missing(name: &str) -> SystemdError {
    SystemdError::UnitNotFound {
        name: name.to_owned(),
        message: format!("Unit {name} not loaded."),
    }
}

impl Host {
    /// Sends `name`'s state to every subscription watching it.
    fn notify(&mut self, name: &str) {
        let watching: Vec<u64> = self
            .instances
            .iter()
            .filter(|(_, instance)| instance.watched.contains(name))
            .map(|(id, _)| *id)
            .collect();
        for id in watching {
            self.notify_instance(id, name);
        }
    }

    /// Sends `name`'s current state to the subscriptions of instance `id` only.
    fn notify_instance(&mut self, id: u64, name: &str) {
        let now = self.units.get(name).map_or_else(not_found, Unit::state);
        if let Some(instance) = self.instances.get_mut(&id) {
            let change = StateChange {
                name: name.to_owned(),
                state: now,
            };
            instance
                .subscribers
                .retain(|subscriber| subscriber.deliver(change.clone()));
        }
    }

    /// Sets `name`'s state if `job` is still its latest job, and tells the watchers.
    fn settle(&mut self, name: &str, job: u64, settle: impl FnOnce(&mut Unit)) -> bool {
        let Some(unit) = self.units.get_mut(name).filter(|unit| unit.jobs == job) else {
            return false;
        };
        settle(unit);
        self.notify(name);
        true
    }
}

mod port;

/// The subscription's stream: among units with unread changes, the first by name comes
/// next, as from `fleet-systemd`'s.
#[derive(Debug)]
pub struct Changes {
    unread: Unread,
    bell: mpsc::Receiver<()>,
}

impl futures_core::Stream for Changes {
    type Item = Result<StateChange, SystemdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some((name, state)) = unread(&self.unread).pop_first() {
                return Poll::Ready(Some(Ok(StateChange { name, state })));
            }
            match self.bell.poll_recv(cx) {
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
