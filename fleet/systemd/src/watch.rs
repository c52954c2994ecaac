//! The state subscription ([`StateChanges`]): systemd pushes the changes of the watched units,
//! nothing polls (fleet polled every unit every second, coreos/fleet#1163).
//!
//! How: one match rule for `PropertiesChanged` of the Unit interface under systemd's unit
//! path namespace (per-unit rules would cap a host at dbus-daemon's 512 match rules per
//! connection on the system bus), the Manager's `Reloading` signal, and `Subscribe()`. Two
//! tasks per subscription:
//! - the signal task only drains the signal streams into the table and never awaits a
//!   method call: zbus stops reading the socket while a signal queue is full, so a task that
//!   waited for a reply with its own queue full would wait forever;
//! - the resolve task reacts to the watched set and to reloads: `LoadUnit` for each newly
//!   watched unit (its object path, escaped by systemd), then `ListUnitsByNames` for their
//!   states, and for every watched unit after a daemon-reload.
//!
//! Invariants:
//! - a unit's path is in the table before its state is first read, so every signal newer
//!   than that read finds its unit;
//! - per unit and property, a value is taken only from a message received after the one
//!   the property's current value came from (zbus' receive position, one counter for the
//!   connection): D-Bus keeps systemd's send order, so a reply never overwrites a newer
//!   signal, and a late signal never a newer reply. Per property, because systemd's signals
//!   never carry `LoadState`: a reply older than the first signals still supplies it;
//! - a slow reader blocks nothing: a unit's unread changes coalesce into its latest state
//!   (the table holds one entry per watched unit, at most `WATCHED_UNITS_MAX`), and a
//!   state equal to the one last delivered is not delivered again;
//! - dropping the stream aborts both tasks.
//!
//! Must not expose any zbus type: only [`StateChanges`] is public.

use crate::error::classify;
use crate::limits::LIST_UNITS_BATCH_MAX;
use crate::proxy::{ListedUnit, ManagerProxy, ReloadingStream, UNIT_INTERFACE};
use fleet_core::ports::{StateChange, SystemdError, UnitState};
use futures_core::Stream;
use futures_util::StreamExt as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use zbus::message::Sequence;
use zbus::zvariant::Value;
use zbus::{Message, MessageStream};

/// The stream [`crate::DbusSystemd`] returns from `subscribe`: see
/// [`fleet_core::ports::Systemd::StateChanges`]. Among units with unread changes, the next
/// one delivered is the first by name.
pub struct StateChanges {
    shared: Arc<Shared>,
    bell: mpsc::Receiver<()>,
    tasks: JoinSet<()>,
    finished: bool,
}

/// What both tasks and the stream share.
struct Shared {
    /// A std mutex: every critical section is a few map operations and none awaits.
    table: Mutex<Table<Sequence>>,
    /// Rung (never blocking: capacity 1, a full bell already rings) when a change or the
    /// failure is ready for the reader.
    reader_bell: mpsc::Sender<()>,
    /// Rung when a daemon-reload finished.
    reload_bell: mpsc::Sender<()>,
}

/// The watched units and what is known of them; `P` orders messages (zbus' [`Sequence`],
/// plain numbers in unit tests).
struct Table<P> {
    units: BTreeMap<String, Watched<P>>,
    /// Object path → name, for the units whose path is known.
    by_path: HashMap<String, String>,
    /// Units whose state may differ from the one last delivered.
    pending: BTreeSet<String>,
    /// Every watched unit must be read again (a daemon-reload finished).
    reread_all: bool,
    /// Why the subscription ended, once it did; delivered after the pending changes.
    failure: Option<SystemdError>,
}

/// One watched unit.
struct Watched<P> {
    path: Option<String>,
    known: Known<P>,
    delivered: Option<UnitState>,
}

impl<P> Default for Watched<P> {
    fn default() -> Self {
        Watched {
            path: None,
            known: Known::default(),
            delivered: None,
        }
    }
}

impl<P> Default for Table<P> {
    fn default() -> Self {
        Table {
            units: BTreeMap::new(),
            by_path: HashMap::new(),
            pending: BTreeSet::new(),
            reread_all: false,
            failure: None,
        }
    }
}

/// The state properties one message carried.
#[derive(Default)]
struct Reported {
    load_state: Option<String>,
    active_state: Option<String>,
    sub_state: Option<String>,
}

/// The latest value of each state property, with the receive position of the message it
/// came from.
struct Known<P> {
    load_state: Option<(String, P)>,
    active_state: Option<(String, P)>,
    sub_state: Option<(String, P)>,
}

impl<P> Default for Known<P> {
    fn default() -> Self {
        Known {
            load_state: None,
            active_state: None,
            sub_state: None,
        }
    }
}

impl<P: Ord + Copy> Known<P> {
    /// Takes each property `position`'s message carried, unless the property's value came
    /// from a later message.
    fn merge(&mut self, reported: Reported, position: P) {
        take_newer(&mut self.load_state, reported.load_state, position);
        take_newer(&mut self.active_state, reported.active_state, position);
        take_newer(&mut self.sub_state, reported.sub_state, position);
    }

    fn state(&self) -> Option<UnitState> {
        let value = |known: &Option<(String, P)>| known.as_ref().map(|(value, _)| value.clone());
        Some(UnitState {
            load_state: value(&self.load_state)?,
            active_state: value(&self.active_state)?,
            sub_state: value(&self.sub_state)?,
        })
    }
}

/// `value` from `position`'s message replaces `known` unless `known` came from a later one.
fn take_newer<P: Ord + Copy>(known: &mut Option<(String, P)>, value: Option<String>, position: P) {
    let Some(value) = value else {
        return;
    };
    if known.as_ref().is_some_and(|(_, taken)| *taken >= position) {
        return;
    }
    *known = Some((value, position));
}

impl<P: Ord + Copy> Table<P> {
    /// Makes `names` the watched set; returns the names that were not watched before.
    fn retain(&mut self, names: &BTreeSet<String>) -> Vec<String> {
        let dropped: Vec<String> = self
            .units
            .keys()
            .filter(|name| !names.contains(*name))
            .cloned()
            .collect();
        for name in dropped {
            if let Some(Watched {
                path: Some(path), ..
            }) = self.units.remove(&name)
            {
                self.by_path.remove(&path);
            }
            self.pending.remove(&name);
        }
        let added: Vec<String> = names
            .iter()
            .filter(|name| !self.units.contains_key(*name))
            .cloned()
            .collect();
        for name in &added {
            self.units.insert(name.clone(), Watched::default());
        }
        added
    }

    fn set_path(&mut self, name: &str, path: &str) {
        if let Some(watched) = self.units.get_mut(name) {
            watched.path = Some(path.to_owned());
            self.by_path.insert(path.to_owned(), name.to_owned());
        }
    }

    /// Takes what `position`'s message reported of `name`, property by property, unless a
    /// later message's value was taken already.
    fn apply(&mut self, name: &str, reported: Reported, position: P) {
        let Some(watched) = self.units.get_mut(name) else {
            return;
        };
        watched.known.merge(reported, position);
        if watched.known.state() != watched.delivered {
            self.pending.insert(name.to_owned());
        }
    }

    fn apply_at_path(&mut self, path: &str, reported: Reported, position: P) {
        if let Some(name) = self.by_path.get(path).cloned() {
            self.apply(&name, reported, position);
        }
    }

    /// The watched units to read: the new ones, and all after a daemon-reload.
    fn names_to_read(&mut self, added: Vec<String>) -> Vec<String> {
        let mut names: BTreeSet<String> = added.into_iter().collect();
        if std::mem::take(&mut self.reread_all) {
            names.extend(self.units.keys().cloned());
        }
        names
            .into_iter()
            .filter(|name| self.units.get(name).is_some_and(|w| w.path.is_some()))
            .collect()
    }

    fn next(&mut self) -> Option<Result<StateChange, SystemdError>> {
        while let Some(name) = self.pending.pop_first() {
            let Some(watched) = self.units.get_mut(&name) else {
                continue;
            };
            let Some(state) = watched.known.state() else {
                continue;
            };
            if watched.delivered.as_ref() == Some(&state) {
                continue;
            }
            watched.delivered = Some(state.clone());
            return Some(Ok(StateChange { name, state }));
        }
        self.failure.take().map(Err)
    }
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Table<Sequence>> {
        // A panic under this lock leaves a consistent table: every update is a whole map
        // operation.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ring_reader(&self) {
        let _ = self.reader_bell.try_send(());
    }

    fn fail(&self, error: SystemdError) {
        let mut table = self.table();
        if table.failure.is_none() {
            table.failure = Some(error);
        }
        drop(table);
        self.ring_reader();
    }
}

impl StateChanges {
    /// Starts the two tasks over streams that are already subscribed.
    pub(crate) fn start(
        manager: ManagerProxy<'static>,
        watched: watch::Receiver<BTreeSet<String>>,
        properties: MessageStream,
        reloading: ReloadingStream,
    ) -> StateChanges {
        let (reader_bell, bell) = mpsc::channel(1);
        let (reload_bell, reloads) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            reader_bell,
            reload_bell,
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(drain_signals(shared.clone(), properties, reloading));
        tasks.spawn(resolve_units(shared.clone(), manager, watched, reloads));
        StateChanges {
            shared,
            bell,
            tasks,
            finished: false,
        }
    }
}

impl Stream for StateChanges {
    type Item = Result<StateChange, SystemdError>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        loop {
            // A task ends only after recording why, or by panicking: then the stream ends.
            while let Poll::Ready(Some(_)) = this.tasks.poll_join_next(context) {
                this.shared.fail(SystemdError::SubscriptionClosed);
            }
            if let Some(item) = this.shared.table().next() {
                this.finished = item.is_err();
                return Poll::Ready(Some(item));
            }
            match this.bell.poll_recv(context) {
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The signal task: drains both streams until one ends.
async fn drain_signals(
    shared: Arc<Shared>,
    mut properties: MessageStream,
    mut reloading: ReloadingStream,
) {
    loop {
        tokio::select! {
            message = properties.next() => match message {
                Some(Ok(message)) => on_properties_changed(&shared, &message),
                Some(Err(error)) => return shared.fail(classify("PropertiesChanged", "", error)),
                None => return shared.fail(SystemdError::SubscriptionClosed),
            },
            signal = reloading.next() => match signal {
                Some(signal) => {
                    // `Reloading(false)`: the reload is over and the units were re-created.
                    if signal.args().is_ok_and(|args| !args.active) {
                        shared.table().reread_all = true;
                        let _ = shared.reload_bell.try_send(());
                    }
                }
                None => return shared.fail(SystemdError::SubscriptionClosed),
            },
        }
    }
}

/// A `PropertiesChanged(interface, changed, invalidated)` of a unit object. systemd sends
/// the Unit interface's state properties as values, never as invalidated names.
fn on_properties_changed(shared: &Shared, message: &Message) {
    let header = message.header();
    let Some(path) = header.path() else {
        return;
    };
    let body = message.body();
    let decoded = body.deserialize::<(&str, HashMap<&str, Value<'_>>, Vec<&str>)>();
    let Ok((interface, changed, _)) = decoded else {
        tracing::warn!(path = %path, "PropertiesChanged with an unexpected body; ignored");
        return;
    };
    if interface != UNIT_INTERFACE {
        return;
    }
    let text = |key: &str| match changed.get(key) {
        Some(Value::Str(value)) => Some(value.as_str().to_owned()),
        _ => None,
    };
    let reported = Reported {
        load_state: text("LoadState"),
        active_state: text("ActiveState"),
        sub_state: text("SubState"),
    };
    shared
        .table()
        .apply_at_path(path.as_str(), reported, message.recv_position());
    shared.ring_reader();
}

/// The resolve task: follows the watched set and daemon-reloads until the adapter is
/// dropped or the bus fails.
async fn resolve_units(
    shared: Arc<Shared>,
    manager: ManagerProxy<'static>,
    mut watched: watch::Receiver<BTreeSet<String>>,
    mut reloads: mpsc::Receiver<()>,
) {
    // The set as it is now counts as a change: its units are read first.
    watched.mark_changed();
    loop {
        tokio::select! {
            changed = watched.changed() => {
                if changed.is_err() {
                    return shared.fail(SystemdError::SubscriptionClosed);
                }
            }
            _ = reloads.recv() => {}
        }
        let names = watched.borrow_and_update().clone();
        if let Err(error) = resolve(&shared, &manager, &names).await {
            return shared.fail(error);
        }
    }
}

/// One pass: paths for new units, then states for new units (all after a reload).
async fn resolve(
    shared: &Shared,
    manager: &ManagerProxy<'static>,
    names: &BTreeSet<String>,
) -> Result<(), SystemdError> {
    let added = shared.table().retain(names);
    for name in &added {
        match manager.load_unit(name).await {
            Ok(path) => shared.table().set_path(name, path.as_str()),
            Err(error) => {
                let error = classify("LoadUnit", name, error);
                if error.is_transient() {
                    return Err(error);
                }
                tracing::warn!(unit = %name, %error, "cannot watch unit");
            }
        }
    }
    let to_read = shared.table().names_to_read(added);
    for batch in to_read.chunks(LIST_UNITS_BATCH_MAX) {
        let (position, rows) = list_units_by_names(manager, batch).await?;
        let mut table = shared.table();
        for row in rows {
            let (name, _, load_state, active_state, sub_state, ..) = row;
            let reported = Reported {
                load_state: Some(load_state),
                active_state: Some(active_state),
                sub_state: Some(sub_state),
            };
            table.apply(&name, reported, position);
        }
    }
    shared.ring_reader();
    Ok(())
}

/// `ListUnitsByNames(names)` (loads units that are not loaded), with the receive position
/// of its reply.
///
/// # Errors
/// The manager's refusal, the bus, or a reply of another shape.
pub(crate) async fn list_units_by_names(
    manager: &ManagerProxy<'static>,
    names: &[String],
) -> Result<(Sequence, Vec<ListedUnit>), SystemdError> {
    const METHOD: &str = "ListUnitsByNames";
    let reply = manager
        .inner()
        .call_method(METHOD, &(names,))
        .await
        .map_err(|error| classify(METHOD, "", error))?;
    let rows = reply
        .body()
        .deserialize::<Vec<ListedUnit>>()
        .map_err(|error| SystemdError::ReplyMalformed {
            method: METHOD,
            source: Box::new(error),
        })?;
    Ok((reply.recv_position(), rows))
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
