//! Table tests of the engine's plan on hand-made cluster snapshots: every `[X-Fleet]` rule,
//! least-loaded order and its tie-break, machine loss, globals in the load count, and
//! determinism. Method: build a snapshot, call `plan`, compare the decisions.

use super::*;
use crate::model::Requirements;

pub(super) fn machine(id: &str, metadata: &[(&str, &str)]) -> MachineView {
    MachineView {
        id: MachineId::parse(id).expect("test IDs are valid"),
        metadata: metadata
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        capacity: None,
        cordoned: false,
        lost: false,
    }
}

pub(super) fn id(text: &str) -> MachineId {
    MachineId::parse(text).expect("test IDs are valid")
}

pub(super) fn unit(name: &str, desired: DesiredState, target: Option<&str>) -> UnitView {
    UnitView {
        name: name.to_owned(),
        requirements: Requirements::default(),
        desired,
        target: target.map(id),
    }
}

pub(super) fn with(mut unit: UnitView, change: impl FnOnce(&mut Requirements)) -> UnitView {
    change(&mut unit.requirements);
    unit
}

pub(super) fn plan(snapshot: &ClusterSnapshot) -> Vec<Decision> {
    super::plan(snapshot).decisions
}

pub(super) fn snapshot(machines: Vec<MachineView>, units: Vec<UnitView>) -> ClusterSnapshot {
    ClusterSnapshot {
        units: units.into_iter().map(|u| (u.name.clone(), u)).collect(),
        machines: machines.into_iter().map(|m| (m.id.clone(), m)).collect(),
    }
}

pub(super) fn place(unit: &str, machine: &str) -> Decision {
    Decision::Place {
        unit: unit.to_owned(),
        machine: id(machine),
    }
}

pub(super) fn placements(decisions: &[Decision]) -> Vec<(String, String)> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            Decision::Place { unit, machine } => Some((unit.clone(), machine.to_string())),
            _ => None,
        })
        .collect()
}

pub(super) use DesiredState::{Inactive, Launched, Loaded};

#[test]
fn least_loaded_first_ties_by_machine_id() {
    // Goal: units go to the machine with the fewest units, ties broken by ID, and each
    // placement counts for the next decision. Method: three empty machines, four units.
    let plan = plan(&snapshot(
        vec![machine("c", &[]), machine("a", &[]), machine("b", &[])],
        vec![
            unit("u1.service", Launched, None),
            unit("u2.service", Loaded, None),
            unit("u3.service", Launched, None),
            unit("u4.service", Launched, None),
        ],
    ));
    assert_eq!(
        plan,
        vec![
            place("u1.service", "a"),
            place("u2.service", "b"),
            place("u3.service", "c"),
            place("u4.service", "a"),
        ]
    );
}

#[test]
fn placed_units_and_globals_count_as_load() {
    // Goal: a machine's load includes units already placed there and globals applying there.
    // Method: a holds one placed unit, b holds a global (metadata-limited to b); c is empty,
    // so the new unit goes to c, then the next to a (tie a/b by ID).
    let global = with(unit("g.service", Launched, None), |r| {
        r.global = true;
        r.metadata.insert("role".into(), ["edge".to_owned()].into());
    });
    let plan = plan(&snapshot(
        vec![
            machine("a", &[]),
            machine("b", &[("role", "edge")]),
            machine("c", &[]),
        ],
        vec![
            unit("placed.service", Launched, Some("a")),
            global,
            unit("new1.service", Launched, None),
            unit("new2.service", Launched, None),
        ],
    ));
    assert_eq!(
        plan,
        vec![place("new1.service", "c"), place("new2.service", "a")]
    );
}

#[test]
fn inactive_units_are_not_placed_and_placed_ones_are_removed() {
    // Goal: desired inactive means no placement; a placed unit turned inactive is unplaced.
    let plan = plan(&snapshot(
        vec![machine("a", &[])],
        vec![
            unit("idle.service", Inactive, None),
            unit("was.service", Inactive, Some("a")),
        ],
    ));
    assert_eq!(
        plan,
        vec![Decision::Unplace {
            unit: "was.service".into(),
            machine: id("a"),
            reason: UnplaceReason::DesiredInactive,
        }]
    );
}

#[test]
fn a_lost_machines_units_move_in_the_same_pass() {
    // Goal: units of a machine whose presence expired are unplaced and placed elsewhere
    // in one pass. Method: target "gone" is not among the live machines.
    let plan = plan(&snapshot(
        vec![machine("a", &[]), machine("b", &[])],
        vec![
            unit("x.service", Launched, Some("gone")),
            unit("y.service", Launched, Some("a")),
        ],
    ));
    assert_eq!(
        plan,
        vec![
            Decision::Unplace {
                unit: "x.service".into(),
                machine: id("gone"),
                reason: UnplaceReason::MachineGone,
            },
            place("x.service", "b"),
        ]
    );
}

#[test]
fn machine_id_accepts_the_full_and_the_short_form() {
    // Goal: MachineID= pins a unit, by full ID or its 8-char prefix; an absent ID leaves the
    // unit unplaceable with a reason for every machine.
    let full = "0123456789abcdef0123456789abcdef";
    let other = "fedcba9876543210fedcba9876543210";
    let pinned = |name: &str, wanted: &str| {
        with(unit(name, Launched, None), |r| {
            r.machine_id = Some(wanted.into());
        })
    };
    let plan = plan(&snapshot(
        vec![machine(full, &[]), machine(other, &[])],
        vec![
            pinned("full.service", full),
            pinned("short.service", "01234567"),
            pinned("absent.service", "nothere"),
        ],
    ));
    let wanted = Refusal::MachineIdMismatch {
        wanted: "nothere".into(),
    };
    assert_eq!(
        plan,
        vec![
            Decision::Unplaceable {
                unit: "absent.service".into(),
                refusals: vec![(id(full), wanted.clone()), (id(other), wanted)],
            },
            place("full.service", full),
            place("short.service", full),
        ]
    );
}

#[test]
fn metadata_values_of_one_key_are_ored_and_keys_anded() {
    // Goal: MachineMetadata: same key = OR set, different keys = AND.
    let wants = with(unit("w.service", Launched, None), |r| {
        r.metadata
            .insert("region".into(), ["us".to_owned(), "eu".to_owned()].into());
        r.metadata.insert("disk".into(), ["ssd".to_owned()].into());
    });
    let plan = plan(&snapshot(
        vec![
            machine("a", &[("region", "us")]),
            machine("b", &[("region", "ap"), ("disk", "ssd")]),
            machine("c", &[("region", "eu"), ("disk", "ssd")]),
        ],
        vec![wants],
    ));
    assert_eq!(plan, vec![place("w.service", "c")]);
}

#[test]
fn unplaceable_metadata_names_the_first_failing_key() {
    // Goal: the reason kept for `fleetctl start` names the rule and the key (fleet#1348).
    let wants = with(unit("w.service", Launched, None), |r| {
        r.metadata.insert("region".into(), ["us".to_owned()].into());
    });
    let plan = plan(&snapshot(
        vec![machine("a", &[("region", "eu")])],
        vec![wants],
    ));
    let refusal = Refusal::MetadataMismatch {
        key: "region".into(),
        accepted: vec!["us".into()],
    };
    assert_eq!(refusal.to_string(), "MachineMetadata region=us not matched");
    assert_eq!(
        plan,
        vec![Decision::Unplaceable {
            unit: "w.service".into(),
            refusals: vec![(id("a"), refusal)],
        }]
    );
}

#[test]
fn no_live_machine_is_unplaceable_with_no_refusals() {
    // Goal: with no machine at all, the unit waits with an empty refusal list.
    let plan = plan(&snapshot(vec![], vec![unit("u.service", Launched, None)]));
    assert_eq!(
        plan,
        vec![Decision::Unplaceable {
            unit: "u.service".into(),
            refusals: vec![],
        }]
    );
}

#[test]
fn machine_of_follows_its_peer_and_waits_for_it() {
    // Goal: MachineOf places the follower with its peer; a follower whose peer is unplaced
    // waits; a follower whose peer moved is unplaced, then follows.
    let follower = |name: &str, peer: &str, target: Option<&str>| {
        with(unit(name, Launched, target), |r| {
            r.machine_of = vec![peer.into()];
        })
    };
    let plan = plan(&snapshot(
        vec![machine("a", &[]), machine("b", &[])],
        vec![
            unit("db.service", Launched, Some("b")),
            follower("app.service", "db.service", None),
            follower("lost.service", "nowhere.service", None),
            follower("stale.service", "db.service", Some("a")),
        ],
    ));
    assert_eq!(
        plan,
        vec![
            Decision::Unplace {
                unit: "stale.service".into(),
                machine: id("a"),
                reason: UnplaceReason::Ineligible(Refusal::MachineOfMissing {
                    unit: "db.service".into(),
                }),
            },
            place("app.service", "b"),
            Decision::Unplaceable {
                unit: "lost.service".into(),
                refusals: vec![
                    (
                        id("a"),
                        Refusal::MachineOfMissing {
                            unit: "nowhere.service".into()
                        }
                    ),
                    (
                        id("b"),
                        Refusal::MachineOfMissing {
                            unit: "nowhere.service".into()
                        }
                    ),
                ],
            },
            place("stale.service", "b"),
        ]
    );
}

#[test]
fn a_follower_named_before_its_peer_is_placed_with_it_in_one_pass() {
    // Goal: `backup.service` sorts before `backup.timer`, which it follows; both unplaced,
    // one plan places the timer and then the service on the same machine, with no
    // unplaceable step in between.
    let plan = plan(&snapshot(
        vec![machine("a", &[]), machine("b", &[])],
        vec![
            with(unit("backup.service", Loaded, None), |r| {
                r.machine_of = vec!["backup.timer".into()];
            }),
            unit("backup.timer", Launched, None),
        ],
    ));
    assert_eq!(
        plan,
        vec![place("backup.timer", "a"), place("backup.service", "a")]
    );
}

#[test]
fn conflicts_are_symmetric_globbed_and_never_with_oneself() {
    // Goal: Conflicts: a pattern of either unit matching the other keeps them apart;
    // globs apply; a unit's pattern matching its own name does not block it.
    let web = |name: &str| {
        with(unit(name, Launched, None), |r| {
            r.conflicts = vec!["web@*.service".into()];
        })
    };
    let plan = plan(&snapshot(
        vec![machine("a", &[]), machine("b", &[]), machine("c", &[])],
        vec![
            web("web@1.service"),
            web("web@2.service"),
            web("web@3.service"),
            web("web@4.service"),
        ],
    ));
    assert_eq!(
        placements(&plan),
        vec![
            ("web@1.service".into(), "a".into()),
            ("web@2.service".into(), "b".into()),
            ("web@3.service".into(), "c".into()),
        ]
    );
    let Some(Decision::Unplaceable { refusals, .. }) = plan.last() else {
        panic!("the fourth instance has no machine: {plan:?}");
    };
    let reasons: Vec<String> = refusals.iter().map(|(_, r)| r.to_string()).collect();
    assert_eq!(
        reasons,
        vec![
            "conflicts with web@1.service",
            "conflicts with web@2.service",
            "conflicts with web@3.service",
        ]
    );

    // The other direction: only the placed unit declares the conflict.
    let plain = plan_of(
        vec![machine("a", &[]), machine("b", &[])],
        vec![
            with(unit("lonely.service", Launched, Some("a")), |r| {
                r.conflicts = vec!["*".into()];
            }),
            unit("other.service", Launched, None),
        ],
    );
    assert_eq!(plain, vec![place("other.service", "b")]);
}

fn plan_of(machines: Vec<MachineView>, units: Vec<UnitView>) -> Vec<Decision> {
    plan(&snapshot(machines, units))
}

#[test]
fn globals_are_never_placed_but_block_conflicting_units() {
    // Goal: globals get no target; once a global applies on a machine, units conflicting
    // with it cannot go there.
    let global = with(unit("agent.service", Launched, None), |r| {
        r.global = true;
        r.metadata.insert("role".into(), ["x".to_owned()].into());
    });
    let shy = with(unit("shy.service", Launched, None), |r| {
        r.conflicts = vec!["agent.service".into()];
    });
    let plan = plan_of(
        vec![machine("a", &[("role", "x")]), machine("b", &[])],
        vec![global, shy],
    );
    assert_eq!(plan, vec![place("shy.service", "b")]);
}

#[test]
fn a_replaced_unit_moves_off_its_replacers_machine() {
    // Goal: Replaces displaces the other unit through the ordinary rules: pass A unplaces it
    // from the shared machine, pass B places it elsewhere, away from the replacer.
    let new = with(unit("new.service", Launched, Some("a")), |r| {
        r.replaces = vec!["old.service".into()];
    });
    let plan = plan_of(
        vec![machine("a", &[]), machine("b", &[])],
        vec![new, unit("old.service", Launched, Some("a"))],
    );
    assert_eq!(
        plan,
        vec![
            Decision::Unplace {
                unit: "old.service".into(),
                machine: id("a"),
                reason: UnplaceReason::Ineligible(Refusal::ReplacedBy {
                    unit: "new.service".into(),
                }),
            },
            place("old.service", "b"),
        ]
    );
}

#[test]
fn mutual_replacement_is_ignored() {
    // Goal: two units replacing each other may share a machine (fleet ignores the pair).
    let a = with(unit("a.service", Launched, Some("m")), |r| {
        r.replaces = vec!["b.service".into()];
    });
    let b = with(unit("b.service", Launched, Some("m")), |r| {
        r.replaces = vec!["a.service".into()];
    });
    assert_eq!(plan_of(vec![machine("m", &[])], vec![a, b]), vec![]);
}

#[test]
fn a_settled_cluster_plans_nothing_and_plans_are_deterministic() {
    // Goal: applying a plan and planning again gives no decision (convergence), and the same
    // snapshot always gives the same plan. Method: 5 machines, 40 units with conflicts, run
    // plan, apply its placements, run again.
    let machines: Vec<MachineView> = (0..5).map(|i| machine(&format!("m{i}"), &[])).collect();
    let units: Vec<UnitView> = (0..40)
        .map(|i| {
            with(unit(&format!("u{i:02}.service"), Launched, None), |r| {
                if i % 4 == 0 {
                    r.conflicts = vec!["u*0.service".into()];
                }
            })
        })
        .collect();
    let mut cluster = snapshot(machines, units);
    let first = plan(&cluster);
    assert_eq!(first, plan(&cluster));
    for decision in &first {
        if let Decision::Place { unit, machine } = decision {
            let view = cluster.units.get_mut(unit).expect("planned units exist");
            view.target = Some(machine.clone());
        }
    }
    let settled = plan(&cluster);
    assert!(
        settled
            .iter()
            .all(|decision| matches!(decision, Decision::Unplaceable { .. })),
        "{settled:?}"
    );
    let loads: BTreeMap<String, usize> =
        cluster
            .units
            .values()
            .fold(BTreeMap::new(), |mut loads, unit| {
                if let Some(target) = &unit.target {
                    *loads.entry(target.to_string()).or_default() += 1;
                }
                loads
            });
    let (min, max) = (
        loads.values().min().copied().unwrap_or(0),
        loads.values().max().copied().unwrap_or(0),
    );
    assert!(max - min <= 1, "least-loaded spreads evenly: {loads:?}");
}

#[test]
fn hosted_lists_placed_units_and_applying_globals_per_machine() {
    // Goal: the per-machine index the agents follow: each machine's placed units (after this
    // pass's decisions) plus the globals that apply there; a global that conflicts with a
    // unit already on a machine is left off that machine only. Loads tie at 2 (a: db, log;
    // b: log, probe), so web goes to a by ID.
    let global = with(unit("log.service", Launched, None), |r| r.global = true);
    let shy_global = with(unit("probe.service", Launched, None), |r| {
        r.global = true;
        r.conflicts = vec!["db.service".into()];
    });
    let off_global = with(unit("zzz.service", Inactive, None), |r| r.global = true);
    let result = super::plan(&snapshot(
        vec![machine("a", &[]), machine("b", &[])],
        vec![
            unit("db.service", Launched, Some("a")),
            unit("web.service", Loaded, None),
            global,
            shy_global,
            off_global,
        ],
    ));
    let hosted: Vec<(String, Vec<String>)> = result
        .hosted
        .iter()
        .map(|(machine, units)| (machine.to_string(), units.iter().cloned().collect()))
        .collect();
    let strings = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        hosted,
        vec![
            (
                "a".to_owned(),
                strings(&["db.service", "log.service", "web.service"])
            ),
            ("b".to_owned(), strings(&["log.service", "probe.service"])),
        ]
    );
}
