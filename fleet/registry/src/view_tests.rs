//! Listings decoded from hand-written key/value pairs: complete records, partial ones,
//! corrupt values reported and skipped, dynamic metadata over static.

use super::*;
use crate::wire::EngineLease;

const M1: &str = "1111111111111111111111111111111a";
const M2: &str = "2222222222222222222222222222222b";

fn keys() -> Keys {
    Keys::default()
}

fn file(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("test unit parses")
}

fn object(name: &str, text: &str) -> String {
    JobObject {
        name: name.to_owned(),
        hash: file(text).hash(),
    }
    .encode()
}

#[test]
fn jobs_join_object_state_target_and_pending() {
    // Goal: one unit's four keys become one record; a unit without its object is left out.
    // Method: pairs as a recursive listing returns them.
    let keys = keys();
    let obj = object("a.service", "[Service]\nExecStart=/bin/true\n");
    let pending = PendingReason {
        reason: "no machine".into(),
        refusals: vec![],
    }
    .encode();
    let pairs = [
        ("/_coreos.com/fleet/job/a.service/object", obj.as_str()),
        ("/_coreos.com/fleet/job/a.service/target-state", "launched"),
        ("/_coreos.com/fleet/job/a.service/target", M1),
        ("/_coreos.com/fleet/job/a.service/pending", pending.as_str()),
        ("/_coreos.com/fleet/job/b.service/target-state", "loaded"),
    ];
    let decoded = jobs(&keys, pairs);
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    assert_eq!(decoded.items.len(), 1);
    let job = &decoded.items["a.service"];
    assert_eq!(job.desired, DesiredState::Launched);
    assert_eq!(job.target.as_ref().map(MachineId::as_str), Some(M1));
    assert_eq!(
        job.pending.as_ref().map(|p| p.reason.as_str()),
        Some("no machine")
    );
}

#[test]
fn jobs_report_bad_values_and_default_the_desired_state() {
    // Goal: a junk desired state or target is reported with its key, the unit stays readable
    // as inactive and unplaced; a junk object drops the unit.
    // Method: one good object with junk beside it, one junk object.
    let keys = keys();
    let obj = object("a.service", "[Service]\nExecStart=/bin/true\n");
    let pairs = [
        ("/_coreos.com/fleet/job/a.service/object", obj.as_str()),
        ("/_coreos.com/fleet/job/a.service/target-state", "running"),
        ("/_coreos.com/fleet/job/a.service/target", "not/a/machine"),
        ("/_coreos.com/fleet/job/c.service/object", "{"),
    ];
    let decoded = jobs(&keys, pairs);
    assert_eq!(decoded.problems.len(), 3);
    assert!(decoded.problems[0].key.ends_with("target-state"));
    assert_eq!(
        decoded.problems[0].error.to_string(),
        "invalid desired state \"running\""
    );
    let job = &decoded.items["a.service"];
    assert_eq!(job.desired, DesiredState::Inactive);
    assert_eq!(job.target, None);
    assert!(!decoded.items.contains_key("c.service"));
}

#[test]
fn machines_apply_dynamic_metadata_and_need_presence() {
    // Goal: dynamic metadata overrides static, an empty value removes a key, and metadata of
    // an absent machine does not make it present.
    // Method: one present machine with both kinds, one machine with metadata only.
    let keys = keys();
    let present = MachineObject {
        id: MachineId::parse(M1).expect("valid"),
        public_ip: "10.0.0.1".into(),
        metadata: [("region", "east"), ("disk", "ssd")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        engine_disabled: false,
        version: "0.1.0".into(),
        api_url: None,
        capacity: None,
        cordoned: false,
    }
    .encode();
    let m1 = format!("/_coreos.com/fleet/machines/{M1}");
    let m2 = format!("/_coreos.com/fleet/machines/{M2}");
    let pairs = [
        (format!("{m1}/object"), present),
        (format!("{m1}/metadata/region"), "west".to_owned()),
        (format!("{m1}/metadata/disk"), String::new()),
        (format!("{m1}/metadata/rack"), "r1".to_owned()),
        (format!("{m2}/metadata/region"), "north".to_owned()),
    ];
    let decoded = machines(&keys, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert!(decoded.problems.is_empty());
    assert_eq!(decoded.items.len(), 1);
    let machine = decoded.items.values().next().expect("one machine");
    let metadata: Vec<_> = machine.metadata.iter().collect();
    assert_eq!(
        metadata,
        [
            (&"rack".to_owned(), &"r1".to_owned()),
            (&"region".to_owned(), &"west".to_owned())
        ]
    );
}

#[test]
fn schedules_and_states_group_by_their_keys() {
    // Goal: index entries group by machine; state reports are keyed (unit, machine) from the
    // key; other keys under the prefix are ignored.
    // Method: two entries on two machines, one report, one lease key in the same listing.
    let keys = keys();
    let hash = file("[Service]\nExecStart=/bin/true\n").hash();
    let entry = ScheduleEntry {
        hash,
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    }
    .encode();
    let report = StateReport {
        load_state: "loaded".into(),
        active_state: "active".into(),
        sub_state: "running".into(),
        machine: MachineId::parse(M1).expect("valid"),
        hash,
        launched: true,
    }
    .encode();
    let lease = EngineLease {
        machine: MachineId::parse(M1).expect("valid"),
        version: 1,
    }
    .encode();
    let pairs = [
        (
            format!("/_coreos.com/fleet/schedule/{M1}/a.service"),
            entry.clone(),
        ),
        (format!("/_coreos.com/fleet/schedule/{M2}/b.service"), entry),
        (format!("/_coreos.com/fleet/states/a.service/{M1}"), report),
        ("/_coreos.com/fleet/lease/engine-leader".to_owned(), lease),
    ];
    let iter = || pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let schedule = schedules(&keys, iter());
    assert_eq!(schedule.items.len(), 2);
    assert!(schedule.items[M1].contains_key("a.service"));
    let reports = states(&keys, iter());
    assert_eq!(reports.items.len(), 1);
    assert!(reports
        .items
        .contains_key(&("a.service".to_owned(), M1.to_owned())));
}

#[test]
fn unit_files_are_checked_against_their_key() {
    // Goal: a blob whose text does not hash to its key is refused, a good one is returned.
    // Method: the same text under its own hash and under another.
    let keys = keys();
    let good = file("[Service]\nExecStart=/bin/true\n");
    let other = file("[Service]\nExecStart=/bin/false\n");
    let blob = UnitFileBlob {
        raw: good.canonical_text(),
    }
    .encode();
    let pairs = [
        (keys.unit_file(&good.hash()), blob.clone()),
        (keys.unit_file(&other.hash()), blob),
    ];
    let decoded = unit_files(&keys, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(decoded.items.len(), 1);
    assert_eq!(decoded.items[&good.hash()], good);
    assert_eq!(decoded.problems.len(), 1);
    assert!(decoded.problems[0].error.to_string().contains("hashes to"));
}
