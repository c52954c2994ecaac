//! A network lab on one machine: each node gets its own network namespace and address on a
//! bridge the lab creates, so faults act on real sockets (`ip`, `nft`, `tc`; see
//! `docs/jepsen.md`). Node `i` (0-based) lives in namespace `<prefix><i+1>` at
//! `<net>.<11+i>`; the harness stays in the root namespace at `<net>.1` and is never cut off,
//! so clients reach every node during any partition.
//!
//! Partitions are grudges: for each node, the set of nodes whose packets it drops, in an
//! nftables table of its own namespace. Healing deletes those tables. Every command's exit
//! status is checked: a fault that fails to apply is a [`LabError`], never ignored.
//!
//! The lab needs root (or a user namespace that owns its network). [`Lab::up`] first removes
//! anything a crashed earlier run with the same prefix left behind; `Drop` tears it down.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Where the lab lives. Two labs with different prefixes, bridges and nets can coexist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabConfig {
    /// Number of nodes (1..=200).
    pub nodes: usize,
    /// The first three octets of a private /24 not routed on this host, e.g. `10.77.0`.
    pub net: String,
    /// Namespace name prefix, e.g. `jl`: namespaces `jl1`, `jl2`, ...
    pub prefix: String,
    /// Bridge interface name (at most 15 bytes).
    pub bridge: String,
}

impl LabConfig {
    /// `nodes` nodes on `10.77.0.0/24`, namespaces `jl1..`, bridge `jlbr0`.
    pub fn new(nodes: usize) -> LabConfig {
        LabConfig {
            nodes,
            net: "10.77.0".into(),
            prefix: "jl".into(),
            bridge: "jlbr0".into(),
        }
    }
}

/// A lab command failed: the command line and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabError {
    /// What was being done.
    pub action: String,
    /// The command and its output or error.
    pub detail: String,
}

impl std::fmt::Display for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.action, self.detail)
    }
}

impl std::error::Error for LabError {}

/// What this machine can inject, found by trying each in a scratch namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Namespaces, veth and bridges work (root or an owning user namespace).
    pub namespaces: bool,
    /// nftables drop rules work (partitions, packet loss).
    pub nftables: bool,
    /// `tc ... tbf` works (bandwidth limits).
    pub tbf: bool,
    /// iptables' NFQUEUE target works (added latency through a user-space packet holder).
    pub nfqueue: bool,
    /// The libfaketime library, for per-process clock skew.
    pub faketime: Option<String>,
    /// One line per capability that is missing, and why.
    pub notices: Vec<String>,
}

/// Known places of Debian's `faketime` package library.
const FAKETIME_PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// Runs a command and returns its stdout, or a [`LabError`] with its stderr.
fn run(
    action: &str,
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, LabError> {
    let line = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError {
            action: action.into(),
            detail: format!("`{line}` could not start: {e}"),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(|e| LabError {
            action: action.into(),
            detail: format!("`{line}`: writing its input: {e}"),
        })?;
    }
    let output = child.wait_with_output().map_err(|e| LabError {
        action: action.into(),
        detail: format!("`{line}`: {e}"),
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(LabError {
            action: action.into(),
            detail: format!(
                "`{line}` exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

/// Probes what can be injected here, in a scratch namespace named `<prefix>probe`.
pub fn probe(prefix: &str) -> Capabilities {
    let mut caps = Capabilities::default();
    let scratch = format!("{prefix}probe");
    let _ = run("clean scratch", "ip", &["netns", "del", &scratch], None);
    if let Err(e) = run("probe namespaces", "ip", &["netns", "add", &scratch], None) {
        caps.notices
            .push(format!("network namespaces: unavailable (needs root): {e}"));
    } else {
        caps.namespaces = true;
        match run(
            "probe nftables",
            "ip",
            &["netns", "exec", &scratch, "nft", "-f", "-"],
            Some(&nft_table("ip saddr 192.0.2.1 drop\n")),
        ) {
            Ok(_) => caps.nftables = true,
            Err(e) => caps.notices.push(format!(
                "nftables: unavailable, partitions and packet loss are skipped: {e}"
            )),
        }
        let tbf = run(
            "probe tbf",
            "ip",
            &[
                "netns", "exec", &scratch, "tc", "qdisc", "replace", "dev", "lo", "root", "tbf",
                "rate", "1mbit", "burst", "32kbit", "latency", "200ms",
            ],
            None,
        );
        match tbf {
            Ok(_) => caps.tbf = true,
            Err(e) => caps
                .notices
                .push(format!("tc tbf: unavailable, slow links are skipped: {e}")),
        }
        let queue = run(
            "probe NFQUEUE",
            "ip",
            &[
                "netns",
                "exec",
                &scratch,
                "iptables",
                "-A",
                "OUTPUT",
                "-d",
                "192.0.2.1",
                "-j",
                "NFQUEUE",
                "--queue-num",
                "0",
                "--queue-bypass",
            ],
            None,
        );
        match queue {
            Ok(_) => caps.nfqueue = true,
            Err(e) => caps.notices.push(format!(
                "iptables NFQUEUE: unavailable (Debian package `iptables`), delay is skipped: {e}"
            )),
        }
        let _ = run("remove scratch", "ip", &["netns", "del", &scratch], None);
    }
    caps.faketime = FAKETIME_PATHS
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| (*p).to_owned());
    if caps.faketime.is_none() {
        caps.notices.push(
            "libfaketime: not installed (Debian package `faketime`), clock skew is skipped".into(),
        );
    }
    caps
}

/// The nft script that replaces the lab's table with one input chain holding `rules`. The
/// first two lines make it idempotent (create, delete, recreate); nft wants the newlines.
fn nft_table(rules: &str) -> String {
    format!(
        "table inet jepsen\ndelete table inet jepsen\ntable inet jepsen {{\n  chain input {{\n    \
         type filter hook input priority 0; policy accept;\n{rules}  }}\n}}\n"
    )
}

/// A running lab. Dropping it tears everything down.
#[derive(Debug)]
pub struct Lab {
    config: LabConfig,
    torn_down: bool,
}

impl Lab {
    /// Creates the bridge and one namespace per node, after removing leftovers of an earlier
    /// run with the same names.
    ///
    /// # Errors
    /// When the /24 is already routed here, or any command fails (the half-built lab is
    /// removed before returning).
    pub fn up(config: LabConfig) -> Result<Lab, LabError> {
        if config.nodes == 0 || config.nodes > 200 {
            return Err(LabError {
                action: "lab up".into(),
                detail: format!("{} nodes: a lab has 1 to 200", config.nodes),
            });
        }
        let lab = Lab {
            config,
            torn_down: false,
        };
        lab.remove_leftovers();
        let routes = run("list routes", "ip", &["route", "show"], None)?;
        let net_prefix = format!("{}.", lab.config.net);
        if routes.lines().any(|l| l.starts_with(&net_prefix)) {
            return Err(LabError {
                action: "lab up".into(),
                detail: format!("{}.0/24 is already routed on this host", lab.config.net),
            });
        }
        let result = lab.build();
        if result.is_err() {
            lab.remove_leftovers();
        }
        result.map(|()| lab)
    }

    fn build(&self) -> Result<(), LabError> {
        let bridge = self.config.bridge.as_str();
        let harness = format!("{}/24", self.harness_address());
        run(
            "add bridge",
            "ip",
            &["link", "add", bridge, "type", "bridge"],
            None,
        )?;
        run(
            "address bridge",
            "ip",
            &["addr", "add", &harness, "dev", bridge],
            None,
        )?;
        run("bridge up", "ip", &["link", "set", bridge, "up"], None)?;
        for node in 0..self.config.nodes {
            let ns = self.namespace(node);
            let veth = format!("v{ns}");
            let address = format!("{}/24", self.address(node));
            run("add namespace", "ip", &["netns", "add", &ns], None)?;
            run(
                "add veth",
                "ip",
                &[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
                None,
            )?;
            run(
                "attach veth",
                "ip",
                &["link", "set", &veth, "master", bridge, "up"],
                None,
            )?;
            run(
                "disable IPv6",
                "ip",
                &[
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                ],
                None,
            )?;
            run(
                "address node",
                "ip",
                &["-n", &ns, "addr", "add", &address, "dev", "eth0"],
                None,
            )?;
            run(
                "eth0 up",
                "ip",
                &["-n", &ns, "link", "set", "eth0", "up"],
                None,
            )?;
            run("lo up", "ip", &["-n", &ns, "link", "set", "lo", "up"], None)?;
        }
        Ok(())
    }

    /// Kills whatever runs in the lab's namespaces and deletes them and the bridge. Errors are
    /// ignored: this also cleans up after a crash, when some parts may not exist.
    fn remove_leftovers(&self) {
        for node in 0..self.config.nodes {
            let ns = self.namespace(node);
            if !Path::new("/run/netns").join(&ns).exists() {
                continue;
            }
            if let Ok(pids) = run("list pids", "ip", &["netns", "pids", &ns], None) {
                for pid in pids.split_whitespace() {
                    let _ = run("kill leftover", "kill", &["-9", pid], None);
                }
            }
            // Deleting the veth removes both ends now; namespace deletion alone is lazy.
            let _ = run("del veth", "ip", &["link", "del", &format!("v{ns}")], None);
            let _ = run("del namespace", "ip", &["netns", "del", &ns], None);
        }
        let _ = run(
            "del bridge",
            "ip",
            &["link", "del", &self.config.bridge],
            None,
        );
    }

    /// Removes what a lab of `config` (or a larger one with its names, up to `nodes`
    /// namespaces) left behind: processes in its namespaces, the namespaces, their veths and
    /// the bridge. For an owner that may have run with more nodes before it crashed.
    pub fn clean(config: LabConfig) {
        Lab {
            config,
            torn_down: true,
        }
        .remove_leftovers();
    }

    /// Tears the lab down now (also done on drop).
    pub fn down(&mut self) {
        if !self.torn_down {
            self.remove_leftovers();
            self.torn_down = true;
        }
    }

    /// The lab's configuration.
    pub fn config(&self) -> &LabConfig {
        &self.config
    }

    /// Node count.
    pub fn nodes(&self) -> usize {
        self.config.nodes
    }

    /// Node `node`'s namespace name.
    pub fn namespace(&self, node: usize) -> String {
        format!("{}{}", self.config.prefix, node + 1)
    }

    /// Node `node`'s IPv4 address.
    pub fn address(&self, node: usize) -> String {
        format!("{}.{}", self.config.net, 11 + node)
    }

    /// The harness's address on the bridge.
    pub fn harness_address(&self) -> String {
        format!("{}.1", self.config.net)
    }

    /// A command that runs `program` inside node `node`'s namespace. `ip netns exec` execs, so
    /// the child's PID is the program's own.
    pub fn command(&self, node: usize, program: &Path) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace(node)])
            .arg(program);
        command
    }

    fn apply_table(&self, node: usize, rules: &str, action: &str) -> Result<(), LabError> {
        run(
            action,
            "ip",
            &["netns", "exec", &self.namespace(node), "nft", "-f", "-"],
            Some(&nft_table(rules)),
        )
        .map(drop)
    }

    /// Applies a grudge: each listed node drops every packet from the nodes in its set (other
    /// nodes' tables are left as they are; call [`Lab::heal`] first for a clean slate).
    ///
    /// # Errors
    /// When nft fails on any node.
    pub fn grudge(&self, grudge: &BTreeMap<usize, BTreeSet<usize>>) -> Result<(), LabError> {
        for (&node, from) in grudge {
            if from.is_empty() {
                continue;
            }
            let set = from
                .iter()
                .map(|&n| self.address(n))
                .collect::<Vec<_>>()
                .join(", ");
            self.apply_table(
                node,
                &format!("    ip saddr {{ {set} }} drop\n"),
                "apply partition",
            )?;
        }
        Ok(())
    }

    /// Node `node` drops `percent`% of the packets from other nodes (never from the harness).
    ///
    /// # Errors
    /// When nft fails.
    pub fn loss(&self, node: usize, percent: u8) -> Result<(), LabError> {
        let mut rules = String::new();
        let _ = writeln!(
            rules,
            "    ip saddr != {} numgen random mod 100 < {} drop",
            self.harness_address(),
            percent.min(100)
        );
        self.apply_table(node, &rules, "apply packet loss")
    }

    /// Removes every partition and loss rule.
    ///
    /// # Errors
    /// When nft fails for a reason other than a missing table.
    pub fn heal(&self) -> Result<(), LabError> {
        for node in 0..self.config.nodes {
            let ns = self.namespace(node);
            // Recreate-then-delete so that a node without a table is not an error.
            self.apply_table(node, "", "heal")?;
            run(
                "heal",
                "ip",
                &[
                    "netns", "exec", &ns, "nft", "delete", "table", "inet", "jepsen",
                ],
                None,
            )?;
        }
        Ok(())
    }

    /// Limits node `node`'s egress bandwidth (`rate` as tc writes it, e.g. `512kbit`).
    ///
    /// # Errors
    /// When tc fails.
    pub fn slow(&self, node: usize, rate: &str) -> Result<(), LabError> {
        run(
            "slow link",
            "ip",
            &[
                "netns",
                "exec",
                &self.namespace(node),
                "tc",
                "qdisc",
                "replace",
                "dev",
                "eth0",
                "root",
                "tbf",
                "rate",
                rate,
                "burst",
                "32kbit",
                "latency",
                "200ms",
            ],
            None,
        )
        .map(drop)
    }

    /// Sends node `node`'s TCP packets to every other node (not to the harness) through
    /// NFQUEUE `queue_num`; with `--queue-bypass` they pass untouched while no holder is bound.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn queue_to_peers(&self, node: usize, queue_num: u16) -> Result<(), LabError> {
        let ns = self.namespace(node);
        let queue = queue_num.to_string();
        for peer in (0..self.config.nodes).filter(|&p| p != node) {
            let address = self.address(peer);
            run(
                "queue packets",
                "ip",
                &[
                    "netns",
                    "exec",
                    &ns,
                    "iptables",
                    "-A",
                    "OUTPUT",
                    "-p",
                    "tcp",
                    "-d",
                    &address,
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &queue,
                    "--queue-bypass",
                ],
                None,
            )?;
        }
        Ok(())
    }

    /// Removes every NFQUEUE rule of node `node` (its namespace has no other OUTPUT rules).
    ///
    /// # Errors
    /// When iptables fails.
    pub fn unqueue(&self, node: usize) -> Result<(), LabError> {
        run(
            "unqueue packets",
            "ip",
            &[
                "netns",
                "exec",
                &self.namespace(node),
                "iptables",
                "-F",
                "OUTPUT",
            ],
            None,
        )
        .map(drop)
    }

    /// Removes a bandwidth limit (none is fine).
    ///
    /// # Errors
    /// When tc fails for another reason than a missing qdisc.
    pub fn unslow(&self, node: usize) -> Result<(), LabError> {
        let ns = self.namespace(node);
        let qdisc = run(
            "show qdisc",
            "ip",
            &["netns", "exec", &ns, "tc", "qdisc", "show", "dev", "eth0"],
            None,
        )?;
        if !qdisc.contains("tbf") {
            return Ok(());
        }
        run(
            "unslow link",
            "ip",
            &[
                "netns", "exec", &ns, "tc", "qdisc", "del", "dev", "eth0", "root",
            ],
            None,
        )
        .map(drop)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.down();
    }
}

/// Whether this process runs as root (uid 0), read from `/proc/self/status`.
pub use keel_host::is_root;
