//! fleetd's scheduling beyond fleet on real hosts: two hosts with declared capacities and
//! multi-valued metadata, a two-member Keel cluster in the same namespaces, fleetd on both.
//! Units are created through the API and checked in each host's own systemd; `fleetctl why`
//! and `list-unit-files` are run as a user would. Needs root (skipped with a notice
//! otherwise, failed in CI).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{active_on, available, machine_ids, unit_body, Stack, DEADLINE, SLEEPER};
use testkit::wait_for;

#[test]
fn requests_replicas_run_and_drain_on_real_hosts() {
    // Goal: a unit requesting 2G lands on the only host with room and gets MemoryMax and
    // CPUQuota there; a unit requesting more than any host has is pending, `list-unit-files
    // --full` shows the reason and `fleetctl why` names each host's free memory; a unit
    // selecting `disk in (nvme)` lands on the host that holds nvme among several values;
    // `scale` spreads instances and scales down from the top; `run` starts a command with
    // its limit; `drain` empties a host until `uncordon`; a rolling `replace` with a failing
    // version stops at the first instance and names it, and a good version goes through; a
    // timer starts its service on the timer's host, and the agent does not stop it; a
    // oneshot batch job runs once, its completion records its exit status, and
    // `list-unit-files` and `why` show how it ended; a job with `Retries=2` that fails
    // twice runs a third time and is completed.
    // Method: fleetd on host 1 offering 1 CPU and 1G with metadata disk=ssd,disk=nvme, on
    // host 2 offering 2 CPUs and 4G with disk=hdd; units through the API; placement read
    // from the state reports, limits from `systemctl show` inside the host.
    if !available() {
        return;
    }
    let mut stack = Stack::start_with("fd", "10.84.0", 2, 0);
    stack.spawn_fleetd(
        0,
        &[
            ("FLEET_CAPACITY_CPU", "1"),
            ("FLEET_CAPACITY_MEMORY", "1G"),
            ("FLEET_METADATA", "disk=ssd,disk=nvme"),
        ],
    );
    stack.spawn_fleetd(
        1,
        &[
            ("FLEET_CAPACITY_CPU", "2"),
            ("FLEET_CAPACITY_MEMORY", "4G"),
            ("FLEET_METADATA", "disk=hdd"),
        ],
    );
    let requests = [("X-Fleet", "Memory", "2G"), ("X-Fleet", "Cpu", "500m")];
    let big = unit_body(SLEEPER, "launched", &requests);
    assert_eq!(stack.put_json(0, "/fleet/v1/units/big.service", &big), 201);
    let second = machine_ids(&stack, &[1]);
    wait_for(DEADLINE, "big.service on the host with room", || {
        (active_on(&stack, 0, "big.service") == second).then_some(())
    });
    let limits = stack.systemctl(
        1,
        &[
            "show",
            "-p",
            "MemoryMax",
            "-p",
            "CPUQuotaPerSecUSec",
            "big.service",
        ],
    );
    let mut limits: Vec<&str> = limits.lines().collect();
    limits.sort_unstable();
    assert_eq!(
        limits,
        ["CPUQuotaPerSecUSec=500ms", "MemoryMax=2147483648"],
        "{}",
        stack.logs()
    );

    let huge = unit_body(SLEEPER, "launched", &[("X-Fleet", "Memory", "8G")]);
    assert_eq!(
        stack.put_json(0, "/fleet/v1/units/huge.service", &huge),
        201
    );
    let files = tempfile::tempdir().unwrap();
    let listed = wait_for(
        DEADLINE,
        "huge.service to be pending with its reason",
        || {
            let ran = stack.fleetctl(
                0,
                files.path(),
                &[
                    "list-unit-files",
                    "--full",
                    "--no-legend",
                    "--fields=unit,state",
                ],
            );
            ran.stdout.contains("pending: ").then_some(ran.stdout)
        },
    );
    let huge_line = listed
        .lines()
        .find(|line| line.starts_with("huge.service"))
        .unwrap_or_default();
    assert!(
        huge_line.ends_with("\tpending: none of 2 machine(s) accepts it"),
        "{listed}"
    );
    let why = stack.fleetctl(0, files.path(), &["why", "--no-legend", "huge.service"]);
    assert_eq!(why.code, 0, "{why:?}");
    let lines: Vec<&str> = why.stdout.lines().collect();
    assert!(lines[0].starts_with("huge.service is pending: "), "{why:?}");
    let verdicts: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.rsplit('\t').next().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "filtered: insufficient memory: requests 8G, 1G free",
            "filtered: insufficient memory: requests 8G, 2G free",
        ],
        "{why:?}"
    );

    let picky = unit_body(
        SLEEPER,
        "launched",
        &[("X-Fleet", "MachineMetadata", "disk in (nvme)")],
    );
    assert_eq!(
        stack.put_json(1, "/fleet/v1/units/picky.service", &picky),
        201
    );
    let first = machine_ids(&stack, &[0]);
    wait_for(DEADLINE, "picky.service on the host holding nvme", || {
        (active_on(&stack, 1, "picky.service") == first).then_some(())
    });
    let why = stack.fleetctl(1, files.path(), &["why", "--no-legend", "picky.service"]);
    assert!(
        why.stdout
            .contains("filtered: MachineMetadata disk in (nvme) not matched (disk=hdd)"),
        "{why:?}"
    );
    assert!(why.stdout.contains("(placed here)"), "{why:?}");

    // Replicas: three instances of a local template, spread over both hosts; scaled down to
    // one, the highest-numbered go.
    std::fs::write(
        files.path().join("web@.service"),
        format!("[Service]\nExecStart={SLEEPER}\n"),
    )
    .unwrap();
    let scaled = stack.fleetctl(0, files.path(), &["scale", "web@.service", "3"]);
    assert_eq!(scaled.code, 0, "{scaled:?}\n{}", stack.logs());
    assert_eq!(scaled.stdout, "Unit web@.service scaled to 3: 3 running\n");
    let mut hosts: Vec<String> = (1..=3)
        .flat_map(|n| active_on(&stack, 0, &format!("web@{n}.service")))
        .collect();
    hosts.sort();
    hosts.dedup();
    assert_eq!(
        hosts,
        machine_ids(&stack, &[0, 1]),
        "spread over both hosts"
    );
    let scaled = stack.fleetctl(1, files.path(), &["scale", "web@.service", "1"]);
    assert_eq!(scaled.code, 0, "{scaled:?}");
    let listed = stack.fleetctl(
        0,
        files.path(),
        &["list-unit-files", "--no-legend", "--fields=unit,state"],
    );
    let webs: Vec<&str> = listed
        .stdout
        .lines()
        .filter(|line| line.starts_with("web@"))
        .collect();
    assert_eq!(
        webs,
        ["web@.service\t1/1 running", "web@1.service\tlaunched"],
        "{listed:?}"
    );
    for n in [2, 3] {
        let unit = format!("web@{n}.service");
        wait_for(DEADLINE, "the removed instance to stop", || {
            active_on(&stack, 0, &unit).is_empty().then_some(())
        });
    }

    // `run`: a unit from a command line, started and running with its request as a limit.
    let ran = stack.fleetctl(
        1,
        files.path(),
        &[
            "run",
            "--memory",
            "64M",
            "hello",
            "--",
            "/bin/sh",
            "-c",
            "echo hi; exec sleep 1000",
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}\n{}", stack.logs());
    let host = wait_for(DEADLINE, "hello.service running", || {
        active_on(&stack, 0, "hello.service").pop()
    });
    let on = stack.host_of(&host);
    assert_eq!(
        stack.systemctl(on, &["show", "-p", "MemoryMax", "hello.service"]),
        "MemoryMax=67108864"
    );

    // Drain the first host: everything on it moves or waits, nothing runs there any more;
    // the unit only it accepts says why; uncordon brings that one back.
    let first_id = first[0].clone();
    let drained = stack.fleetctl(1, files.path(), &["drain", &first_id]);
    assert_eq!(drained.code, 0, "{drained:?}\n{}", stack.logs());
    for unit in ["picky.service", "web@1.service", "hello.service"] {
        wait_for(DEADLINE, "no unit active on the drained host", || {
            (stack.systemctl(0, &["is-active", unit]) != "active").then_some(())
        });
    }
    let why = stack.fleetctl(1, files.path(), &["why", "--no-legend", "picky.service"]);
    assert!(
        why.stdout
            .contains("filtered: machine is drained (fleetctl uncordon)"),
        "{why:?}"
    );
    let undone = stack.fleetctl(1, files.path(), &["uncordon", &first_id]);
    assert_eq!(undone.code, 0, "{undone:?}");
    wait_for(
        DEADLINE,
        "picky.service back on the host holding nvme",
        || (active_on(&stack, 1, "picky.service") == first).then_some(()),
    );

    // Rolling replace: three instances; a new version that fails stops at the first
    // instance and says so while the other two keep the old one; a good version then goes
    // through, one healthy instance at a time.
    let scaled = stack.fleetctl(0, files.path(), &["scale", "web@.service", "3"]);
    assert_eq!(scaled.code, 0, "{scaled:?}\n{}", stack.logs());
    std::fs::write(
        files.path().join("web@.service"),
        "[Service]\nExecStart=/bin/sh -c 'exit 3'\n",
    )
    .unwrap();
    let failed = stack.fleetctl(0, files.path(), &["replace", "web@.service"]);
    assert_eq!(failed.code, 1, "{failed:?}\n{}", stack.logs());
    assert!(
        failed
            .stderr
            .starts_with("Rolling replace of web@.service stopped: web@1.service on ")
            && failed
                .stderr
                .ends_with(": systemd reports it failed/failed\n"),
        "{failed:?}"
    );
    for unit in ["web@2.service", "web@3.service"] {
        assert_eq!(active_on(&stack, 0, unit).len(), 1, "{unit} still runs");
        let cat = stack.fleetctl(0, files.path(), &["cat", unit]);
        assert!(
            !cat.stdout.contains("exit 3"),
            "{unit} kept its file: {cat:?}"
        );
    }
    let status = stack.fleetctl(1, files.path(), &["replace", "--status", "web@.service"]);
    assert!(
        status.stdout.contains("web@.service\tfailed\t0/3\t"),
        "{status:?}"
    );
    std::fs::write(
        files.path().join("web@.service"),
        format!("[Unit]\nDescription=web v2\n\n[Service]\nExecStart={SLEEPER}\n"),
    )
    .unwrap();
    let replaced = stack.fleetctl(
        1,
        files.path(),
        &["replace", "--min-healthy-time", "1s", "web@.service"],
    );
    assert_eq!(replaced.code, 0, "{replaced:?}\n{}", stack.logs());
    assert!(
        replaced
            .stdout
            .ends_with("Replaced web@.service: 3 of 3 healthy on the new file\n"),
        "{replaced:?}"
    );
    for n in 1..=3 {
        let unit = format!("web@{n}.service");
        let cat = stack.fleetctl(0, files.path(), &["cat", &unit]);
        assert!(cat.stdout.contains("Description=web v2"), "{cat:?}");
        assert_eq!(active_on(&stack, 0, &unit).len(), 1, "{unit} runs");
    }

    // Timers: a timer and the service it starts land on one host; the timer starts the
    // service there, and the agent leaves it running though it is only loaded.
    std::fs::write(
        files.path().join("backup.service"),
        format!("[Service]\nExecStart={SLEEPER}\n"),
    )
    .unwrap();
    std::fs::write(
        files.path().join("backup.timer"),
        "[Timer]\nOnActiveSec=1s\nAccuracySec=1ms\n",
    )
    .unwrap();
    let loaded = stack.fleetctl(0, files.path(), &["load", "backup.service", "backup.timer"]);
    assert_eq!(loaded.code, 0, "{loaded:?}\n{}", stack.logs());
    let started = stack.fleetctl(0, files.path(), &["start", "backup.timer"]);
    assert_eq!(started.code, 0, "{started:?}\n{}", stack.logs());
    let timer_host = wait_for(DEADLINE, "backup.timer active", || {
        let on = active_on(&stack, 0, "backup.timer");
        (!on.is_empty()).then_some(on)
    });
    wait_for(
        DEADLINE,
        "the timer to start backup.service on its host",
        || (active_on(&stack, 0, "backup.service") == timer_host).then_some(()),
    );
    // Another agent round on that host (a unit placed with the timer) leaves it running.
    std::fs::write(
        files.path().join("marker.service"),
        format!("[Service]\nExecStart={SLEEPER}\n\n[X-Fleet]\nMachineOf=backup.timer\n"),
    )
    .unwrap();
    let marker = stack.fleetctl(0, files.path(), &["start", "marker.service"]);
    assert_eq!(marker.code, 0, "{marker:?}\n{}", stack.logs());
    wait_for(DEADLINE, "marker.service on the timer's host", || {
        (active_on(&stack, 0, "marker.service") == timer_host).then_some(())
    });
    let on = stack.host_of(&timer_host[0]);
    assert_eq!(
        stack.systemctl(on, &["is-active", "backup.service"]),
        "active",
        "{}",
        stack.logs()
    );

    // Batch: a oneshot job runs once where it is placed, its completion records its exit
    // status, a later agent round on its host does not run it again, and list-unit-files
    // and why show how it ended.
    std::fs::write(
        files.path().join("job.service"),
        "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'exit 4'\n",
    )
    .unwrap();
    let started = stack.fleetctl(0, files.path(), &["start", "--no-block", "job.service"]);
    assert_eq!(started.code, 0, "{started:?}\n{}", stack.logs());
    let completion = wait_for(DEADLINE, "job.service's completion", || {
        stack.completion("job.service")
    });
    assert_eq!(completion["result"], "exit-code", "{completion}");
    assert_eq!(completion["exitStatus"], 4, "{completion}");
    let ran_on = completion["machine"].as_str().unwrap().to_owned();
    let on = stack.host_of(&ran_on);
    let invocation = ["show", "-p", "InvocationID", "--value", "job.service"];
    let first_run = stack.systemctl(on, &invocation);
    std::fs::write(
        files.path().join("pinned.service"),
        format!("[Service]\nExecStart={SLEEPER}\n\n[X-Fleet]\nMachineID={ran_on}\n"),
    )
    .unwrap();
    let pinned = stack.fleetctl(0, files.path(), &["start", "pinned.service"]);
    assert_eq!(pinned.code, 0, "{pinned:?}\n{}", stack.logs());
    wait_for(DEADLINE, "pinned.service on the job's host", || {
        (active_on(&stack, 0, "pinned.service") == [ran_on.clone()]).then_some(())
    });
    assert_eq!(
        stack.systemctl(on, &invocation),
        first_run,
        "{}",
        stack.logs()
    );
    assert_eq!(stack.systemctl(on, &["is-active", "job.service"]), "failed");
    // list-unit-files and why say how it ended.
    let listed = stack.fleetctl(
        0,
        files.path(),
        &["list-unit-files", "--no-legend", "--fields=unit,state"],
    );
    let row = listed
        .stdout
        .lines()
        .find(|line| line.starts_with("job.service"));
    assert!(
        row.is_some_and(|row| row.ends_with("\tfailed (exit-code, status 4)")),
        "{listed:?}"
    );
    let why = stack.fleetctl(1, files.path(), &["why", "job.service"]);
    let said = format!("job.service finished on {}...: failed", &ran_on[..8]);
    assert!(why.stdout.starts_with(&said), "{why:?}");

    // Retries: a job that fails twice, then succeeds, with Retries=2 runs three times and
    // is completed after its third attempt.
    let tries = files.path().join("tries");
    std::fs::write(
        files.path().join("flaky.service"),
        format!(
            "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo run >> {0}; \
             test $$(wc -l < {0}) -ge 3'\n\n[X-Fleet]\nRetries=2\n",
            tries.display()
        ),
    )
    .unwrap();
    let started = stack.fleetctl(0, files.path(), &["start", "--no-block", "flaky.service"]);
    assert_eq!(started.code, 0, "{started:?}\n{}", stack.logs());
    let succeeded = || {
        stack
            .completion("flaky.service")
            .filter(|completion| completion["result"] == "success")
    };
    let started = std::time::Instant::now();
    while succeeded().is_none() && started.elapsed() < DEADLINE {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let completion = succeeded().unwrap_or_else(|| {
        panic!(
            "no successful attempt of flaky.service: {:?}, runs {:?}\n{}",
            stack.completion("flaky.service"),
            std::fs::read_to_string(&tries),
            stack.logs()
        )
    });
    assert_eq!(
        (&completion["attempt"], &completion["attempts"]),
        (&serde_json::json!(3), &serde_json::json!(3)),
        "{completion}\nLOGS {}",
        stack.logs()
    );
    assert_eq!(std::fs::read_to_string(&tries).unwrap().lines().count(), 3);
    let listed = stack.fleetctl(
        0,
        files.path(),
        &["list-unit-files", "--no-legend", "--fields=unit,state"],
    );
    assert!(
        listed
            .stdout
            .lines()
            .any(|line| line.starts_with("flaky.service")
                && line.ends_with("\tcompleted after 3 attempts")),
        "{listed:?}"
    );
    // A later agent round on its host (it starts a unit placed there) runs it no more.
    let flaky_on = completion["machine"].as_str().unwrap().to_owned();
    std::fs::write(
        files.path().join("later.service"),
        format!("[Service]\nExecStart={SLEEPER}\n\n[X-Fleet]\nMachineID={flaky_on}\n"),
    )
    .unwrap();
    let later = stack.fleetctl(0, files.path(), &["start", "later.service"]);
    assert_eq!(later.code, 0, "{later:?}\n{}", stack.logs());
    wait_for(DEADLINE, "later.service on flaky.service's host", || {
        (active_on(&stack, 0, "later.service") == [flaky_on.clone()]).then_some(())
    });
    assert_eq!(std::fs::read_to_string(&tries).unwrap().lines().count(), 3);
}
