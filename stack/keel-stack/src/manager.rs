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
    /// The three octets, when `net` is three octets of a private /24 (10/8, 172.16/12,
    /// 192.168/16).
    fn octets(&self) -> Result<[u8; 3], StackError> {
        let bad = || {
            StackError::Flag(format!(
                "--hosts-net: {:?} must be the first three octets of a private /24, such as 10.90.0",
                self.net
            ))
        };
        let parts: Vec<u8> = self
            .net
            .split('.')
            .map(|octet| octet.parse::<u8>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let octets: [u8; 3] = parts.try_into().map_err(|_| bad())?;
        let private = matches!(octets, [10, _, _] | [192, 168, _])
            || (octets[0] == 172 && (16..32).contains(&octets[1]));
        if private {
            Ok(octets)
        } else {
            Err(bad())
        }
    }

    /// The lab's names: namespaces `ks<tag>h<N>`, bridge `ks<tag>br`, with a tag that no
    /// other net shares (three digits per octet).
    fn lab_config(&self, octets: [u8; 3]) -> LabConfig {
        let tag: String = octets.iter().map(|octet| format!("{octet:03}")).collect();
        LabConfig {
            nodes: self.count,
            net: octets.map(|octet| octet.to_string()).join("."),
            prefix: format!("ks{tag}h"),
            bridge: format!("ks{tag}br"),
        }
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

/// Takes the lab's lock (`/run/<bridge>.lock`, held until the returned file is dropped).
///
/// # Errors
/// Another `keel-stack --hosts` on this net holds it, or the file cannot be opened.
fn lock_lab(config: &LabConfig) -> Result<std::fs::File, StackError> {
    let path = PathBuf::from(format!("/run/{}.lock", config.bridge));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(StackError::io("opening", &path))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(_) => Err(StackError::Flag(format!(
            "--hosts-net {}: another keel-stack --hosts runs on this net (it holds {})",
            config.net,
            path.display()
        ))),
    }
}

/// An address the lab gave, as an IP.
fn lab_address(text: &str) -> Result<IpAddr, StackError> {
    text.parse()
        .map_err(|_| StackError::Flag(format!("--hosts-net: {text:?} is not an address")))
}

/// The test hosts and their lab; the hosts stop before the lab's namespaces go, and the
/// lab's lock is let go last.
pub struct TestHosts {
    hosts: Vec<keel_host::Host>,
    lab: Lab,
    /// Held while the lab lives: a second stack on the same net is refused instead of
    /// removing this one's namespaces as leftovers.
    _lock: std::fs::File,
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
    let config = request.lab_config(octets);
    let lock = lock_lab(&config)?;
    // What a killed run left, with as many hosts as it may have had.
    Lab::clean(LabConfig {
        nodes: HOSTS_MAX,
        ..config.clone()
    });
    let lab = Lab::up(config).map_err(|error| StackError::NoManager {
        reason: format!("the test hosts' network: {error}"),
    })?;
    let mut test = TestHosts {
        _lock: lock,
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

    /// Goal: `--hosts-net` takes three octets of a private /24 only, and every net gets lab
    /// names of its own (`10.90.0` and `109.0.0` must not share them). Method: good and bad
    /// nets through `octets`, then the names of two nets.
    #[test]
    fn host_nets_are_private_and_named_apart() {
        let request = |net: &str| HostsRequest {
            count: 2,
            net: net.into(),
        };
        for good in [
            "10.90.0",
            "172.16.5",
            "172.31.255",
            "192.168.7",
            "010.090.000",
        ] {
            assert!(request(good).octets().is_ok(), "{good}");
        }
        for bad in [
            "127.0.0",
            "0.0.0",
            "224.1.1",
            "172.32.0",
            "8.8.8",
            "10.90",
            "10.90.0.1",
            "10.x.0",
            "",
        ] {
            assert!(request(bad).octets().is_err(), "{bad}");
        }
        let one = request("10.90.0").lab_config([10, 90, 0]);
        let other = request("109.0.0").lab_config([109, 0, 0]);
        assert_eq!(one.prefix, "ks010090000h");
        assert_eq!(one.bridge, "ks010090000br");
        assert_ne!(one.prefix, other.prefix);
        assert_eq!(
            request("010.090.000").lab_config([10, 90, 0]).net,
            "10.90.0"
        );
        assert!(
            one.bridge.len() <= 15,
            "an interface name has at most 15 bytes"
        );
        assert!(request("10.0.0").check().is_ok());
        let zero = HostsRequest {
            count: 0,
            net: "10.0.0".into(),
        };
        assert!(zero.check().is_err());
        let many = HostsRequest {
            count: HOSTS_MAX + 1,
            net: "10.0.0".into(),
        };
        assert!(many.check().is_err());
    }

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
