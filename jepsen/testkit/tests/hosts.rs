//! Goal: several real hosts on one machine are isolated from each other the way separate
//! machines are: machine ID, systemd user manager and its units, journal, and process
//! lifetime; and nothing of them outlives their drop.
//!
//! Method: three hosts at once, two in network namespaces of a lab of their own (net
//! `10.78.0`, prefix `th`, bridge `thbr0`, so it cannot collide with the Jepsen lab) and one in
//! the machine's network. A transient unit `hello.service` is started on one host and looked
//! for on the others before it is started there too; each host's journal must show only its
//! own unit's line. Stopping the unit on one host must leave the others running. One host is
//! killed: every process recorded in its PID namespace (including the unit's main PID,
//! translated from the host's PID through `NSpid`, and a spawned program) must be gone, by
//! PID and start time, while the others still answer. Finally everything is dropped and the
//! machine checked for leftover processes, mounts, cgroups and namespaces. Every wait polls a
//! condition with a deadline; locals are dropped on a panic, which cleans up the same way.
//! Needs root (skipped with a notice otherwise, failed in CI).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::host::{self, Host, HostConfig};
use testkit::lab::{Lab, LabConfig};
use testkit::wait_for;

const DEADLINE: Duration = Duration::from_secs(20);

/// A process as (root PID, start time in clock ticks): a PID alone may be reused.
type ProcessIdentity = (u32, u64);

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // After the command: state is field 3 of stat(5); starttime is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn identities(pids: &[u32]) -> BTreeSet<ProcessIdentity> {
    pids.iter()
        .filter_map(|&pid| Some((pid, start_time(pid)?)))
        .collect()
}

fn alive(process: ProcessIdentity) -> bool {
    start_time(process.0) == Some(process.1)
}

fn stdout(host: &Host, program: &str, args: &[&str]) -> String {
    let output = host.exec(program, args);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Mounts of the test's (root) mount namespace at the places a host mounts over.
fn host_mount_points_in_root() -> Vec<String> {
    let watched = ["/run", "/etc/machine-id", "/var/lib/dbus/machine-id"];
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|line| line.split(' ').nth(4).map(str::to_owned))
        .filter(|point| watched.contains(&point.as_str()))
        .collect()
}

fn unit_state(host: &Host) -> String {
    stdout(host, "systemctl", &["--user", "is-active", "hello.service"])
}

fn start_hosts(lab: &Lab, dir: &Path) -> Vec<Host> {
    let placements = [
        ("h1", Some(lab.namespace(0))),
        ("h2", Some(lab.namespace(1))),
        ("h3", None),
    ];
    placements
        .into_iter()
        .enumerate()
        .map(|(i, (name, namespace))| {
            Host::start(HostConfig {
                name: name.into(),
                machine_id: format!("{:032x}", 0xabc0 + i),
                namespace,
                dir: dir.join(name),
            })
            .unwrap_or_else(|e| panic!("host {name}: {e}"))
        })
        .collect()
}

/// Each host has its own machine ID, address and private system bus policy.
fn check_identity(hosts: &[Host], lab: &Lab) {
    for (i, host) in hosts.iter().enumerate() {
        for file in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
            assert_eq!(stdout(host, "cat", &[file]), host.machine_id(), "{file}");
        }
        let addresses = stdout(host, "ip", &["-4", "-o", "addr", "show"]);
        let bridge = format!("{}/24", lab.harness_address());
        match host.namespace() {
            Some(_) => {
                assert!(addresses.contains(&format!("{}/24", lab.address(i))));
                assert!(!addresses.contains(&bridge), "{addresses}");
            }
            None => assert!(addresses.contains(&bridge), "{addresses}"),
        }
        // From outside the host too (as an in-process zbus client would connect), the
        // session bus answers with the host's machine ID.
        let bus = host.path_from_outside(&host.runtime_dir().join("bus"));
        let output = Command::new("busctl")
            .arg(format!("--address=unix:path={}", bus.display()))
            .args(["call", "org.freedesktop.DBus", "/org/freedesktop/DBus"])
            .args(["org.freedesktop.DBus.Peer", "GetMachineId"])
            .output()
            .unwrap();
        let reply = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            reply.trim(),
            format!("s \"{}\"", host.machine_id()),
            "{output:?}"
        );
        // Debian's system bus policy would refuse this name.
        let reply = stdout(
            host,
            "busctl",
            &[
                "--system",
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "RequestName",
                "su",
                "com.coreos.update1",
                "0",
            ],
        );
        assert_eq!(
            reply,
            "u 1",
            "root owns any name on {}'s system bus",
            host.name()
        );
    }
}

/// Starts `hello.service` host by host; before each start, no host without it lists it.
fn start_units(hosts: &[Host]) {
    for (i, host) in hosts.iter().enumerate() {
        for other in &hosts[i..] {
            let listed = stdout(
                other,
                "systemctl",
                &[
                    "--user",
                    "list-units",
                    "--all",
                    "--no-legend",
                    "hello.service",
                ],
            );
            assert!(listed.is_empty(), "{} lists {listed:?}", other.name());
        }
        let line = format!("echo hello-from-{}; sleep 600", host.name());
        let output = host.exec(
            "systemd-run",
            &["--user", "--unit", "hello.service", "sh", "-c", &line],
        );
        assert!(output.status.success(), "{output:?}");
        wait_for(DEADLINE, "hello.service active", || {
            (unit_state(host) == "active").then_some(())
        });
    }
}

/// Root-namespace journald maps unit output by the host's cgroup: `journalctl -u` (the
/// system journal, where root's entries go) shows each host's own line and no other.
fn check_journals(hosts: &[Host]) {
    for host in hosts {
        let own = format!("hello-from-{}", host.name());
        let journal = wait_for(DEADLINE, "the unit's line in the journal", || {
            let text = stdout(
                host,
                "journalctl",
                &["-u", "hello.service", "--no-pager", "-o", "cat"],
            );
            text.contains(&own).then_some(text)
        });
        assert_eq!(journal, own, "{}'s journal", host.name());
    }
}

/// Kills `victim`; every process it had must be gone, the others must still answer.
fn check_kill(hosts: &mut [Host], victim: usize) {
    let main_pid: u32 = stdout(
        &hosts[victim],
        "systemctl",
        &[
            "--user",
            "show",
            "-p",
            "MainPID",
            "--value",
            "hello.service",
        ],
    )
    .parse()
    .unwrap();
    let unit_main = hosts[victim]
        .root_pid(main_pid)
        .expect("the unit's main PID");
    let mut spawned = hosts[victim].spawn("sleep", &["600"], &[("KEEL_TEST", "1")]);
    let program = wait_for(DEADLINE, "the spawned program", || {
        hosts[victim].program_pid(&spawned)
    });
    let recorded = identities(&hosts[victim].processes());
    assert!(
        recorded.iter().any(|p| p.0 == unit_main),
        "main PID recorded"
    );
    assert!(recorded.iter().any(|p| p.0 == program), "program recorded");
    assert!(
        recorded.iter().any(|p| p.0 == hosts[victim].pid()),
        "first recorded"
    );

    let killed_at = Instant::now();
    hosts[victim].kill();
    eprintln!("kill: {:?}", killed_at.elapsed());
    let survivors: Vec<_> = recorded.iter().filter(|p| alive(**p)).collect();
    assert!(survivors.is_empty(), "survived the kill: {survivors:?}");
    assert!(
        !spawned.wait().unwrap().success(),
        "nsenter ended by the kill"
    );
    for (i, host) in hosts.iter().enumerate().filter(|(i, _)| *i != victim) {
        let state = stdout(host, "systemctl", &["--user", "is-system-running"]);
        assert!(matches!(state.as_str(), "running" | "degraded"), "{state}");
        let expected = if i == 0 { "inactive" } else { "active" };
        assert_eq!(unit_state(host), expected, "{}", host.name());
    }
}

/// Boots the killed `host` again: same machine ID, a new first process, a manager that
/// answers, and none of the old run's units.
fn check_restart(host: &mut Host) {
    let old_pid = host.pid();
    host.restart().unwrap();
    assert!(host.is_running());
    assert_ne!(host.pid(), old_pid, "a new first process");
    assert_eq!(
        stdout(host, "cat", &["/etc/machine-id"]),
        host.machine_id(),
        "the same machine ID"
    );
    let state = stdout(host, "systemctl", &["--user", "is-system-running"]);
    assert!(matches!(state.as_str(), "running" | "degraded"), "{state}");
    assert_eq!(unit_state(host), "inactive", "the old run's unit is gone");
    host.restart().unwrap();
    assert!(host.is_running(), "restarting a running host does nothing");
}

#[test]
fn three_hosts_are_isolated_and_leave_nothing_behind() {
    if host::available().is_err() {
        return;
    }
    let started_at = Instant::now();
    let mounts_before = host_mount_points_in_root();
    let temp = tempfile::tempdir().unwrap();
    let lab = Lab::up(LabConfig {
        nodes: 2,
        net: "10.78.0".into(),
        prefix: "th".into(),
        bridge: "thbr0".into(),
    })
    .unwrap();
    let mut hosts = start_hosts(&lab, temp.path());
    eprintln!("3 hosts up: {:?}", started_at.elapsed());
    assert_eq!(host_mount_points_in_root(), mounts_before, "no mount leaks");
    let again = Host::start(HostConfig {
        name: "h1".into(),
        machine_id: format!("{:032x}", 0xdead),
        namespace: None,
        dir: temp.path().join("h1-again"),
    });
    assert!(
        matches!(again, Err(host::HostError::NameTaken { .. })),
        "{again:?}"
    );

    check_identity(&hosts, &lab);
    start_units(&hosts);
    check_journals(&hosts);
    let output = hosts[0].exec("systemctl", &["--user", "stop", "hello.service"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(unit_state(&hosts[0]), "inactive");
    check_kill(&mut hosts, 1);
    check_restart(&mut hosts[1]);

    let namespaces: Vec<_> = hosts
        .iter()
        .filter(|h| h.is_running())
        .flat_map(|h| ["pid", "mnt"].map(|ns| format!("/proc/{}/ns/{ns}", h.pid())))
        .map(|link| std::fs::read_link(link).unwrap())
        .collect();
    let recorded = identities(
        &hosts
            .iter()
            .flat_map(|host| host.processes())
            .collect::<Vec<_>>(),
    );
    drop(hosts);
    drop(lab);
    assert!(
        recorded.iter().all(|p| !alive(*p)),
        "a host process survived"
    );
    let holders: Vec<u32> = recorded_namespace_holders(&namespaces);
    assert!(holders.is_empty(), "processes still in a host: {holders:?}");
    assert_eq!(host_mount_points_in_root(), mounts_before, "no mount left");
    assert_no_cgroups_left();
    let netns = Command::new("ip").args(["netns", "list"]).output();
    let netns = String::from_utf8_lossy(&netns.unwrap().stdout).into_owned();
    assert!(!netns.lines().any(|l| l.starts_with("th")), "{netns}");
    assert!(!Path::new("/sys/class/net/thbr0").exists(), "bridge left");
    eprintln!("whole test: {:?}", started_at.elapsed());
}

/// Processes whose PID or mount namespace is one of the hosts'.
fn recorded_namespace_holders(namespaces: &[std::path::PathBuf]) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            ["pid", "mnt"].iter().any(|kind| {
                std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
                    .is_ok_and(|ns| namespaces.contains(&ns))
            })
        })
        .collect()
}

fn assert_no_cgroups_left() {
    let own = format!("keel-host.{}.", std::process::id());
    for hierarchy in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
    ] {
        let left: Vec<String> = std::fs::read_dir(hierarchy)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(&own))
            .collect();
        assert!(left.is_empty(), "cgroups left in {hierarchy}: {left:?}");
    }
}
