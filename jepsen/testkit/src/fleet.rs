//! A fleet cluster on real hosts: one [`Host`] per namespace of a [`Lab`], each running
//! `fleetd` against its user manager and against the Keel members of the same lab. fleetd's
//! host tests and the Jepsen `units` workload drive it. A host can crash (its whole PID
//! namespace, units included) and come back with the same machine ID. Dropping the fleet
//! stops every fleetd and host it started.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::host::{Host, HostConfig};
use crate::lab::Lab;
use crate::wait_for;

/// How long fleetd may take to serve its API after it was started.
pub const FLEETD_DEADLINE: Duration = Duration::from_secs(20);

/// The API port of every fleetd, on its host's lab address.
pub const API_PORT: u16 = 49153;

/// What a fleet on real hosts is.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Host name prefix: hosts are `<prefix>h1`, `<prefix>h2`, ….
    pub prefix: String,
    /// The `fleetd` binary.
    pub fleetd: PathBuf,
    /// Where each host keeps its files (`<dir>/<host name>`).
    pub dir: PathBuf,
    /// fleetd's presence TTL (`FLEET_AGENT_TTL`), e.g. `4s`.
    pub agent_ttl: String,
}

/// Real hosts with fleetd; see the module documentation.
pub struct Fleet {
    config: FleetConfig,
    hosts: Vec<Host>,
    fleetd: Vec<Option<Child>>,
    addresses: Vec<String>,
    namespaces: Vec<String>,
    agent: ureq::Agent,
}

impl Fleet {
    /// One host per node of `lab`, fleetd started on the first `running` of them.
    ///
    /// # Errors
    /// A host that does not start, or a fleetd that does not serve its API in time.
    pub fn start(config: FleetConfig, lab: &Lab, running: usize) -> Result<Fleet, String> {
        let nodes = lab.nodes();
        let mut fleet = Fleet {
            config,
            hosts: Vec::new(),
            fleetd: (0..nodes).map(|_| None).collect(),
            addresses: (0..nodes).map(|i| lab.address(i)).collect(),
            namespaces: (0..nodes).map(|i| lab.namespace(i)).collect(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
        };
        for i in 0..nodes {
            let host = Host::start(fleet.host_config(i)).map_err(|e| e.to_string())?;
            fleet.hosts.push(host);
        }
        for i in 0..running {
            fleet.spawn_fleetd(i, &[])?;
        }
        Ok(fleet)
    }

    fn host_config(&self, i: usize) -> HostConfig {
        let name = format!("{}h{}", self.config.prefix, i + 1);
        HostConfig {
            machine_id: format!("{:030x}{:02x}", 0xf1ee7, i + 1),
            namespace: Some(self.namespaces[i].clone()),
            dir: self.config.dir.join(&name),
            name,
        }
    }

    /// The hosts, in node order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Host `i`, to kill it by hand.
    pub fn host_mut(&mut self, i: usize) -> &mut Host {
        &mut self.hosts[i]
    }

    /// `http://<address>:2379` of every member, comma-separated.
    pub fn store_endpoints(&self) -> String {
        self.addresses
            .iter()
            .map(|address| format!("http://{address}:2379"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts fleetd on host `i` with `extra` environment (e.g. metadata) and waits until its
    /// API answers.
    ///
    /// # Errors
    /// When the API does not answer within [`FLEETD_DEADLINE`].
    pub fn spawn_fleetd(&mut self, i: usize, extra: &[(&str, &str)]) -> Result<(), String> {
        let env = self.fleetd_env(i, extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let binary = self.config.fleetd.display().to_string();
        let child = self.hosts[i].spawn(&binary, &[], &env);
        self.fleetd[i] = Some(child);
        let url = format!("{}/fleet/v1/machines", self.api(i));
        let start = std::time::Instant::now();
        while start.elapsed() < FLEETD_DEADLINE {
            if self.agent.get(&url).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "fleetd on {} did not serve its API within {FLEETD_DEADLINE:?}\n{}",
            self.hosts[i].name(),
            self.fleetd_log(i)
        ))
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
        args.push(self.config.fleetd.display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = self.hosts[i].spawn("/usr/bin/systemd-socket-activate", &args, &[]);
        self.fleetd[i] = Some(child);
        let outside = self.hosts[i].path_from_outside(Path::new(socket));
        wait_for(FLEETD_DEADLINE, "the activation socket", || {
            outside.exists().then_some(())
        });
        outside
    }

    /// fleetd's environment on host `i`: Keel, the user manager, short timers, its API on
    /// `/run/fleet.sock` and on its lab address, `host=<name>` metadata; then `extra`.
    fn fleetd_env(&self, i: usize, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let address = &self.addresses[i];
        let listen = format!("unix:///run/fleet.sock,http://{address}:{API_PORT}");
        let mut env: Vec<(String, String)> = [
            ("FLEET_ETCD_SERVERS", self.store_endpoints()),
            ("FLEET_SYSTEMD_USER", "true".into()),
            ("FLEET_UNITS_DIRECTORY", "/run/fleet/units".into()),
            ("FLEET_API_LISTEN", listen),
            ("FLEET_AGENT_TTL", self.config.agent_ttl.clone()),
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

    /// Host `i` crashes: fleetd, systemd and every unit end at once.
    pub fn crash(&mut self, i: usize) {
        self.kill_fleetd(i);
        self.hosts[i].kill();
    }

    /// A crashed host `i` boots again (same name, machine ID and files) and fleetd starts.
    ///
    /// # Errors
    /// When the host or its fleetd does not come up.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        if self.hosts[i].is_running() {
            return Ok(());
        }
        self.hosts[i].restart().map_err(|e| e.to_string())?;
        self.spawn_fleetd(i, &[])
    }

    /// Whether fleetd was started on host `i` and not killed since.
    pub fn fleetd_running(&self, i: usize) -> bool {
        self.fleetd[i].is_some()
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

    /// Host `i`'s fleet API.
    pub fn api(&self, i: usize) -> String {
        format!("http://{}:{API_PORT}", self.addresses[i])
    }

    /// GET `path` on host `i`'s API: (status, body); status 0 when nothing answered.
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

    /// PUT a JSON body to `path` on host `i`'s API: the status, 0 when nothing answered.
    pub fn put_json(&self, i: usize, path: &str, body: &serde_json::Value) -> u16 {
        let url = format!("{}{path}", self.api(i));
        let reply = self
            .agent
            .put(&url)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        match reply {
            Ok(reply) => reply.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        }
    }

    /// The machines reporting `unit` active, sorted, from the first host whose API answers.
    pub fn active_on(&self, unit: &str) -> Option<Vec<String>> {
        (0..self.hosts.len())
            .filter(|i| self.fleetd_running(*i))
            .find_map(|i| self.active_via(i, unit))
    }

    /// The machines reporting `unit` active, sorted, from host `via`'s API.
    pub fn active_via(&self, via: usize, unit: &str) -> Option<Vec<String>> {
        let (status, body) = self.get(via, &format!("/fleet/v1/state?unitName={unit}"));
        if status != 200 {
            return None;
        }
        let page: serde_json::Value = serde_json::from_str(&body).ok()?;
        let mut machines: Vec<String> = page["states"]
            .as_array()?
            .iter()
            .filter(|state| state["systemdActiveState"] == "active")
            .filter_map(|state| state["machineID"].as_str().map(str::to_owned))
            .collect();
        machines.sort();
        Some(machines)
    }

    /// Every report of `unit` as `machine: active/sub`, sorted, from the first host whose
    /// API answers: what an anomaly shows.
    pub fn reports_of(&self, unit: &str) -> Option<Vec<String>> {
        (0..self.hosts.len())
            .filter(|i| self.fleetd_running(*i))
            .find_map(|i| {
                let (status, body) = self.get(i, &format!("/fleet/v1/state?unitName={unit}"));
                let page: serde_json::Value = serde_json::from_str(&body).ok()?;
                let mut reports: Vec<String> = page["states"]
                    .as_array()
                    .filter(|_| status == 200)?
                    .iter()
                    .map(|state| {
                        let field = |name: &str| state[name].as_str().unwrap_or("?").to_owned();
                        let (machine, active) = (field("machineID"), field("systemdActiveState"));
                        format!("{machine}: {active}/{}", field("systemdSubState"))
                    })
                    .collect();
                reports.sort();
                Some(reports)
            })
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
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for i in 0..self.fleetd.len() {
            self.kill_fleetd(i);
        }
        // The hosts go in their own drops.
    }
}
