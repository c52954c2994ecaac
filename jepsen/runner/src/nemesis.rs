//! Faults and their schedule. A schedule alternates a healed phase and a fault phase and always
//! ends healed. Each fault is chosen with the run's seeded random stream from the families the
//! run asked for, made concrete at the moment it starts (the leader is looked up then), logged
//! into the history before it is applied and after it is undone, and undone by its own inverse.
//! A family this machine cannot inject is dropped at the start with a logged notice. A fault
//! command that fails is a harness failure: the run stops.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use testkit::fleet::Fleet;
use testkit::lab::{Capabilities, Lab};
use testkit::Cluster;

use crate::recorder::Recorder;

/// A family of faults, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Network partitions: one node, the leader, halves, a majorities ring, a bridge.
    Partition,
    /// `kill -9` of one node, the leader, a minority or all; restarted on heal.
    Kill,
    /// SIGSTOP of one node, the leader or a minority; SIGCONT on heal.
    Pause,
    /// Random input packet loss (10–30 %) on one or two nodes.
    Loss,
    /// Egress bandwidth limit (256 kbit – 1 mbit) on one or two nodes.
    Slow,
    /// Wall-clock offset of one node (libfaketime).
    Clock,
    /// Added latency through an NFQUEUE packet holder.
    Delay,
    /// Snapshot catch-up: a follower is killed while the others compact their logs (the run
    /// uses a small `--snapshot-count`), so it comes back behind the compacted log and must
    /// install the leader's snapshot.
    Snapshot,
    /// Membership: a follower is removed from the cluster (`DELETE /v2/members`), then added
    /// back as a new member with a fresh data directory at the same address.
    Member,
}

impl Family {
    /// Every family, in the order `all` expands to.
    pub const ALL: [Family; 9] = [
        Family::Partition,
        Family::Kill,
        Family::Pause,
        Family::Loss,
        Family::Slow,
        Family::Clock,
        Family::Delay,
        Family::Snapshot,
        Family::Member,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Partition => "partition",
            Family::Kill => "kill",
            Family::Pause => "pause",
            Family::Loss => "loss",
            Family::Slow => "slow",
            Family::Clock => "clock",
            Family::Delay => "delay",
            Family::Snapshot => "snapshot",
            Family::Member => "member",
        }
    }

    /// Parses a comma-separated list (`all` for every family, `none` for no faults).
    ///
    /// # Errors
    /// Names the unknown family and the known ones.
    pub fn parse_list(text: &str) -> Result<Vec<Family>, String> {
        let mut families = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "all" => families.extend(Family::ALL),
                "none" => {}
                _ => {
                    let family = Family::ALL
                        .into_iter()
                        .find(|f| f.name() == name)
                        .ok_or_else(|| {
                            format!(
                                "unknown nemesis {name:?}; known: all, none, {}",
                                Family::ALL.map(Family::name).join(", ")
                            )
                        })?;
                    families.insert(family);
                }
            }
        }
        Ok(families.into_iter().collect())
    }

    /// Why this family cannot run here, if it cannot.
    pub fn unavailable(self, caps: &Capabilities) -> Option<String> {
        match self {
            Family::Partition | Family::Loss if !caps.nftables => Some(format!(
                "{}: skipped, nftables does not work here",
                self.name()
            )),
            Family::Slow if !caps.tbf => Some("slow: skipped, tc tbf does not work here".into()),
            Family::Clock if caps.faketime.is_none() => Some(
                "clock: skipped, libfaketime is not installed (Debian package `faketime`)".into(),
            ),
            Family::Delay if !caps.nfqueue => Some(
                "delay: skipped, iptables' NFQUEUE target does not work here (the kernel has no \
                 netem either); latency is not injected"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// A grudge: for each node, the nodes whose packets it drops.
pub type Grudge = BTreeMap<usize, BTreeSet<usize>>;

/// Node `a` and node `b` drop each other's packets, for every `a` in `left` and `b` in `right`.
fn cut(grudge: &mut Grudge, left: &[usize], right: &[usize]) {
    for &a in left {
        for &b in right {
            grudge.entry(a).or_default().insert(b);
            grudge.entry(b).or_default().insert(a);
        }
    }
}

/// `node` cut off from every other node (the harness still reaches it).
pub fn isolate(node: usize, nodes: usize) -> Grudge {
    let others: Vec<usize> = (0..nodes).filter(|&n| n != node).collect();
    let mut grudge = Grudge::new();
    cut(&mut grudge, &[node], &others);
    grudge
}

/// Two random halves (the smaller one first).
pub fn halves(rng: &mut ChaCha8Rng, nodes: usize) -> Grudge {
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(rng);
    let (left, right) = order.split_at(nodes / 2);
    let mut grudge = Grudge::new();
    cut(&mut grudge, left, right);
    grudge
}

/// Majorities ring: every node sees itself and its two ring neighbours only. With five nodes
/// each sees a majority and no two see the same one. Empty below four nodes.
pub fn ring(nodes: usize) -> Grudge {
    let mut grudge = Grudge::new();
    for a in 0..nodes {
        for b in 0..nodes {
            let distance = a.abs_diff(b).min(nodes - a.abs_diff(b));
            if distance > 1 {
                grudge.entry(a).or_default().insert(b);
            }
        }
    }
    grudge
}

/// Bridge: two sides cut from each other, one random middle node seeing both.
pub fn bridge(rng: &mut ChaCha8Rng, nodes: usize) -> Grudge {
    let mut order: Vec<usize> = (0..nodes).collect();
    order.shuffle(rng);
    let rest = &order[1..];
    let (left, right) = rest.split_at(rest.len() / 2);
    let mut grudge = Grudge::new();
    cut(&mut grudge, left, right);
    grudge
}

fn names(nodes: &[usize]) -> Vec<String> {
    nodes.iter().map(|n| format!("n{}", n + 1)).collect()
}

fn grudge_json(grudge: &Grudge) -> Value {
    let map: serde_json::Map<String, Value> = grudge
        .iter()
        .map(|(node, from)| {
            let from: Vec<usize> = from.iter().copied().collect();
            (format!("n{}", node + 1), json!(names(&from)))
        })
        .collect();
    Value::Object(map)
}

/// A fault in effect, with what undoes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Active {
    /// Partition tables are installed.
    Partition,
    /// These nodes were killed.
    Kill(Vec<usize>),
    /// These nodes were stopped.
    Pause(Vec<usize>),
    /// Loss rules are installed.
    Loss,
    /// These nodes' links are slowed.
    Slow(Vec<usize>),
    /// This node's clock is offset.
    Clock(usize),
    /// These nodes' packets to their peers are delayed.
    Delay(Vec<usize>),
    /// This node was removed from the cluster.
    Removed(usize),
}

/// Injects faults into one cluster in one lab.
pub struct Nemesis<'a> {
    cluster: &'a Mutex<Cluster>,
    lab: &'a Lab,
    recorder: &'a Recorder,
    rng: ChaCha8Rng,
    families: Vec<Family>,
    /// Per-node libfaketime timestamp files, when clock skew is enabled.
    clock_files: Vec<PathBuf>,
    /// The `jepsen` binary, which runs the delay packet holder.
    holder: Option<PathBuf>,
    /// Running packet holders.
    holders: Vec<std::process::Child>,
    /// Faults applied, by kind.
    pub counts: BTreeMap<String, u64>,
    /// The units workload's hosts: a killed node's host crashes with its member.
    fleet: Option<&'a Mutex<Fleet>>,
}

impl<'a> Nemesis<'a> {
    /// A nemesis over `families` (already filtered to what this machine can do).
    pub fn new(
        cluster: &'a Mutex<Cluster>,
        lab: &'a Lab,
        recorder: &'a Recorder,
        rng: ChaCha8Rng,
        families: Vec<Family>,
        clock_files: Vec<PathBuf>,
        holder: Option<PathBuf>,
    ) -> Nemesis<'a> {
        Nemesis {
            cluster,
            lab,
            recorder,
            rng,
            families,
            clock_files,
            holder,
            holders: Vec::new(),
            counts: BTreeMap::new(),
            fleet: None,
        }
    }

    /// Makes the kill family crash each killed node's host (fleetd, systemd and its units)
    /// too, and boot it again when the member restarts.
    #[must_use]
    pub fn with_fleet(mut self, fleet: Option<&'a Mutex<Fleet>>) -> Nemesis<'a> {
        self.fleet = fleet;
        self
    }

    fn fleet(&self) -> Option<std::sync::MutexGuard<'a, Fleet>> {
        self.fleet.map(|fleet| {
            fleet
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// Boots the crashed hosts among `nodes` again (nothing without a fleet).
    ///
    /// # Errors
    /// When a host or its fleetd does not come up.
    pub fn restart_hosts(&self, nodes: &[usize]) -> Result<(), String> {
        if let Some(mut fleet) = self.fleet() {
            for &node in nodes {
                fleet.restart(node)?;
            }
        }
        Ok(())
    }

    fn cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn leader_or_random(&mut self) -> (usize, bool) {
        let leader = self.cluster().leader_by_majority();
        match leader {
            Some(leader) => (leader, true),
            None => (self.rng.gen_range(0..self.lab.nodes()), false),
        }
    }

    fn some_nodes(&mut self, count: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.lab.nodes()).collect();
        order.shuffle(&mut self.rng);
        order.truncate(count.max(1));
        order.sort_unstable();
        order
    }

    fn record(&mut self, f: &str, kind: &str, value: Value) {
        self.recorder.nemesis(f, kind, value);
    }

    /// Starts one random fault of the configured families.
    ///
    /// # Errors
    /// When a fault command fails.
    pub fn start_random(&mut self) -> Result<Option<(String, Active)>, String> {
        let Some(&family) = self.families.choose(&mut self.rng) else {
            return Ok(None);
        };
        let nodes = self.lab.nodes();
        let minority = (nodes - 1) / 2;
        let (kind, active) = match family {
            Family::Partition => {
                let shapes: &[&str] = if nodes >= 4 {
                    &["one", "leader", "halves", "ring", "bridge"]
                } else {
                    &["one", "leader", "halves", "bridge"]
                };
                let shape = *shapes.choose(&mut self.rng).unwrap_or(&"one");
                let (grudge, note) = match shape {
                    "leader" => {
                        let (node, known) = self.leader_or_random();
                        (
                            isolate(node, nodes),
                            (!known).then_some("no leader known: random node"),
                        )
                    }
                    "halves" => (halves(&mut self.rng, nodes), None),
                    "ring" => (ring(nodes), None),
                    "bridge" => (bridge(&mut self.rng, nodes), None),
                    _ => {
                        let node = self.rng.gen_range(0..nodes);
                        (isolate(node, nodes), None)
                    }
                };
                let kind = format!("partition-{shape}");
                let value = json!({"grudge": grudge_json(&grudge), "note": note});
                self.record("start-partition", &kind, value);
                self.lab.heal().map_err(|e| e.to_string())?;
                self.lab.grudge(&grudge).map_err(|e| e.to_string())?;
                (kind, Active::Partition)
            }
            Family::Member => {
                let Some(leader) = self.cluster().leader_by_majority() else {
                    // No agreed leader right now: no membership change this round.
                    return Ok(None);
                };
                let followers: Vec<usize> = (0..nodes)
                    .filter(|&n| n != leader && self.cluster().is_running(n))
                    .collect();
                let Some(&target) = followers.choose(&mut self.rng) else {
                    return Ok(None);
                };
                let kind = "member-remove-add".to_owned();
                self.remove_member(leader, target)?;
                (kind, Active::Removed(target))
            }
            Family::Snapshot => {
                let leader = self.cluster().leader_by_majority();
                let followers: Vec<usize> = (0..nodes).filter(|&n| Some(n) != leader).collect();
                let target = *followers.choose(&mut self.rng).unwrap_or(&0);
                let kind = "snapshot-catch-up".to_owned();
                let value = json!({"nodes": names(&[target]), "note": "killed while the others compact; restarts behind their logs"});
                self.record("kill", &kind, value);
                self.cluster().kill(target);
                (kind, Active::Kill(vec![target]))
            }
            Family::Kill | Family::Pause => {
                let shapes: &[&str] = if family == Family::Kill {
                    &["one", "leader", "minority", "all"]
                } else {
                    &["one", "leader", "minority"]
                };
                let shape = *shapes.choose(&mut self.rng).unwrap_or(&"one");
                let targets = match shape {
                    "leader" => vec![self.leader_or_random().0],
                    "minority" => self.some_nodes(minority),
                    "all" => (0..nodes).collect(),
                    _ => self.some_nodes(1),
                };
                let kind = format!("{}-{shape}", family.name());
                let value = json!({"nodes": names(&targets)});
                if family == Family::Kill {
                    self.record("kill", &kind, value);
                    let mut cluster = self.cluster();
                    for &node in &targets {
                        cluster.kill(node);
                    }
                    drop(cluster);
                    if let Some(mut fleet) = self.fleet() {
                        for &node in &targets {
                            fleet.crash(node);
                        }
                    }
                    (kind, Active::Kill(targets))
                } else {
                    self.record("pause", &kind, value);
                    let cluster = self.cluster();
                    for &node in &targets {
                        cluster.pause(node);
                    }
                    drop(cluster);
                    (kind, Active::Pause(targets))
                }
            }
            Family::Loss => {
                let count = self.rng.gen_range(1..=2usize.min(nodes));
                let targets = self.some_nodes(count);
                let percent: u8 = self.rng.gen_range(10..=30);
                let value = json!({"nodes": names(&targets), "percent": percent});
                self.record("start-loss", "loss", value);
                self.lab.heal().map_err(|e| e.to_string())?;
                for &node in &targets {
                    self.lab.loss(node, percent).map_err(|e| e.to_string())?;
                }
                ("loss".to_owned(), Active::Loss)
            }
            Family::Slow => {
                let count = self.rng.gen_range(1..=2usize.min(nodes));
                let targets = self.some_nodes(count);
                let rate = *["256kbit", "512kbit", "1mbit"]
                    .choose(&mut self.rng)
                    .unwrap_or(&"1mbit");
                let value = json!({"nodes": names(&targets), "rate": rate});
                self.record("start-slow", "slow", value);
                for &node in &targets {
                    self.lab.slow(node, rate).map_err(|e| e.to_string())?;
                }
                ("slow".to_owned(), Active::Slow(targets))
            }
            Family::Clock => {
                let node = self.rng.gen_range(0..nodes);
                let magnitude: i64 = self.rng.gen_range(1..=600);
                let offset = if self.rng.gen_bool(0.5) {
                    magnitude
                } else {
                    -magnitude
                };
                let value = json!({"node": format!("n{}", node + 1), "offset_s": offset});
                self.record("start-clock", "clock", value);
                self.set_clock(node, offset)?;
                ("clock".to_owned(), Active::Clock(node))
            }
            Family::Delay => {
                let count = self.rng.gen_range(1..=2usize.min(nodes));
                let targets = self.some_nodes(count);
                let delay_ms: u64 = self.rng.gen_range(50..=200);
                let value =
                    json!({"nodes": names(&targets), "delay_ms": delay_ms, "jitter": "20%"});
                self.record("start-delay", "delay", value);
                self.start_delay(&targets, delay_ms)?;
                ("delay".to_owned(), Active::Delay(targets))
            }
        };
        *self.counts.entry(kind.clone()).or_default() += 1;
        Ok(Some((kind, active)))
    }

    /// Removes member `target` through the leader and waits for its process to stop.
    fn remove_member(&mut self, leader: usize, target: usize) -> Result<(), String> {
        let mut cluster = self.cluster();
        let stats = cluster
            .get(cluster.url(target), "/v2/stats/self")
            .map_err(|e| format!("asking n{} for its id: {e}", target + 1))?;
        let id = stats.json()["id"].as_str().unwrap_or_default().to_owned();
        drop(cluster);
        self.record(
            "remove-member",
            "member-remove-add",
            json!({"node": format!("n{}", target + 1), "id": id}),
        );
        cluster = self.cluster();
        let reply = cluster
            .delete(cluster.url(leader), &format!("/v2/members/{id}"))
            .map_err(|e| format!("removing n{}: {e}", target + 1))?;
        if reply.status != 204 {
            return Err(format!(
                "removing n{}: {} {}",
                target + 1,
                reply.status,
                reply.body
            ));
        }
        cluster.wait_exit(target, Duration::from_secs(30));
        Ok(())
    }

    /// Adds node `target` back as a new member (fresh data directory, same address).
    fn add_member(&mut self, target: usize) -> Result<(), String> {
        let mut cluster = self.cluster();
        let leader = cluster
            .leader_by_majority()
            .ok_or_else(|| "no leader to add a member through".to_owned())?;
        let peer_url = cluster.members[target].peer_url.clone();
        let reply = cluster
            .send_body(
                "POST",
                cluster.url(leader),
                "/v2/members",
                "application/json",
                &format!(r#"{{"peerURLs":["{peer_url}"]}}"#),
            )
            .map_err(|e| format!("adding n{}: {e}", target + 1))?;
        if reply.status != 201 {
            return Err(format!(
                "adding n{}: {} {}",
                target + 1,
                reply.status,
                reply.body
            ));
        }
        cluster.prepare_rejoin(target);
        cluster.spawn(target);
        drop(cluster);
        self.record(
            "add-member",
            "member-remove-add",
            json!({"node": format!("n{}", target + 1), "member": reply.json()}),
        );
        Ok(())
    }

    fn start_delay(&mut self, targets: &[usize], delay_ms: u64) -> Result<(), String> {
        let holder = self
            .holder
            .clone()
            .ok_or_else(|| "delay without a packet holder binary".to_owned())?;
        for &node in targets {
            let queue_num = u16::try_from(node).unwrap_or(0);
            let child = self
                .lab
                .command(node, &holder)
                .args([
                    "delay-holder",
                    "--queue",
                    &queue_num.to_string(),
                    "--delay-ms",
                    &delay_ms.to_string(),
                    "--jitter-ms",
                    &(delay_ms / 5).to_string(),
                    "--seed",
                    &self.rng.gen::<u32>().to_string(),
                ])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("starting the packet holder: {e}"))?;
            self.holders.push(child);
            self.lab
                .queue_to_peers(node, queue_num)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Removes every delay rule and stops every packet holder.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn stop_delays(&mut self) -> Result<(), String> {
        if self.holders.is_empty() {
            return Ok(());
        }
        for node in 0..self.lab.nodes() {
            self.lab.unqueue(node).map_err(|e| e.to_string())?;
        }
        for mut child in self.holders.drain(..) {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("a packet holder died during its fault: {status}"));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        Ok(())
    }

    fn set_clock(&self, node: usize, offset_s: i64) -> Result<(), String> {
        let path = self
            .clock_files
            .get(node)
            .ok_or_else(|| "clock skew without timestamp files".to_owned())?;
        std::fs::write(path, format!("{offset_s:+}\n"))
            .map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Sets every member's clock offset back to zero (no-op without clock skew).
    ///
    /// # Errors
    /// When an offset file cannot be written.
    pub fn reset_clocks(&self) -> Result<(), String> {
        for node in 0..self.clock_files.len() {
            self.set_clock(node, 0)?;
        }
        Ok(())
    }

    /// Undoes one fault.
    ///
    /// # Errors
    /// When an undo command fails.
    pub fn stop(&mut self, kind: &str, active: Active) -> Result<(), String> {
        match active {
            Active::Partition => {
                self.lab.heal().map_err(|e| e.to_string())?;
                self.record("stop-partition", kind, Value::Null);
            }
            Active::Loss => {
                self.lab.heal().map_err(|e| e.to_string())?;
                self.record("stop-loss", kind, Value::Null);
            }
            Active::Kill(nodes) => {
                let mut cluster = self.cluster();
                for &node in &nodes {
                    if !cluster.is_running(node) {
                        cluster.spawn(node);
                    }
                }
                drop(cluster);
                self.restart_hosts(&nodes)?;
                self.record("start", kind, json!({"nodes": names(&nodes)}));
            }
            Active::Pause(nodes) => {
                let cluster = self.cluster();
                for &node in &nodes {
                    cluster.resume(node);
                }
                drop(cluster);
                self.record("resume", kind, json!({"nodes": names(&nodes)}));
            }
            Active::Slow(nodes) => {
                for &node in &nodes {
                    self.lab.unslow(node).map_err(|e| e.to_string())?;
                }
                self.record("stop-slow", kind, Value::Null);
            }
            Active::Clock(node) => {
                self.set_clock(node, 0)?;
                self.record("stop-clock", kind, Value::Null);
            }
            Active::Delay(_) => {
                self.stop_delays()?;
                self.record("stop-delay", kind, Value::Null);
            }
            Active::Removed(node) => self.add_member(node)?,
        }
        Ok(())
    }

    /// Alternates `heal` of calm and `fault` of one fault until `end` (or `stop`), ending
    /// healed.
    ///
    /// # Errors
    /// When a fault command fails (the fault in effect is still undone when possible).
    pub fn run_schedule(
        &mut self,
        end: Instant,
        fault: Duration,
        heal: Duration,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        loop {
            if !pace(heal, end, stop) || Instant::now() + fault > end {
                return Ok(());
            }
            let Some((kind, active)) = self.start_random()? else {
                return Ok(());
            };
            pace(fault, end, stop);
            self.stop(&kind, active)?;
        }
    }
}

/// Lets `duration` pass, in short steps so a stop request or the end is noticed. This is the
/// schedule's own pacing (how long a fault lasts), not a wait for a condition. Returns false
/// when stopped or past `end`.
fn pace(duration: Duration, end: Instant, stop: &AtomicBool) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) || crate::run::interrupted() || Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    !stop.load(Ordering::Relaxed) && !crate::run::interrupted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sees(grudge: &Grudge, a: usize, b: usize) -> bool {
        !grudge.get(&a).is_some_and(|s| s.contains(&b))
    }

    /// Goal: every partition shape is the grudge it claims to be. Method: check reachability
    /// of each shape against its definition for 3 and 5 nodes.
    #[test]
    fn partition_shapes() {
        let g = isolate(2, 5);
        for n in [0, 1, 3, 4] {
            assert!(!sees(&g, 2, n) && !sees(&g, n, 2));
            assert!(sees(&g, n, (n + 1) % 5) || (n + 1) % 5 == 2);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let g = halves(&mut rng, 5);
        let cut_pairs = (0..5)
            .flat_map(|a| (0..5).map(move |b| (a, b)))
            .filter(|&(a, b)| !sees(&g, a, b))
            .count();
        assert_eq!(cut_pairs, 2 * 2 * 3, "2|3 halves cut 6 links both ways");
        let g = ring(5);
        for a in 0..5 {
            let visible = (0..5).filter(|&b| sees(&g, a, b)).count();
            assert_eq!(visible, 3, "node {a} sees a majority");
            assert!(sees(&g, a, (a + 1) % 5) && sees(&g, a, (a + 4) % 5));
        }
        assert!(ring(3).is_empty());
        let g = bridge(&mut rng, 5);
        let middle: Vec<usize> = (0..5).filter(|n| !g.contains_key(n)).collect();
        assert_eq!(middle.len(), 1, "one node sees both sides: {g:?}");
        for (a, from) in &g {
            assert_eq!(from.len(), 2, "{a} is cut from the other side only");
        }
    }

    /// Goal: the command-line list parses, `all` expands, and a typo is named.
    #[test]
    fn family_list() {
        assert_eq!(
            Family::parse_list("partition,kill"),
            Ok(vec![Family::Partition, Family::Kill])
        );
        assert_eq!(Family::parse_list("all").map(|f| f.len()), Ok(9));
        assert_eq!(Family::parse_list("none"), Ok(vec![]));
        let error = Family::parse_list("partition,kil").unwrap_err();
        assert!(error.contains("\"kil\""), "{error}");
    }

    /// Goal: a missing capability makes its families skip with a reason, never silently.
    #[test]
    fn unavailable_families_say_why() {
        let none = Capabilities::default();
        for family in Family::ALL {
            let why = family.unavailable(&none);
            match family {
                Family::Kill | Family::Pause | Family::Snapshot | Family::Member => {
                    assert!(why.is_none());
                }
                _ => assert!(why.is_some_and(|w| w.contains("skipped")), "{family:?}"),
            }
        }
    }
}
