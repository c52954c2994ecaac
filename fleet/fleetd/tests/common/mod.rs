//! A fleet cluster on one machine for the host tests: a lab of network namespaces, one Keel
//! member and one real host (own mount and PID namespace, machine ID, system bus, journald,
//! `systemd --user`) per namespace, and `fleetd` on every host driving that host's user
//! manager. Everything is torn down on drop, also when a test panics.
#![allow(clippy::unwrap_used, dead_code)] // test code: a panic is the failure report

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use testkit::fleet::{Fleet, FleetConfig};
use testkit::lab::{Lab, LabConfig};
use testkit::Cluster;

/// How long any condition of these tests may take to become true.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A long-running service's command line.
pub const SLEEPER: &str = "/bin/sleep 1000";

/// Presence TTL of the agents: short, so that a lost host is noticed within seconds.
pub const AGENT_TTL: &str = "4s";

/// The fleet, then the Keel cluster, then the lab: dropped in that order.
pub struct Stack {
    pub fleet: Fleet,
    pub cluster: Cluster,
    pub lab: Lab,
    pub dir: tempfile::TempDir,
    agent: ureq::Agent,
}

/// A unit entity for `PUT /fleet/v1/units/{name}`: `ExecStart=exec` plus `extra` options.
pub fn unit_body(exec: &str, desired: &str, extra: &[(&str, &str, &str)]) -> Value {
    let mut options = vec![json!({"section": "Service", "name": "ExecStart", "value": exec})];
    for (section, name, value) in extra {
        options.push(json!({"section": section, "name": name, "value": value}));
    }
    json!({"desiredState": desired, "options": options})
}

/// The machines reporting `unit` active, from host `via`'s API (none when it does not answer).
pub fn active_on(stack: &Stack, via: usize, unit: &str) -> Vec<String> {
    stack.active_via(via, unit).unwrap_or_default()
}

pub fn machine_ids(stack: &Stack, hosts: &[usize]) -> Vec<String> {
    let mut ids: Vec<String> = hosts
        .iter()
        .map(|i| stack.hosts()[*i].machine_id().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Whether this machine can run the stack; prints why not. In CI a missing capability fails.
pub fn available() -> bool {
    match testkit::host::available() {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_some() => panic!("host tests cannot run: {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

pub fn fleetd_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fleetd"))
}

/// `fleetctl`, built beside `fleetd` (`cargo build --workspace --bins` makes both).
pub fn fleetctl_binary() -> PathBuf {
    let path = fleetd_binary().with_file_name("fleetctl");
    assert!(
        path.exists(),
        "{} not found: build it with `cargo build --bin fleetctl`",
        path.display()
    );
    path
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Stack {
    /// Runs `fleetctl --endpoint <host i's API> <args>` from outside the hosts, in `cwd`.
    pub fn fleetctl(&self, i: usize, cwd: &std::path::Path, args: &[&str]) -> Ran {
        fleetctl_at(&self.api(i), cwd, args)
    }
}

/// Runs `fleetctl --endpoint <endpoint> <args>` in `cwd`.
pub fn fleetctl_at(endpoint: &str, cwd: &std::path::Path, args: &[&str]) -> Ran {
    let output = Command::new(fleetctl_binary())
        .arg(format!("--endpoint={endpoint}"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Stack {
    /// `nodes` hosts in a lab on `net` (e.g. `10.81.0`) with namespace prefix `prefix`, fleetd
    /// running on each.
    pub fn start(prefix: &str, net: &str, nodes: usize) -> Stack {
        Stack::start_with(prefix, net, nodes, nodes)
    }

    /// The same, with fleetd running on the first `running` hosts only.
    pub fn start_with(prefix: &str, net: &str, nodes: usize, running: usize) -> Stack {
        let lab = Lab::up(LabConfig {
            nodes,
            net: net.into(),
            prefix: prefix.into(),
            bridge: format!("{prefix}br0"),
        })
        .unwrap_or_else(|e| panic!("lab: {e:?}"));
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster::start_in_lab(&lab, &[], &[], Some(dir.path()));
        let config = FleetConfig {
            prefix: prefix.into(),
            fleetd: fleetd_binary(),
            dir: dir.path().to_owned(),
            agent_ttl: AGENT_TTL.into(),
        };
        let fleet = Fleet::start(config, &lab, running).unwrap_or_else(|e| panic!("{e}"));
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        Stack {
            fleet,
            cluster,
            lab,
            dir,
            agent,
        }
    }

    /// Starts fleetd on host `i` with `extra` environment (e.g. metadata).
    pub fn spawn_fleetd(&mut self, i: usize, extra: &[(&str, &str)]) {
        self.fleet
            .spawn_fleetd(i, extra)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The machine holding the engine lease, read from the store through a member that
    /// answers.
    pub fn lease_holder(&self) -> Option<String> {
        (0..self.lab.nodes()).find_map(|i| {
            let url = format!(
                "http://{}:2379/v2/keys/_coreos.com/fleet/lease/engine-leader",
                self.lab.address(i)
            );
            let reply: serde_json::Value = self.agent.get(&url).call().ok()?.into_json().ok()?;
            let lease: serde_json::Value =
                serde_json::from_str(reply["node"]["value"].as_str()?).ok()?;
            lease["MachineID"].as_str().map(str::to_owned)
        })
    }

    /// A batch job's completion record (`job/<unit>/completion`), read from Keel.
    pub fn completion(&self, unit: &str) -> Option<serde_json::Value> {
        let url = format!(
            "http://{}:2379/v2/keys/_coreos.com/fleet/job/{unit}/completion",
            self.lab.address(0)
        );
        let reply: serde_json::Value = self.agent.get(&url).call().ok()?.into_json().ok()?;
        serde_json::from_str(reply["node"]["value"].as_str()?).ok()
    }
}

impl std::ops::Deref for Stack {
    type Target = Fleet;
    fn deref(&self) -> &Fleet {
        &self.fleet
    }
}

impl std::ops::DerefMut for Stack {
    fn deref_mut(&mut self) -> &mut Fleet {
        &mut self.fleet
    }
}
