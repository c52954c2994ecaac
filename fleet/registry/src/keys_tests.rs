//! The key schema: golden key strings for every builder, and `classify` as their inverse.
//! Method: build each key under the default and a custom prefix, compare with the literal,
//! classify it back.

use super::*;

fn machine() -> MachineId {
    MachineId::parse("113f16a7c8a3445ab2d59b8f95e3b8e1").expect("a valid ID")
}

#[test]
fn every_key_has_the_documented_shape() {
    // Goal: the layout of docs/fleet.md, byte for byte; a change to it must fail here.
    let keys = Keys::default();
    let hash = UnitHash::from_bytes([0xab; 20]);
    let id = machine();
    let cases = [
        (
            keys.job("web@1.service"),
            "/_coreos.com/fleet/job/web@1.service",
        ),
        (
            keys.job_object("a.service"),
            "/_coreos.com/fleet/job/a.service/object",
        ),
        (
            keys.target_state("a.service"),
            "/_coreos.com/fleet/job/a.service/target-state",
        ),
        (
            keys.rollout("web@.service"),
            "/_coreos.com/fleet/job/web@.service/rollout",
        ),
        (
            keys.completion("job.service"),
            "/_coreos.com/fleet/job/job.service/completion",
        ),
        (
            keys.unit_states("a.service"),
            "/_coreos.com/fleet/states/a.service",
        ),
        (
            keys.target("a.service"),
            "/_coreos.com/fleet/job/a.service/target",
        ),
        (
            keys.pending("a.service"),
            "/_coreos.com/fleet/job/a.service/pending",
        ),
        (
            keys.unit_file(&hash),
            "/_coreos.com/fleet/unit/abababababababababababababababababababab",
        ),
        (
            keys.schedule_entry(&id, "a.service"),
            "/_coreos.com/fleet/schedule/113f16a7c8a3445ab2d59b8f95e3b8e1/a.service",
        ),
        (
            keys.state("a.service", &id),
            "/_coreos.com/fleet/states/a.service/113f16a7c8a3445ab2d59b8f95e3b8e1",
        ),
        (
            keys.machine_object(&id),
            "/_coreos.com/fleet/machines/113f16a7c8a3445ab2d59b8f95e3b8e1/object",
        ),
        (
            keys.machine_metadata("m1", "az"),
            "/_coreos.com/fleet/machines/m1/metadata/az",
        ),
        (
            keys.engine_lease(),
            "/_coreos.com/fleet/lease/engine-leader",
        ),
        (keys.engine_version(), "/_coreos.com/fleet/engine/version"),
        (keys.jobs(), "/_coreos.com/fleet/job"),
        (keys.machines(), "/_coreos.com/fleet/machines"),
        (keys.states(), "/_coreos.com/fleet/states"),
        (keys.schedules(), "/_coreos.com/fleet/schedule"),
    ];
    for (built, expected) in cases {
        assert_eq!(built, expected);
    }
}

#[test]
fn prefixes_are_normalised_like_fleets() {
    // Goal: `etcd_key_prefix` with or without its slashes names the same registry.
    for given in ["/x/fleet/", "x/fleet", "/x/fleet", "x/fleet/"] {
        assert_eq!(Keys::new(given).prefix(), "/x/fleet/", "{given}");
    }
    assert_eq!(Keys::new("").prefix(), "/");
    assert_eq!(Keys::new("/").engine_lease(), "/lease/engine-leader");
}

#[test]
fn classify_inverts_the_builders_and_refuses_the_rest() {
    // Goal: a key seen in a watch is recognised exactly; directories, other prefixes, extra
    // or empty segments are not.
    let keys = Keys::new("/p/");
    let id = machine();
    assert_eq!(
        keys.classify(&keys.rollout("web@.service")),
        Some(RegistryKey::Rollout {
            unit: "web@.service".into()
        })
    );
    assert_eq!(
        keys.classify(&keys.completion("job.service")),
        Some(RegistryKey::Completion {
            unit: "job.service".into()
        })
    );
    assert_eq!(
        keys.classify(&keys.schedule_entry(&id, "u.service")),
        Some(RegistryKey::Schedule {
            machine: id.to_string(),
            unit: "u.service".into()
        })
    );
    assert_eq!(
        keys.classify(&keys.state("u.service", &id)),
        Some(RegistryKey::State {
            unit: "u.service".into(),
            machine: id.to_string()
        })
    );
    assert_eq!(
        keys.classify(&keys.machine_metadata("m", "k")),
        Some(RegistryKey::MachineMetadata {
            machine: "m".into(),
            key: "k".into()
        })
    );
    assert_eq!(
        keys.classify(&keys.target("u.service")),
        Some(RegistryKey::Target {
            unit: "u.service".into()
        })
    );
    assert_eq!(
        keys.classify("/p/lease/engine-leader"),
        Some(RegistryKey::EngineLease)
    );
    assert_eq!(
        keys.classify("/p/engine/version"),
        Some(RegistryKey::EngineVersion)
    );
    for other in [
        "/q/job/u.service/object",
        "/p/job/u.service",
        "/p/job/u.service/object/extra",
        "/p/job//object",
        "/p/unknown/x",
        "/p/machines/m/metadata",
        "/p/",
    ] {
        assert_eq!(keys.classify(other), None, "{other}");
    }
}
