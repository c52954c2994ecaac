//! The rollout controller's pure parts: which targets a rollout has, in which order, and
//! what the clocks make of state reports. Method: hand-made records and reports, instants
//! built from one origin (no clock is read).

use super::*;
use fleet_core::model::MachineId;
use fleet_core::unit_file::UnitFile;

const M1: &str = "1111111111111111111111111111111a";
const M2: &str = "2222222222222222222222222222222b";

fn hash(text: &str) -> UnitHash {
    UnitFile::parse(text).expect("test unit parses").hash()
}

fn job(name: &str, hash: UnitHash, target: Option<&str>) -> JobView {
    JobView {
        name: name.to_owned(),
        hash,
        desired: DesiredState::Launched,
        target: target.map(|m| MachineId::parse(m).expect("valid ID")),
        pending: None,
        replicas: None,
        rollout: None,
        completion: None,
    }
}

fn report(active: &str, sub: &str, machine: &str, hash: UnitHash) -> StateReport {
    StateReport {
        load_state: "loaded".into(),
        active_state: active.into(),
        sub_state: sub.into(),
        machine: MachineId::parse(machine).expect("valid ID"),
        hash,
        launched: true,
    }
}

#[test]
fn a_template_rolls_its_instances_in_number_order() {
    // Goal: targets are the template's instances only, numbered ones by number (web@10
    // after web@2), others after them; updated and pending are read off each record.
    // Method: four instances, one other unit, one instance on the new hash, one pending.
    let old = hash("[Service]\nExecStart=/bin/true\n");
    let new = hash("[Service]\nExecStart=/bin/false\n");
    let mut jobs = BTreeMap::new();
    for (name, hash, target) in [
        ("web@.service", new, None),
        ("web@10.service", old, Some(M1)),
        ("web@2.service", new, Some(M2)),
        ("web@blue.service", old, Some(M1)),
        ("web@3.service", old, None),
        ("db.service", old, Some(M1)),
    ] {
        jobs.insert(name.to_owned(), job(name, hash, target));
    }
    if let Some(pending) = jobs.get_mut("web@3.service") {
        pending.pending = Some(fleet_registry::wire::PendingReason {
            reason: "none of 2 machine(s) accepts it".into(),
            refusals: Vec::new(),
        });
    }
    let slots = slots(
        &Kind::Template,
        &jobs["web@.service"],
        &jobs,
        &BTreeMap::new(),
        new,
    );
    let names: Vec<&str> = slots.iter().map(|slot| slot.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "web@2.service",
            "web@3.service",
            "web@10.service",
            "web@blue.service"
        ]
    );
    assert!(slots[0].updated && !slots[1].updated);
    assert_eq!(slots[0].machine.as_deref(), Some(M2));
    assert_eq!(
        slots[1].pending.as_deref(),
        Some("none of 2 machine(s) accepts it")
    );
}

#[test]
fn a_global_unit_rolls_over_the_machines_that_index_it() {
    // Goal: a global unit's targets are the machines whose index holds it, updated when the
    // entry carries the new hash.
    // Method: an index with the unit on M1 (new hash) and M2 (old), another unit elsewhere.
    let old = hash("[Service]\nExecStart=/bin/true\n");
    let new = hash("[Service]\nExecStart=/bin/false\n");
    let entry = |hash| ScheduleEntry {
        hash,
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    };
    let mut index: BTreeMap<String, BTreeMap<String, ScheduleEntry>> = BTreeMap::new();
    index
        .entry(M1.into())
        .or_default()
        .insert("g.service".into(), entry(new));
    index
        .entry(M2.into())
        .or_default()
        .insert("g.service".into(), entry(old));
    index
        .entry(M2.into())
        .or_default()
        .insert("other.service".into(), entry(old));
    let global = job("g.service", old, None);
    let slots = slots(&Kind::Global, &global, &BTreeMap::new(), &index, new);
    let seen: Vec<(&str, bool)> = slots
        .iter()
        .map(|slot| (slot.name.as_str(), slot.updated))
        .collect();
    assert_eq!(seen, vec![(M1, true), (M2, false)]);
}

#[test]
fn clocks_count_time_up_without_a_break_and_see_failures() {
    // Goal: up_for grows while the unit stays active, restarts at zero after a break;
    // systemd `failed` is a failure with the state in words; a unit desired loaded is
    // healthy once it reports the new hash; no report is "not reported yet".
    // Method: one clock fed reports at chosen instants.
    let new = hash("[Service]\nExecStart=/bin/false\n");
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let mut clocks = Clocks::new(new);
    let launched = DesiredState::Launched;
    let active = report("active", "running", M1, new);
    let up = |observed: Observed| match observed {
        Observed::New { up_for, .. } => up_for,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        up(clocks.observe("u", launched, Some(&active), at(0))),
        Some(Duration::ZERO)
    );
    assert_eq!(
        up(clocks.observe("u", launched, Some(&active), at(4))),
        Some(Duration::from_secs(4))
    );
    let restarting = report("activating", "auto-restart", M1, new);
    assert_eq!(
        up(clocks.observe("u", launched, Some(&restarting), at(5))),
        None
    );
    assert_eq!(
        up(clocks.observe("u", launched, Some(&active), at(7))),
        Some(Duration::ZERO)
    );
    match clocks.observe(
        "u",
        launched,
        Some(&report("failed", "failed", M1, new)),
        at(9),
    ) {
        Observed::New {
            failure,
            updated_for,
            ..
        } => {
            assert_eq!(failure.as_deref(), Some("systemd reports it failed/failed"));
            assert_eq!(updated_for, Duration::from_secs(9));
        }
        other => panic!("unexpected {other:?}"),
    }
    let loaded = report("inactive", "dead", M1, new);
    assert_eq!(
        up(clocks.observe("v", DesiredState::Loaded, Some(&loaded), at(1))),
        Some(Duration::MAX)
    );
    match clocks.observe("w", launched, None, at(1)) {
        Observed::New { state, .. } => assert_eq!(state, "not reported yet"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_unplaceable_target_fails_only_once_it_stays_so() {
    // Goal: a pending reason seen right after a move is not yet a failure (it may predate
    // the new file); one that lasts the grace is, with the reason in words; being placed
    // again resets the grace.
    // Method: one clock fed pending observations at chosen instants.
    let new = hash("[Service]\nExecStart=/bin/false\n");
    let t0 = Instant::now();
    let mut clocks = Clocks::new(new);
    let failure = |observed: Observed| match observed {
        Observed::New { failure, .. } => failure,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(failure(clocks.unplaceable("u", "no machine", t0)), None);
    let later = t0 + UNPLACEABLE_GRACE;
    assert_eq!(
        failure(clocks.unplaceable("u", "no machine", later)).as_deref(),
        Some("cannot be placed: no machine")
    );
    clocks.pending_since.remove("v");
    assert_eq!(failure(clocks.unplaceable("v", "no machine", later)), None);
}

#[test]
fn only_units_whose_record_lags_their_rollout_are_rolling() {
    // Goal: `rolling_hashes` names a unit while its record's hash differs from the
    // rollout's, and not once they agree.
    // Method: two units with rollout records, one finished.
    let old = hash("[Service]\nExecStart=/bin/true\n");
    let new = hash("[Service]\nExecStart=/bin/false\n");
    let record = |hash| RolloutRecord {
        hash,
        strategy: fleet_core::rollout::Strategy::default(),
        state: RolloutState::Running,
        progress: fleet_core::rollout::Progress::default(),
        started: 0,
    };
    let mut jobs = BTreeMap::new();
    let mut partway = job("g.service", old, None);
    partway.rollout = Some((record(new), String::new()));
    let mut finished = job("h.service", new, None);
    finished.rollout = Some((record(new), String::new()));
    jobs.insert("g.service".to_owned(), partway);
    jobs.insert("h.service".to_owned(), finished);
    let rolling = rolling_hashes(&jobs);
    assert_eq!(
        rolling.into_iter().collect::<Vec<_>>(),
        vec![("g.service".to_owned(), new)]
    );
}
