//! Table tests of the agent's task plan. Method: build this machine's index and its
//! local systemd state by hand, compare the tasks.

use super::*;

fn hash(byte: u8) -> UnitHash {
    UnitHash::from_bytes([byte; 20])
}

fn wanted(list: &[(&str, DesiredState, u8)]) -> BTreeMap<String, WantedUnit> {
    list.iter()
        .map(|(name, desired, byte)| {
            let unit = WantedUnit {
                hash: hash(*byte),
                desired: *desired,
                triggered: false,
                batch: false,
                attempt: Attempt::ONLY,
                stop_when_cut_off: false,
            };
            ((*name).to_owned(), unit)
        })
        .collect()
}

use DesiredState::{Inactive, Launched, Loaded};

#[test]
fn plan_orders_unload_load_reload_stop_start() {
    // Goal: fleet's agent task rules and their order in one round.
    let desired = wanted(&[
        ("new.service", Launched, 1),
        ("loadonly.service", Loaded, 1),
        ("changed.service", Launched, 1),
        ("tostop.service", Loaded, 1),
        ("tostart.service", Launched, 1),
        ("steady.service", Launched, 1),
        ("ignored.service", Inactive, 1),
    ]);
    let local = |hash_byte: u8, state: LocalState| LocalUnit {
        hash: hash(hash_byte),
        state,
        ran: false,
    };
    let current: BTreeMap<String, LocalUnit> = [
        ("gone.service", local(1, LocalState::Launched)),
        ("changed.service", local(2, LocalState::Launched)),
        ("tostop.service", local(1, LocalState::Launched)),
        ("tostart.service", local(1, LocalState::Loaded)),
        ("steady.service", local(1, LocalState::Launched)),
    ]
    .into_iter()
    .map(|(name, unit)| (name.to_owned(), unit))
    .collect();
    let tasks = plan(&desired, &current);
    let task = |kind: fn(String) -> Task, name: &str| kind(name.to_owned());
    assert_eq!(
        tasks,
        vec![
            task(Task::Unload, "changed.service"),
            task(Task::Unload, "gone.service"),
            task(Task::Load, "changed.service"),
            task(Task::Load, "loadonly.service"),
            task(Task::Load, "new.service"),
            Task::Reload,
            task(Task::Stop, "tostop.service"),
            task(Task::Start, "changed.service"),
            task(Task::Start, "new.service"),
            task(Task::Start, "tostart.service"),
        ]
    );
}

#[test]
fn plan_of_a_settled_machine_is_empty_and_needs_no_reload() {
    // Goal: the fleetd-restart case (fleet#1086): systemd already runs what is wanted, so no
    // task at all, and in particular no Stop/Start. Also: a pure state change needs no reload.
    let desired = wanted(&[("web.service", Launched, 7), ("side.service", Loaded, 7)]);
    let mut current: BTreeMap<String, LocalUnit> = BTreeMap::new();
    current.insert(
        "web.service".into(),
        LocalUnit {
            hash: hash(7),
            state: LocalState::Launched,
            ran: false,
        },
    );
    current.insert(
        "side.service".into(),
        LocalUnit {
            hash: hash(7),
            state: LocalState::Loaded,
            ran: false,
        },
    );
    assert_eq!(plan(&desired, &current), vec![]);
    let running = wanted(&[("web.service", Launched, 7), ("side.service", Launched, 7)]);
    assert_eq!(
        plan(&running, &current),
        vec![Task::Start("side.service".into())]
    );
}

#[test]
fn a_running_service_that_a_timer_starts_is_not_stopped() {
    // Goal: a `loaded` service found running is stopped, unless its entry says a timer
    // starts it; a change of file still replaces it.
    // Method: three running services desired loaded: plain, triggered, triggered on a new file.
    let mut desired = wanted(&[
        ("plain.service", Loaded, 1),
        ("backup.service", Loaded, 1),
        ("report.service", Loaded, 2),
    ]);
    for name in ["backup.service", "report.service"] {
        desired.get_mut(name).expect("listed").triggered = true;
    }
    let current: BTreeMap<String, LocalUnit> =
        ["plain.service", "backup.service", "report.service"]
            .into_iter()
            .map(|name| {
                let unit = LocalUnit {
                    hash: hash(1),
                    state: LocalState::Launched,
                    ran: false,
                };
                (name.to_owned(), unit)
            })
            .collect();
    assert_eq!(
        plan(&desired, &current),
        vec![
            Task::Unload("report.service".into()),
            Task::Load("report.service".into()),
            Task::Reload,
            Task::Stop("plain.service".into()),
        ]
    );
}

#[test]
fn a_batch_job_that_ran_since_it_was_loaded_is_not_started_again() {
    // Goal: a launched batch job that is loaded and has run is left alone; one that has
    // not run is started; a new file replaces and starts it; a service that ran is started.
    // Method: four loaded units, each desired launched.
    let mut desired = wanted(&[
        ("done.service", Launched, 1),
        ("fresh.service", Launched, 1),
        ("changed.service", Launched, 2),
        ("plain.service", Launched, 1),
    ]);
    for name in ["done.service", "fresh.service", "changed.service"] {
        desired.get_mut(name).expect("listed").batch = true;
    }
    let current: BTreeMap<String, LocalUnit> = [
        ("done.service", true),
        ("fresh.service", false),
        ("changed.service", true),
        ("plain.service", true),
    ]
    .into_iter()
    .map(|(name, ran)| {
        let unit = LocalUnit {
            hash: hash(1),
            state: LocalState::Loaded,
            ran,
        };
        (name.to_owned(), unit)
    })
    .collect();
    assert_eq!(
        plan(&desired, &current),
        vec![
            Task::Unload("changed.service".into()),
            Task::Load("changed.service".into()),
            Task::Reload,
            Task::Start("changed.service".into()),
            Task::Start("fresh.service".into()),
            Task::Start("plain.service".into()),
        ]
    );
}
