//! fleetd on real hosts: three hosts, each with its own network and mount namespace, machine
//! ID, system bus, journald and `systemd --user`; a three-member Keel cluster in the same
//! namespaces; fleetd on every host. Units are driven through the API and checked in each
//! host's own systemd. Needs root (skipped with a notice otherwise, failed in CI).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{active_on, available, fleetctl_at, machine_ids, unit_body, Stack, DEADLINE, SLEEPER};
use serde_json::Value;
use testkit::wait_for;

/// Polls `condition` until it holds or `deadline` passes; whether it held.
fn wait_until(deadline: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    condition()
}

/// The machine reporting `unit` with systemd `active_state`, from any host's API.
fn reported_on(stack: &Stack, unit: &str, active_state: &str) -> Option<String> {
    let (status, body) = stack.get(0, &format!("/fleet/v1/state?unitName={unit}"));
    if status != 200 {
        return None;
    }
    let page: Value = serde_json::from_str(&body).ok()?;
    page["states"]
        .as_array()?
        .iter()
        .find(|state| state["systemdActiveState"] == active_state)
        .and_then(|state| state["machineID"].as_str().map(str::to_owned))
}

#[test]
fn a_unit_goes_through_its_whole_life_on_one_real_host() {
    // Goal: through fleetctl, a unit file submitted from a local file is known but placed
    // nowhere, loaded it is in one host's systemd but not running, started it runs there and
    // only there; list-units, status and journal show it through any fleetd (journal and
    // status of a unit on another host, without SSH); stop stops it, unload unloads it,
    // destroy removes it; a unit no host accepts makes start say why; fleetd also starts on a
    // socket-activated socket.
    // Method: fleetctl against host 1's or host 3's API from outside the hosts; `systemctl
    // --user` on every host to see where it runs; every wait is a polled condition with a
    // deadline (fleetctl itself blocks until the state is reached).
    if !available() {
        return;
    }
    let mut stack = Stack::start("fa", "10.81.0", 3);
    let files = tempfile::tempdir().unwrap();
    std::fs::write(
        files.path().join("hello.service"),
        "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sh -c 'echo hello-from-keel; exec sleep 1000'\n",
    )
    .unwrap();
    let cwd = files.path();
    let submitted = stack.fleetctl(0, cwd, &["submit", "hello.service"]);
    assert_eq!(
        (submitted.code, submitted.stdout.as_str()),
        (0, "Unit hello.service inactive\n"),
        "{submitted:?}\n{}",
        stack.logs()
    );
    let loaded = stack.fleetctl(0, cwd, &["load", "hello.service"]);
    assert_eq!(loaded.code, 0, "{loaded:?}");
    assert!(
        loaded.stdout.contains("Unit hello.service loaded on"),
        "{loaded:?}"
    );
    let loaded_on = wait_for(DEADLINE, "the loaded unit in some host's systemd", || {
        (0..3).find(|i| {
            stack
                .systemctl(*i, &["list-unit-files", "hello.service", "--no-legend"])
                .starts_with("hello.service")
        })
    });
    assert_ne!(
        stack.systemctl(loaded_on, &["is-active", "hello.service"]),
        "active",
        "loaded, not started"
    );
    let started = stack.fleetctl(0, cwd, &["start", "hello.service"]);
    assert_eq!(started.code, 0, "{started:?}\n{}", stack.logs());
    assert!(
        started.stdout.contains("Unit hello.service launched on"),
        "{started:?}"
    );
    let machine = reported_on(&stack, "hello.service", "active").expect("reported active");
    let here = stack.host_of(&machine);
    assert_eq!(
        stack.systemctl(here, &["is-active", "hello.service"]),
        "active"
    );
    for other in (0..3).filter(|i| *i != here) {
        assert_ne!(
            stack.systemctl(other, &["is-active", "hello.service"]),
            "active",
            "runs on one host only"
        );
    }
    let listed = stack.fleetctl(2, cwd, &["list-units", "--no-legend", "--full"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert!(
        listed
            .stdout
            .starts_with(&format!("hello.service\t{machine}/")),
        "{listed:?}"
    );
    assert!(listed.stdout.contains("active\trunning"), "{listed:?}");
    let remote = (0..3).find(|i| *i != here).unwrap();
    let mut last = None;
    let found = wait_until(DEADLINE, || {
        let ran = stack.fleetctl(remote, cwd, &["journal", "--lines=20", "hello.service"]);
        let done = ran.code == 0 && ran.stdout.contains("hello-from-keel");
        last = Some(ran);
        done
    });
    assert!(found, "journal: {last:?}\n{}", stack.logs());
    let status = stack.fleetctl(remote, cwd, &["status", "hello.service"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("hello.service"), "{status:?}");
    assert!(status.stdout.contains("active (running)"), "{status:?}");

    let stopped = stack.fleetctl(0, cwd, &["stop", "hello.service"]);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    wait_for(DEADLINE, "hello.service to stop", || {
        (stack.systemctl(here, &["is-active", "hello.service"]) == "inactive").then_some(())
    });
    let unloaded = stack.fleetctl(0, cwd, &["unload", "hello.service"]);
    assert_eq!(unloaded.code, 0, "{unloaded:?}");
    wait_for(DEADLINE, "hello.service to leave systemd", || {
        let listed = stack.systemctl(here, &["list-unit-files", "hello.service", "--no-legend"]);
        listed.is_empty().then_some(())
    });
    let destroyed = stack.fleetctl(0, cwd, &["destroy", "hello.service"]);
    assert_eq!(
        destroyed.stdout, "Destroyed hello.service\n",
        "{destroyed:?}"
    );
    let (status, _) = stack.get(1, "/fleet/v1/units/hello.service");
    assert_eq!(status, 404, "{}", stack.logs());

    // A unit no host accepts: start says why instead of waiting in silence.
    std::fs::write(
        files.path().join("nowhere.service"),
        "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nMachineMetadata=host=elsewhere\n",
    )
    .unwrap();
    let refused = stack.fleetctl(0, cwd, &["start", "--block-attempts=1", "nowhere.service"]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("Unit nowhere.service cannot be placed yet"),
        "{refused:?}"
    );
    assert_eq!(
        refused
            .stderr
            .matches("MachineMetadata host=elsewhere not matched")
            .count(),
        3,
        "one refusal per host: {refused:?}"
    );

    // Socket activation: host 3's fleetd started by its first API connection on a socket
    // it inherited.
    stack.kill_fleetd(2);
    let socket = stack.spawn_fleetd_activated(2, "/run/fleet-activated.sock");
    let endpoint = format!("unix://{}", socket.display());
    let mut last = None;
    let listed = wait_until(DEADLINE, || {
        let ran = fleetctl_at(&endpoint, cwd, &["list-machines", "--no-legend"]);
        let done = ran.code == 0 && ran.stdout.lines().count() == 3;
        last = Some(ran);
        done
    });
    assert!(
        listed,
        "fleetd never answered on its activation socket: {last:?}\n{}",
        stack.hosts()[2].log("systemd-socket-activate")
    );
}

#[test]
fn globals_templates_and_placement_rules_hold_on_real_hosts() {
    // Goal: a Global unit runs on every host, including one whose fleetd starts later; three
    // instances of a template that conflict with each other land on three different hosts;
    // MachineMetadata pins a unit to the host with that metadata and MachineOf puts another
    // beside it; draining that host removes it at once, stops its units and leaves the pinned
    // unit pending with its reason.
    // Method: fleetd on two of three hosts first; units created through the API, the
    // template's instances with fleetctl from a local template file; where they run is read
    // from the state reports and checked in each host's systemd.
    if !available() {
        return;
    }
    let mut stack = Stack::start_with("fb", "10.82.0", 3, 2);
    let global = unit_body(SLEEPER, "launched", &[("X-Fleet", "Global", "true")]);
    assert_eq!(stack.put_json(0, "/fleet/v1/units/g.service", &global), 201);
    wait_for(DEADLINE, "the global unit on both running hosts", || {
        (active_on(&stack, 0, "g.service") == machine_ids(&stack, &[0, 1])).then_some(())
    });
    stack.spawn_fleetd(2, &[]);
    wait_for(DEADLINE, "the global unit on the host that joined", || {
        (active_on(&stack, 0, "g.service") == machine_ids(&stack, &[0, 1, 2])).then_some(())
    });
    assert_eq!(stack.systemctl(2, &["is-active", "g.service"]), "active");

    // The template from a local file; fleetctl creates each instance from it, lazily.
    let files = tempfile::tempdir().unwrap();
    std::fs::write(
        files.path().join("web@.service"),
        format!("[Service]\nExecStart={SLEEPER}\n\n[X-Fleet]\nConflicts=web@*.service\n"),
    )
    .unwrap();
    let started = stack.fleetctl(
        1,
        files.path(),
        &["start", "web@1.service", "web@2.service", "web@3.service"],
    );
    assert_eq!(started.code, 0, "{started:?}\n{}", stack.logs());
    let listed = stack.fleetctl(0, files.path(), &["list-unit-files", "--no-legend"]);
    assert_eq!(
        listed.stdout.lines().count(),
        4,
        "g and three instances (the template stays a local file, as in fleet): {listed:?}"
    );
    let hosts_of_web = wait_for(DEADLINE, "three instances on three hosts", || {
        let mut machines: Vec<String> = (1..=3)
            .flat_map(|n| active_on(&stack, 2, &format!("web@{n}.service")))
            .collect();
        machines.sort();
        machines.dedup();
        (machines.len() == 3).then_some(machines)
    });
    assert_eq!(hosts_of_web, machine_ids(&stack, &[0, 1, 2]));

    let pinned_host = stack.hosts()[1].name().to_owned();
    let meta = unit_body(
        SLEEPER,
        "launched",
        &[("X-Fleet", "MachineMetadata", &format!("host={pinned_host}"))],
    );
    assert_eq!(
        stack.put_json(0, "/fleet/v1/units/meta.service", &meta),
        201
    );
    let side = unit_body(
        SLEEPER,
        "launched",
        &[("X-Fleet", "MachineOf", "meta.service")],
    );
    assert_eq!(
        stack.put_json(0, "/fleet/v1/units/side.service", &side),
        201
    );
    let pinned = machine_ids(&stack, &[1]);
    wait_for(
        DEADLINE,
        "meta.service on the host with its metadata",
        || (active_on(&stack, 0, "meta.service") == pinned).then_some(()),
    );
    wait_for(DEADLINE, "side.service beside meta.service", || {
        (active_on(&stack, 0, "side.service") == pinned).then_some(())
    });
    assert_eq!(stack.systemctl(1, &["is-active", "side.service"]), "active");

    // Draining host 2 (SIGUSR2): it leaves at once, its units stop, and the pinned unit,
    // which no other host accepts, waits with its reason.
    let pid = stack.signal_fleetd(1, "USR2");
    wait_for(DEADLINE, "the drained fleetd to exit", || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    let (_, machines) = stack.get(0, "/fleet/v1/machines");
    assert!(!machines.contains(&pinned[0]), "{machines}");
    for unit in ["meta.service", "side.service", "g.service"] {
        assert_ne!(stack.systemctl(1, &["is-active", unit]), "active", "{unit}");
    }
    let reason = wait_for(DEADLINE, "meta.service to be pending with a reason", || {
        let (status, body) = stack.get(0, "/keel/v1/units/meta.service/pending");
        (status == 200).then_some(body)
    });
    assert!(reason.contains("MachineMetadata"), "{reason}");
}

#[test]
fn units_survive_restarts_and_move_off_lost_or_cut_off_hosts() {
    // Goal: a restarted fleetd leaves its units running (same main PID), and so does a reload
    // (SIGHUP), after which the API answers on the same socket; SIGUSR1 dumps the agent's
    // state; a host cut off from the others keeps its unit running while the rest of the
    // cluster runs it elsewhere, and stops its copy once healed, while a unit with
    // `WhenCutOff=stop` is stopped there before it starts elsewhere; a killed host's units run
    // elsewhere after the agent TTL; a killed engine host's lease is taken over and
    // scheduling goes on.
    // Method: one unit, followed through each fault in turn on three hosts; the main PID from
    // `systemctl show`; partitions with the lab's packet filters; kills of whole hosts.
    if !available() {
        return;
    }
    let mut stack = Stack::start("fc", "10.83.0", 3);
    let body = unit_body(SLEEPER, "launched", &[]);
    assert_eq!(stack.put_json(0, "/fleet/v1/units/a.service", &body), 201);
    let first = wait_for(DEADLINE, "a.service to run", || {
        active_on(&stack, 0, "a.service").into_iter().next()
    });
    let here = stack.host_of(&first);
    // fenced.service follows a.service and stops when cut off. While it runs it appends the
    // kernel's uptime (one clock for every host) to a file per machine ID, ten times a second.
    let beats = tempfile::tempdir().unwrap();
    let beat = format!(
        "/bin/sh -c 'while :; do cat /proc/uptime >> {}/%m; sleep 0.1; done'",
        beats.path().display()
    );
    let fenced = unit_body(
        &beat,
        "launched",
        &[
            ("X-Fleet", "MachineOf", "a.service"),
            ("X-Fleet", "WhenCutOff", "stop"),
        ],
    );
    assert_eq!(
        stack.put_json(0, "/fleet/v1/units/fenced.service", &fenced),
        201
    );
    let pid = stack.systemctl(here, &["show", "-p", "MainPID", "--value", "a.service"]);
    stack.kill_fleetd(here);
    stack.spawn_fleetd(here, &[]);
    let (status, _) = stack.get(here, "/fleet/v1/machines");
    assert_eq!(status, 200);
    assert_eq!(
        stack.systemctl(here, &["show", "-p", "MainPID", "--value", "a.service"]),
        pid,
        "the restart left the unit alone"
    );
    // SIGUSR1 prints the agent's state; SIGHUP reloads on the same sockets and touches no
    // unit either.
    // (The agent shows its state after its first round, so the signal is sent again until a
    // dump holds it.)
    let dumped = wait_until(DEADLINE, || {
        stack.signal_fleetd(here, "USR1");
        let log = stack.fleetd_log(here);
        log.contains("\"wanted\": {") && log.contains("\"a.service\": {")
    });
    assert!(dumped, "no state dump\n{}", stack.logs());
    stack.signal_fleetd(here, "HUP");
    wait_for(DEADLINE, "the reload", || {
        stack
            .fleetd_log(here)
            .contains("configuration reloaded")
            .then_some(())
    });
    wait_for(DEADLINE, "the API after the reload", || {
        (stack.get(here, "/fleet/v1/machines").0 == 200).then_some(())
    });
    assert_eq!(
        stack.systemctl(here, &["show", "-p", "MainPID", "--value", "a.service"]),
        pid,
        "the reload left the unit alone"
    );

    wait_for(DEADLINE, "fenced.service beside a.service", || {
        (active_on(&stack, here, "fenced.service") == [first.clone()]).then_some(())
    });

    let others: std::collections::BTreeSet<usize> = (0..3).filter(|i| *i != here).collect();
    let mut grudge = std::collections::BTreeMap::new();
    grudge.insert(here, others.clone());
    for other in &others {
        grudge.insert(*other, [here].into());
    }
    stack.lab.grudge(&grudge).unwrap();
    let via = *others.iter().next().unwrap();
    let mut moved = None;
    let found = wait_until(DEADLINE, || {
        moved = active_on(&stack, via, "a.service")
            .into_iter()
            .find(|machine| *machine != first);
        moved.is_some()
    });
    assert!(
        found,
        "a.service never ran beyond the partition\n{}",
        stack.logs()
    );
    let moved = moved.unwrap();
    assert_eq!(
        stack.systemctl(here, &["is-active", "a.service"]),
        "active",
        "the cut-off host keeps its unit running"
    );
    // fenced.service runs beyond the partition, and only after the cut-off host stopped
    // its copy (both hosts share the kernel's monotonic clock).
    let fenced_now = wait_for(DEADLINE, "fenced.service beyond the partition", || {
        active_on(&stack, via, "fenced.service")
            .into_iter()
            .find(|machine| *machine != first)
    });
    let uptimes = |machine: &str| -> Vec<f64> {
        let text = std::fs::read_to_string(beats.path().join(machine)).unwrap_or_default();
        let first_field = |line: &str| line.split(' ').next().and_then(|up| up.parse().ok());
        text.lines().filter_map(first_field).collect()
    };
    wait_for(
        DEADLINE,
        "fenced.service's beats beyond the partition",
        || uptimes(&fenced_now).first().copied(),
    );
    let stopped = uptimes(&first).last().copied().unwrap_or_default();
    let started = uptimes(&fenced_now).first().copied().unwrap_or_default();
    assert_ne!(
        stack.systemctl(here, &["is-active", "fenced.service"]),
        "active",
        "the cut-off host stopped fenced.service\n{}",
        stack.logs()
    );
    assert!(
        stopped > 0.0 && stopped < started,
        "fenced.service stopped at {stopped} on the cut-off host, started at {started} beyond\n{}",
        stack.logs()
    );
    stack.lab.heal().unwrap();
    wait_for(DEADLINE, "the healed host to stop its copy", || {
        (stack.systemctl(here, &["is-active", "a.service"]) != "active").then_some(())
    });

    let now_on = stack.host_of(&moved);
    stack.kill_fleetd(now_on);
    stack.host_mut(now_on).kill();
    wait_for(DEADLINE, "a.service to run after its host died", || {
        active_on(&stack, here, "a.service")
            .into_iter()
            .find(|machine| *machine != moved)
    });

    let engine = wait_for(DEADLINE, "an engine leader", || stack.lease_holder());
    let engine_host = stack.host_of(&engine);
    if stack.hosts()[engine_host].is_running() {
        stack.kill_fleetd(engine_host);
        stack.host_mut(engine_host).kill();
    }
    let running: Vec<usize> = (0..3).filter(|i| stack.hosts()[*i].is_running()).collect();
    let running_ids = machine_ids(&stack, &running);
    wait_for(
        DEADLINE,
        "a surviving host to take the engine lease",
        || {
            stack
                .lease_holder()
                .filter(|holder| running_ids.contains(holder))
        },
    );
    let via = running[0];
    assert_eq!(stack.put_json(via, "/fleet/v1/units/b.service", &body), 201);
    wait_for(DEADLINE, "scheduling to go on under the new engine", || {
        active_on(&stack, via, "b.service")
            .into_iter()
            .find(|machine| running_ids.contains(machine))
    });
}

/// A `discoveryd` started by a test, stopped (by PID) on drop.
struct Discoveryd {
    child: std::process::Child,
    port: u16,
}

impl Discoveryd {
    /// `discoveryd` on loopback over the Keel member at `machines`, forwarding nothing.
    fn start(machines: &str) -> Discoveryd {
        let binary = common::fleetd_binary().with_file_name("discoveryd");
        assert!(
            binary.exists(),
            "{} not found: build it with `cargo build --bin discoveryd`",
            binary.display()
        );
        let port = testkit::free_port();
        let child = std::process::Command::new(binary)
            .args([
                "-addr",
                &format!("127.0.0.1:{port}"),
                "-machines",
                machines,
                "-no-rec",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Discoveryd { child, port }
    }

    /// dig's status and the answer section's data for `name type`.
    fn ask(&self, name: &str, rtype: &str) -> (String, Vec<String>) {
        let output = std::process::Command::new("/usr/bin/dig")
            .args(["@127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "+tries=1",
                "+time=1",
                "+noall",
                "+comments",
                "+answer",
                name,
                rtype,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let status = text
            .split("status: ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or("NO REPLY")
            .to_owned();
        let answers = text
            .lines()
            .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
            .filter_map(|line| line.split_whitespace().nth(4).map(|_| line))
            .map(|line| {
                line.split_whitespace()
                    .skip(4)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        (status, answers)
    }
}

impl Drop for Discoveryd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn units_declaring_a_dns_name_resolve_on_every_host_while_active() {
    // Goal: a unit with an [X-Discovery] section, started with fleetctl, is published by the
    // agent of the host where systemd runs it, with that host's IP and its port, so its name
    // resolves through every host's Keel member; when that host is lost its record expires
    // and the host the unit moves to publishes it with its own IP; once stopped it stops
    // resolving. No sidekick unit.
    // Method: two hosts; fleetctl start; a discoveryd over each host's member asked with dig
    // (A and SRV) until the answer holds; the unit's host crashed (fleetd, systemd and the
    // unit gone); fleetctl stop; each time the same polling until the answer holds.
    if !available() || !testkit::reference_tools_present(&[("/usr/bin/dig", "bind9-dnsutils")]) {
        return;
    }
    let mut stack = Stack::start("fe", "10.85.0", 2);
    let files = tempfile::tempdir().unwrap();
    std::fs::write(
        files.path().join("web.service"),
        format!("[Service]\nExecStart={SLEEPER}\n\n[X-Discovery]\nName=web\nPort=8080\n"),
    )
    .unwrap();
    let started = stack.fleetctl(0, files.path(), &["start", "web.service"]);
    assert_eq!(started.code, 0, "{started:?}\n{}", stack.logs());
    let machine = wait_for(DEADLINE, "web.service active", || {
        reported_on(&stack, "web.service", "active")
    });
    let here = stack.host_of(&machine);
    let address = stack.lab.address(here);
    let servers: Vec<Discoveryd> = (0..2)
        .map(|i| Discoveryd::start(&format!("http://{}:2379", stack.lab.address(i))))
        .collect();
    for server in &servers {
        let resolved = wait_until(DEADLINE, || {
            server.ask("web.skydns.local", "A") == ("NOERROR".to_owned(), vec![address.clone()])
        });
        assert!(
            resolved,
            "{:?}\n{}",
            server.ask("web.skydns.local", "A"),
            stack.logs()
        );
        let (_, srv) = server.ask("web.skydns.local", "SRV");
        assert!(srv.len() == 1 && srv[0].contains(" 8080 "), "SRV {srv:?}");
    }
    stack.crash(here);
    let moved = stack.lab.address(1 - here);
    for server in &servers {
        let answer = || server.ask("web.skydns.local", "A");
        let republished = wait_until(DEADLINE, || {
            answer() == ("NOERROR".to_owned(), vec![moved.clone()])
        });
        assert!(
            republished,
            "after the crash: {:?}\n{}",
            answer(),
            stack.logs()
        );
    }
    let stopped = stack.fleetctl(1 - here, files.path(), &["stop", "web.service"]);
    assert_eq!(stopped.code, 0, "{stopped:?}");
    for server in &servers {
        let gone = wait_until(DEADLINE, || {
            server.ask("web.skydns.local", "A").0 == "NXDOMAIN"
        });
        assert!(
            gone,
            "{:?}\n{}",
            server.ask("web.skydns.local", "A"),
            stack.logs()
        );
    }
}
