//! The [`Systemd`] port on the model: each method as the port's docs say, jobs queued by
//! spawning their transitions on tokio's timer.

use super::exec::{behaviour, Behaviour};
use super::{
    check, lock, missing, not_found, now_usec, Changes, Host, Run, SimSystemd, Subscriber, Unit,
    Unread,
};
use fleet_core::agent_plan::{LocalState, LocalUnit};
use fleet_core::ports::{MainRun, StateChange, Systemd, SystemdError, UnitState};
use fleet_core::resources::SystemdLimits;
use fleet_core::unit_file::UnitFile;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::mpsc;

impl SimSystemd {
    fn host(&self) -> std::sync::MutexGuard<'_, Host> {
        lock(&self.host)
    }

    /// The run of a start job `job` of `name`: running after the start delay, then, for a
    /// process that exits, its end after the run time.
    fn spawn_start(&self, name: String, job: u64, action: Behaviour) {
        let (host, model) = (Arc::clone(&self.host), self.model);
        tokio::spawn(async move {
            tokio::time::sleep(model.start_delay).await;
            let running = lock(&host).settle(&name, job, |unit| {
                unit.run = Some(Run {
                    started_usec: now_usec(),
                    result: "success",
                    status: 0,
                    exited_usec: None,
                });
                (unit.active, unit.sub) = ("active", "running");
            });
            let Behaviour::Exits { status, remains } = action else {
                return;
            };
            if !running {
                return;
            }
            tokio::time::sleep(model.run_time).await;
            lock(&host).settle(&name, job, |unit| exit(unit, status, remains));
        });
    }

    fn spawn_stop(&self, name: String, job: u64) {
        let (host, model) = (Arc::clone(&self.host), self.model);
        tokio::spawn(async move {
            tokio::time::sleep(model.stop_delay).await;
            lock(&host).settle(&name, job, stopped);
        });
    }
}

/// The main process ended with `status`.
fn exit(unit: &mut Unit, status: i32, remains: bool) {
    if let Some(run) = &mut unit.run {
        run.exited_usec = Some(now_usec());
        run.status = status;
        run.result = if status == 0 { "success" } else { "exit-code" };
    }
    (unit.active, unit.sub) = match (status, remains) {
        (0, true) => ("active", "exited"),
        (0, false) => ("inactive", "dead"),
        _ => ("failed", "failed"),
    };
}

/// Stopped on request: a clean end.
fn stopped(unit: &mut Unit) {
    if let Some(run) = unit.run.as_mut().filter(|run| run.exited_usec.is_none()) {
        run.exited_usec = Some(now_usec());
    }
    (unit.active, unit.sub) = ("inactive", "dead");
}

impl Systemd for SimSystemd {
    type StateChanges = Changes;

    async fn load_unit(&self, name: &str, file: &UnitFile) -> Result<(), SystemdError> {
        check(name)?;
        let mut host = self.host();
        host.files
            .insert(name.to_owned(), (file.clone(), now_usec()));
        if !host.units.contains_key(name) {
            let unit = Unit {
                file: file.clone(),
                active: "inactive",
                sub: "dead",
                run: None,
                jobs: 0,
            };
            host.units.insert(name.to_owned(), unit);
            host.notify(name);
        }
        Ok(())
    }

    async fn unload_unit(&self, name: &str) -> Result<(), SystemdError> {
        check(name)?;
        let mut host = self.host();
        if let Some(unit) = host.units.get_mut(name) {
            unit.jobs += 1;
            if unit.is_running() {
                stopped(unit);
            } else if unit.active == "failed" {
                (unit.active, unit.sub) = ("inactive", "dead");
            }
            host.notify(name);
        }
        host.files.remove(name);
        Ok(())
    }

    async fn reload(&self) -> Result<(), SystemdError> {
        let mut host = self.host();
        let names: Vec<String> = host.units.keys().cloned().collect();
        for name in names {
            match host.files.get(&name).map(|(file, _)| file.clone()) {
                Some(file) => {
                    if let Some(unit) = host.units.get_mut(&name) {
                        unit.file = file;
                    }
                }
                None if !host.units[&name].is_running() => {
                    host.units.remove(&name);
                    host.notify(&name);
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn start_unit(&self, name: &str) -> Result<(), SystemdError> {
        check(name)?;
        let (job, action) = {
            let mut host = self.host();
            let unit = host.units.get_mut(name).ok_or_else(|| missing(name))?;
            if unit.is_running() {
                return Ok(());
            }
            unit.jobs += 1;
            (unit.active, unit.sub) = ("activating", "start");
            let started = (unit.jobs, behaviour(&unit.file));
            host.notify(name);
            started
        };
        self.spawn_start(name.to_owned(), job, action);
        Ok(())
    }

    async fn stop_unit(&self, name: &str) -> Result<(), SystemdError> {
        check(name)?;
        let job = {
            let mut host = self.host();
            let unit = host.units.get_mut(name).ok_or_else(|| missing(name))?;
            if !unit.is_running() {
                return Ok(());
            }
            unit.jobs += 1;
            (unit.active, unit.sub) = ("deactivating", "stop");
            let job = unit.jobs;
            host.notify(name);
            job
        };
        self.spawn_stop(name.to_owned(), job);
        Ok(())
    }

    async fn set_limits(&self, name: &str, _limits: SystemdLimits) -> Result<(), SystemdError> {
        check(name)?;
        if !name.ends_with(".service") || self.host().units.contains_key(name) {
            Ok(())
        } else {
            Err(missing(name))
        }
    }

    async fn unit_state(&self, name: &str) -> Result<UnitState, SystemdError> {
        check(name)?;
        Ok(self
            .host()
            .units
            .get(name)
            .map_or_else(not_found, Unit::state))
    }

    async fn main_run(&self, name: &str) -> Result<Option<MainRun>, SystemdError> {
        check(name)?;
        let host = self.host();
        let Some((_, written)) = host.files.get(name) else {
            return Err(SystemdError::UnitFileIo {
                path: name.into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        };
        let run = host.units.get(name).and_then(|unit| unit.run.clone());
        Ok(run
            .filter(|run| run.started_usec >= *written)
            .map(|run| MainRun {
                started_usec: run.started_usec,
                result: run.result.to_owned(),
                exit_status: run.status,
                exited_at_ms: run.exited_usec.map(|usec| usec / 1000),
            }))
    }

    async fn local_units(&self) -> Result<BTreeMap<String, LocalUnit>, SystemdError> {
        let host = self.host();
        let listed = host.files.iter().filter_map(|(name, (file, _))| {
            let unit = host.units.get(name)?;
            let state = if unit.is_running() {
                LocalState::Launched
            } else {
                LocalState::Loaded
            };
            let local = LocalUnit {
                hash: file.hash(),
                state,
                ran: false,
            };
            Some((name.clone(), local))
        });
        Ok(listed.collect())
    }

    fn watch_units(&self, names: &BTreeSet<String>) -> Result<(), SystemdError> {
        names.iter().try_for_each(|name| check(name))?;
        let mut host = self.host();
        let Some(instance) = host.instances.get_mut(&self.id) else {
            return Ok(());
        };
        let added: Vec<String> = names.difference(&instance.watched).cloned().collect();
        instance.watched.clone_from(names);
        for name in added {
            host.notify_instance(self.id, &name);
        }
        Ok(())
    }

    async fn subscribe(&self) -> Result<Changes, SystemdError> {
        let (bell, ring) = mpsc::channel(1);
        let subscriber = Subscriber {
            unread: Unread::default(),
            bell,
        };
        let mut host = self.host();
        let watched: Vec<String> = host
            .instances
            .get(&self.id)
            .map(|instance| instance.watched.iter().cloned().collect())
            .unwrap_or_default();
        for name in watched {
            let state = host.units.get(&name).map_or_else(not_found, Unit::state);
            subscriber.deliver(StateChange { name, state });
        }
        let changes = Changes {
            unread: Arc::clone(&subscriber.unread),
            bell: ring,
        };
        if let Some(instance) = host.instances.get_mut(&self.id) {
            instance.subscribers.push(subscriber);
        }
        Ok(changes)
    }
}
