//! Golden tests of every stored value: the exact bytes Keel writes, fleet's own shapes read
//! back, round trips, and the refusals. Method: literal JSON strings compared with `encode`
//! and fed to `decode`.

use super::*;

fn id() -> MachineId {
    MachineId::parse("113f16a7c8a3445ab2d59b8f95e3b8e1").expect("a valid ID")
}

fn hash() -> UnitHash {
    let mut bytes = [0u8; 20];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::try_from(index * 13).expect("below 256");
    }
    UnitHash::from_bytes(bytes)
}

/// A plain launched entry of [`hash`].
fn launched() -> ScheduleEntry {
    ScheduleEntry {
        hash: hash(),
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    }
}

#[test]
fn job_object_is_fleets_shape() {
    // Goal: fleet's unit record, with the hash as 20 JSON numbers.
    let object = JobObject {
        name: "hello.service".into(),
        hash: hash(),
    };
    let golden = r#"{"Name":"hello.service","UnitHash":[0,13,26,39,52,65,78,91,104,117,130,143,156,169,182,195,208,221,234,247]}"#;
    assert_eq!(object.encode(), golden);
    assert_eq!(JobObject::decode(golden).expect("golden decodes"), object);
    assert!(JobObject::decode(r#"{"Name":"x","UnitHash":[1,2]}"#).is_err());
}

#[test]
fn unit_file_blob_is_fleets_shape() {
    // Goal: `{"Raw": canonical text}`, newlines escaped.
    let blob = UnitFileBlob {
        raw: "[Service]\nExecStart=/bin/true\n".into(),
    };
    let golden = r#"{"Raw":"[Service]\nExecStart=/bin/true\n"}"#;
    assert_eq!(blob.encode(), golden);
    assert_eq!(UnitFileBlob::decode(golden).expect("golden decodes"), blob);
}

#[test]
fn schedule_entry_is_versioned_and_validated() {
    // Goal: Keel's index entry: golden bytes, round trip, refusal of a newer version, a bad
    // hash and a junk desired state; unknown fields are ignored; `triggered` only when set.
    let entry = launched();
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","desiredState":"launched"}"#;
    assert_eq!(entry.encode(), golden);
    assert_eq!(
        ScheduleEntry::decode(golden).expect("golden decodes"),
        entry
    );
    let newer = golden.replace(r#""version":1"#, r#""version":2"#);
    assert!(matches!(
        ScheduleEntry::decode(&newer),
        Err(WireError::UnsupportedVersion { found: 2, .. })
    ));
    let junk = golden.replace("launched", "running");
    assert!(matches!(
        ScheduleEntry::decode(&junk),
        Err(WireError::InvalidField {
            field: "desiredState",
            ..
        })
    ));
    let short = r#"{"version":1,"hash":"abc","desiredState":"loaded"}"#;
    assert!(matches!(
        ScheduleEntry::decode(short),
        Err(WireError::InvalidField { field: "hash", .. })
    ));
    let extra = golden.replace('}', r#","later":true}"#);
    assert_eq!(
        ScheduleEntry::decode(&extra).expect("extra fields ignored"),
        entry
    );
    let triggered = ScheduleEntry {
        desired: DesiredState::Loaded,
        triggered: true,
        ..entry
    };
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","desiredState":"loaded","triggered":true}"#;
    assert_eq!(triggered.encode(), golden);
    assert_eq!(
        ScheduleEntry::decode(golden).expect("golden decodes"),
        triggered
    );
}

#[test]
fn state_report_is_fleets_shape_plus_launched() {
    // Goal: fleet's state JSON field names; a report without `launched` (fleet's) reads as
    // not launched.
    let report = StateReport {
        load_state: "loaded".into(),
        active_state: "active".into(),
        sub_state: "running".into(),
        machine: id(),
        hash: hash(),
        launched: true,
    };
    let hex = hash().to_hex();
    let golden = format!(
        r#"{{"loadState":"loaded","activeState":"active","subState":"running","machineState":{{"ID":"113f16a7c8a3445ab2d59b8f95e3b8e1"}},"unitHash":"{hex}","launched":true}}"#
    );
    assert_eq!(report.encode(), golden);
    assert_eq!(
        StateReport::decode(&golden).expect("golden decodes"),
        report
    );
    let fleets = format!(
        r#"{{"loadState":"loaded","activeState":"active","subState":"running","machineState":{{"ID":"113f16a7c8a3445ab2d59b8f95e3b8e1","PublicIP":"10.0.0.1","Metadata":{{}},"Version":"1.0.0"}},"unitHash":"{hex}"}}"#
    );
    let decoded = StateReport::decode(&fleets).expect("fleet's report decodes");
    assert!(!decoded.launched);
    assert_eq!(decoded.machine, id());
}

#[test]
fn machine_object_is_fleets_shape() {
    // Goal: fleet's MachineState JSON, metadata sorted by key; fleet's records without
    // capabilities still read.
    let object = MachineObject {
        id: id(),
        public_ip: "172.17.8.103".into(),
        metadata: [
            ("region".to_owned(), "us".to_owned()),
            ("az".to_owned(), "b".to_owned()),
        ]
        .into(),
        engine_disabled: false,
        version: "0.1.0".into(),
        api_url: None,
        capacity: None,
        cordoned: false,
    };
    let golden = r#"{"ID":"113f16a7c8a3445ab2d59b8f95e3b8e1","PublicIP":"172.17.8.103","Metadata":{"az":"b","region":"us"},"Capabilities":{"DISABLE_ENGINE":false,"GRPC":false},"Version":"0.1.0"}"#;
    assert_eq!(object.encode(), golden);
    let with_url = MachineObject {
        api_url: Some("http://10.0.0.1:49153".into()),
        ..object.clone()
    };
    assert!(with_url
        .encode()
        .ends_with(r#""Version":"0.1.0","APIURL":"http://10.0.0.1:49153"}"#));
    assert_eq!(
        MachineObject::decode(&with_url.encode()).expect("decodes"),
        with_url
    );
    let with_capacity = MachineObject {
        capacity: Some(fleet_core::resources::Resources {
            cpu_millis: 2000,
            memory_bytes: 1 << 30,
        }),
        ..object.clone()
    };
    assert!(with_capacity
        .encode()
        .ends_with(r#""Version":"0.1.0","Capacity":{"CPU":2000,"Memory":1073741824}}"#));
    assert_eq!(
        MachineObject::decode(&with_capacity.encode()).expect("decodes"),
        with_capacity
    );
    assert_eq!(
        MachineObject::decode(golden).expect("golden decodes"),
        object
    );
    let bare = MachineObject::decode(r#"{"ID":"abc"}"#).expect("minimal record decodes");
    assert_eq!(bare.public_ip, "");
    assert!(bare.metadata.is_empty());
    assert!(MachineObject::decode(r#"{"ID":"a/b"}"#).is_err());
}

#[test]
fn engine_lease_reads_json_and_fleets_bare_id() {
    // Goal: fleet's lease JSON, and its oldest form (a bare machine ID) as version 0.
    let lease = EngineLease {
        machine: id(),
        version: 1,
    };
    let golden = r#"{"MachineID":"113f16a7c8a3445ab2d59b8f95e3b8e1","Version":1}"#;
    assert_eq!(lease.encode(), golden);
    assert_eq!(EngineLease::decode(golden).expect("golden decodes"), lease);
    let bare = EngineLease::decode("113f16a7c8a3445ab2d59b8f95e3b8e1").expect("bare ID");
    assert_eq!(bare.version, 0);
    assert!(EngineLease::decode("").is_err());
}

#[test]
fn pending_reason_round_trips() {
    // Goal: Keel's reason for an unplaced unit: golden bytes and round trip.
    let pending = PendingReason {
        reason: "no machine accepts it (1 machine)".into(),
        refusals: vec![(
            "113f16a7".into(),
            "MachineMetadata region=us not matched".into(),
        )],
    };
    let golden = r#"{"version":1,"reason":"no machine accepts it (1 machine)","refusals":[{"machine":"113f16a7","rule":"MachineMetadata region=us not matched"}]}"#;
    assert_eq!(pending.encode(), golden);
    assert_eq!(
        PendingReason::decode(golden).expect("golden decodes"),
        pending
    );
}

#[test]
fn rollout_record_is_versioned_and_says_where_it_stands() {
    // Goal: Keel's rollout record: golden bytes of a running and a failed one, round trips,
    // refusal of an unknown state and a newer version; a max-parallel of 0 reads as 1.
    let running = RolloutRecord {
        hash: hash(),
        strategy: fleet_core::rollout::Strategy {
            max_parallel: 2,
            min_healthy: std::time::Duration::from_millis(1500),
            deadline: std::time::Duration::from_secs(60),
        },
        state: RolloutState::Running,
        progress: fleet_core::rollout::Progress {
            total: 3,
            updated: 1,
            healthy: 0,
        },
        started: 1_764_000_000,
    };
    let hex = hash().to_hex();
    let golden = format!(
        r#"{{"version":1,"hash":"{hex}","maxParallel":2,"minHealthyTimeMs":1500,"healthyDeadlineMs":60000,"state":"running","total":3,"updated":1,"healthy":0,"started":1764000000}}"#
    );
    assert_eq!(running.encode(), golden);
    assert_eq!(RolloutRecord::decode(&golden).expect("decodes"), running);
    let failed = RolloutRecord {
        state: RolloutState::Failed(RolloutFailure {
            target: "web@1.service".into(),
            machine: Some(id().to_string()),
            reason: "systemd reports it failed/failed".into(),
        }),
        ..running.clone()
    };
    let text = failed.encode();
    assert!(text.contains(r#""state":"failed","failedTarget":"web@1.service","failedMachine":"113f16a7c8a3445ab2d59b8f95e3b8e1","reason":"systemd reports it failed/failed""#), "{text}");
    assert_eq!(RolloutRecord::decode(&text).expect("decodes"), failed);
    let odd = golden.replace(r#""state":"running""#, r#""state":"paused""#);
    assert!(matches!(
        RolloutRecord::decode(&odd),
        Err(WireError::InvalidField { field: "state", .. })
    ));
    let newer = golden.replace(r#""version":1"#, r#""version":2"#);
    assert!(matches!(
        RolloutRecord::decode(&newer),
        Err(WireError::UnsupportedVersion { found: 2, .. })
    ));
    let zero = golden.replace(r#""maxParallel":2"#, r#""maxParallel":0"#);
    assert_eq!(
        RolloutRecord::decode(&zero)
            .expect("decodes")
            .strategy
            .max_parallel,
        1
    );
}

#[test]
fn batch_entries_and_completions_are_keels_shapes() {
    // Goal: a batch job's index entry carries `"kind":"batch"` and refuses another kind;
    // the completion record's golden bytes round-trip and a bad machine ID is refused.
    let entry = ScheduleEntry {
        batch: true,
        ..launched()
    };
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","desiredState":"launched","kind":"batch"}"#;
    assert_eq!(entry.encode(), golden);
    assert_eq!(ScheduleEntry::decode(golden).expect("decodes"), entry);
    assert!(matches!(
        ScheduleEntry::decode(&golden.replace("batch", "cron")),
        Err(WireError::InvalidField { field: "kind", .. })
    ));
    let record = CompletionRecord {
        hash: hash(),
        machine: id(),
        result: "exit-code".into(),
        exit_status: 3,
        finished_ms: 1_764_000_000_000,
        attempt: fleet_core::model::Attempt::ONLY,
    };
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","machine":"113f16a7c8a3445ab2d59b8f95e3b8e1","result":"exit-code","exitStatus":3,"finished":1764000000000}"#;
    assert_eq!(record.encode(), golden);
    assert_eq!(CompletionRecord::decode(golden).expect("decodes"), record);
    assert_eq!(record.summary(), "failed (exit-code, status 3)");
    assert!(CompletionRecord::decode(&golden.replace("113f", "11 f")).is_err());
}

#[test]
fn attempts_of_retried_batch_jobs_are_stored_and_checked() {
    // Goal: an entry and a completion of attempt 2 of 3 carry `attempt`, `attempts` (and the
    // entry `after`) and round-trip; attempt 0 or above the attempts is refused; the summary
    // of a job that needed several attempts says so, and only a success or the last attempt
    // ends the job.
    let second = fleet_core::model::Attempt {
        number: 2,
        of: 3,
        after_ms: 1_764_000_000_123,
    };
    let entry = ScheduleEntry {
        batch: true,
        attempt: second,
        ..launched()
    };
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","desiredState":"launched","kind":"batch","attempt":2,"attempts":3,"after":1764000000123}"#;
    assert_eq!(entry.encode(), golden);
    assert_eq!(ScheduleEntry::decode(golden).expect("decodes"), entry);
    for bad in [r#""attempt":0"#, r#""attempt":4"#] {
        assert!(
            matches!(
                ScheduleEntry::decode(&golden.replace(r#""attempt":2"#, bad)),
                Err(WireError::InvalidField {
                    field: "attempt",
                    ..
                })
            ),
            "{bad}"
        );
    }
    let record = CompletionRecord {
        hash: hash(),
        machine: id(),
        result: "exit-code".into(),
        exit_status: 1,
        finished_ms: 1_764_000_000_000,
        attempt: fleet_core::model::Attempt {
            after_ms: 0,
            ..second
        },
    };
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","machine":"113f16a7c8a3445ab2d59b8f95e3b8e1","result":"exit-code","exitStatus":1,"finished":1764000000000,"attempt":2,"attempts":3}"#;
    assert_eq!(record.encode(), golden);
    assert_eq!(CompletionRecord::decode(golden).expect("decodes"), record);
    assert!(CompletionRecord::decode(&golden.replace(r#""attempt":2"#, r#""attempt":5"#)).is_err());
    assert!(!record.is_last());
    assert_eq!(
        record.summary(),
        "failed (exit-code, status 1) after 2 attempts"
    );
    let last = CompletionRecord {
        attempt: fleet_core::model::Attempt {
            number: 3,
            ..record.attempt
        },
        ..record.clone()
    };
    assert!(last.is_last());
    let succeeded = CompletionRecord {
        result: "success".into(),
        exit_status: 0,
        ..record
    };
    assert!(succeeded.is_last());
    assert_eq!(succeeded.summary(), "completed after 2 attempts");
}

#[test]
fn entries_of_units_that_stop_when_cut_off_say_so() {
    // Goal: `"whenCutOff":"stop"` round-trips; another value is refused; other entries
    // leave it out.
    let entry = ScheduleEntry {
        stop_when_cut_off: true,
        ..launched()
    };
    let golden = r#"{"version":1,"hash":"000d1a2734414e5b6875828f9ca9b6c3d0ddeaf7","desiredState":"launched","whenCutOff":"stop"}"#;
    assert_eq!(entry.encode(), golden);
    assert_eq!(ScheduleEntry::decode(golden).expect("decodes"), entry);
    assert!(matches!(
        ScheduleEntry::decode(&golden.replace(r#""stop""#, r#""keep""#)),
        Err(WireError::InvalidField {
            field: "whenCutOff",
            ..
        })
    ));
    let plain = ScheduleEntry {
        stop_when_cut_off: false,
        ..entry
    };
    assert!(!plain.encode().contains("whenCutOff"));
}
