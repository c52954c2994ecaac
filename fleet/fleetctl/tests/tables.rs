//! Golden tests of fleetctl's three tables against fleet's layout: default fields,
//! `--fields`, `--full`, `--no-legend`, and the field errors.
//!
//! Method: a fake fleetd (in-process, on 127.0.0.1:0) holds a fixed cluster with a page size
//! of 2, so every list spans several pages (one of them the trailing empty page fleet sends
//! when the total is a multiple of the page size); fleetctl's real client runs each command
//! and its stdout, stderr and exit code are compared with literal text, TABs spelled out.

mod support;

use fleet_api::entities::{Machine, Unit, UnitState};
use support::{option, unit, unit_hash, Cluster, Engine, Fake, MACHINE_A, MACHINE_B};

const ORPHAN: &str = "ffffffff00000000000000000000000a";

fn state(name: &str, machine: &str, load: &str, active: &str, sub: &str, hash: &str) -> UnitState {
    UnitState {
        name: name.into(),
        hash: hash.into(),
        machine_id: machine.into(),
        load_state: load.into(),
        active_state: active.into(),
        sub_state: sub.into(),
    }
}

fn states() -> Vec<UnitState> {
    let hash = "0123456789abcdef0123456789abcdef01234567";
    vec![
        state(
            "goodbye.service",
            MACHINE_B,
            "loaded",
            "activating",
            "start-pre",
            hash,
        ),
        state(
            "hello.service",
            MACHINE_A,
            "loaded",
            "active",
            "running",
            hash,
        ),
        state(
            "monitor.service",
            MACHINE_A,
            "loaded",
            "active",
            "running",
            hash,
        ),
        state(
            "monitor.service",
            MACHINE_B,
            "loaded",
            "active",
            "running",
            hash,
        ),
        state(
            "orphan.service",
            ORPHAN,
            "not-found",
            "inactive",
            "dead",
            "",
        ),
    ]
}

fn cluster() -> Cluster {
    let mut cluster = Cluster::new(Engine::Frozen);
    cluster.machines.push(Machine {
        id: "deadbeef1234".into(),
        primary_ip: String::new(),
        metadata: [
            ("role".to_owned(), "web".to_owned()),
            ("az".to_owned(), "eu".to_owned()),
        ]
        .into(),
    });
    cluster.states = states();
    cluster.put(unit(
        "hello.service",
        "Hello World",
        "launched",
        "launched",
        MACHINE_A,
    ));
    cluster.put(Unit {
        name: "goodbye.service".into(),
        options: vec![option("Service", "ExecStart", "/bin/true")],
        desired_state: "loaded".into(),
        current_state: "loaded".into(),
        machine_id: MACHINE_B.into(),
    });
    let mut monitor = unit("monitor.service", "Monitor", "launched", "", "");
    monitor.options.push(option("X-Fleet", "Global", "true"));
    cluster.put(monitor);
    cluster.put(unit("web@.service", "Web %i", "inactive", "inactive", ""));
    cluster
}

fn short_hash(fake: &Fake, name: &str) -> String {
    fake.with(|cluster| unit_hash(&cluster.units[name])[..7].to_owned())
}

#[tokio::test]
async fn list_machines_default_full_and_no_legend() {
    // Goal: fleet's MACHINE/IP/METADATA table, `-` for a missing IP and no metadata,
    // metadata sorted by key; `--full` widens the first column; `--no-legend` with one
    // field prints bare cells.
    let fake = Fake::tcp(cluster()).await;
    let table = fake.run(&["list-machines"]).await;
    assert_eq!(
        table.stdout,
        "MACHINE\t\tIP\t\tMETADATA\n\
         113f16a7...\t172.17.8.103\taz=us-west-1b\n\
         85c0c595...\t172.17.8.102\t-\n\
         deadbeef...\t-\t\taz=eu,role=web\n"
    );
    assert_eq!((table.stderr.as_str(), table.code), ("", 0));
    let full = fake.run(&["list-machines", "-l"]).await;
    assert_eq!(
        full.stdout,
        "MACHINE\t\t\t\t\tIP\t\tMETADATA\n\
         113f16a7bdc54e5d8a8aa5ec2c4c5bf6\t172.17.8.103\taz=us-west-1b\n\
         85c0c5952e354a50b6b0db5b8d1e2c1b\t172.17.8.102\t-\n\
         deadbeef1234\t\t\t\t-\t\taz=eu,role=web\n"
    );
    let bare = fake
        .run(&["list-machines", "--no-legend", "--fields=ip"])
        .await;
    assert_eq!(bare.stdout, "172.17.8.103\n172.17.8.102\n-\n");
}

#[tokio::test]
async fn list_units_default_fields_and_full() {
    // Goal: one row per state report (the global unit once per host), machine legends with
    // IPs, an unknown machine by its short ID; `--full` shows whole IDs and hashes.
    let fake = Fake::tcp(cluster()).await;
    let table = fake.run(&["list-units"]).await;
    assert_eq!(
        table.stdout,
        "UNIT\t\tMACHINE\t\t\t\tACTIVE\t\tSUB\n\
         goodbye.service\t85c0c595.../172.17.8.102\tactivating\tstart-pre\n\
         hello.service\t113f16a7.../172.17.8.103\tactive\t\trunning\n\
         monitor.service\t113f16a7.../172.17.8.103\tactive\t\trunning\n\
         monitor.service\t85c0c595.../172.17.8.102\tactive\t\trunning\n\
         orphan.service\tffffffff...\t\t\tinactive\tdead\n"
    );
    assert_eq!((table.stderr.as_str(), table.code), ("", 0));
    let machine_pages = fake.with(|cluster| {
        cluster
            .requests
            .iter()
            .filter(|request| request.starts_with("GET /fleet/v1/machines"))
            .count()
    });
    assert_eq!(
        machine_pages, 4,
        "one fetch, and one more for the unknown machine"
    );
    let full = fake
        .run(&[
            "list-units",
            "--full",
            "--no-legend",
            "--fields=unit,load,hash,machine",
        ])
        .await;
    assert_eq!(
        full.stdout,
        "goodbye.service\tloaded\t\t0123456789abcdef0123456789abcdef01234567\t85c0c5952e354a50b6b0db5b8d1e2c1b/172.17.8.102\n\
         hello.service\tloaded\t\t0123456789abcdef0123456789abcdef01234567\t113f16a7bdc54e5d8a8aa5ec2c4c5bf6/172.17.8.103\n\
         monitor.service\tloaded\t\t0123456789abcdef0123456789abcdef01234567\t113f16a7bdc54e5d8a8aa5ec2c4c5bf6/172.17.8.103\n\
         monitor.service\tloaded\t\t0123456789abcdef0123456789abcdef01234567\t85c0c5952e354a50b6b0db5b8d1e2c1b/172.17.8.102\n\
         orphan.service\tnot-found\t-\t\t\t\t\t\tffffffff00000000000000000000000a\n"
    );
    let short = fake
        .run(&["list-units", "--fields=hash", "--no-legend"])
        .await;
    assert_eq!(short.stdout, "0123456\n0123456\n0123456\n0123456\n-\n");
}

#[tokio::test]
async fn list_unit_files_default_fields() {
    // Goal: UNIT HASH DSTATE STATE TARGET: 7-character hashes of the canonical text, a global
    // unit's STATE `-` and TARGET `global`, an unplaced unit's TARGET `-`, templates listed.
    let fake = Fake::tcp(cluster()).await;
    let table = fake.run(&["list-unit-files"]).await;
    let hash = |name| short_hash(&fake, name);
    assert_eq!(
        table.stdout,
        format!(
            "UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\n\
             goodbye.service\t{}\tloaded\t\tloaded\t\t85c0c595.../172.17.8.102\n\
             hello.service\t{}\tlaunched\tlaunched\t113f16a7.../172.17.8.103\n\
             monitor.service\t{}\tlaunched\t-\t\tglobal\n\
             web@.service\t{}\tinactive\tinactive\t-\n",
            hash("goodbye.service"),
            hash("hello.service"),
            hash("monitor.service"),
            hash("web@.service")
        )
    );
    assert_eq!((table.stderr.as_str(), table.code), ("", 0));
}

#[tokio::test]
async fn list_unit_files_other_fields_and_full() {
    // Goal: `desc` (`-` without one), `global`, the deprecated `tmachine`, and `--full`
    // legends; the trailing empty page (4 units, pages of 2) is read and ignored.
    let fake = Fake::tcp(cluster()).await;
    let table = fake
        .run(&[
            "list-unit-files",
            "--fields=unit,desc,global,tmachine",
            "--full",
        ])
        .await;
    assert_eq!(
        table.stdout,
        "UNIT\t\tDESC\t\tGLOBAL\tTMACHINE\n\
         goodbye.service\t-\t\tfalse\t85c0c5952e354a50b6b0db5b8d1e2c1b/172.17.8.102\n\
         hello.service\tHello World\tfalse\t113f16a7bdc54e5d8a8aa5ec2c4c5bf6/172.17.8.103\n\
         monitor.service\tMonitor\t\ttrue\tglobal\n\
         web@.service\tWeb %i\t\tfalse\t-\n"
    );
    let pages = fake.with(|cluster| {
        cluster
            .requests
            .iter()
            .filter(|request| request.starts_with("GET /fleet/v1/units"))
            .count()
    });
    assert_eq!(pages, 3, "two full pages and the trailing empty one");
}

#[tokio::test]
async fn unknown_and_empty_fields_are_refused_before_any_request() {
    // Goal: fleet's two field errors, exit 1, nothing on stdout and nothing asked of fleetd.
    let fake = Fake::tcp(cluster()).await;
    for command in ["list-machines", "list-units", "list-unit-files"] {
        let unknown = fake.run(&[command, "--fields=bogus"]).await;
        assert_eq!(unknown.stderr, "Invalid key in output format: \"bogus\"\n");
        assert_eq!((unknown.stdout.as_str(), unknown.code), ("", 1));
        let empty = fake.run(&[command, "--fields="]).await;
        assert_eq!(empty.stderr, "Must define output format\n");
        assert_eq!(empty.code, 1);
    }
    assert!(fake.with(|cluster| cluster.requests.is_empty()));
}

#[tokio::test]
async fn an_empty_cluster_prints_only_the_legend() {
    // Goal: no rows: the header alone (fleet's tabwriter pads a lone header cell too), and
    // nothing at all with `--no-legend`.
    let mut empty = Cluster::new(Engine::Frozen);
    empty.machines.clear();
    let fake = Fake::tcp(empty).await;
    let table = fake.run(&["list-units"]).await;
    assert_eq!(table.stdout, "UNIT\tMACHINE\tACTIVE\tSUB\n");
    let none = fake.run(&["list-unit-files", "--no-legend"]).await;
    assert_eq!((none.stdout.as_str(), none.code), ("", 0));
}
