//! Tests of Keel's rules and score on hand-made snapshots: resource requests against
//! capacity, metadata expressions, spreading over machines and zones, least-allocated, and
//! `explain`; then property tests over random clusters (placements never exceed capacity,
//! never land on a filtered machine, plans converge and are deterministic).

use super::tests::{
    id, machine, place, placements, plan, snapshot, unit, with, Inactive, Launched,
};
use super::*;
use crate::selector::{parse_item, MetadataItem};
use proptest::prelude::*;

const GIB: u64 = 1 << 30;

fn sized(name: &str, cpu_millis: u64, memory: u64) -> MachineView {
    MachineView {
        capacity: Some(Resources {
            cpu_millis,
            memory_bytes: memory,
        }),
        ..machine(name, &[])
    }
}

fn requesting(name: &str, cpu_millis: u64, memory: u64) -> UnitView {
    with(unit(name, Launched, None), |r| {
        r.requests = Resources {
            cpu_millis,
            memory_bytes: memory,
        };
    })
}

fn selector(item: &str) -> crate::selector::Selector {
    match parse_item(item) {
        Ok(MetadataItem::Expression(selector)) => selector,
        other => panic!("{item}: {other:?}"),
    }
}

#[test]
fn allocation_sums_placed_and_global_requests_per_machine() {
    // Goal: a machine's allocation is what the scheduler counts against it: placed units not
    // desired inactive, and every global unit it takes; an idle machine shows nothing.
    // Method: two machines, a placed unit, an inactive one, a global one, a pending one.
    let placed = UnitView {
        target: Some(id("a")),
        ..requesting("db.service", 500, GIB)
    };
    let inactive = UnitView {
        target: Some(id("a")),
        desired: Inactive,
        ..requesting("old.service", 4000, 4 * GIB)
    };
    let global = with(requesting("agent.service", 100, GIB / 4), |r| {
        r.global = true
    });
    let pending = requesting("wait.service", 900, GIB);
    let allocation = allocation(&snapshot(
        vec![sized("a", 4000, 8 * GIB), sized("b", 4000, 8 * GIB)],
        vec![placed, inactive, global, pending],
    ));
    let of = |cpu_millis, memory_bytes| Resources {
        cpu_millis,
        memory_bytes,
    };
    assert_eq!(allocation[&id("a")], of(600, GIB + GIB / 4));
    assert_eq!(allocation[&id("b")], of(100, GIB / 4));
    assert_eq!(allocation.len(), 2);
}

#[test]
fn a_request_lands_only_where_it_fits_and_is_explained_where_not() {
    // Goal: memory and CPU requests filter machines by what is left; the refusal says what
    // was asked and what is free, in fleetctl's units.
    let small = MachineView {
        capacity: Some(Resources {
            cpu_millis: 4000,
            memory_bytes: GIB + GIB / 10 + (1 << 20),
        }),
        ..machine("small", &[])
    };
    let decisions = plan(&snapshot(
        vec![small.clone(), sized("big", 4000, 4 * GIB)],
        vec![requesting("db.service", 500, 2 * GIB)],
    ));
    assert_eq!(decisions, vec![place("db.service", "big")]);
    let decisions = plan(&snapshot(
        vec![small, sized("slow", 250, 8 * GIB)],
        vec![requesting("db.service", 500, 2 * GIB)],
    ));
    let Decision::Unplaceable { refusals, .. } = &decisions[0] else {
        panic!("expected unplaceable: {decisions:?}");
    };
    let texts: Vec<String> = refusals.iter().map(|(m, r)| format!("{m}: {r}")).collect();
    assert_eq!(
        texts,
        vec![
            "slow: insufficient cpu: requests 500m, 250m free",
            "small: insufficient memory: requests 2G, 1.1G free",
        ]
    );
}

#[test]
fn requests_add_up_within_one_pass_and_globals_reserve_first() {
    // Goal: each placement reduces what is free for the next one in the same pass, and a
    // global unit's request counts on every machine it runs on.
    let monitor = with(requesting("monitor.service", 0, GIB), |r| r.global = true);
    let units = vec![
        monitor,
        requesting("a.service", 0, GIB),
        requesting("b.service", 0, GIB),
        requesting("c.service", 0, GIB),
    ];
    let decisions = plan(&snapshot(
        vec![sized("m1", 1000, 2 * GIB), sized("m2", 1000, 2 * GIB)],
        units,
    ));
    assert_eq!(
        placements(&decisions),
        vec![
            ("a.service".to_owned(), "m1".to_owned()),
            ("b.service".to_owned(), "m2".to_owned()),
        ]
    );
    assert!(matches!(
        &decisions[2],
        Decision::Unplaceable { unit, refusals } if unit == "c.service" && refusals.len() == 2
    ));
}

#[test]
fn a_placed_unit_that_no_longer_fits_is_unplaced() {
    // Goal: pass A re-checks requests against capacity (without counting the unit itself),
    // so a machine whose declared capacity shrank sheds what no longer fits, first by name.
    let mut a = requesting("a.service", 0, GIB);
    a.target = Some(id("m"));
    let mut b = requesting("b.service", 0, GIB);
    b.target = Some(id("m"));
    let decisions = plan(&snapshot(vec![sized("m", 1000, GIB + GIB / 2)], vec![a, b]));
    assert_eq!(
        decisions[0],
        Decision::Unplace {
            unit: "a.service".into(),
            machine: id("m"),
            reason: UnplaceReason::Ineligible(Refusal::InsufficientMemory {
                requested: GIB,
                free: GIB / 2,
            }),
        }
    );
    assert_eq!(decisions.len(), 2, "{decisions:?}");
}

#[test]
fn metadata_expressions_filter_and_name_what_the_machine_holds() {
    // Goal: a selector keeps the unit off machines that fail it, and the refusal shows the
    // machine's values (or that it has none).
    let picky = with(unit("gpu.service", Launched, None), |r| {
        r.selectors = vec![selector("zone notin (a)"), selector("gpus>=2")];
    });
    let decisions = plan(&snapshot(
        vec![
            machine("m1", &[("zone", "a"), ("gpus", "4")]),
            machine("m2", &[("zone", "b")]),
            machine("m3", &[("zone", "b,c"), ("gpus", "2")]),
        ],
        vec![picky],
    ));
    assert_eq!(decisions, vec![place("gpu.service", "m3")]);
    let explanation = explain(
        &snapshot(
            vec![machine("m1", &[("zone", "a")]), machine("m2", &[])],
            vec![with(unit("gpu.service", Launched, None), |r| {
                r.selectors = vec![selector("zone notin (a)"), selector("gpus>=2")];
            })],
        ),
        "gpu.service",
    )
    .expect("the unit exists");
    let texts: Vec<String> = explanation
        .machines
        .iter()
        .map(|(m, verdict)| match verdict {
            Verdict::Filtered(refusal) => format!("{m}: {refusal}"),
            Verdict::Eligible(score) => format!("{m}: {score:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            "m1: MachineMetadata zone notin (a) not matched (zone=a)",
            "m2: MachineMetadata gpus>=2 not matched (no gpus)",
        ]
    );
    assert_eq!(explanation.best, None);
}

#[test]
fn instances_of_a_template_spread_before_load_counts() {
    // Goal: the second instance avoids the first one's machine even when that machine is
    // otherwise less loaded.
    let other = unit("other.service", Launched, Some("b"));
    let decisions = plan(&snapshot(
        vec![machine("a", &[]), machine("b", &[])],
        vec![
            other,
            unit("web@1.service", Launched, None),
            unit("web@2.service", Launched, None),
        ],
    ));
    assert_eq!(
        decisions,
        vec![place("web@1.service", "a"), place("web@2.service", "b")]
    );
}

#[test]
fn spread_by_covers_every_zone_before_doubling_up() {
    // Goal: with SpreadBy=zone, three instances over zones {a, a, b} use zone b for the
    // second one, and machines without the key score lowest.
    let instance = |n: u32| {
        with(unit(&format!("web@{n}.service"), Launched, None), |r| {
            r.spread_by = Some("zone".into());
        })
    };
    let decisions = plan(&snapshot(
        vec![
            machine("a1", &[("zone", "a")]),
            machine("a2", &[("zone", "a")]),
            machine("b1", &[("zone", "b")]),
            machine("n1", &[]),
        ],
        vec![instance(1), instance(2), instance(3)],
    ));
    assert_eq!(
        decisions,
        vec![
            place("web@1.service", "a1"),
            place("web@2.service", "b1"),
            place("web@3.service", "a2"),
        ]
    );
}

#[test]
fn least_allocated_prefers_the_machine_with_more_left() {
    // Goal: between otherwise equal machines the one left with the larger share of its
    // capacity wins, and the score says so.
    let cluster = snapshot(
        vec![sized("big", 4000, 8 * GIB), sized("small", 2000, 2 * GIB)],
        vec![requesting("db.service", 1000, GIB)],
    );
    assert_eq!(plan(&cluster), vec![place("db.service", "big")]);
    let explanation = explain(&cluster, "db.service").expect("the unit exists");
    assert_eq!(explanation.best, Some(id("big")));
    let scores: Vec<(String, Verdict)> = explanation
        .machines
        .iter()
        .map(|(m, verdict)| (m.to_string(), verdict.clone()))
        .collect();
    let score = |free, total| {
        Verdict::Eligible(Some(Score {
            total,
            spread: 100,
            zone: None,
            free,
            load: 100,
        }))
    };
    assert_eq!(
        scores,
        vec![
            ("big".to_owned(), score(81, 381)),
            ("small".to_owned(), score(50, 350)),
        ]
    );
}

#[test]
fn explain_judges_a_placed_unit_as_if_taken_off() {
    // Goal: a placed unit's own request and name do not count against its machine, globals
    // get verdicts without scores, and an unknown unit has no explanation.
    let mut db = requesting("db.service", 0, 2 * GIB);
    db.target = Some(id("m"));
    let global = with(unit("log.service", Launched, None), |r| {
        r.global = true;
        r.metadata.insert("role".into(), ["web".to_owned()].into());
    });
    let cluster = snapshot(
        vec![sized("m", 1000, 2 * GIB), machine("w", &[("role", "web")])],
        vec![db, global, unit("idle.service", Inactive, None)],
    );
    let explanation = explain(&cluster, "db.service").expect("the unit exists");
    assert_eq!(explanation.placed, Some(id("m")));
    assert!(matches!(
        explanation.machines[0].1,
        Verdict::Eligible(Some(_))
    ));
    let global = explain(&cluster, "log.service").expect("the unit exists");
    assert_eq!(global.placed, None);
    assert!(matches!(global.machines[0].1, Verdict::Filtered(_)));
    assert_eq!(global.machines[1].1, Verdict::Eligible(None));
    assert_eq!(explain(&cluster, "nope.service"), None);
}

#[test]
fn a_drained_machine_sheds_its_units_but_keeps_globals() {
    // Goal: units placed on a cordoned machine are unplaced and placed elsewhere in the same
    // pass, nothing new goes there, global units stay, and the refusal says how to undo it.
    let drained = MachineView {
        cordoned: true,
        ..machine("a", &[])
    };
    let global = with(unit("log.service", Launched, None), |r| r.global = true);
    let cluster = snapshot(
        vec![drained, machine("b", &[])],
        vec![
            unit("db.service", Launched, Some("a")),
            global,
            unit("new.service", Launched, None),
        ],
    );
    let planned = super::plan(&cluster);
    assert_eq!(
        planned.decisions,
        vec![
            Decision::Unplace {
                unit: "db.service".into(),
                machine: id("a"),
                reason: UnplaceReason::Ineligible(Refusal::Cordoned),
            },
            place("db.service", "b"),
            place("new.service", "b"),
        ]
    );
    assert_eq!(planned.hosted[&id("a")], ["log.service".to_owned()].into());
    assert_eq!(
        Refusal::Cordoned.to_string(),
        "machine is drained (fleetctl uncordon)"
    );
}

#[test]
fn a_lost_machine_keeps_its_units_during_the_grace_period() {
    // Goal: while a machine is lost (gone, within the grace), its units stay placed and in
    // its index, globals too, and nothing new goes there; once it is dropped from the
    // snapshot its units move, as for any machine gone.
    let lost = MachineView {
        lost: true,
        ..machine("a", &[])
    };
    let global = with(unit("log.service", Launched, None), |r| r.global = true);
    let units = vec![
        unit("db.service", Launched, Some("a")),
        global,
        unit("new.service", Launched, None),
    ];
    let planned = super::plan(&snapshot(vec![lost, machine("b", &[])], units.clone()));
    assert_eq!(planned.decisions, vec![place("new.service", "b")]);
    assert_eq!(
        planned.hosted[&id("a")],
        ["db.service".to_owned(), "log.service".to_owned()].into()
    );
    let after = super::plan(&snapshot(vec![machine("b", &[])], units));
    assert_eq!(
        placements(&after.decisions),
        vec![
            ("db.service".to_owned(), "b".to_owned()),
            ("new.service".to_owned(), "b".to_owned())
        ]
    );
}

/// A random cluster: machines with capacities and zones, units with requests, some of them
/// template instances, some conflicting, some already placed (possibly overcommitted).
fn cluster() -> impl Strategy<Value = ClusterSnapshot> {
    let machines = prop::collection::vec((1u64..8, 1u64..8, 0u8..3), 1..6);
    let units = prop::collection::vec(
        (0u64..3, 0u64..3, any::<bool>(), any::<bool>(), 0usize..7),
        0..25,
    );
    (machines, units).prop_map(|(machines, units)| {
        let machines: Vec<MachineView> = machines
            .into_iter()
            .enumerate()
            .map(|(n, (cpu, memory, zone))| MachineView {
                metadata: [("zone".to_owned(), zone.to_string())].into(),
                ..sized(&format!("m{n}"), cpu * 500, memory * GIB)
            })
            .collect();
        let count = machines.len();
        let units = units
            .into_iter()
            .enumerate()
            .map(|(n, (cpu, memory, instance, conflicts, target))| {
                let name = if instance {
                    format!("web@{n}.service")
                } else {
                    format!("u{n}.service")
                };
                let mut unit = with(requesting(&name, cpu * 500, memory * GIB), |r| {
                    r.spread_by = instance.then(|| "zone".to_owned());
                    if conflicts {
                        r.conflicts = vec!["u*.service".into()];
                    }
                });
                unit.target = (target < count).then(|| id(&format!("m{target}")));
                unit
            })
            .collect();
        snapshot(machines, units)
    })
}

/// The snapshot after `decisions` are written.
fn applied(mut cluster: ClusterSnapshot, decisions: &[Decision]) -> ClusterSnapshot {
    for decision in decisions {
        match decision {
            Decision::Unplace { unit, .. } => {
                if let Some(unit) = cluster.units.get_mut(unit) {
                    unit.target = None;
                }
            }
            Decision::Place { unit, machine } => {
                if let Some(unit) = cluster.units.get_mut(unit) {
                    unit.target = Some(machine.clone());
                }
            }
            Decision::Unplaceable { .. } => {}
        }
    }
    cluster
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    // Goal: whatever the starting placements, one plan leaves no machine over its capacity,
    // no placed unit where a rule refuses it, and a second plan changes nothing.
    #[test]
    fn plans_respect_capacity_and_rules_and_converge(cluster in cluster()) {
        let first = super::plan(&cluster);
        let settled = applied(cluster.clone(), &first.decisions);
        for (machine, hosted) in &first.hosted {
            let capacity = settled.machines[machine].capacity.unwrap_or_default();
            let used = hosted
                .iter()
                .fold(Resources::ZERO, |sum, name| sum.plus(settled.units[name].requirements.requests));
            prop_assert!(used.cpu_millis <= capacity.cpu_millis, "{machine}: {used}");
            prop_assert!(used.memory_bytes <= capacity.memory_bytes, "{machine}: {used}");
        }
        for unit in settled.units.values() {
            if let Some(machine) = &unit.target {
                let explanation = explain(&settled, &unit.name).expect("the unit exists");
                let verdict = explanation
                    .machines
                    .iter()
                    .find(|(id, _)| id == machine)
                    .map(|(_, verdict)| verdict.clone());
                prop_assert!(
                    matches!(verdict, Some(Verdict::Eligible(_))),
                    "{} on {machine}: {verdict:?}", unit.name
                );
            }
        }
        let second = super::plan(&settled);
        prop_assert!(
            second.decisions.iter().all(|d| matches!(d, Decision::Unplaceable { .. })),
            "{:?}", second.decisions
        );
        prop_assert_eq!(super::plan(&cluster), first);
    }
}
