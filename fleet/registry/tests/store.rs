//! The registry's conditional writes against a real Keel member: each race an engine, an
//! agent or the API can lose is lost cleanly, as a `Written::Lost`, never as an error and
//! never by overwriting.

use fleet_core::lease::LeaseRevision;
use fleet_core::model::{DesiredState, MachineId};
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::{EngineLease, MachineObject, ScheduleEntry, StateReport};
use fleet_registry::{Held, Keys, Registry, Written};
use kv_client::{Client, ClientConfig};
use std::collections::BTreeMap;
use std::time::Duration;
use testkit::Cluster;

const M1: &str = "1111111111111111111111111111111a";
const M2: &str = "2222222222222222222222222222222b";

fn registry(cluster: &Cluster) -> Registry {
    let client =
        Client::new(ClientConfig::new(vec![cluster.url(0).to_owned()])).expect("valid client");
    Registry::new(client, Keys::default())
}

fn id(text: &str) -> MachineId {
    MachineId::parse(text).expect("valid ID")
}

fn unit(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("test unit parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_are_created_once_replaced_on_purpose_and_destroyed_whole() {
    // Goal: a second create of the same unit loses; replace changes file and state; destroy
    // removes record, placement and reason together; files stay content-addressed.
    // Method: the API's sequence of writes on one member, reading back after each.
    let cluster = Cluster::start(1, &[]);
    let registry = registry(&cluster);
    let first = unit("[Service]\nExecStart=/bin/true\n");
    let second = unit("[Service]\nExecStart=/bin/false\n");
    let created = registry
        .create_unit("a.service", &first, DesiredState::Loaded)
        .await
        .expect("store answers");
    assert_eq!(created, Written::Done);
    let again = registry
        .create_unit("a.service", &second, DesiredState::Launched)
        .await
        .expect("store answers");
    assert_eq!(again, Written::Lost);
    let job = registry
        .unit("a.service")
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(
        (job.hash, job.desired),
        (first.hash(), DesiredState::Loaded)
    );

    registry
        .replace_unit("a.service", &second, DesiredState::Inactive)
        .await
        .expect("store answers");
    let job = registry
        .unit("a.service")
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(
        (job.hash, job.desired),
        (second.hash(), DesiredState::Inactive)
    );
    let files = registry.unit_files().await.expect("reads");
    assert_eq!(files.items.len(), 2, "both texts stay stored by hash");
    assert_eq!(
        registry.unit_file(&first.hash()).await.expect("reads"),
        Some(first)
    );

    registry.place("a.service", &id(M1)).await.expect("places");
    assert!(registry.destroy_unit("a.service").await.expect("destroys"));
    assert!(registry.unit("a.service").await.expect("reads").is_none());
    assert!(!registry.destroy_unit("a.service").await.expect("answers"));
    assert!(registry.units().await.expect("reads").items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placements_lease_and_version_change_only_under_their_conditions() {
    // Goal: a unit is placed once; only the named machine's placement is removed; the lease
    // is taken once and swapped only at the revision read; the engine version is raised by
    // CAS.
    // Method: every conditional write twice, the second after the condition changed.
    let cluster = Cluster::start(1, &[]);
    let registry = registry(&cluster);
    registry
        .create_unit(
            "b.service",
            &unit("[Service]\nExecStart=/bin/true\n"),
            DesiredState::Launched,
        )
        .await
        .expect("creates");
    assert_eq!(
        registry.place("b.service", &id(M1)).await.expect("ok"),
        Written::Done
    );
    assert_eq!(
        registry.place("b.service", &id(M2)).await.expect("ok"),
        Written::Lost
    );
    assert_eq!(
        registry.unplace("b.service", &id(M2)).await.expect("ok"),
        Written::Lost
    );
    let job = registry
        .unit("b.service")
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(job.target, Some(id(M1)));
    assert_eq!(
        registry.unplace("b.service", &id(M1)).await.expect("ok"),
        Written::Done
    );
    assert_eq!(
        registry.unplace("b.service", &id(M1)).await.expect("ok"),
        Written::Lost
    );

    let own = EngineLease {
        machine: id(M1),
        version: 1,
    };
    let ttl = Duration::from_secs(10);
    assert!(registry.lease().await.expect("reads").is_none());
    assert_eq!(
        registry.acquire_lease(&own, ttl).await.expect("ok"),
        Written::Done
    );
    let other = EngineLease {
        machine: id(M2),
        version: 1,
    };
    assert_eq!(
        registry.acquire_lease(&other, ttl).await.expect("ok"),
        Written::Lost
    );
    let lease = registry.lease().await.expect("reads").expect("held");
    assert_eq!((lease.holder.as_str(), lease.version), (M1, 1));
    assert!(lease.remaining > Duration::from_secs(5));
    assert_eq!(
        registry
            .swap_lease(&own, lease.revision, ttl)
            .await
            .expect("ok"),
        Written::Done
    );
    assert_eq!(
        registry
            .swap_lease(&other, lease.revision, ttl)
            .await
            .expect("ok"),
        Written::Lost,
        "the renewal moved the revision"
    );
    assert_eq!(
        registry
            .swap_lease(&other, LeaseRevision(1), ttl)
            .await
            .expect("ok"),
        Written::Lost
    );

    assert_eq!(registry.engine_version().await.expect("reads"), None);
    assert_eq!(
        registry.raise_engine_version(None, 1).await.expect("ok"),
        Written::Done
    );
    assert_eq!(
        registry.raise_engine_version(None, 1).await.expect("ok"),
        Written::Lost
    );
    let (version, index) = registry
        .engine_version()
        .await
        .expect("reads")
        .expect("set");
    assert_eq!(version, 1);
    assert_eq!(
        registry
            .raise_engine_version(Some(index), 2)
            .await
            .expect("ok"),
        Written::Done
    );
    assert_eq!(
        registry
            .raise_engine_version(Some(index), 3)
            .await
            .expect("ok"),
        Written::Lost
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_expires_and_a_refresh_of_an_expired_machine_is_lost() {
    // Goal: a machine's presence lives for its TTL, a refresh keeps it, and a refresh after
    // expiry reports `Lost` so the agent announces again; index entries and states round-trip.
    // Method: a 1 s presence, refreshed once, then left to expire (waited on, with a deadline).
    let cluster = Cluster::start(1, &[]);
    let registry = registry(&cluster);
    let machine = MachineObject {
        id: id(M1),
        public_ip: "10.0.0.1".into(),
        metadata: BTreeMap::new(),
        engine_disabled: false,
        version: "0.1.0".into(),
        api_url: None,
        capacity: None,
        cordoned: false,
    };
    registry
        .announce(&machine, Duration::from_secs(1))
        .await
        .expect("announces");
    assert_eq!(
        registry
            .refresh_presence(&machine.id, Duration::from_secs(1))
            .await
            .expect("refreshes"),
        Written::Done
    );
    registry
        .set_machine_metadata(M1, "region", "east")
        .await
        .expect("sets");
    let present = registry.machines().await.expect("reads").items;
    assert_eq!(present[&machine.id].metadata["region"], "east");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if registry.machines().await.expect("reads").items.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "presence never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        registry
            .refresh_presence(&machine.id, Duration::from_secs(1))
            .await
            .expect("answers"),
        Written::Lost
    );

    let entry = ScheduleEntry {
        hash: unit("[Service]\nExecStart=/bin/true\n").hash(),
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    };
    registry
        .put_schedule_entry(&machine.id, "c.service", &entry)
        .await
        .expect("writes");
    let listed = registry
        .list(&registry.keys().schedule(&machine.id))
        .await
        .expect("lists");
    assert_eq!(listed.len(), 1);
    // The fencing read: the entry's modifiedIndex, a later one after a rewrite, none after
    // the delete.
    let fence = || registry.schedule_entry_index(&machine.id, "c.service");
    let first = fence().await.expect("reads").expect("the entry exists");
    registry
        .put_schedule_entry(&machine.id, "c.service", &entry)
        .await
        .expect("writes");
    let second = fence().await.expect("reads").expect("the entry exists");
    assert!(second > first, "{second:?} after {first:?}");
    registry
        .delete_schedule_entry(&machine.id, "c.service")
        .await
        .expect("deletes");
    assert_eq!(fence().await.expect("reads"), None);
    registry
        .delete_schedule_entry(&machine.id, "c.service")
        .await
        .expect("absent is fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_copy_of_an_earlier_report_write_is_refused() {
    // Goal: a report write that got no answer and is applied later (a paused member got to
    // it) never replaces or removes the newer report written after it.
    // Method: write `active` (created), replace it with `inactive` at its index, then
    // replay each earlier request with the condition it was sent under: the create, the
    // replace at the first index, and a removal at the first index; the report read back
    // is the last one written each time. A removal at the current index then succeeds.
    let cluster = Cluster::start(1, &[]);
    let registry = registry(&cluster);
    let machine = id(M1);
    let report = |active: &str| StateReport {
        load_state: "loaded".into(),
        active_state: active.into(),
        sub_state: "running".into(),
        machine: machine.clone(),
        hash: unit("[Service]\nExecStart=/bin/true\n").hash(),
        launched: true,
    };
    let first = registry
        .publish_state("a.service", &report("active"), Held::Absent)
        .await
        .expect("answers")
        .expect("created");
    let second = registry
        .publish_state("a.service", &report("inactive"), Held::At(first))
        .await
        .expect("answers")
        .expect("replaced");
    let (activating, active) = (report("activating"), report("active"));
    let late_create = registry.publish_state("a.service", &activating, Held::Absent);
    assert_eq!(late_create.await.expect("answers"), None);
    let late_replace = registry.publish_state("a.service", &active, Held::At(first));
    assert_eq!(late_replace.await.expect("answers"), None);
    let late_removal = registry.remove_state_at("a.service", &machine, first);
    assert_eq!(late_removal.await.expect("answers"), Written::Lost);
    let held = registry.state("a.service", &machine).await.expect("reads");
    let held = held.expect("the report is there");
    assert_eq!(
        (held.index, held.report),
        (second, Some(report("inactive")))
    );
    let listed = registry.indexed_states().await.expect("lists");
    assert_eq!(
        listed[&("a.service".to_owned(), M1.to_owned())].index,
        second
    );

    let removal = registry.remove_state_at("a.service", &machine, second);
    assert_eq!(removal.await.expect("answers"), Written::Done);
    assert_eq!(
        registry.state("a.service", &machine).await.expect("reads"),
        None
    );
    let again = registry.remove_state_at("a.service", &machine, second);
    assert_eq!(
        again.await.expect("answers"),
        Written::Done,
        "absent is done"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_writes_sent_together_keep_each_conditions_outcome() {
    // Goal: in one batch, each engine write is read as its single-write method reads it:
    // a second placement and an unplace naming the wrong machine are lost, removing an
    // absent pending reason or index entry is done, and the writes land in order.
    // Method: one `write_all` on a real member, then the unit and the index read back.
    use fleet_registry::wire::PendingReason;
    use fleet_registry::EngineWrite;
    let cluster = Cluster::start(1, &[]);
    let registry = registry(&cluster);
    let file = unit("[Service]\nExecStart=/bin/true\n");
    registry
        .create_unit("d.service", &file, DesiredState::Launched)
        .await
        .expect("creates");
    let entry = ScheduleEntry {
        hash: file.hash(),
        desired: DesiredState::Launched,
        triggered: false,
        batch: false,
        attempt: fleet_core::model::Attempt::ONLY,
        stop_when_cut_off: false,
    };
    let place = |machine: &str| EngineWrite::Place {
        unit: "d.service".to_owned(),
        machine: id(machine),
    };
    let writes = [
        place(M1),
        place(M2),
        EngineWrite::Unplace {
            unit: "d.service".to_owned(),
            machine: id(M2),
        },
        EngineWrite::ClearPending {
            unit: "d.service".to_owned(),
        },
        EngineWrite::SetPending {
            unit: "e.service".to_owned(),
            reason: PendingReason {
                reason: "none of 0 machine(s) accepts it".to_owned(),
                refusals: Vec::new(),
            },
        },
        EngineWrite::DeleteEntry {
            machine: id(M2),
            unit: "d.service".to_owned(),
        },
        EngineWrite::PutEntry {
            machine: id(M1),
            unit: "d.service".to_owned(),
            entry,
        },
    ];
    let outcomes = registry
        .write_all(&writes)
        .await
        .expect("the batch is answered");
    use Written::{Done, Lost};
    let written: Vec<Written> = outcomes.iter().map(|outcome| outcome.written).collect();
    assert_eq!(written, [Done, Lost, Lost, Done, Done, Done, Done]);
    // Events only for what changed a key: the placement, the reason and the entry, in order.
    let indexes: Vec<bool> = outcomes.iter().map(|o| o.index.is_some()).collect();
    assert_eq!(indexes, [true, false, false, false, true, false, true]);
    assert!(outcomes[0].index < outcomes[4].index && outcomes[4].index < outcomes[6].index);
    let job = registry
        .unit("d.service")
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(job.target, Some(id(M1)));
    let index = registry
        .list(&registry.keys().schedule(&id(M1)))
        .await
        .expect("lists");
    assert_eq!(index.len(), 1);
    let pending = registry
        .list(&registry.keys().pending("e.service"))
        .await
        .expect("lists");
    assert_eq!(pending.len(), 1, "{pending:?}");
}
