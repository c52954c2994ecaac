//! `keel-stack --hosts 2`: two test hosts in network namespaces, one fleetd on each, as the
//! multi-machine demo runs it (root, as on CI).

use super::{dig_until_answered, free_port, text, with_env, Stack};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The test hosts' /24: no other test's lab uses it.
const NET: &str = "10.91.0";

/// The namespaces and bridge `keel-stack` names after [`NET`].
const PREFIX: &str = "ks010091000h";
const NAMESPACES: [&str; 2] = ["ks010091000h1", "ks010091000h2"];
const BRIDGE: &str = "ks010091000br";

/// The binaries are built before the tests run (`cargo build --bins`).
const UP_DEADLINE: Duration = Duration::from_secs(120);

/// Removes the lab by name (every process in its namespaces killed first, then the
/// namespaces, their veths and the bridge) when the test fails before the stack removed it.
struct LabLeftovers;

impl Drop for LabLeftovers {
    fn drop(&mut self) {
        testkit::lab::Lab::clean(testkit::lab::LabConfig {
            nodes: NAMESPACES.len(),
            net: NET.into(),
            prefix: PREFIX.into(),
            bridge: BRIDGE.into(),
        });
    }
}

fn lab_link_exists() -> bool {
    Command::new("ip")
        .args(["link", "show", BRIDGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn lab_namespaces() -> Vec<String> {
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| NAMESPACES.contains(name))
        .map(str::to_owned)
        .collect()
}

/// `keel-stack --hosts <hosts>` on [`NET`] and free ports (DNS on `dns`), data in `data`.
fn stack_command(hosts: &str, data: &Path, dns: u16) -> Command {
    let bin = super::root().join("target/debug");
    let port = |flag: &str| format!("--{flag}={}", free_port());
    let mut command = Command::new(bin.join("keel-stack"));
    command
        .args(["--hosts", hosts, "--hosts-net", NET, "--fleet-link", "none"])
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!(
            "--keel-client-url=http://127.0.0.1:{}",
            free_port()
        ))
        .arg(format!("--keel-peer-url=http://127.0.0.1:{}", free_port()))
        .arg(format!("--dashboard-addr=127.0.0.1:{}", free_port()))
        .arg(format!("--dns-addr=127.0.0.1:{dns}"))
        .args([port("fleet-api-port"), port("dns-metrics-port")])
        .arg(port("locksmith-metrics-port"));
    command
}

/// Starts `keel-stack --hosts 2` on free ports with data under `dir`; waits for its lines.
fn start(dir: &Path, dns: u16) -> (Stack, String) {
    let mut command = stack_command("2", &dir.join("data"), dns);
    Stack::start(&mut command, dir, UP_DEADLINE)
}

/// Another `keel-stack --hosts` on the same net, while the first runs, exits at once with
/// a clear error instead of removing the running lab's namespaces as leftovers.
fn a_second_stack_on_the_net_is_refused(dir: &Path) {
    let second = stack_command("1", &dir.join("second"), free_port())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = text(&second);
    assert!(!second.status.success(), "{said}");
    assert!(
        said.contains("another keel-stack --hosts runs on this net"),
        "{said}"
    );
}

/// Goal: `--hosts 2` runs two machines that fleet tells apart (their own addresses and
/// metadata), a unit placed on the second resolves in DNS to that host's address, a second
/// stack on the same net is refused while it runs, and SIGINT removes every process,
/// namespace and the bridge it made. Method: start it on free
/// ports and its own /24, `fleetctl list-machines` through the environment file, `fleetctl
/// start` a unit with `MachineMetadata=host=h2` and an `[X-Discovery]` section, `dig` its
/// name, then SIGINT to the stack's group and look for what is left.
#[test]
fn two_test_hosts_each_run_a_fleetd_and_go_away_on_sigint() {
    if testkit::host::available().is_err()
        || !testkit::reference_tools_present(&[("/usr/bin/dig", "bind9-dnsutils")])
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leftovers = LabLeftovers;
    let dns = free_port();
    let (mut stack, out) = start(dir.path(), dns);
    for (host, address) in [("h1", "10.91.0.11"), ("h2", "10.91.0.12")] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("fleet {host}: ")) && l.contains(address)),
            "{out}"
        );
    }
    let env = dir.path().join("data/env");
    let machines = with_env(dir.path(), &env, "fleetctl list-machines --no-legend");
    let listed = text(&machines);
    assert!(listed.contains("10.91.0.11\thost=h1"), "{listed}");
    assert!(listed.contains("10.91.0.12\thost=h2"), "{listed}");
    std::fs::write(
        dir.path().join("web.service"),
        "[Service]\nExecStart=/bin/sleep infinity\n\n[X-Fleet]\nMachineMetadata=host=h2\n\n\
         [X-Discovery]\nName=web\nPort=80\n",
    )
    .unwrap();
    let started = with_env(dir.path(), &env, "fleetctl start web.service");
    assert!(started.status.success(), "{}", text(&started));
    assert_eq!(dig_until_answered(dns, "web.skydns.local"), "10.91.0.12");
    assert_eq!(lab_namespaces().len(), 2);
    a_second_stack_on_the_net_is_refused(dir.path());
    assert_eq!(
        lab_namespaces().len(),
        2,
        "the running stack's lab was left alone"
    );
    stack.interrupt_and_check_nothing_is_left(dir.path());
    assert_eq!(lab_namespaces(), Vec::<String>::new(), "namespaces left");
    assert!(!lab_link_exists(), "the bridge {BRIDGE} was left");
    drop(leftovers);
}
