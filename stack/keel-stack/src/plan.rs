//! What the stack runs, decided without I/O: from the [`Settings`] (flags, the data directory,
//! which systemd manager fleetd drives) to the ordered [`Part`]s, each a program with its
//! arguments, environment, place, readiness check and the line printed once it is ready;
//! and the environment file that points the command-line tools at the stack.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The systemd manager fleetd drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// The caller's own user manager, on this session bus address.
    Own { bus: String },
    /// A private `systemd --user` in a host of its own (keel-host); fleetd runs inside it
    /// and reaches its manager on this bus address (as the host sees it).
    Private { bus: String },
    /// Test hosts, each in a network namespace of its own on a bridge (`--hosts N`), one
    /// fleetd in each; they reach Keel at `bridge`, the machine's address on the bridge.
    Hosts {
        bridge: std::net::IpAddr,
        hosts: Vec<TestHost>,
    },
}

/// One test host of [`Manager::Hosts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestHost {
    /// Its name (`h1`, `h2`, ...), also its fleet metadata `host=<name>`.
    pub name: String,
    /// Its manager's session bus, as the host sees it.
    pub bus: String,
    /// Its address on the bridge: fleet's public IP and API address there.
    pub address: std::net::IpAddr,
}

/// What the flags say; paths are absolute.
#[derive(Debug, Clone)]
pub struct Flags {
    /// Where the binaries are (`keel`, `fleetd`, ...).
    pub bin_dir: PathBuf,
    /// The stack's data: `keel/`, `logs/`, `host/`, `fleet.sock`, `env`.
    pub data_dir: PathBuf,
    /// Keel's client URL (`http://127.0.0.1:2379`).
    pub keel_client_url: String,
    /// Keel's peer URL (`http://127.0.0.1:2380`).
    pub keel_peer_url: String,
    /// fleet's API over TCP on 127.0.0.1 (beside its unix socket), for `/metrics` and for
    /// clients that speak TCP.
    pub fleet_api_port: u16,
    /// discoveryd's DNS address (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// discoveryd's metrics, `/ready` and `/health` port, on the DNS address's IP.
    pub dns_metrics_port: u16,
    /// The DNS zone discoveryd serves and fleet publishes units in.
    pub domain: String,
    /// The IP fleet publishes for this machine's units (fleet's `public_ip`).
    pub public_ip: std::net::IpAddr,
    /// locksmithd's `REBOOT_STRATEGY`.
    pub reboot_strategy: String,
    /// locksmithd's metrics port on 127.0.0.1 (`LOCKSMITHD_METRICS_ADDR`).
    pub locksmith_metrics_port: u16,
    /// Where the dashboard is served.
    pub dashboard_addr: SocketAddr,
    /// Every part's log format (each through its own environment variable).
    pub log_format: keel_cli::LogFormat,
}

/// Everything the plan depends on: the flags and the manager found for fleetd.
#[derive(Debug, Clone)]
pub struct Settings {
    pub flags: Flags,
    pub manager: Manager,
}

/// Where a part runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A child process of the stack, on the machine.
    Machine,
    /// Inside a host of the manager (its mount and PID namespaces): the private manager's
    /// (0) or a test host's (its index).
    Host(usize),
}

/// When a part counts as up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// `GET url` answers 200.
    HttpOk { url: String },
    /// fleet's API on this unix socket lists at least one machine.
    FleetMachine { socket: PathBuf },
    /// The process exits with status 0 (a daemon that has nothing to do, such as locksmithd
    /// with strategy `off`).
    ExitsCleanly,
    /// The process is running and its log has this line.
    Logged { text: &'static str },
}

/// One daemon of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its name in messages and its log's name (`logs/<name>.log`).
    pub name: String,
    /// The environment variable its program reads its log format from.
    pub log_format_variable: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Added to the stack's own environment.
    pub env: Vec<(String, String)>,
    pub place: Place,
    pub ready: Ready,
    /// Printed once every part is ready (`dns: 127.0.0.1:1053`).
    pub line: String,
}

/// fleetd's API socket (the first test host's, with `--hosts`).
pub fn fleet_socket(settings: &Settings) -> PathBuf {
    match &settings.manager {
        Manager::Hosts { hosts, .. } => match hosts.first() {
            Some(host) => host_fleet_socket(settings, host),
            None => settings.flags.data_dir.join("fleet.sock"),
        },
        _ => settings.flags.data_dir.join("fleet.sock"),
    }
}

/// A test host's fleetd API socket, in its directory of the stack's data.
fn host_fleet_socket(settings: &Settings, host: &TestHost) -> PathBuf {
    host_dir(&settings.flags.data_dir, &host.name).join("fleet.sock")
}

/// Where test host `name` keeps its files (its machine ID among them).
pub fn host_dir(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("hosts").join(name)
}

/// fleet's HTTP API, as the machine reaches it (the first test host's, with `--hosts`).
pub fn fleet_api(settings: &Settings) -> String {
    let port = settings.flags.fleet_api_port;
    match &settings.manager {
        Manager::Hosts { hosts, .. } if !hosts.is_empty() => {
            format!("http://{}:{port}", hosts[0].address)
        }
        _ => format!("http://127.0.0.1:{port}"),
    }
}

/// The parts in start order; they stop in the reverse order.
pub fn parts(settings: &Settings) -> Vec<Part> {
    let mut parts = vec![keel(settings)];
    match &settings.manager {
        Manager::Hosts { bridge, hosts } => parts.extend(
            hosts
                .iter()
                .enumerate()
                .map(|(index, host)| host_fleetd(settings, *bridge, index, host)),
        ),
        Manager::Own { bus } => parts.push(fleetd(settings, bus, Place::Machine)),
        Manager::Private { bus } => parts.push(fleetd(settings, bus, Place::Host(0))),
    }
    parts.extend([
        discoveryd(settings),
        locksmithd(settings),
        dashboard(settings),
    ]);
    let format = settings.flags.log_format.as_str();
    for part in &mut parts {
        part.env
            .push((part.log_format_variable.to_owned(), format.to_owned()));
    }
    parts
}

fn dashboard(settings: &Settings) -> Part {
    let flags = &settings.flags;
    let args = [
        ("--listen", flags.dashboard_addr.to_string()),
        ("--keel", flags.keel_client_url.clone()),
        ("--fleet", fleet_api(settings)),
        (
            "--metrics",
            format!(
                "keel={}/metrics",
                flags.keel_client_url.trim_end_matches('/')
            ),
        ),
        (
            "--metrics",
            format!("fleet={}/metrics", fleet_api(settings)),
        ),
        (
            "--metrics",
            format!(
                "dns=http://{}/metrics",
                SocketAddr::new(flags.dns_addr.ip(), flags.dns_metrics_port)
            ),
        ),
    ];
    Part {
        name: "dashboard".into(),
        log_format_variable: "KEEL_DASHBOARD_LOG_FORMAT",
        program: flags.bin_dir.join("keel-dashboard"),
        args: flag_pairs(args),
        env: Vec::new(),
        place: Place::Machine,
        ready: Ready::HttpOk {
            url: format!("http://{}/api/view", flags.dashboard_addr),
        },
        line: format!("dashboard: http://{}/", flags.dashboard_addr),
    }
}

fn keel(settings: &Settings) -> Part {
    let client = settings.flags.keel_client_url.clone();
    let peer = settings.flags.keel_peer_url.clone();
    // With test hosts Keel also listens on the bridge, and advertises only that address:
    // every client, on the machine or in a host, reaches it there.
    let (listen, advertise) = match &settings.manager {
        Manager::Hosts { bridge, .. } => {
            let url = bridge_url(&client, *bridge);
            (format!("{client},{url}"), url)
        }
        _ => (client.clone(), client.clone()),
    };
    let args = [
        ("--name", "default".to_owned()),
        (
            "--data-dir",
            path_text(&settings.flags.data_dir.join("keel")),
        ),
        ("--listen-client-urls", listen),
        ("--advertise-client-urls", advertise),
        ("--listen-peer-urls", peer.clone()),
        ("--initial-advertise-peer-urls", peer.clone()),
        ("--initial-cluster", format!("default={peer}")),
    ];
    Part {
        name: "keel".into(),
        log_format_variable: "KEEL_LOG_FORMAT",
        program: settings.flags.bin_dir.join("keel"),
        args: flag_pairs(args),
        env: Vec::new(),
        place: Place::Machine,
        ready: Ready::HttpOk {
            url: format!("{}/health", client.trim_end_matches('/')),
        },
        line: format!("keel: {client}"),
    }
}

/// The one fleetd of the caller's own manager (on the machine) or of the private one.
fn fleetd(settings: &Settings, bus: &str, place: Place) -> Part {
    let socket = fleet_socket(settings);
    let (units, how) = match place {
        Place::Machine => (
            settings.flags.data_dir.join("fleet-units"),
            "your systemd --user",
        ),
        Place::Host(_) => (
            PathBuf::from("/run/fleet/units"),
            "a private systemd --user",
        ),
    };
    let bus = bus.to_owned();
    let env = [
        ("FLEET_ETCD_SERVERS", settings.flags.keel_client_url.clone()),
        ("FLEET_SYSTEMD_USER", "true".to_owned()),
        ("FLEET_UNITS_DIRECTORY", path_text(&units)),
        (
            "FLEET_API_LISTEN",
            format!(
                "unix://{},http://127.0.0.1:{}",
                path_text(&socket),
                settings.flags.fleet_api_port
            ),
        ),
        ("FLEET_PUBLIC_IP", settings.flags.public_ip.to_string()),
        ("FLEET_DNS_DOMAIN", settings.flags.domain.clone()),
        ("DBUS_SESSION_BUS_ADDRESS", bus),
    ];
    Part {
        name: "fleetd".into(),
        log_format_variable: "FLEET_LOG_FORMAT",
        program: settings.flags.bin_dir.join("fleetd"),
        args: Vec::new(),
        env: owned(&env),
        place,
        ready: Ready::FleetMachine {
            socket: socket.clone(),
        },
        line: format!(
            "fleet: unix://{} and http://127.0.0.1:{} (driving {how})",
            path_text(&socket),
            settings.flags.fleet_api_port
        ),
    }
}

/// The fleetd of test host `index`: Keel on the bridge, its API on its own address, its
/// units published with that address, metadata `host=<name>`.
fn host_fleetd(
    settings: &Settings,
    bridge: std::net::IpAddr,
    index: usize,
    host: &TestHost,
) -> Part {
    let socket = host_fleet_socket(settings, host);
    let api = format!("http://{}:{}", host.address, settings.flags.fleet_api_port);
    let env = [
        (
            "FLEET_ETCD_SERVERS",
            bridge_url(&settings.flags.keel_client_url, bridge),
        ),
        ("FLEET_SYSTEMD_USER", "true".to_owned()),
        ("FLEET_UNITS_DIRECTORY", "/run/fleet/units".to_owned()),
        (
            "FLEET_API_LISTEN",
            format!("unix://{},{api}", path_text(&socket)),
        ),
        ("FLEET_PUBLIC_IP", host.address.to_string()),
        ("FLEET_METADATA", format!("host={}", host.name)),
        ("FLEET_DNS_DOMAIN", settings.flags.domain.clone()),
        ("DBUS_SESSION_BUS_ADDRESS", host.bus.clone()),
    ];
    Part {
        name: format!("fleetd-{}", host.name),
        log_format_variable: "FLEET_LOG_FORMAT",
        program: settings.flags.bin_dir.join("fleetd"),
        args: Vec::new(),
        env: owned(&env),
        place: Place::Host(index),
        ready: Ready::FleetMachine {
            socket: socket.clone(),
        },
        line: format!(
            "fleet {}: unix://{} and {api} (test host {}, metadata host={})",
            host.name,
            path_text(&socket),
            host.address,
            host.name
        ),
    }
}

/// Keel's client URL with the bridge's address in place of its IP (same port).
fn bridge_url(client: &str, bridge: std::net::IpAddr) -> String {
    let port = check_keel_url("--keel-client-url", client).map_or(2379, |a| a.port());
    format!("http://{}", SocketAddr::new(bridge, port))
}

fn discoveryd(settings: &Settings) -> Part {
    let metrics = SocketAddr::new(
        settings.flags.dns_addr.ip(),
        settings.flags.dns_metrics_port,
    );
    let args = [
        ("-addr", settings.flags.dns_addr.to_string()),
        ("-machines", settings.flags.keel_client_url.clone()),
        ("-domain", settings.flags.domain.clone()),
        (
            "-prometheus-port",
            settings.flags.dns_metrics_port.to_string(),
        ),
    ];
    Part {
        name: "discoveryd".into(),
        log_format_variable: "SKYDNS_LOG_FORMAT",
        program: settings.flags.bin_dir.join("discoveryd"),
        args: args
            .into_iter()
            .map(|(flag, value)| format!("{flag}={value}"))
            .collect(),
        env: Vec::new(),
        place: Place::Machine,
        ready: Ready::HttpOk {
            url: format!("http://{metrics}/ready"),
        },
        line: format!(
            "dns: {} (zone {}, metrics http://{metrics}/metrics)",
            settings.flags.dns_addr, settings.flags.domain
        ),
    }
}

fn locksmithd(settings: &Settings) -> Part {
    let strategy = settings.flags.reboot_strategy.trim().to_owned();
    let env = [
        ("REBOOT_STRATEGY", strategy.clone()),
        (
            "LOCKSMITHD_ENDPOINT",
            settings.flags.keel_client_url.clone(),
        ),
        (
            "LOCKSMITHD_STATE_FILE",
            path_text(
                &settings
                    .flags
                    .data_dir
                    .join("locksmith")
                    .join("coordinator.conf"),
            ),
        ),
        (
            "LOCKSMITHD_METRICS_ADDR",
            format!("127.0.0.1:{}", settings.flags.locksmith_metrics_port),
        ),
    ];
    let off = strategy == "off";
    Part {
        name: "locksmithd".into(),
        log_format_variable: "LOCKSMITHD_LOG_FORMAT",
        program: settings.flags.bin_dir.join("locksmithd"),
        args: Vec::new(),
        env: owned(&env),
        place: Place::Machine,
        ready: if off {
            Ready::ExitsCleanly
        } else {
            Ready::Logged {
                text: "locksmithd starting",
            }
        },
        line: if off {
            "locksmith: reboot strategy off (locksmithctl status reads the semaphore in keel)"
                .to_owned()
        } else {
            format!("locksmith: reboot strategy {strategy}")
        },
    }
}

/// The environment file: `export` lines that point every command-line tool at the stack.
pub fn env_file(settings: &Settings) -> String {
    let keel = &settings.flags.keel_client_url;
    let socket = path_text(&fleet_socket(settings));
    let mut text = String::from(
        "# keel-stack: `. <this file>` points fleetctl, keelctl, etcdctl, locksmithctl and\n\
         # discoveryctl at the running stack.\n",
    );
    for (name, value) in [
        ("FLEETCTL_ENDPOINT", format!("unix://{socket}")),
        ("KEELCTL_ENDPOINTS", keel.clone()),
        ("ETCDCTL_ENDPOINTS", keel.clone()),
        ("ETCDCTL_API", "2".to_owned()),
        ("LOCKSMITHCTL_ENDPOINT", keel.clone()),
        ("ETCD_MACHINES", keel.clone()),
        ("KEEL_STACK_DNS", settings.flags.dns_addr.to_string()),
    ] {
        text.push_str(&format!("export {name}={}\n", shell_quoted(&value)));
    }
    text
}

/// `value` as one shell word.
fn shell_quoted(value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/:._-,=@+".contains(&b));
    if plain && !value.is_empty() {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Whether Keel's client URL is one the plan can use: `http://IP:port`.
///
/// # Errors
/// What is wrong with it.
pub fn check_keel_url(flag: &str, url: &str) -> Result<SocketAddr, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(format!("{flag}: {url:?} must start with http://"));
    };
    rest.trim_end_matches('/')
        .parse::<SocketAddr>()
        .map_err(|_| format!("{flag}: {url:?} must be http://IP:port"))
}

/// Whether the flags give every listener an address of its own: Keel's URLs must be
/// `http://IP:port`, no port may be 0, and no two listeners may bind the same port on the
/// same IP (or on any IP, for `0.0.0.0`).
///
/// # Errors
/// The first flag at fault, named with the one it collides with.
pub fn check_addresses(flags: &Flags) -> Result<(), String> {
    let loopback = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let listeners = [
        (
            "--keel-client-url",
            check_keel_url("--keel-client-url", &flags.keel_client_url)?,
        ),
        (
            "--keel-peer-url",
            check_keel_url("--keel-peer-url", &flags.keel_peer_url)?,
        ),
        ("--fleet-api-port", loopback(flags.fleet_api_port)),
        ("--dns-addr", flags.dns_addr),
        (
            "--dns-metrics-port",
            SocketAddr::new(flags.dns_addr.ip(), flags.dns_metrics_port),
        ),
        (
            "--locksmith-metrics-port",
            loopback(flags.locksmith_metrics_port),
        ),
        ("--dashboard-addr", flags.dashboard_addr),
    ];
    for (i, (flag, address)) in listeners.iter().enumerate() {
        if address.port() == 0 {
            return Err(format!("{flag}: port 0 cannot be given to the tools"));
        }
        for (other, theirs) in &listeners[..i] {
            let same_ip = address.ip() == theirs.ip()
                || address.ip().is_unspecified()
                || theirs.ip().is_unspecified();
            if same_ip && address.port() == theirs.port() {
                return Err(format!("{flag}: {address} is {other}'s address too"));
            }
        }
    }
    Ok(())
}

/// `--flag value` pairs as one argument list.
fn flag_pairs<const N: usize>(pairs: [(&str, String); N]) -> Vec<String> {
    pairs
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
}

fn owned(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(manager: Manager) -> Settings {
        let flags = Flags {
            bin_dir: PathBuf::from("/opt/keel/bin"),
            data_dir: PathBuf::from("/srv/stack"),
            keel_client_url: "http://127.0.0.1:2379".into(),
            keel_peer_url: "http://127.0.0.1:2380".into(),
            fleet_api_port: 49153,
            dns_addr: "127.0.0.1:1053".parse().unwrap(),
            dns_metrics_port: 9153,
            domain: "skydns.local".into(),
            public_ip: "127.0.0.1".parse().unwrap(),
            reboot_strategy: "off".into(),
            locksmith_metrics_port: 9154,
            dashboard_addr: "127.0.0.1:8080".parse().unwrap(),
            log_format: keel_cli::LogFormat::Text,
        };
        Settings { flags, manager }
    }

    /// Goal: `--log-format json` reaches every part through the variable that part reads
    /// (keel's KEEL_, fleet's FLEET_, SkyDNS's SKYDNS_ prefix...). Method: the plan with JSON
    /// logs, each part's environment read.
    #[test]
    fn every_part_gets_the_log_format() {
        let mut settings = settings(Manager::Own {
            bus: "unix:path=/run/user/1000/bus".into(),
        });
        settings.flags.log_format = keel_cli::LogFormat::Json;
        let plan = parts(&settings);
        let expected = [
            ("keel", "KEEL_LOG_FORMAT"),
            ("fleetd", "FLEET_LOG_FORMAT"),
            ("discoveryd", "SKYDNS_LOG_FORMAT"),
            ("locksmithd", "LOCKSMITHD_LOG_FORMAT"),
            ("dashboard", "KEEL_DASHBOARD_LOG_FORMAT"),
        ];
        assert_eq!(plan.len(), expected.len());
        for (part, (name, variable)) in plan.iter().zip(expected) {
            assert_eq!(part.name, name);
            assert_eq!(env(part, variable), Some("json"), "{name}");
        }
    }

    fn env<'a>(part: &'a Part, key: &str) -> Option<&'a str> {
        part.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Goal: the parts start in dependency order (Keel first, every other part is its
    /// client) and each points at the same Keel and the same zone. Method: the default
    /// settings' plan, read field by field.
    #[test]
    fn parts_start_in_order_and_agree_on_keel_and_the_zone() {
        let plan = parts(&settings(Manager::Private {
            bus: "unix:path=/run/user/0/bus".into(),
        }));
        let names: Vec<&str> = plan.iter().map(|part| part.name.as_str()).collect();
        assert_eq!(
            names,
            ["keel", "fleetd", "discoveryd", "locksmithd", "dashboard"]
        );
        let keel = &plan[0];
        assert_eq!(keel.program, PathBuf::from("/opt/keel/bin/keel"));
        assert!(keel
            .args
            .windows(2)
            .any(|w| w == ["--data-dir", "/srv/stack/keel"]));
        assert!(keel
            .args
            .windows(2)
            .any(|w| w == ["--initial-cluster", "default=http://127.0.0.1:2380"]));
        assert_eq!(
            keel.ready,
            Ready::HttpOk {
                url: "http://127.0.0.1:2379/health".into()
            }
        );
        let fleetd = &plan[1];
        assert_eq!(fleetd.place, Place::Host(0));
        assert_eq!(
            env(fleetd, "FLEET_ETCD_SERVERS"),
            Some("http://127.0.0.1:2379")
        );
        assert_eq!(env(fleetd, "FLEET_DNS_DOMAIN"), Some("skydns.local"));
        assert_eq!(env(fleetd, "FLEET_PUBLIC_IP"), Some("127.0.0.1"));
        assert_eq!(
            env(fleetd, "FLEET_API_LISTEN"),
            Some("unix:///srv/stack/fleet.sock,http://127.0.0.1:49153")
        );
        assert_eq!(
            env(fleetd, "FLEET_UNITS_DIRECTORY"),
            Some("/run/fleet/units")
        );
        let discoveryd = &plan[2];
        assert!(discoveryd
            .args
            .contains(&"-machines=http://127.0.0.1:2379".to_owned()));
        assert!(discoveryd.args.contains(&"-domain=skydns.local".to_owned()));
        assert_eq!(
            discoveryd.ready,
            Ready::HttpOk {
                url: "http://127.0.0.1:9153/ready".into()
            }
        );
        assert!(discoveryd.line.starts_with("dns: 127.0.0.1:1053"));
        let locksmithd = &plan[3];
        assert_eq!(env(locksmithd, "REBOOT_STRATEGY"), Some("off"));
        assert_eq!(
            env(locksmithd, "LOCKSMITHD_METRICS_ADDR"),
            Some("127.0.0.1:9154")
        );
        assert_eq!(locksmithd.ready, Ready::ExitsCleanly);
        let dashboard = &plan[4];
        assert!(dashboard
            .args
            .windows(2)
            .any(|w| w == ["--fleet", "http://127.0.0.1:49153"]));
        assert_eq!(dashboard.line, "dashboard: http://127.0.0.1:8080/");
    }

    /// Goal: the dashboard reads every daemon's request counter where that daemon serves
    /// its metrics. Method: the default plan's dashboard arguments.
    #[test]
    fn the_dashboard_reads_every_daemons_metrics() {
        let plan = parts(&settings(Manager::Private {
            bus: "unix:path=/run/user/0/bus".into(),
        }));
        let dashboard = &plan[4];
        for source in [
            "keel=http://127.0.0.1:2379/metrics",
            "fleet=http://127.0.0.1:49153/metrics",
            "dns=http://127.0.0.1:9153/metrics",
        ] {
            assert!(
                dashboard
                    .args
                    .windows(2)
                    .any(|w| w == ["--metrics", source]),
                "{source}"
            );
        }
    }

    /// Goal: with the caller's own manager fleetd runs on the machine, on that bus, with
    /// its unit files in the stack's data; a strategy other than `off` waits for
    /// locksmithd to say it started. Method: the plan with `Manager::Own` and `etcd-lock`.
    #[test]
    fn own_manager_and_a_real_strategy() {
        let mut settings = settings(Manager::Own {
            bus: "unix:path=/run/user/1000/bus".into(),
        });
        settings.flags.reboot_strategy = "etcd-lock".into();
        let plan = parts(&settings);
        assert_eq!(plan[1].place, Place::Machine);
        assert_eq!(
            env(&plan[1], "DBUS_SESSION_BUS_ADDRESS"),
            Some("unix:path=/run/user/1000/bus")
        );
        assert_eq!(
            env(&plan[1], "FLEET_UNITS_DIRECTORY"),
            Some("/srv/stack/fleet-units")
        );
        assert!(matches!(plan[3].ready, Ready::Logged { .. }));
        assert_eq!(plan[3].line, "locksmith: reboot strategy etcd-lock");
    }

    /// Goal: with test hosts there is one fleetd per host, each in its host, on its own
    /// address and socket, with metadata naming its host, reaching Keel on the bridge; Keel
    /// listens on loopback and the bridge and advertises the bridge; the dashboard and
    /// fleetctl's socket are the first host's. Method: the plan for two hosts, read field by
    /// field.
    #[test]
    fn test_hosts_get_a_fleetd_each() {
        let host = |i: u8| TestHost {
            name: format!("h{i}"),
            bus: format!("unix:path=/run/user/0/bus{i}"),
            address: std::net::IpAddr::from([10, 90, 0, 10 + i]),
        };
        let settings = settings(Manager::Hosts {
            bridge: [10, 90, 0, 1].into(),
            hosts: vec![host(1), host(2)],
        });
        let plan = parts(&settings);
        let names: Vec<&str> = plan.iter().map(|part| part.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "keel",
                "fleetd-h1",
                "fleetd-h2",
                "discoveryd",
                "locksmithd",
                "dashboard"
            ]
        );
        let keel = &plan[0];
        assert!(keel.args.windows(2).any(|w| w
            == [
                "--listen-client-urls",
                "http://127.0.0.1:2379,http://10.90.0.1:2379"
            ]));
        assert!(keel
            .args
            .windows(2)
            .any(|w| w == ["--advertise-client-urls", "http://10.90.0.1:2379"]));
        for (i, fleetd) in plan[1..3].iter().enumerate() {
            let n = i + 1;
            assert_eq!(fleetd.place, Place::Host(i));
            assert_eq!(
                env(fleetd, "FLEET_ETCD_SERVERS"),
                Some("http://10.90.0.1:2379")
            );
            let address = format!("10.90.0.{}", 10 + n);
            assert_eq!(env(fleetd, "FLEET_PUBLIC_IP"), Some(address.as_str()));
            let listen = format!("unix:///srv/stack/hosts/h{n}/fleet.sock,http://{address}:49153");
            assert_eq!(env(fleetd, "FLEET_API_LISTEN"), Some(listen.as_str()));
            let metadata = format!("host=h{n}");
            assert_eq!(env(fleetd, "FLEET_METADATA"), Some(metadata.as_str()));
            let bus = format!("unix:path=/run/user/0/bus{n}");
            assert_eq!(env(fleetd, "DBUS_SESSION_BUS_ADDRESS"), Some(bus.as_str()));
        }
        assert!(plan[5]
            .args
            .windows(2)
            .any(|w| w == ["--fleet", "http://10.90.0.11:49153"]));
        assert_eq!(
            fleet_socket(&settings),
            PathBuf::from("/srv/stack/hosts/h1/fleet.sock")
        );
    }

    /// Goal: the environment file names every tool's variable, each value one shell word.
    /// Method: the file for a data directory with a space and a quote in its name.
    #[test]
    fn env_file_quotes_what_the_shell_would_split() {
        let mut settings = settings(Manager::Own { bus: String::new() });
        settings.flags.data_dir = PathBuf::from("/home/o'neil/my stack");
        let text = env_file(&settings);
        assert!(text
            .contains("export FLEETCTL_ENDPOINT='unix:///home/o'\\''neil/my stack/fleet.sock'\n"));
        assert!(text.contains("export KEELCTL_ENDPOINTS=http://127.0.0.1:2379\n"));
        assert!(text.contains("export LOCKSMITHCTL_ENDPOINT=http://127.0.0.1:2379\n"));
        assert!(text.contains("export ETCD_MACHINES=http://127.0.0.1:2379\n"));
        assert!(text.contains("export ETCDCTL_API=2\n"));
    }

    /// Goal: two listeners on one address, or port 0, are refused before anything starts,
    /// naming both flags; the same port on two IPs is fine. Method: the defaults, then one
    /// collision at a time.
    #[test]
    fn every_listener_needs_an_address_of_its_own() {
        let base = settings(Manager::Own { bus: String::new() }).flags;
        assert!(check_addresses(&base).is_ok());
        let mut same = base.clone();
        same.dashboard_addr = "127.0.0.1:2379".parse().unwrap();
        let error = check_addresses(&same).unwrap_err();
        assert!(
            error.contains("--dashboard-addr") && error.contains("--keel-client-url"),
            "{error}"
        );
        let mut any = base.clone();
        any.dns_addr = "0.0.0.0:9154".parse().unwrap();
        let error = check_addresses(&any).unwrap_err();
        assert!(
            error.contains("--locksmith-metrics-port") && error.contains("--dns-addr"),
            "{error}"
        );
        let mut zero = base.clone();
        zero.fleet_api_port = 0;
        assert!(check_addresses(&zero)
            .unwrap_err()
            .starts_with("--fleet-api-port"));
        let mut elsewhere = base;
        elsewhere.dns_addr = "127.0.0.2:2379".parse().unwrap();
        assert!(check_addresses(&elsewhere).is_ok());
    }

    /// Goal: a Keel URL the stack cannot use is refused with the flag's name. Method: each
    /// malformed shape, then a good one.
    #[test]
    fn keel_urls_must_be_http_ip_port() {
        for bad in [
            "127.0.0.1:2379",
            "https://127.0.0.1:2379",
            "http://localhost:2379",
            "http://127.0.0.1",
        ] {
            let error = check_keel_url("--keel-client-url", bad).unwrap_err();
            assert!(error.starts_with("--keel-client-url: "), "{error}");
        }
        assert!(check_keel_url("--keel-client-url", "http://127.0.0.1:2379/").is_ok());
    }
}
