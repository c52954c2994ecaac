//! The simulator: cluster, network, and safety checks.

mod checks;
mod network;
mod rng;

use checks::Checks;
use kvstore::core::{Applied, Input, NodeConfig, ProposeError, RaftCore};
use kvstore::memory::MemoryStorage;
use kvstore::state::ApplyOutcome;
use kvstore::{CommandBody, Members, NodeId, Progress, StateMachine, Transport};
use network::Network;
use raft::eraftpb::Message;
use rng::Rng;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::oneshot;
use v2store::{Mutation, Time};

/// Knobs of one run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub members: u64,
    pub steps: u64,
    pub drop_percent: u64,
    pub duplicate_percent: u64,
    pub delay_ticks_max: u64,
    pub partitions: bool,
    pub crashes: bool,
    pub proposals_per_step_percent: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            members: 3,
            steps: 3_000,
            drop_percent: 5,
            duplicate_percent: 2,
            delay_ticks_max: 3,
            partitions: true,
            crashes: true,
            proposals_per_step_percent: 30,
        }
    }
}

/// Collects what a core sends, for the network to deliver.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<Message>>>);

impl Transport for Outbox {
    fn send(&mut self, messages: Vec<Message>) {
        self.0.lock().unwrap().extend(messages);
    }
}

struct Member {
    core: Option<RaftCore<MemoryStorage, Outbox>>,
    stopped_storage: Option<MemoryStorage>,
    outbox: Outbox,
    state: Arc<RwLock<StateMachine>>,
    progress: Arc<Progress>,
    incarnation: u64,
}

/// What a client was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Acknowledged,
    /// Definitely not applied (no leader, busy).
    Refused,
    /// May or may not have been applied.
    Unknown,
}

/// One proposal a client made, and what it was told.
struct Write {
    key: String,
    /// Created under `/q` with `key` as its value, instead of set at `key`.
    in_order: bool,
    reply: oneshot::Receiver<Result<Applied, ProposeError>>,
    outcome: Option<Outcome>,
}

/// The simulated cluster.
pub struct Cluster {
    config: SimConfig,
    rng: Rng,
    members: Vec<Member>,
    network: Network,
    checks: Checks,
    writes: Vec<Write>,
    tick: u64,
    /// Snapshots saved and installed by member lifetimes that ended in a crash.
    snapshots_before_crashes: (u64, u64),
}

const TICK_NANOS: i64 = 100_000_000;

/// Applied entries between snapshots: small, so runs compact their logs many times and members
/// that were down or cut off catch up by snapshot (raft thesis §5).
const SNAPSHOT_ENTRIES: u64 = 40;
/// Entries kept behind a snapshot; smaller than the backlog a crashed member builds up.
const CATCH_UP_ENTRIES: u64 = 10;

/// raft-rs draws election timeouts from its own unseeded RNG; a range of one value makes the
/// draw deterministic, and the seeded RNG picks that value per member and incarnation instead.
fn node_config(id: u64, incarnation: u64, election_ticks: usize) -> NodeConfig {
    NodeConfig {
        id: NodeId(id),
        name: format!("m{id}"),
        client_urls: vec![format!("http://m{id}:2379")],
        election_ticks,
        election_ticks_max: election_ticks + 1,
        heartbeat_ticks: 1,
        request_timeout_ticks: 50,
        expire_interval_ticks: 5,
        retry_ticks: 10,
        snapshot_entries: SNAPSHOT_ENTRIES,
        catch_up_entries: CATCH_UP_ENTRIES,
        first_seq: incarnation << 40,
    }
}

impl Cluster {
    pub fn new(seed: u64, config: SimConfig) -> Cluster {
        let voters: Vec<u64> = (1..=config.members).collect();
        let mut rng = Rng::new(seed);
        let members = voters
            .iter()
            .map(|id| {
                let election_ticks = Self::election_ticks(&mut rng);
                Self::start_member(*id, MemoryStorage::new(&voters), 0, &voters, election_ticks)
            })
            .collect();
        Cluster {
            network: Network::new(config.members),
            checks: Checks::new(config.members),
            rng,
            config,
            members,
            writes: Vec::new(),
            tick: 0,
            snapshots_before_crashes: (0, 0),
        }
    }

    /// Snapshots saved and installed over the run, by every member lifetime.
    pub fn snapshots(&self) -> (u64, u64) {
        let (mut saved, mut installed) = self.snapshots_before_crashes;
        for member in &self.members {
            saved += member.progress.snapshots_saved.load(Ordering::Relaxed);
            installed += member.progress.snapshots_installed.load(Ordering::Relaxed);
        }
        (saved, installed)
    }

    /// An election timeout in 10..20 ticks, as raft-rs would draw it (thesis §3.4).
    fn election_ticks(rng: &mut Rng) -> usize {
        10 + usize::try_from(rng.below(10)).unwrap()
    }

    fn start_member(
        id: u64,
        storage: MemoryStorage,
        incarnation: u64,
        voters: &[u64],
        election_ticks: usize,
    ) -> Member {
        let initial = Members::from_initial(
            voters
                .iter()
                .map(|v| (NodeId(*v), vec![format!("http://m{v}:2380")])),
        );
        // As `keel` starts: from the stored snapshot when there is one, else from scratch.
        let snapshot = raft::Storage::snapshot(&storage, 0, 0).expect("memory snapshot");
        let applied = snapshot.get_metadata().index;
        let machine = if applied == 0 {
            StateMachine::new(initial)
        } else {
            StateMachine::recover(&snapshot.data).expect("a stored snapshot recovers")
        };
        let state = Arc::new(RwLock::new(machine));
        let outbox = Outbox::default();
        let progress = Arc::new(Progress::default());
        let core = RaftCore::new(
            node_config(id, incarnation, election_ticks),
            storage,
            outbox.clone(),
            Arc::clone(&state),
            Arc::clone(&progress),
            applied,
        )
        .expect("a fresh core over valid storage starts");
        Member {
            core: Some(core),
            stopped_storage: None,
            outbox,
            state,
            progress,
            incarnation,
        }
    }

    pub fn proposed(&self) -> usize {
        self.writes.len()
    }

    pub fn acknowledged(&self) -> usize {
        self.count(Outcome::Acknowledged)
    }

    /// Everything a run's outcome consists of, to compare two runs of one seed.
    pub fn fingerprint(&self) -> (usize, usize, usize, Vec<u64>) {
        let hashes = self
            .members
            .iter()
            .map(|m| m.state.read().unwrap().store.content_hash())
            .collect();
        (
            self.proposed(),
            self.acknowledged(),
            self.indeterminate(),
            hashes,
        )
    }

    /// Writes whose outcome is unknown (timeout, member stopped).
    pub fn indeterminate(&self) -> usize {
        self.count(Outcome::Unknown)
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.writes
            .iter()
            .filter(|w| w.outcome == Some(outcome))
            .count()
    }

    /// Run the fault phase, then heal and settle, then check the end state.
    pub fn run(&mut self) -> Result<(), String> {
        for _ in 0..self.config.steps {
            self.inject_faults();
            self.step()?;
        }
        self.network.heal();
        for index in 0..self.members.len() {
            if self.members[index].core.is_none() {
                self.restart(index);
            }
        }
        // Settle with no new client writes, so every member can catch up.
        self.config.proposals_per_step_percent = 0;
        let settle_steps = 600;
        for _ in 0..settle_steps {
            self.step()?;
        }
        self.check_end_state()
    }

    fn inject_faults(&mut self) {
        if self.config.partitions && self.rng.percent(1) {
            if self.rng.percent(50) {
                self.network.heal();
            } else {
                let isolated = self.rng.below(self.config.members);
                self.network.isolate(isolated);
            }
        }
        if self.config.crashes && self.rng.percent(1) {
            let index = usize::try_from(self.rng.below(self.config.members)).unwrap();
            if self.members[index].core.is_some() {
                self.crash(index);
            } else {
                self.restart(index);
            }
        }
    }

    fn crash(&mut self, index: usize) {
        // Only what `persist` wrote survives: the core, its unstable log and its state machine
        // are dropped, as a `kill -9` would.
        let member = &mut self.members[index];
        let core = member
            .core
            .take()
            .expect("crash is only called on a running member");
        member.stopped_storage = Some(core.raw().store().clone());
        self.snapshots_before_crashes.0 += member.progress.snapshots_saved.load(Ordering::Relaxed);
        self.snapshots_before_crashes.1 +=
            member.progress.snapshots_installed.load(Ordering::Relaxed);
        member.outbox.0.lock().unwrap().clear();
        self.network.forget(index as u64 + 1);
    }

    fn restart(&mut self, index: usize) {
        let voters: Vec<u64> = (1..=self.config.members).collect();
        let election_ticks = Self::election_ticks(&mut self.rng);
        let member = &mut self.members[index];
        let storage = member
            .stopped_storage
            .take()
            .expect("restart is only called on a stopped member");
        let incarnation = member.incarnation + 1;
        *member = Self::start_member(
            index as u64 + 1,
            storage,
            incarnation,
            &voters,
            election_ticks,
        );
    }

    /// One tick of simulated time: deliver due messages, tick every member, handle readies,
    /// let clients propose, collect replies, check invariants.
    fn step(&mut self) -> Result<(), String> {
        self.tick += 1;
        let now = Time(i64::try_from(self.tick).unwrap() * TICK_NANOS);
        for message in self.network.due(self.tick) {
            let to = usize::try_from(message.to - 1).unwrap();
            if let Some(core) = self.members[to].core.as_mut() {
                core.handle(Input::Step(Box::new(message)));
            }
        }
        for member in &mut self.members {
            if let Some(core) = member.core.as_mut() {
                core.tick(now);
                core.on_ready()
                    .map_err(|e| format!("fatal error in a member: {e}"))?;
            }
        }
        self.propose(now);
        for member in &mut self.members {
            if let Some(core) = member.core.as_mut() {
                core.on_ready()
                    .map_err(|e| format!("fatal error in a member: {e}"))?;
            }
        }
        self.route_messages();
        self.collect_replies();
        let cores: Vec<Option<&RaftCore<MemoryStorage, Outbox>>> =
            self.members.iter().map(|m| m.core.as_ref()).collect();
        let states: Vec<&Arc<RwLock<StateMachine>>> =
            self.members.iter().map(|m| &m.state).collect();
        self.checks.after_step(&cores, &states)
    }

    fn propose(&mut self, now: Time) {
        if !self.rng.percent(self.config.proposals_per_step_percent) {
            return;
        }
        let index = usize::try_from(self.rng.below(self.config.members)).unwrap();
        let Some(core) = self.members[index].core.as_mut() else {
            return;
        };
        let key = format!("/k{}", self.writes.len());
        // Every other write is an in-order create: applying it twice would leave two children
        // with its value, so the end check sees any double apply (exactly-once).
        let in_order = self.writes.len() % 2 == 1;
        let mutation = if in_order {
            Mutation::Create {
                path: "/q".to_string(),
                value: key.clone(),
                dir: false,
                expire_at: None,
                in_order: true,
            }
        } else {
            Mutation::Set {
                path: key.clone(),
                value: key.clone(),
                dir: false,
                expire_at: None,
                refresh: false,
            }
        };
        let (reply, receiver) = oneshot::channel();
        core.handle(Input::Propose {
            body: CommandBody::Mutation(mutation),
            now,
            reply,
        });
        self.writes.push(Write {
            key,
            in_order,
            reply: receiver,
            outcome: None,
        });
    }

    fn route_messages(&mut self) {
        for member in &self.members {
            let messages = std::mem::take(&mut *member.outbox.0.lock().unwrap());
            for message in messages {
                self.network
                    .send(message, self.tick, &mut self.rng, &self.config);
            }
        }
    }

    fn collect_replies(&mut self) {
        for write in &mut self.writes {
            if write.outcome.is_some() {
                continue;
            }
            match write.reply.try_recv() {
                Ok(Ok(Applied {
                    reply: ApplyOutcome::Store(result),
                    ..
                })) if result.is_ok() => write.outcome = Some(Outcome::Acknowledged),
                Ok(Ok(_))
                | Ok(Err(ProposeError::Busy | ProposeError::NoLeader | ProposeError::NotRunning)) =>
                {
                    write.outcome = Some(Outcome::Refused);
                }
                // Timeout, stop, or a dropped core: unknown outcome, never counted either way.
                Ok(Err(_)) | Err(oneshot::error::TryRecvError::Closed) => {
                    write.outcome = Some(Outcome::Unknown)
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
    }

    /// Every member applied the same index with the same state, and holds every acknowledged
    /// write.
    fn check_end_state(&self) -> Result<(), String> {
        let mut hashes = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            let core = member
                .core
                .as_ref()
                .ok_or("a member is down after healing")?;
            let applied = core.raw().raft.raft_log.applied;
            let state = member.state.read().unwrap();
            hashes.push((applied, state.store.content_hash()));
            check_writes(index + 1, &state.store, &self.writes)?;
        }
        if hashes.windows(2).any(|pair| pair[0] != pair[1]) {
            return Err(format!(
                "members disagree after settling (applied index, store hash): {hashes:?}"
            ));
        }
        Ok(())
    }
}

/// Every acknowledged write is present exactly once; no write of any outcome is applied twice.
fn check_writes(member: usize, store: &v2store::Store, writes: &[Write]) -> Result<(), String> {
    let mut queued: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    if let Ok(listing) = store.get("/q", false, false, Time(0)) {
        for child in listing.node.nodes.unwrap_or_default() {
            *queued.entry(child.value.unwrap_or_default()).or_default() += 1;
        }
    }
    for write in writes {
        let acknowledged = write.outcome == Some(Outcome::Acknowledged);
        let count = if write.in_order {
            queued.get(&write.key).copied().unwrap_or(0)
        } else {
            let found = store.get(&write.key, false, false, Time(0));
            usize::from(
                found.map(|e| e.node.value).ok().flatten().as_deref() == Some(write.key.as_str()),
            )
        };
        if count > 1 {
            return Err(format!(
                "member {member} applied write {} {count} times",
                write.key
            ));
        }
        if acknowledged && count == 0 {
            return Err(format!(
                "member {member} lost acknowledged write {}",
                write.key
            ));
        }
    }
    Ok(())
}
