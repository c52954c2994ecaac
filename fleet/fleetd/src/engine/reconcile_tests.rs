//! The engine's pure half on hand-made registries: what goes into the snapshot, and which
//! writes a plan turns into (none when the registry already says it).

use super::*;
use fleet_core::schedule::plan;
use fleet_registry::wire::{CompletionRecord, StateReport};

const M1: &str = "1111111111111111111111111111111a";
const M2: &str = "2222222222222222222222222222222b";

fn id(text: &str) -> MachineId {
    MachineId::parse(text).expect("valid ID")
}

fn file(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("test unit parses")
}

struct World {
    jobs: BTreeMap<String, JobView>,
    machines: BTreeMap<MachineId, MachineObject>,
    files: UnitFiles,
    index: BTreeMap<String, BTreeMap<String, ScheduleEntry>>,
    rolling: BTreeMap<String, UnitHash>,
}

impl World {
    fn new(machines: &[&str]) -> World {
        let machines = machines
            .iter()
            .map(|text| {
                let object = MachineObject {
                    id: id(text),
                    public_ip: String::new(),
                    metadata: BTreeMap::new(),
                    engine_disabled: false,
                    version: String::new(),
                    api_url: None,
                    capacity: None,
                    cordoned: false,
                };
                (id(text), object)
            })
            .collect();
        World {
            jobs: BTreeMap::new(),
            machines,
            files: UnitFiles::default(),
            index: BTreeMap::new(),
            rolling: BTreeMap::new(),
        }
    }

    fn unit(&mut self, name: &str, text: &str, desired: DesiredState, target: Option<&str>) {
        let file = file(text);
        let hash = file.hash();
        self.files.files.insert(hash, file);
        self.jobs.insert(
            name.to_owned(),
            JobView {
                name: name.to_owned(),
                hash,
                desired,
                target: target.map(id),
                pending: None,
                replicas: None,
                rollout: None,
                completion: None,
            },
        );
    }

    fn writes(&mut self) -> Vec<Write> {
        let (snapshot, skipped) = snapshot(&self.jobs, &self.machines, &mut self.files);
        writes(
            &plan(&snapshot),
            &snapshot,
            &self.jobs,
            &self.index,
            &skipped,
            &self.rolling,
        )
    }

    /// Applies `writes` as the registry would.
    fn apply(&mut self, writes: &[Write]) {
        for write in writes {
            match write {
                Write::Unplace { unit, .. } => self.jobs.get_mut(unit).expect("unit").target = None,
                Write::Place { unit, machine } => {
                    self.jobs.get_mut(unit).expect("unit").target = Some(machine.clone());
                }
                Write::SetPending { unit, reason } => {
                    self.jobs.get_mut(unit).expect("unit").pending = Some(reason.clone());
                }
                Write::ClearPending { unit } => {
                    self.jobs.get_mut(unit).expect("unit").pending = None
                }
                Write::DeleteEntry { machine, unit } => {
                    self.index
                        .entry(machine.to_string())
                        .or_default()
                        .remove(unit);
                }
                Write::PutEntry {
                    machine,
                    unit,
                    entry,
                } => {
                    self.index
                        .entry(machine.to_string())
                        .or_default()
                        .insert(unit.clone(), *entry);
                }
            }
        }
    }
}

const PLAIN: &str = "[Service]\nExecStart=/bin/sleep 1000\n";

#[test]
fn a_new_unit_is_placed_then_indexed_and_a_second_pass_writes_nothing() {
    // Goal: placement before index; the pass is idempotent once applied.
    // Method: one launched unit on two machines; apply the writes; plan again.
    let mut world = World::new(&[M1, M2]);
    world.unit("a.service", PLAIN, DesiredState::Launched, None);
    let first = world.writes();
    let hash = world.jobs["a.service"].hash;
    assert_eq!(
        first,
        vec![
            Write::Place {
                unit: "a.service".into(),
                machine: id(M1)
            },
            Write::PutEntry {
                machine: id(M1),
                unit: "a.service".into(),
                entry: ScheduleEntry {
                    hash,
                    desired: DesiredState::Launched,
                    triggered: false,
                    batch: false,
                    attempt: fleet_core::model::Attempt::ONLY,
                    stop_when_cut_off: false,
                }
            },
        ]
    );
    world.apply(&first);
    assert_eq!(world.writes(), vec![]);
}

#[test]
fn a_lost_machine_loses_its_units_and_its_index() {
    // Goal: when a machine's presence goes, its units are unplaced, placed elsewhere on the
    // next pass, and its index entries are deleted.
    // Method: a unit placed and indexed on M1; remove M1; two passes.
    let mut world = World::new(&[M1, M2]);
    world.unit("a.service", PLAIN, DesiredState::Launched, None);
    let first = world.writes();
    world.apply(&first);
    world.machines.remove(&id(M1));
    let second = world.writes();
    assert!(second.contains(&Write::Unplace {
        unit: "a.service".into(),
        machine: id(M1)
    }));
    assert!(second.contains(&Write::DeleteEntry {
        machine: id(M1),
        unit: "a.service".into()
    }));
    world.apply(&second);
    let third = world.writes();
    world.apply(&third);
    assert_eq!(world.jobs["a.service"].target, Some(id(M2)));
    assert!(world.index[M2].contains_key("a.service"));
    assert!(world.index[M1].is_empty());
    assert_eq!(world.writes(), vec![]);
}

#[test]
fn an_unplaceable_unit_gets_a_reason_that_is_cleared_once_placed() {
    // Goal: a unit no machine accepts gets a pending reason naming each machine's refusal,
    // written once; it is removed when a machine that accepts it appears.
    // Method: MachineID= naming an absent machine; then that machine joins.
    let mut world = World::new(&[M1]);
    let text = format!("[Service]\nExecStart=/bin/true\n[X-Fleet]\nMachineID={M2}\n");
    world.unit("b.service", &text, DesiredState::Launched, None);
    let first = world.writes();
    let Some(Write::SetPending { reason, .. }) = first.first() else {
        panic!("expected a pending reason first: {first:?}");
    };
    assert_eq!(reason.refusals.len(), 1);
    assert_eq!(reason.refusals[0].0, M1);
    assert!(reason.refusals[0].1.contains("MachineID"), "{reason:?}");
    world.apply(&first);
    assert_eq!(
        world.writes(),
        vec![],
        "the same reason is not written again"
    );
    world.machines.insert(id(M2), {
        let mut object = world.machines[&id(M1)].clone();
        object.id = id(M2);
        object
    });
    let placed = world.writes();
    assert!(placed.contains(&Write::ClearPending {
        unit: "b.service".into()
    }));
    world.apply(&placed);
    assert_eq!(world.jobs["b.service"].target, Some(id(M2)));
}

#[test]
fn globals_are_indexed_on_every_machine_and_templates_never() {
    // Goal: a global unit gets an index entry per machine and no placement; a template is not
    // scheduled at all; a unit whose file is missing keeps its index entry.
    // Method: one global, one template, one unit with a missing file already indexed.
    let mut world = World::new(&[M1, M2]);
    world.unit(
        "g.service",
        "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n",
        DesiredState::Launched,
        None,
    );
    world.unit("t@.service", PLAIN, DesiredState::Inactive, None);
    world.unit("m.service", PLAIN, DesiredState::Launched, Some(M1));
    let missing = world.jobs["m.service"].hash;
    world.files.files.remove(&missing);
    let kept = ScheduleEntry {
        hash: missing,
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    };
    world
        .index
        .entry(M1.to_owned())
        .or_default()
        .insert("m.service".into(), kept);
    let writes = world.writes();
    let puts: Vec<_> = writes
        .iter()
        .filter_map(|write| match write {
            Write::PutEntry { machine, unit, .. } => Some((machine.as_str(), unit.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(puts, vec![(M1, "g.service"), (M2, "g.service")]);
    assert!(writes
        .iter()
        .all(|write| !matches!(write, Write::Place { .. } | Write::DeleteEntry { .. })));
}

#[test]
fn a_changed_desired_state_rewrites_the_entry_and_inactive_removes_it() {
    // Goal: loaded → launched rewrites the index entry; inactive unplaces and deletes it.
    // Method: a unit placed and indexed as loaded; change its desired state twice.
    let mut world = World::new(&[M1]);
    world.unit("c.service", PLAIN, DesiredState::Loaded, None);
    let first = world.writes();
    world.apply(&first);
    world.jobs.get_mut("c.service").expect("unit").desired = DesiredState::Launched;
    let relaunch = world.writes();
    assert_eq!(relaunch.len(), 1);
    assert!(matches!(
        &relaunch[0],
        Write::PutEntry { entry, .. } if entry.desired == DesiredState::Launched
    ));
    world.apply(&relaunch);
    world.jobs.get_mut("c.service").expect("unit").desired = DesiredState::Inactive;
    let stop = world.writes();
    assert_eq!(
        stop,
        vec![
            Write::Unplace {
                unit: "c.service".into(),
                machine: id(M1)
            },
            Write::DeleteEntry {
                machine: id(M1),
                unit: "c.service".into()
            },
        ]
    );
}

#[test]
fn reports_of_a_machine_are_deleted_one_ttl_after_it_went_away() {
    // Goal: reports of present machines stay; those of an absent machine stay for the grace
    // period and are returned once it has passed; a machine that comes back is forgotten.
    // Method: synthetic instants, three sweeps.
    let hash = file(PLAIN).hash();
    let report = |machine: &str| StateReport {
        load_state: "loaded".into(),
        active_state: "active".into(),
        sub_state: "running".into(),
        machine: id(machine),
        hash,
        launched: true,
    };
    let reports: BTreeMap<(String, String), StateReport> = [
        (("a.service".to_owned(), M1.to_owned()), report(M1)),
        (("a.service".to_owned(), M2.to_owned()), report(M2)),
    ]
    .into();
    let present: BTreeSet<String> = [M1.to_owned()].into();
    let grace = Duration::from_secs(30);
    let start = Instant::now();
    let mut absent = BTreeMap::new();
    assert!(stale_reports(&reports, &present, &mut absent, start, grace).is_empty());
    let later = start + Duration::from_secs(29);
    assert!(stale_reports(&reports, &present, &mut absent, later, grace).is_empty());
    let expired = start + grace;
    assert_eq!(
        stale_reports(&reports, &present, &mut absent, expired, grace),
        vec![("a.service".to_owned(), M2.to_owned())]
    );
    let back: BTreeSet<String> = [M1.to_owned(), M2.to_owned()].into();
    assert!(stale_reports(&reports, &back, &mut absent, expired, grace).is_empty());
    assert!(absent.is_empty(), "a machine that came back is forgotten");
}

#[test]
fn requirements_are_parsed_once_per_unit_and_hash_and_forgotten_with_the_unit() {
    // Goal: a pass keeps each unit's parsed requirements (templates included), a replaced
    // file is parsed again under its new hash, and a destroyed unit is forgotten.
    // Method: passes over a world whose units change between them.
    let mut world = World::new(&[M1]);
    world.unit("a.service", PLAIN, DesiredState::Launched, None);
    world.unit("t@.service", PLAIN, DesiredState::Inactive, None);
    world.writes();
    assert_eq!(world.files.parsed_len(), 2);
    world.unit(
        "a.service",
        "[Service]\nExecStart=/bin/true\n",
        DesiredState::Launched,
        None,
    );
    world.writes();
    assert_eq!(
        world.files.parsed_len(),
        2,
        "the old hash of a.service is forgotten"
    );
    world.jobs.remove("t@.service");
    world.writes();
    assert_eq!(world.files.parsed_len(), 1);
}

#[test]
fn a_machine_gone_within_the_grace_is_kept_as_lost_then_dropped() {
    // Goal: a machine that disappears is returned as lost until the grace has passed, is
    // forgotten when it comes back, and with no grace is never kept; lost machines join the
    // snapshot marked lost. Method: synthetic instants, successive updates.
    let world = World::new(&[M1, M2]);
    let both = world.machines.clone();
    let mut only_one = both.clone();
    only_one.remove(&id(M2));
    let grace = Duration::from_secs(10);
    let start = Instant::now();
    let mut lost = LostMachines::default();
    assert!(lost.update(&both, start, grace).is_empty());
    let kept = lost.update(&only_one, start + Duration::from_secs(1), grace);
    assert_eq!(
        kept.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        vec![id(M2)]
    );
    assert_eq!(
        lost.update(&only_one, start + Duration::from_secs(10), grace)
            .len(),
        1
    );
    assert!(lost
        .update(&only_one, start + Duration::from_secs(11), grace)
        .is_empty());
    assert!(lost
        .update(&both, start + Duration::from_secs(12), grace)
        .is_empty());
    let again = lost.update(&only_one, start + Duration::from_secs(13), grace);
    assert_eq!(
        again.len(),
        1,
        "a machine that came back and left again is lost anew"
    );
    let mut no_grace = LostMachines::default();
    no_grace.update(&both, start, Duration::ZERO);
    assert!(no_grace.update(&only_one, start, Duration::ZERO).is_empty());

    let mut snapshot = ClusterSnapshot::default();
    add_lost(&mut snapshot, &again);
    assert!(snapshot.machines[&id(M2)].lost);
}

#[test]
fn index_entries_on_a_rolling_hash_are_kept_and_the_rest_follow_the_record() {
    // Goal: a global unit partway through a rollout: machines the rollout moved keep the new
    // hash; the others get the record's hash; without a rollout the record's hash wins.
    // Method: a global unit indexed on both machines, M1's entry moved to a new hash.
    let mut world = World::new(&[M1, M2]);
    world.unit(
        "g.service",
        "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n",
        DesiredState::Launched,
        None,
    );
    let first = world.writes();
    world.apply(&first);
    let old = world.jobs["g.service"].hash;
    let new = file("[Service]\nExecStart=/bin/false\n[X-Fleet]\nGlobal=true\n").hash();
    let moved = ScheduleEntry {
        hash: new,
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    };
    world
        .index
        .get_mut(M1)
        .expect("M1 indexed")
        .insert("g.service".into(), moved);
    world.rolling.insert("g.service".into(), new);
    assert_eq!(world.writes(), vec![]);
    world.rolling.clear();
    assert_eq!(
        world.writes(),
        vec![Write::PutEntry {
            machine: id(M1),
            unit: "g.service".into(),
            entry: ScheduleEntry {
                hash: old,
                desired: DesiredState::Launched,
                triggered: false,
                batch: false,
                attempt: fleet_core::model::Attempt::ONLY,
                stop_when_cut_off: false,
            },
        }]
    );
}

#[test]
fn a_timers_service_is_placed_on_the_timers_machine() {
    // Goal: the service a timer starts follows the timer (implied MachineOf), though the
    // least-loaded rule alone would put it on the other machine; a service pinned with
    // MachineID keeps its own placement; the index entries of services that a launched
    // timer starts say `triggered`, and only those.
    // Method: a timer pinned to M2, its service and a pinned service of another timer, and
    // a loaded timer; passes applied until nothing is written.
    let mut world = World::new(&[M1, M2]);
    world.unit(
        "backup.timer",
        &format!("[Timer]\nOnActiveSec=60\n[X-Fleet]\nMachineID={M2}\n"),
        DesiredState::Launched,
        None,
    );
    world.unit("backup.service", PLAIN, DesiredState::Loaded, None);
    world.unit(
        "report.timer",
        &format!("[Timer]\nOnActiveSec=60\nUnit=mail.service\n[X-Fleet]\nMachineID={M2}\n"),
        DesiredState::Launched,
        None,
    );
    world.unit(
        "mail.service",
        &format!("{PLAIN}[X-Fleet]\nMachineID={M1}\n"),
        DesiredState::Loaded,
        None,
    );
    world.unit(
        "idle.timer",
        "[Timer]\nOnActiveSec=60\n",
        DesiredState::Loaded,
        None,
    );
    world.unit("idle.service", PLAIN, DesiredState::Loaded, None);
    for _ in 0..3 {
        let writes = world.writes();
        world.apply(&writes);
    }
    assert_eq!(world.writes(), vec![]);
    let target = |unit: &str| world.jobs[unit].target.clone();
    assert_eq!(target("backup.timer"), Some(id(M2)));
    assert_eq!(target("backup.service"), Some(id(M2)));
    assert_eq!(target("mail.service"), Some(id(M1)));
    let triggered: BTreeSet<&str> = world
        .index
        .values()
        .flatten()
        .filter(|(_, entry)| entry.triggered)
        .map(|(unit, _)| unit.as_str())
        .collect();
    assert_eq!(
        triggered,
        BTreeSet::from(["backup.service", "mail.service"])
    );
}

#[test]
fn a_finished_batch_job_stays_where_it_ran_when_its_machine_is_lost() {
    // Goal: a oneshot service's index entry says batch; once its completion names its
    // current file it is left out of the snapshot, and when its machine is lost it is not
    // placed elsewhere and its entry stays; a job not finished yet (completion of another
    // file) moves as any unit.
    // Method: two oneshot jobs placed on M1 and applied; completions written; M1 removed.
    let mut world = World::new(&[M1, M2]);
    let job = "[Service]\nType=oneshot\nExecStart=/bin/true\n";
    world.unit("done.service", job, DesiredState::Launched, None);
    world.unit("old.service", job, DesiredState::Launched, None);
    world.machines.retain(|machine, _| machine.as_str() == M1);
    for _ in 0..2 {
        let writes = world.writes();
        world.apply(&writes);
    }
    let entries = &world.index[M1];
    assert!(entries.values().all(|entry| entry.batch), "{entries:?}");
    let completion = |hash| CompletionRecord {
        hash,
        machine: id(M1),
        result: "success".into(),
        exit_status: 0,
        finished_ms: 1,
        attempt: fleet_core::model::Attempt::ONLY,
    };
    let done = world.jobs["done.service"].hash;
    world.jobs.get_mut("done.service").expect("job").completion = Some(completion(done));
    let other = UnitHash::of_text("[Service]\nExecStart=/bin/false\n");
    world.jobs.get_mut("old.service").expect("job").completion = Some(completion(other));
    let (snapshot, _) = snapshot(&world.jobs, &world.machines, &mut world.files);
    assert!(!snapshot.units.contains_key("done.service"));
    assert!(snapshot.units.contains_key("old.service"));

    world.machines = World::new(&[M2]).machines;
    let writes = world.writes();
    world.apply(&writes);
    assert_eq!(world.jobs["done.service"].target, Some(id(M1)));
    assert!(world.index[M1].contains_key("done.service"));
    assert!(!world.index[M1].contains_key("old.service"));
    assert_eq!(world.jobs["old.service"].target, Some(id(M2)));
}

#[test]
fn a_failed_batch_job_with_retries_is_run_again_where_it_ran_until_the_last_attempt() {
    // Goal: a job with `Retries=2` has entry attempt 1 of 3; each failed attempt makes the
    // next one on the same machine, after the failed run's end; a failure of the third
    // attempt finishes it (entry kept, no further attempt); an attempt that ran on another
    // machine gives the next attempt no `after` (that clock is not this machine's).
    // Method: one machine, the completion written by hand after each pass.
    let mut world = World::new(&[M1]);
    let text = "[Service]\nType=oneshot\nExecStart=/bin/false\n[X-Fleet]\nRetries=2\n";
    world.unit("job.service", text, DesiredState::Launched, None);
    for _ in 0..2 {
        let writes = world.writes();
        world.apply(&writes);
    }
    let attempt = |world: &World| world.index[M1]["job.service"].attempt;
    assert_eq!(
        attempt(&world),
        Attempt {
            number: 1,
            of: 3,
            after_ms: 0
        }
    );
    let hash = world.jobs["job.service"].hash;
    let failed = |number: u32, machine: &str, finished_ms: u64| CompletionRecord {
        hash,
        machine: id(machine),
        result: "exit-code".into(),
        exit_status: 1,
        finished_ms,
        attempt: Attempt {
            number,
            of: 3,
            after_ms: 0,
        },
    };
    for number in 1..=2 {
        let ended = 1_000 * u64::from(number);
        world.jobs.get_mut("job.service").expect("job").completion =
            Some(failed(number, M1, ended));
        let writes = world.writes();
        world.apply(&writes);
        assert_eq!(
            attempt(&world),
            Attempt {
                number: number + 1,
                of: 3,
                after_ms: ended
            }
        );
    }
    world.jobs.get_mut("job.service").expect("job").completion = Some(failed(2, M2, 5));
    let writes = world.writes();
    world.apply(&writes);
    assert_eq!(attempt(&world).after_ms, 0);
    world.jobs.get_mut("job.service").expect("job").completion = Some(failed(3, M1, 9_000));
    assert!(world.jobs["job.service"].finished());
    let writes = world.writes();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(attempt(&world).number, 3);
}

#[test]
fn the_entry_of_a_unit_that_stops_when_cut_off_says_so() {
    // Goal: `WhenCutOff=stop` marks the unit's index entry; another unit's entry is not
    // marked.
    let mut world = World::new(&[M1]);
    let fenced = "[Service]\nExecStart=/bin/sleep 1\n[X-Fleet]\nWhenCutOff=stop\n";
    world.unit("db.service", fenced, DesiredState::Launched, None);
    world.unit(
        "web.service",
        "[Service]\nExecStart=/bin/sleep 1\n",
        DesiredState::Launched,
        None,
    );
    for _ in 0..2 {
        let writes = world.writes();
        world.apply(&writes);
    }
    assert!(world.index[M1]["db.service"].stop_when_cut_off);
    assert!(!world.index[M1]["web.service"].stop_when_cut_off);
}
