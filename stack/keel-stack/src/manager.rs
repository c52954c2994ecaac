//! The systemd manager fleetd drives: the caller's own user manager when one answers on
//! `$XDG_RUNTIME_DIR/bus`, else (as root) a private `systemd --user` in a host of its own
//! (keel-host), with a machine ID kept in the data directory so fleet sees the same machine
//! on every run. With `--hosts N` (root): N test hosts instead, each a private
//! `systemd --user` in a network namespace of its own on a bridge (testkit's lab), each
//! with its own kept machine ID.

use crate::plan::{self, Manager, TestHost};
use crate::StackError;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use testkit::lab::{Lab, LabConfig};

/// The most test hosts `--hosts` starts (each is a systemd manager, a bus and a fleetd).
pub const HOSTS_MAX: usize = 16;

/// Which manager to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// The caller's own user manager if it answers, else a private one.
    Auto,
    /// The caller's own user manager only.
    Own,
    /// A private `systemd --user` (needs root).
    Private,
}

/// `--hosts N` on `--hosts-net`: how many test hosts, on which /24.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsRequest {
    pub count: usize,
    /// The first three octets of the bridge's /24 (`10.90.0`): the machine is `.1`, host
    /// `hN` is `.(10+N)`.
    pub net: String,
}

impl HostsRequest {
    /// The three octets, when `net` is three octets.
    fn octets(&self) -> Result<[u8; 3], StackError> {
        let bad = || {
            StackError::Flag(format!(
                "--hosts-net: {:?} must be three octets, such as 10.90.0",
                self.net
            ))
        };
        let parts: Vec<u8> = self
            .net
            .split('.')
            .map(|octet| octet.parse::<u8>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        parts.try_into().map_err(|_| bad())
    }

    /// Refuses a count or net the stack cannot use.
    ///
    /// # Errors
    /// What is wrong, naming the flag.
    pub fn check(&self) -> Result<(), StackError> {
        if self.count == 0 || self.count > HOSTS_MAX {
            return Err(StackError::Flag(format!(
                "--hosts: {} hosts; give 1 to {HOSTS_MAX}",
                self.count
            )));
        }
        self.octets().map(drop)
    }
}

/// An address the lab gave, as an IP.
fn lab_address(text: &str) -> Result<IpAddr, StackError> {
    text.parse()
        .map_err(|_| StackError::Flag(format!("--hosts-net: {text:?} is not an address")))
}

/// The test hosts and their lab; the hosts stop before the lab's namespaces go.
pub struct TestHosts {
    hosts: Vec<keel_host::Host>,
    lab: Lab,
    bridge: IpAddr,
    addresses: Vec<IpAddr>,
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        self.hosts.clear();
        self.lab.down();
    }
}

/// The manager in use; a private one, or the test hosts, stop when this is dropped.
pub enum Running {
    Own { bus: String },
    Private(Box<keel_host::Host>),
    Hosts(TestHosts),
}

impl Running {
    /// What the plan needs to know of it.
    pub fn plan(&self) -> Manager {
        match self {
            Running::Own { bus } => Manager::Own { bus: bus.clone() },
            Running::Private(host) => Manager::Private {
                bus: host.session_bus_address(),
            },
            Running::Hosts(test) => Manager::Hosts {
                bridge: test.bridge,
                hosts: test
                    .hosts
                    .iter()
                    .zip(&test.addresses)
                    .enumerate()
                    .map(|(i, (host, address))| TestHost {
                        name: short_name(i),
                        bus: host.session_bus_address(),
                        address: *address,
                    })
                    .collect(),
            },
        }
    }

    /// Host `index` of the manager ([`plan::Place::Host`]): the private manager's (0) or a
    /// test host.
    pub fn host(&self, index: usize) -> Option<&keel_host::Host> {
        match self {
            Running::Own { .. } => None,
            Running::Private(host) => (index == 0).then_some(&**host),
            Running::Hosts(test) => test.hosts.get(index),
        }
    }
}

/// Test host `index`'s name in the plan: `h1`, `h2`, ...
fn short_name(index: usize) -> String {
    format!("h{}", index + 1)
}

/// Starts the lab and `request.count` test hosts in it, each detached (see [`start`]).
///
/// # Errors
/// A bad request, a machine that cannot run hosts (not root, a missing program), a lab
/// that cannot be built (its /24 routed here already), or a host that does not start
/// (everything started is removed first).
pub fn start_hosts(request: &HostsRequest, data_dir: &Path) -> Result<Running, StackError> {
    request.check()?;
    let missing = keel_host::missing();
    if !missing.is_empty() {
        return Err(StackError::NoManager {
            reason: format!("--hosts needs {}", missing.join(", ")),
        });
    }
    let octets = request.octets()?;
    let tag: String = octets.iter().map(u8::to_string).collect();
    let lab = Lab::up(LabConfig {
        nodes: request.count,
        net: request.net.clone(),
        prefix: format!("ks{tag}h"),
        bridge: format!("ks{tag}br"),
    })
    .map_err(|error| StackError::NoManager {
        reason: format!("the test hosts' network: {error}"),
    })?;
    let mut test = TestHosts {
        hosts: Vec::new(),
        bridge: lab_address(&lab.harness_address())?,
        addresses: Vec::new(),
        lab,
    };
    for i in 0..request.count {
        let name = short_name(i);
        let dir = plan::host_dir(data_dir, &name);
        std::fs::create_dir_all(&dir).map_err(StackError::io("creating", &dir))?;
        let config = keel_host::HostConfig {
            name: test.lab.namespace(i),
            machine_id: machine_id(&dir.join("machine-id"))?,
            namespace: Some(test.lab.namespace(i)),
            dir: dir.join("host"),
        };
        test.hosts.push(keel_host::Host::start_detached(config)?);
        test.addresses.push(lab_address(&test.lab.address(i))?);
    }
    Ok(Running::Hosts(test))
}

/// Finds or starts the manager `choice` asks for.
///
/// # Errors
/// No user manager answers (for `own`), a private one cannot run here (for `private`, or
/// `auto` without an own one), or it did not start.
pub fn start(choice: Choice, data_dir: &Path) -> Result<Running, StackError> {
    let own = own_bus();
    match (choice, own) {
        (Choice::Auto | Choice::Own, Some(bus)) => Ok(Running::Own { bus }),
        (Choice::Own, None) => Err(StackError::NoManager {
            reason: "no user manager answers on $XDG_RUNTIME_DIR/bus".into(),
        }),
        (Choice::Auto | Choice::Private, _) => {
            let missing = keel_host::missing();
            if !missing.is_empty() {
                return Err(StackError::NoManager {
                    reason: format!(
                        "no user manager answers on $XDG_RUNTIME_DIR/bus, and a private one needs {}",
                        missing.join(", ")
                    ),
                });
            }
            let config = keel_host::HostConfig {
                name: "keel-stack".into(),
                machine_id: machine_id(&data_dir.join("machine-id"))?,
                namespace: None,
                dir: data_dir.join("host"),
            };
            // Detached: a terminal's Ctrl-C must reach only the stack, which stops fleetd
            // before the host.
            Ok(Running::Private(Box::new(keel_host::Host::start_detached(
                config,
            )?)))
        }
    }
}

/// The session bus of the caller's user manager, when `systemctl --user` reaches it.
fn own_bus() -> Option<String> {
    let runtime = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    if !runtime.join("bus").exists() {
        return None;
    }
    let state = Command::new("systemctl")
        .args(["--user", "is-system-running"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let state = String::from_utf8_lossy(&state.stdout);
    matches!(state.trim(), "running" | "degraded")
        .then(|| format!("unix:path={}", runtime.join("bus").display()))
}

/// The machine ID kept at `path`: read, or made once from the kernel's random UUID.
fn machine_id(path: &Path) -> Result<String, StackError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let id = text.trim();
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_ascii_lowercase());
        }
    }
    let uuid_path = Path::new("/proc/sys/kernel/random/uuid");
    let uuid = std::fs::read_to_string(uuid_path).map_err(StackError::io("reading", uuid_path))?;
    let id: String = uuid.trim().chars().filter(|c| *c != '-').collect();
    std::fs::write(path, format!("{id}\n")).map_err(StackError::io("writing", path))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the machine ID is made once and then kept, and a damaged file is replaced.
    /// Method: three reads of one path, the file overwritten with garbage before the third.
    #[test]
    fn machine_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("machine-id");
        let first = machine_id(&path).unwrap();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(machine_id(&path).unwrap(), first);
        std::fs::write(&path, "not an id\n").unwrap();
        let third = machine_id(&path).unwrap();
        assert_ne!(third, first);
        assert_eq!(machine_id(&path).unwrap(), third);
    }
}
