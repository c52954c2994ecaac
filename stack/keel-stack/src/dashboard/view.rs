//! What the dashboard shows, built without I/O from what the public APIs answered
//! ([`Raw`]): Keel's members with their raft position and the leader, fleet's machines and
//! units (desired and current state, host, why a unit waits), the reboot semaphores and the
//! DNS records, templates with their replicas, failures and restarts over time
//! ([`super::history`]). The page renders this document as it is; nothing is decided in the
//! browser.

use super::history::{Counts, HistoryView, Tally};
use fleet_api::entities::{Machine, Unit, UnitState};
use kv_client::Member;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the sources answered in one round; a source that failed leaves its part empty and
/// names itself in `errors`.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub members: Vec<Member>,
    /// The leader's member ID, when known.
    pub leader: Option<String>,
    /// Each member's raft index and term, by member ID, when it answered.
    pub positions: BTreeMap<String, (u64, u64)>,
    pub machines: Vec<Machine>,
    pub units: Vec<Unit>,
    pub states: Vec<UnitState>,
    /// Why each waiting unit waits (`/keel/v1/units/<name>/pending`'s reason).
    pub pending: BTreeMap<String, String>,
    /// Each machine's capacity and allocation (`/keel/v1/allocation`), when fleet answered.
    pub allocation: Vec<fleet_api::keel::MachineAllocation>,
    /// The templates' replica counts (`/keel/v1/replicas`), when fleet answered.
    pub replicas: Vec<fleet_api::keel::ReplicaSet>,
    /// Every key and value under locksmith's prefix (`/coreos.com/updateengine/rebootlock`).
    pub semaphores: Vec<(String, String)>,
    /// Every key and value under the discovery prefix.
    pub records: Vec<(String, String)>,
    /// Each daemon's request counter (its `/metrics`), by daemon name.
    pub requests: BTreeMap<String, f64>,
    pub errors: Vec<String>,
}

/// The dashboard's document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    pub members: Vec<MemberView>,
    pub leader: Option<String>,
    pub machines: Vec<MachineView>,
    pub units: Vec<UnitView>,
    /// Units by their systemd active state (`active`, `failed`, ...; `-` for none yet).
    pub unit_states: BTreeMap<String, usize>,
    /// Templates (`NAME@.service`), each with its replica count and instances.
    pub templates: Vec<TemplateView>,
    /// Failures and restarts over the last minutes, and since the dashboard started.
    pub history: HistoryView,
    /// Each daemon's requests served so far (the page plots their rate), by daemon name.
    pub requests: BTreeMap<String, f64>,
    pub locks: Vec<LockView>,
    pub records: Vec<RecordView>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub client_urls: Vec<String>,
    pub leader: bool,
    /// Whether it answered this round.
    pub up: bool,
    pub raft_index: u64,
    pub raft_term: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MachineView {
    pub id: String,
    pub ip: String,
    pub metadata: BTreeMap<String, String>,
    /// Units fleet placed here.
    pub units: usize,
    /// Of those, the ones systemd reports active.
    pub active: usize,
    /// What it offers to units' CPU and memory requests (none declared: requests unchecked).
    pub capacity: Option<fleet_api::keel::Amount>,
    /// The requests of the units placed there; `None` when fleet did not say.
    pub allocated: Option<fleet_api::keel::Amount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitView {
    pub name: String,
    pub desired: String,
    pub current: String,
    pub machine: String,
    /// systemd's active and sub state on its machine (`-` before the first report).
    pub active: String,
    pub sub: String,
    /// Why it waits for a machine, when it does.
    pub pending: Option<String>,
    /// Its failures and restarts since the dashboard started.
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateView {
    pub name: String,
    /// The replica count fleet keeps (`fleetctl scale`), when one was set.
    pub replicas: Option<u32>,
    /// Its instances that exist (`NAME@<instance>.service`, numbered by `fleetctl scale` or
    /// named by hand), and those systemd reports active.
    pub instances: usize,
    pub active: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockView {
    /// The group (`default` for locksmith's default semaphore).
    pub group: String,
    pub max: i64,
    pub holders: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordView {
    pub name: String,
    pub host: String,
    pub port: Option<u64>,
}

/// locksmith's key prefix of the semaphores.
pub const LOCKSMITH_PREFIX: &str = "/coreos.com/updateengine/rebootlock";

/// The document for `raw` and the counts in `tally` at `now` (seconds); records live
/// under `/<record_prefix>`.
pub fn build(raw: &Raw, record_prefix: &str, tally: &Tally, now: u64) -> View {
    let states: BTreeMap<&str, &UnitState> = raw
        .states
        .iter()
        .map(|state| (state.name.as_str(), state))
        .collect();
    let units: Vec<UnitView> = raw
        .units
        .iter()
        .map(|unit| {
            let mut view = unit_view(unit, states.get(unit.name.as_str()).copied(), &raw.pending);
            view.counts = tally.unit(&unit.name);
            view
        })
        .collect();
    let mut unit_states = BTreeMap::new();
    for unit in &units {
        *unit_states.entry(unit.active.clone()).or_insert(0) += 1;
    }
    View {
        members: members(raw),
        leader: raw.leader.clone(),
        machines: raw
            .machines
            .iter()
            .map(|machine| machine_view(machine, &units, &raw.allocation))
            .collect(),
        templates: templates(&units, &raw.replicas),
        units,
        unit_states,
        history: tally.view(now),
        requests: raw.requests.clone(),
        locks: locks(&raw.semaphores),
        records: records(&raw.records, record_prefix),
        errors: raw.errors.clone(),
    }
}

fn members(raw: &Raw) -> Vec<MemberView> {
    raw.members
        .iter()
        .map(|member| {
            let position = raw.positions.get(&member.id);
            MemberView {
                id: member.id.clone(),
                name: member.name.clone(),
                client_urls: member.client_urls.clone(),
                leader: raw.leader.as_deref() == Some(member.id.as_str()),
                up: position.is_some(),
                raft_index: position.map_or(0, |p| p.0),
                raft_term: position.map_or(0, |p| p.1),
            }
        })
        .collect()
}

fn unit_view(
    unit: &Unit,
    state: Option<&UnitState>,
    pending: &BTreeMap<String, String>,
) -> UnitView {
    let or_dash = |text: &str| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text.to_owned()
        }
    };
    UnitView {
        name: unit.name.clone(),
        desired: or_dash(&unit.desired_state),
        current: or_dash(&unit.current_state),
        machine: or_dash(&unit.machine_id),
        active: or_dash(state.map_or("", |s| s.active_state.as_str())),
        sub: or_dash(state.map_or("", |s| s.sub_state.as_str())),
        pending: pending.get(&unit.name).cloned(),
        counts: Counts::default(),
    }
}

/// `NAME@.suffix`'s `(NAME@, .suffix)`, when `name` is a template.
fn template_parts(name: &str) -> Option<(&str, &str)> {
    let at = name.find('@')?;
    let rest = &name[at + 1..];
    rest.starts_with('.').then(|| (&name[..=at], rest))
}

/// The templates among the units, with their instances and replica counts.
fn templates(units: &[UnitView], replicas: &[fleet_api::keel::ReplicaSet]) -> Vec<TemplateView> {
    units
        .iter()
        .filter_map(|unit| {
            let (head, tail) = template_parts(&unit.name)?;
            let instances: Vec<&UnitView> = units
                .iter()
                .filter(|other| {
                    other.name.len() > head.len() + tail.len()
                        && other.name.starts_with(head)
                        && other.name.ends_with(tail)
                })
                .collect();
            Some(TemplateView {
                name: unit.name.clone(),
                replicas: replicas
                    .iter()
                    .find(|set| set.template == unit.name)
                    .map(|set| set.count),
                instances: instances.len(),
                active: instances.iter().filter(|u| u.active == "active").count(),
            })
        })
        .collect()
}

fn machine_view(
    machine: &Machine,
    units: &[UnitView],
    allocation: &[fleet_api::keel::MachineAllocation],
) -> MachineView {
    let here: Vec<&UnitView> = units.iter().filter(|u| u.machine == machine.id).collect();
    let allocation = allocation.iter().find(|entry| entry.machine == machine.id);
    MachineView {
        capacity: allocation.and_then(|entry| entry.capacity),
        allocated: allocation.map(|entry| entry.allocated),
        id: machine.id.clone(),
        ip: machine.primary_ip.clone(),
        metadata: machine.metadata.clone(),
        units: here.len(),
        active: here.iter().filter(|u| u.active == "active").count(),
    }
}

/// `<prefix>/semaphore` is the default group's; `<prefix>/groups/<name>/semaphore` others'.
/// A value that is not a semaphore document is left out.
fn locks(pairs: &[(String, String)]) -> Vec<LockView> {
    let mut locks = Vec::new();
    for (key, value) in pairs {
        let Some(rest) = key.strip_prefix(LOCKSMITH_PREFIX) else {
            continue;
        };
        let group = match rest {
            "/semaphore" => "default".to_owned(),
            _ => match rest
                .strip_prefix("/groups/")
                .and_then(|r| r.strip_suffix("/semaphore"))
            {
                Some(group) => group.to_owned(),
                None => continue,
            },
        };
        let Ok(document) = serde_json::from_str::<serde_json::Value>(value) else {
            continue;
        };
        let holders = document["holders"]
            .as_array()
            .map(|holders| {
                holders
                    .iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        locks.push(LockView {
            group,
            max: document["max"].as_i64().unwrap_or(0),
            holders,
        });
    }
    locks
}

/// Each record key with a service document (`{"host": ..., "port": ...}`).
fn records(pairs: &[(String, String)], prefix: &str) -> Vec<RecordView> {
    pairs
        .iter()
        .filter_map(|(key, value)| {
            let name = discovery_core::path::name_for_key(prefix, key)?;
            let document: serde_json::Value = serde_json::from_str(value).ok()?;
            Some(RecordView {
                name,
                host: document["host"].as_str()?.to_owned(),
                port: document["port"].as_u64(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(cpu_millis: u64, memory_bytes: u64) -> fleet_api::keel::Amount {
        fleet_api::keel::Amount {
            cpu_millis,
            memory_bytes,
        }
    }

    fn units() -> Vec<Unit> {
        vec![
            Unit {
                name: "web.service".into(),
                desired_state: "launched".into(),
                current_state: "launched".into(),
                machine_id: "m1".into(),
                options: vec![],
            },
            Unit {
                name: "app@.service".into(),
                desired_state: "inactive".into(),
                current_state: "inactive".into(),
                machine_id: String::new(),
                options: vec![],
            },
            Unit {
                name: "app@1.service".into(),
                desired_state: "launched".into(),
                current_state: "launched".into(),
                machine_id: "m1".into(),
                options: vec![],
            },
            Unit {
                name: "big.service".into(),
                desired_state: "launched".into(),
                current_state: "inactive".into(),
                machine_id: String::new(),
                options: vec![],
            },
        ]
    }

    fn raw() -> Raw {
        let member = |id: &str, name: &str| Member {
            id: id.into(),
            name: name.into(),
            peer_urls: vec![],
            client_urls: vec![format!("http://{name}:2379")],
        };
        Raw {
            members: vec![member("a1", "one"), member("b2", "two")],
            leader: Some("b2".into()),
            positions: [("b2".to_owned(), (42, 3))].into(),
            machines: vec![Machine {
                id: "m1".into(),
                primary_ip: "10.0.0.1".into(),
                metadata: [("zone".to_owned(), "a".to_owned())].into(),
            }],
            units: units(),
            states: vec![UnitState {
                name: "web.service".into(),
                hash: "h".into(),
                machine_id: "m1".into(),
                load_state: "loaded".into(),
                active_state: "active".into(),
                sub_state: "running".into(),
            }],
            pending: [("big.service".to_owned(), "no machine has 64 GiB".to_owned())].into(),
            replicas: vec![fleet_api::keel::ReplicaSet {
                template: "app@.service".into(),
                count: 2,
                ..Default::default()
            }],
            allocation: vec![fleet_api::keel::MachineAllocation {
                machine: "m1".into(),
                primary_ip: "10.0.0.1".into(),
                capacity: Some(amount(2000, 4 << 30)),
                allocated: amount(500, 1 << 30),
            }],
            semaphores: vec![
                (
                    format!("{LOCKSMITH_PREFIX}/semaphore"),
                    r#"{"semaphore":0,"max":1,"holders":["m1"]}"#.into(),
                ),
                (
                    format!("{LOCKSMITH_PREFIX}/groups/db/semaphore"),
                    r#"{"semaphore":2,"max":2,"holders":null}"#.into(),
                ),
                (format!("{LOCKSMITH_PREFIX}/groups/x/other"), "{}".into()),
            ],
            records: vec![
                (
                    "/skydns/local/skydns/web/x1".into(),
                    r#"{"host":"10.0.0.1","port":8080}"#.into(),
                ),
                ("/skydns/local/skydns/bad".into(), "not json".into()),
            ],
            requests: [("keel".to_owned(), 42.0)].into(),
            errors: vec![],
        }
    }

    /// Goal: every part of the document comes from its source as the page shows it: the
    /// leader marked, a silent member down, units joined with their states and pending
    /// reasons, machines counting their units, semaphores by group, records by name.
    /// Method: one raw round of every source, the document read field by field.
    #[test]
    fn the_view_joins_every_source() {
        let view = build(&raw(), "skydns", &Tally::default(), 100);
        assert_eq!(view.members.len(), 2);
        assert!(!view.members[0].leader && !view.members[0].up);
        assert!(view.members[1].leader && view.members[1].up);
        assert_eq!(
            (view.members[1].raft_index, view.members[1].raft_term),
            (42, 3)
        );
        let web = &view.units[0];
        assert_eq!(
            (web.active.as_str(), web.sub.as_str(), web.machine.as_str()),
            ("active", "running", "m1")
        );
        let big = &view.units[3];
        assert_eq!(big.machine, "-");
        assert_eq!(big.active, "-");
        assert_eq!(big.pending.as_deref(), Some("no machine has 64 GiB"));
        assert_eq!(
            view.unit_states,
            [("-".to_owned(), 3), ("active".to_owned(), 1)].into()
        );
        assert_eq!(view.machines[0].units, 2, "web and app@1");
        assert_eq!(view.machines[0].active, 1);
        assert_eq!(view.machines[0].capacity, Some(amount(2000, 4 << 30)));
        assert_eq!(view.machines[0].allocated, Some(amount(500, 1 << 30)));
        assert_eq!(
            view.locks,
            vec![
                LockView {
                    group: "default".into(),
                    max: 1,
                    holders: vec!["m1".into()]
                },
                LockView {
                    group: "db".into(),
                    max: 2,
                    holders: vec![]
                },
            ]
        );
        assert_eq!(
            view.records,
            vec![RecordView {
                name: "x1.web.skydns.local.".into(),
                host: "10.0.0.1".into(),
                port: Some(8080)
            }]
        );
    }

    /// Goal: the counts, the templates and the request totals reach the document: a
    /// unit's failures from the tally, a template with its replica count and instances, each
    /// daemon's request total. Method: the raw round with one failure in the tally.
    #[test]
    fn counts_templates_and_requests_join_their_sources() {
        let mut tally = Tally::default();
        let failed = r#"{"activeState":"failed","subState":"failed"}"#;
        tally.record(
            "/_coreos.com/fleet/states/web.service/m1",
            None,
            Some(failed),
            100,
        );
        let view = build(&raw(), "skydns", &tally, 100);
        assert_eq!(
            view.units[0].counts,
            Counts {
                failures: 1,
                restarts: 0
            }
        );
        assert_eq!(view.units[1].counts, Counts::default());
        assert_eq!(view.history.total.failures, 1);
        assert_eq!(view.requests, [("keel".to_owned(), 42.0)].into());
        assert_eq!(
            view.templates,
            vec![TemplateView {
                name: "app@.service".into(),
                replicas: Some(2),
                instances: 1,
                active: 0,
            }]
        );
    }
}
