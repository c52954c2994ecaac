//! A fleet cluster on one machine for the host tests: a lab of network namespaces, one Keel
//! member and one real host (own mount and PID namespace, machine ID, system bus, journald,
//! `systemd --user`) per namespace, and `fleetd` on every host driving that host's user
//! manager. Everything is torn down on drop, also when a test panics.
#![allow(clippy::unwrap_used, dead_code)] // test code: a panic is the failure report

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;
use testkit::host::{Host, HostConfig};
use testkit::lab::{Lab, LabConfig};
use testkit::{wait_for, Cluster};

/// How long any condition of these tests may take to become true.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The API port of every fleetd, on its host's lab address.
pub const API_PORT: u16 = 49153;

/// A long-running service's command line.
pub const SLEEPER: &str = "/bin/sleep 1000";

/// Presence TTL of the agents: short, so that a lost host is noticed within seconds.
pub const AGENT_TTL: &str = "4s";

pub struct Stack {
    pub hosts: Vec<Host>,
    pub fleetd: Vec<Option<Child>>,
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

/// The machines reporting `unit` active, from host `via`'s API.
pub fn active_on(stack: &Stack, via: usize, unit: &str) -> Vec<String> {
    let (status, body) = stack.get(via, &format!("/fleet/v1/state?unitName={unit}"));
    if status != 200 {
        return Vec::new();
    }
    let page: Value = serde_json::from_str(&body).unwrap_or_default();
    let mut machines: Vec<String> = page["states"]
        .as_array()
        .map(|states| {
            states
                .iter()
                .filter(|state| state["systemdActiveState"] == "active")
                .filter_map(|state| state["machineID"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    machines.sort();
    machines
}

pub fn machine_ids(stack: &Stack, hosts: &[usize]) -> Vec<String> {
    let mut ids: Vec<String> = hosts
        .iter()
        .map(|i| stack.hosts[*i].machine_id().to_owned())
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
        let hosts = (0..nodes)
            .map(|i| {
                let name = format!("{prefix}h{}", i + 1);
                Host::start(HostConfig {
                    name: name.clone(),
                    machine_id: format!("{:030x}{:02x}", 0xf1ee7, i + 1),
                    namespace: Some(lab.namespace(i)),
                    dir: dir.path().join(&name),
                })
                .unwrap_or_else(|e| panic!("host {name}: {e}"))
            })
            .collect();
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(10))
            .build();
        let mut stack = Stack {
            hosts,
            fleetd: (0..nodes).map(|_| None).collect(),
            cluster,
            lab,
            dir,
            agent,
        };
        for i in 0..running {
            stack.spawn_fleetd(i, &[]);
        }
        stack
    }

    pub fn store_endpoints(&self) -> String {
        (0..self.lab.nodes())
            .map(|i| format!("http://{}:2379", self.lab.address(i)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts fleetd on host `i` with `extra` environment (e.g. metadata).
    pub fn spawn_fleetd(&mut self, i: usize, extra: &[(&str, &str)]) {
        let env = self.fleetd_env(i, extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let binary = fleetd_binary();
        let child = self.hosts[i].spawn(binary.to_str().unwrap(), &[], &env);
        self.fleetd[i] = Some(child);
        let url = format!("{}/fleet/v1/machines", self.api(i));
        wait_for(DEADLINE, "fleetd to serve its API", || {
            self.agent.get(&url).call().ok().map(|_| ())
        });
    }

    /// Starts fleetd on host `i` the way a socket unit does: `systemd-socket-activate`
    /// listens on `socket` (a path inside the host) and starts fleetd with the listening
    /// socket on the first connection. Returns the socket's path as seen from outside.
    pub fn spawn_fleetd_activated(&mut self, i: usize, socket: &str) -> PathBuf {
        let env = self.fleetd_env(i, &[]);
        let mut args = vec!["-l".to_owned(), socket.to_owned()];
        for (key, value) in &env {
            args.push(format!("--setenv={key}={value}"));
        }
        args.push(fleetd_binary().to_str().unwrap().to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = self.hosts[i].spawn("/usr/bin/systemd-socket-activate", &args, &[]);
        self.fleetd[i] = Some(child);
        let outside = self.hosts[i].path_from_outside(std::path::Path::new(socket));
        wait_for(DEADLINE, "the activation socket", || {
            outside.exists().then_some(())
        });
        outside
    }

    /// fleetd's environment on host `i`: Keel, the user manager, short timers, its API on
    /// `/run/fleet.sock` and on its lab address, `host=<name>` metadata; then `extra`.
    fn fleetd_env(&self, i: usize, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let address = self.lab.address(i);
        let listen = format!("unix:///run/fleet.sock,http://{address}:{API_PORT}");
        let mut env: Vec<(String, String)> = [
            ("FLEET_ETCD_SERVERS", self.store_endpoints()),
            ("FLEET_SYSTEMD_USER", "true".into()),
            ("FLEET_UNITS_DIRECTORY", "/run/fleet/units".into()),
            ("FLEET_API_LISTEN", listen),
            ("FLEET_AGENT_TTL", AGENT_TTL.into()),
            ("FLEET_ENGINE_RECONCILE_INTERVAL", "0.5".into()),
            ("FLEET_PUBLIC_IP", address.clone()),
            ("FLEET_METADATA", format!("host={}", self.hosts[i].name())),
            (
                "DBUS_SESSION_BUS_ADDRESS",
                self.hosts[i].session_bus_address(),
            ),
            ("RUST_LOG", "info,fleetd=debug".into()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }

    /// Kills fleetd on host `i` (and only it: systemd and the units keep running).
    pub fn kill_fleetd(&mut self, i: usize) {
        if let Some(mut child) = self.fleetd[i].take() {
            if let Some(pid) = self.hosts[i].program_pid(&child) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (e.g. `USR2`) to fleetd on host `i`; its root-namespace PID.
    pub fn signal_fleetd(&self, i: usize, signal: &str) -> u32 {
        let child = self.fleetd[i].as_ref().expect("fleetd runs there");
        let pid = self.hosts[i].program_pid(child).expect("fleetd has a PID");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
        pid
    }

    /// fleetd's log on host `i`.
    pub fn fleetd_log(&self, i: usize) -> String {
        self.hosts[i].log("fleetd")
    }

    pub fn api(&self, i: usize) -> String {
        format!("http://{}:{API_PORT}", self.lab.address(i))
    }

    /// GET `path` on host `i`'s API: (status, body).
    pub fn get(&self, i: usize, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.api(i));
        match self.agent.get(&url).call() {
            Ok(reply) => (reply.status(), reply.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, reply)) => {
                (code, reply.into_string().unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// PUT a JSON body to `path` on host `i`'s API: the status.
    pub fn put_json(&self, i: usize, path: &str, body: &serde_json::Value) -> u16 {
        let url = format!("{}{path}", self.api(i));
        match self.agent.put(&url).send_json(body.clone()) {
            Ok(reply) => reply.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("PUT {url}: {e}"),
        }
    }

    /// `systemctl --user <args>` on host `i`: its trimmed stdout.
    pub fn systemctl(&self, i: usize, args: &[&str]) -> String {
        let mut all = vec!["--user"];
        all.extend_from_slice(args);
        let output = self.hosts[i].exec("systemctl", &all);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The host whose machine ID is `id`.
    pub fn host_of(&self, id: &str) -> usize {
        self.hosts
            .iter()
            .position(|host| host.machine_id() == id)
            .unwrap_or_else(|| panic!("no host has machine ID {id}"))
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

    /// Every fleetd log, for failure messages.
    pub fn logs(&self) -> String {
        (0..self.hosts.len())
            .map(|i| {
                format!(
                    "--- fleetd on {} ---\n{}",
                    self.hosts[i].name(),
                    self.fleetd_log(i)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for i in 0..self.fleetd.len() {
            self.kill_fleetd(i);
        }
        // Hosts, cluster and lab clean up in their own drops, in field order.
    }
}
