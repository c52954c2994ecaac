//! [`DbusSystemd`]: fleet-core's [`Systemd`] port over one D-Bus connection to one systemd
//! manager (the system bus in production, a user manager's bus for `systemd_user` and tests).
//!
//! The tasks do what fleet's agent did (coreos/fleet `systemd/manager.go` and `agent/`; the
//! table in this crate's README):
//! - load: write the file, `LinkUnitFiles([path], runtime, force)`, and `EnableUnitFiles`
//!   the same way when the unit has an `[Install]` section; on a refusal the file goes again;
//! - unload: `StopUnit(name, "replace")`, and only once that was accepted (or systemd has no
//!   such unit) `DisableUnitFiles([name], runtime)`, `ResetFailedUnit` and the file's
//!   removal, each "nothing there" answer counting as done;
//! - start, stop: `StartUnit`/`StopUnit` with mode `replace`, fire-and-forget;
//! - reload: `Manager.Reload()`.
//!
//! Invariants: a unit name is checked before it becomes a path or goes on the bus; file work
//! runs on the blocking pool; nothing here waits for a job to finish. Must not expose any
//! zbus type.

use crate::error::classify;
use crate::limits::{LIST_UNITS_BATCH_MAX, SIGNAL_QUEUE_MAX, WATCHED_UNITS_MAX};
use crate::proxy::{
    ManagerProxy, ServiceProxy, UnitProxy, SYSTEMD_SERVICE, UNIT_INTERFACE, UNIT_PATH_NAMESPACE,
};
use crate::unit_files::{
    check_unit_name, list_unit_files, mark_started, off_worker, remove_unit_file, started_at_usec,
    write_unit_file, written_at_usec,
};
use crate::watch::{list_units_by_names, StateChanges};
use fleet_core::agent_plan::LocalUnit;
use fleet_core::ports::{MainRun, Systemd, SystemdError, UnitState};
use fleet_core::resources::SystemdLimits;
use fleet_core::unit_file::UnitFile;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use tokio::sync::watch;
use zbus::proxy::CacheProperties;
use zbus::{MatchRule, MessageStream};

/// The job mode of every start and stop, as fleet: replace a conflicting queued job.
const JOB_MODE: &str = "replace";

/// Which bus the manager is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The system bus: the machine's systemd (production).
    System,
    /// A bus at a D-Bus address, e.g. a user manager's `unix:path=$XDG_RUNTIME_DIR/bus`
    /// (fleet's `systemd_user`, and tests).
    Address(String),
}

/// The adapter: one connection, one units directory. Dropping it ends its subscriptions.
pub struct DbusSystemd {
    manager: ManagerProxy<'static>,
    units_directory: PathBuf,
    watched: watch::Sender<BTreeSet<String>>,
}

impl DbusSystemd {
    /// Connects to `bus` and manages the unit files under `units_directory` (absolute and
    /// UTF-8, because systemd takes the files' paths as D-Bus strings; created on the first
    /// load).
    ///
    /// # Errors
    /// `UnitFileIo` for a relative or non-UTF-8 directory; `BusUnavailable` when the bus
    /// cannot be reached.
    pub async fn connect(bus: &Bus, units_directory: PathBuf) -> Result<Self, SystemdError> {
        if !units_directory.is_absolute() || units_directory.to_str().is_none() {
            return Err(SystemdError::UnitFileIo {
                path: units_directory,
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the units directory must be an absolute UTF-8 path",
                ),
            });
        }
        let connected = match bus {
            Bus::System => zbus::Connection::system().await,
            Bus::Address(address) => match zbus::connection::Builder::address(address.as_str()) {
                Ok(builder) => builder.build().await,
                Err(error) => Err(error),
            },
        };
        let connection = connected.map_err(|error| classify("connect", "", error))?;
        let manager = ManagerProxy::builder(&connection)
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(|error| classify("connect", "", error))?;
        Ok(DbusSystemd {
            manager,
            units_directory,
            watched: watch::Sender::new(BTreeSet::new()),
        })
    }

    /// The units directory.
    #[must_use]
    pub fn units_directory(&self) -> &Path {
        &self.units_directory
    }

    /// Links (and, with `[Install]`, enables) the file at `path` for this boot.
    async fn link(&self, name: &str, path: &str, install: bool) -> Result<(), SystemdError> {
        self.manager
            .link_unit_files(&[path], true, true)
            .await
            .map_err(|error| classify("LinkUnitFiles", name, error))?;
        if install {
            self.manager
                .enable_unit_files(&[path], true, true)
                .await
                .map_err(|error| classify("EnableUnitFiles", name, error))?;
        }
        Ok(())
    }

    /// Removes the unit's file on the blocking pool.
    async fn remove_file(&self, name: &str) -> Result<(), SystemdError> {
        let directory = self.units_directory.clone();
        let owned = name.to_owned();
        off_worker(&self.units_directory, move || {
            remove_unit_file(&directory, &owned)
        })
        .await
    }

    /// The run of a unit this agent started (at `marked`) after the last main process systemd
    /// knows of (`known`, if any). Its job still queued or the unit still starting, it is a
    /// run that has not ended (started at the mark), so it is not started again. Inactive
    /// with no job queued and no run known, it ended cleanly and systemd collected it (or a
    /// condition skipped it), which systemd's `Result` would call `success`; its end is not
    /// known, so its start stands in. Otherwise the run systemd knows (or none) is the answer.
    async fn marked_run(
        &self,
        name: &str,
        marked: u64,
        known: Option<MainRun>,
    ) -> Result<Option<MainRun>, SystemdError> {
        let unit: UnitProxy<'_> = self.unit_object(name).await?;
        let (active_state, (job, _)) = tokio::try_join!(unit.active_state(), unit.job())
            .map_err(|error| classify("Get", name, error))?;
        let at_mark = |exited_at_ms| MainRun {
            started_usec: marked,
            result: "success".to_owned(),
            exit_status: 0,
            exited_at_ms,
        };
        if job != 0 || !matches!(active_state.as_str(), "inactive" | "failed") {
            return Ok(Some(at_mark(None)));
        }
        if known.is_none() && active_state == "inactive" {
            return Ok(Some(at_mark(Some(marked / 1000))));
        }
        Ok(known)
    }

    /// A proxy of one interface of the unit `name`'s object, loading the unit if needed.
    async fn unit_object<'p, T>(&self, name: &str) -> Result<T, SystemdError>
    where
        T: zbus::proxy::Defaults + From<zbus::Proxy<'p>>,
    {
        let path = self
            .manager
            .load_unit(name)
            .await
            .map_err(|error| classify("LoadUnit", name, error))?;
        zbus::proxy::Builder::<T>::new(self.manager.inner().connection())
            .path(path)
            .map_err(|error| classify("LoadUnit", name, error))?
            .cache_properties(CacheProperties::No)
            .build()
            .await
            .map_err(|error| classify("Get", name, error))
    }

    /// The states of `names`, in batches.
    async fn states(&self, names: &[String]) -> Result<BTreeMap<String, UnitState>, SystemdError> {
        let mut states = BTreeMap::new();
        for batch in names.chunks(LIST_UNITS_BATCH_MAX) {
            let (_, rows) = list_units_by_names(&self.manager, batch).await?;
            for (name, _, load_state, active_state, sub_state, ..) in rows {
                let state = UnitState {
                    load_state,
                    active_state,
                    sub_state,
                };
                states.insert(name, state);
            }
        }
        Ok(states)
    }
}

/// A "there is nothing to undo" answer (no such unit, no such link) counts as done.
fn done_if_absent(result: Result<(), SystemdError>) -> Result<(), SystemdError> {
    match result {
        Err(SystemdError::UnitNotFound { .. }) => Ok(()),
        other => other,
    }
}

impl Systemd for DbusSystemd {
    type StateChanges = StateChanges;

    #[tracing::instrument(skip(self, file))]
    async fn load_unit(&self, name: &str, file: &UnitFile) -> Result<(), SystemdError> {
        check_unit_name(name)?;
        let text = file.canonical_text();
        let install = file.has_install_section();
        let directory = self.units_directory.clone();
        let owned = name.to_owned();
        let path = off_worker(&self.units_directory, move || {
            write_unit_file(&directory, &owned, &text)
        })
        .await?;
        let path = path
            .to_str()
            .expect("the units directory is UTF-8 (connect checked) and so is a checked name");
        if let Err(error) = self.link(name, path, install).await {
            // As fleet: a unit systemd refused to link or enable is not left half-loaded.
            if let Err(removal) = self.remove_file(name).await {
                tracing::warn!(unit = %name, error = %removal, "cannot remove unlinked unit file");
            }
            return Err(error);
        }
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn unload_unit(&self, name: &str) -> Result<(), SystemdError> {
        check_unit_name(name)?;
        // A unit systemd does not know (`NoSuchUnit`: not loaded and inactive) runs nothing,
        // so its file may go; any other refusal keeps the file, as fleet.
        let stopped = self.manager.stop_unit(name, JOB_MODE).await;
        done_if_absent(
            stopped
                .map(drop)
                .map_err(|error| classify("StopUnit", name, error)),
        )?;
        let disabled = self.manager.disable_unit_files(&[name], true).await;
        done_if_absent(
            disabled
                .map(drop)
                .map_err(|error| classify("DisableUnitFiles", name, error)),
        )?;
        let reset = self.manager.reset_failed_unit(name).await;
        done_if_absent(reset.map_err(|error| classify("ResetFailedUnit", name, error)))?;
        self.remove_file(name).await
    }

    #[tracing::instrument(skip(self))]
    async fn reload(&self) -> Result<(), SystemdError> {
        self.manager
            .reload()
            .await
            .map_err(|error| classify("Reload", "", error))
    }

    #[tracing::instrument(skip(self))]
    async fn start_unit(&self, name: &str) -> Result<(), SystemdError> {
        check_unit_name(name)?;
        let directory = self.units_directory.clone();
        let owned = name.to_owned();
        off_worker(&self.units_directory, move || {
            mark_started(&directory, &owned)
        })
        .await?;
        self.manager
            .start_unit(name, JOB_MODE)
            .await
            .map(drop)
            .map_err(|error| classify("StartUnit", name, error))
    }

    #[tracing::instrument(skip(self))]
    async fn set_limits(&self, name: &str, limits: SystemdLimits) -> Result<(), SystemdError> {
        check_unit_name(name)?;
        if !name.ends_with(".service") {
            return Ok(());
        }
        // systemd reads u64::MAX as "infinity" for both properties.
        let cpu = limits.cpu_quota_per_sec_usec.unwrap_or(u64::MAX);
        let memory = limits.memory_max.unwrap_or(u64::MAX);
        let properties = [
            ("CPUQuotaPerSecUSec", zbus::zvariant::Value::U64(cpu)),
            ("MemoryMax", zbus::zvariant::Value::U64(memory)),
        ];
        self.manager
            .set_unit_properties(name, true, &properties)
            .await
            .map_err(|error| classify("SetUnitProperties", name, error))
    }

    #[tracing::instrument(skip(self))]
    async fn stop_unit(&self, name: &str) -> Result<(), SystemdError> {
        check_unit_name(name)?;
        self.manager
            .stop_unit(name, JOB_MODE)
            .await
            .map(drop)
            .map_err(|error| classify("StopUnit", name, error))
    }

    #[tracing::instrument(skip(self))]
    async fn unit_state(&self, name: &str) -> Result<UnitState, SystemdError> {
        check_unit_name(name)?;
        let unit: UnitProxy<'_> = self.unit_object(name).await?;
        // Three reads in flight at once; a change between them is followed by a
        // PropertiesChanged that carries all three.
        let (load_state, active_state, sub_state) =
            tokio::try_join!(unit.load_state(), unit.active_state(), unit.sub_state())
                .map_err(|error| classify("Get", name, error))?;
        Ok(UnitState {
            load_state,
            active_state,
            sub_state,
        })
    }

    #[tracing::instrument(skip(self))]
    async fn main_run(&self, name: &str) -> Result<Option<MainRun>, SystemdError> {
        check_unit_name(name)?;
        let directory = self.units_directory.clone();
        let owned = name.to_owned();
        let (written, marked) = off_worker(&self.units_directory, move || {
            Ok((
                written_at_usec(&directory, &owned)?,
                started_at_usec(&directory, &owned)?,
            ))
        })
        .await?;
        let service: ServiceProxy<'_> = self.unit_object(name).await?;
        let (started, exited, status, result) = tokio::try_join!(
            service.exec_main_start_timestamp(),
            service.exec_main_exit_timestamp(),
            service.exec_main_status(),
            service.result(),
        )
        .map_err(|error| classify("Get", name, error))?;
        let known = (started != 0 && started >= written).then(|| MainRun {
            started_usec: started,
            result,
            exit_status: status,
            // An exit before this start is the previous run's: this one still runs.
            exited_at_ms: (exited != 0 && exited >= started).then_some(exited / 1000),
        });
        // Started by this agent since the last run systemd knows of: that start may still be
        // a queued job.
        let newer_mark = marked.filter(|marked| {
            *marked >= written && known.as_ref().is_none_or(|run| run.started_usec < *marked)
        });
        match newer_mark {
            Some(marked) => self.marked_run(name, marked, known).await,
            None => Ok(known),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn local_units(&self) -> Result<BTreeMap<String, LocalUnit>, SystemdError> {
        let directory = self.units_directory.clone();
        let files = off_worker(&self.units_directory, move || list_unit_files(&directory)).await?;
        let names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
        let states = self.states(&names).await?;
        let units = files
            .into_iter()
            .filter_map(|(name, hash)| {
                let state = states.get(&name)?;
                // Written but not linked: left out, so the agent loads it again.
                (state.load_state != "not-found").then(|| {
                    let state = state.local_state();
                    let unit = LocalUnit {
                        hash,
                        state,
                        ran: false,
                    };
                    (name, unit)
                })
            })
            .collect();
        Ok(units)
    }

    fn watch_units(&self, names: &BTreeSet<String>) -> Result<(), SystemdError> {
        if names.len() > WATCHED_UNITS_MAX {
            return Err(SystemdError::WatchLimitExceeded {
                requested: names.len(),
                max: WATCHED_UNITS_MAX,
            });
        }
        names.iter().try_for_each(|name| check_unit_name(name))?;
        self.watched.send_replace(names.clone());
        Ok(())
    }

    #[tracing::instrument(skip(self))]
    async fn subscribe(&self) -> Result<StateChanges, SystemdError> {
        // The signal streams first: everything systemd emits once subscribed is caught.
        let connection = self.manager.inner().connection();
        let properties =
            MessageStream::for_match_rule(unit_changes_rule(), connection, Some(SIGNAL_QUEUE_MAX))
                .await
                .map_err(|error| classify("AddMatch", "", error))?;
        let reloading = self
            .manager
            .receive_reloading()
            .await
            .map_err(|error| classify("AddMatch", "", error))?;
        if let Err(error) = self.manager.subscribe().await {
            if !crate::error::is_already_subscribed(&error) {
                return Err(classify("Subscribe", "", error));
            }
        }
        Ok(StateChanges::start(
            self.manager.clone(),
            self.watched.subscribe(),
            properties,
            reloading,
        ))
    }
}

/// `PropertiesChanged` of the Unit interface of any unit object, from systemd only.
fn unit_changes_rule() -> MatchRule<'static> {
    MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(SYSTEMD_SERVICE)
        .and_then(|rule| rule.interface("org.freedesktop.DBus.Properties"))
        .and_then(|rule| rule.member("PropertiesChanged"))
        .and_then(|rule| rule.path_namespace(UNIT_PATH_NAMESPACE))
        .and_then(|rule| rule.add_arg(UNIT_INTERFACE))
        .map(zbus::match_rule::Builder::build)
        .expect("a match rule of constant, valid names")
}
