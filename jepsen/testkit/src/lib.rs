//! Real `keel` processes on loopback for tests: start a cluster on free ports in a temporary
//! directory, wait on conditions with deadlines, kill, pause and restart members by PID, and
//! clean up (kill every process this kit started, remove the data) also when a test fails.
//!
//! The binary is `$KEEL_BIN` if set, else `target/debug/keel` of this workspace (or of
//! `$CARGO_TARGET_DIR`); `cargo build --bin keel` makes it, and cargo builds it before the
//! `keel` crate's own integration tests.
//!
//! A test kit: its checks panic, which is how a test fails.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod fleet;
pub mod host;
pub mod lab;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a cluster may take to elect a leader and answer.
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// How many times [`Cluster::start`] starts a cluster whose member exited at once.
const START_ATTEMPTS_MAX: u32 = 3;

/// A member process and how to start it again.
pub struct Member {
    pub name: String,
    pub client_url: String,
    pub peer_url: String,
    pub data_dir: PathBuf,
    pub args: Vec<String>,
    /// Extra environment of the process (e.g. libfaketime's).
    pub env: Vec<(String, String)>,
    /// The network namespace it runs in (`ip netns exec`), or `None` for the host's.
    pub namespace: Option<String>,
    pub child: Option<Child>,
    log: PathBuf,
}

/// Where each member listens: its client and peer URLs and its network namespace.
#[derive(Debug, Clone)]
pub struct Placement {
    pub client_url: String,
    pub peer_url: String,
    pub namespace: Option<String>,
}

/// A cluster of real processes.
pub struct Cluster {
    pub members: Vec<Member>,
    pub dir: tempfile::TempDir,
    agent: ureq::Agent,
    /// For status questions that must not hang on a paused member.
    stats_agent: ureq::Agent,
}

/// The ports [`free_port`] draws from: below Linux's ephemeral range (32768–60999), so no
/// outgoing connection of any test is ever given one while a member is starting. (Port 0 was
/// drawn from the ephemeral range, and a client connection elsewhere could take the port
/// between its release and the member's bind.)
const TEST_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port that was free a moment ago: drawn at random from [`TEST_PORTS`] and checked by
/// binding it on loopback, then released. Another test could still draw the same port before
/// it is bound; the start then fails and the test says so.
///
/// # Panics
/// When no port of the range could be bound in 1,000 draws.
pub fn free_port() -> u16 {
    use std::hash::BuildHasher as _;
    let random = std::collections::hash_map::RandomState::new();
    let span = u64::from(TEST_PORTS.end - TEST_PORTS.start);
    for draw in 0_u64..1_000 {
        let offset = u16::try_from(random.hash_one(draw) % span).expect("below the span");
        let port = TEST_PORTS.start + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?}")
}

/// Whether the reference programs a test compares against are installed, each given as its
/// path and the Debian package that provides it. Outside CI a missing one skips the test with
/// a notice (the caller returns when this is false); in CI (`CI` set; `scripts/test.sh`
/// installs them) it fails the test.
pub fn reference_tools_present(tools: &[(&str, &str)]) -> bool {
    let missing: Vec<&(&str, &str)> = tools
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let paths: Vec<&str> = missing.iter().map(|(path, _)| *path).collect();
    let packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    assert!(
        std::env::var_os("CI").is_none(),
        "{paths:?} missing but CI is set: install Debian's {packages:?} (scripts/test.sh does)"
    );
    eprintln!(
        "SKIPPED: {paths:?} not installed (Debian packages {packages:?}); set CI=1 to fail instead"
    );
    false
}

/// The `keel` binary to start.
///
/// # Panics
/// When it does not exist, with the command that builds it.
pub fn keel_binary() -> PathBuf {
    let path = match std::env::var_os("KEEL_BIN") {
        Some(path) => PathBuf::from(path),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
                || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                PathBuf::from,
            );
            target.join("debug/keel")
        }
    };
    assert!(
        path.exists(),
        "{} not found: build it with `cargo build --bin keel` or set KEEL_BIN",
        path.display()
    );
    path
}

/// Poll `condition` until it returns `Some`, or fail after `deadline` with `what`.
pub fn wait_for<T>(deadline: Duration, what: &str, mut condition: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// An HTTP reply: status, headers we care about, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub etcd_index: Option<u64>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Cluster {
    /// Start `size` members on loopback with `extra` flags each, and wait for a leader.
    ///
    /// The ports come from [`free_port`], which releases them before keel binds them: another
    /// process (an outgoing connection of a test running in parallel takes its local port from
    /// the same range) may take one meanwhile, and that member then exits at once. So when a
    /// member exits before a leader is elected, the whole cluster is removed and started again
    /// on fresh ports, at most `START_ATTEMPTS_MAX` times; the last failure fails the test with
    /// the member's log.
    pub fn start(size: usize, extra: &[&str]) -> Cluster {
        for attempt in 1..=START_ATTEMPTS_MAX {
            let placements = (0..size)
                .map(|_| Placement {
                    client_url: format!("http://127.0.0.1:{}", free_port()),
                    peer_url: format!("http://127.0.0.1:{}", free_port()),
                    namespace: None,
                })
                .collect();
            let mut cluster = Cluster::create(placements, extra, &[], None);
            match cluster.wait_leader_or_exit() {
                Ok(_) => return cluster,
                Err(index) if attempt < START_ATTEMPTS_MAX => {
                    eprintln!(
                        "member {index} exited before a leader was elected (attempt {attempt}); \
                         starting again on fresh ports. Its log:\n{}",
                        cluster.log(index)
                    );
                }
                Err(index) => panic!(
                    "member {index} exited before a leader was elected, {attempt} attempts; \
                     its log:\n{}",
                    cluster.log(index)
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Waits for a leader known to every member, or for a member to exit (`Err(index)`).
    fn wait_leader_or_exit(&mut self) -> Result<usize, usize> {
        wait_for(
            READY_DEADLINE,
            "an elected leader known to every running member",
            || {
                let exited = self.members.iter_mut().position(|member| {
                    member
                        .child
                        .as_mut()
                        .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))))
                });
                match exited {
                    Some(index) => {
                        // Reaped already: forget it, so nothing signals its PID again.
                        self.members[index].child = None;
                        Some(Err(index))
                    }
                    None => self.leader().map(Ok),
                }
            },
        )
    }

    /// Start one member per node of `lab`, each in its namespace on ports 2379/2380 of its
    /// address, with `extra` flags each and `env[node]` (when given) as extra environment; data
    /// and logs in a temporary directory under `dir` (or the system's). Waits for a leader.
    pub fn start_in_lab(
        lab: &lab::Lab,
        extra: &[&str],
        env: &[Vec<(String, String)>],
        dir: Option<&Path>,
    ) -> Cluster {
        let placements = (0..lab.nodes())
            .map(|node| Placement {
                client_url: format!("http://{}:2379", lab.address(node)),
                peer_url: format!("http://{}:2380", lab.address(node)),
                namespace: Some(lab.namespace(node)),
            })
            .collect();
        let cluster = Cluster::create(placements, extra, env, dir);
        cluster.wait_leader();
        cluster
    }

    /// Builds the members and starts every process, without waiting. `env[i]`, when given, is
    /// member `i`'s extra environment.
    pub fn create(
        placements: Vec<Placement>,
        extra: &[&str],
        env: &[Vec<(String, String)>],
        dir: Option<&Path>,
    ) -> Cluster {
        let dir = match dir {
            Some(parent) => {
                std::fs::create_dir_all(parent).unwrap();
                tempfile::Builder::new()
                    .prefix("cluster-")
                    .tempdir_in(parent)
                    .unwrap()
            }
            None => tempfile::tempdir().unwrap(),
        };
        let mut members: Vec<Member> = placements
            .into_iter()
            .enumerate()
            .map(|(i, placement)| {
                let name = format!("m{i}");
                Member {
                    client_url: placement.client_url,
                    peer_url: placement.peer_url,
                    namespace: placement.namespace,
                    data_dir: dir.path().join(format!("{name}.keel")),
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    args: Vec::new(),
                    env: env.get(i).cloned().unwrap_or_default(),
                    child: None,
                }
            })
            .collect();
        let initial: Vec<String> = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect();
        for member in &mut members {
            member.args = vec![
                "--name".into(),
                member.name.clone(),
                "--data-dir".into(),
                member.data_dir.display().to_string(),
                "--listen-client-urls".into(),
                member.client_url.clone(),
                "--advertise-client-urls".into(),
                member.client_url.clone(),
                "--listen-peer-urls".into(),
                member.peer_url.clone(),
                "--initial-advertise-peer-urls".into(),
                member.peer_url.clone(),
                "--initial-cluster".into(),
                initial.join(","),
                "--initial-cluster-token".into(),
                "keel-test".into(),
            ];
            member.args.extend(extra.iter().map(ToString::to_string));
        }
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(20))
            .build();
        let stats_agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        let mut cluster = Cluster {
            members,
            dir,
            agent,
            stats_agent,
        };
        for index in 0..cluster.members.len() {
            cluster.spawn(index);
        }
        cluster
    }

    /// Prepare (not start) a new member on loopback that joins the running cluster with
    /// `--initial-cluster-state existing`: free ports, its own data directory, and an
    /// `--initial-cluster` naming the running members and itself. Add it to the cluster first
    /// (`POST /v2/members` with its peer URL), then `spawn` it. Returns its index.
    pub fn add_member(&mut self, extra: &[&str]) -> usize {
        let index = self.members.len();
        let name = format!("m{index}");
        let client_url = format!("http://127.0.0.1:{}", free_port());
        let peer_url = format!("http://127.0.0.1:{}", free_port());
        let mut initial: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect();
        initial.push(format!("{name}={peer_url}"));
        let data_dir = self.dir.path().join(format!("{name}.keel"));
        let mut args = vec![
            "--name".to_string(),
            name.clone(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--listen-client-urls".into(),
            client_url.clone(),
            "--advertise-client-urls".into(),
            client_url.clone(),
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url.clone(),
            "--initial-cluster".into(),
            initial.join(","),
            "--initial-cluster-state".into(),
            "existing".into(),
            "--initial-cluster-token".into(),
            "keel-test".into(),
        ];
        args.extend(extra.iter().map(ToString::to_string));
        self.members.push(Member {
            log: self.dir.path().join(format!("{name}.log")),
            name,
            client_url,
            peer_url,
            data_dir,
            args,
            env: Vec::new(),
            namespace: None,
            child: None,
        });
        index
    }

    /// Turn a stopped member that was removed from the cluster into a new member at the same
    /// address: its data directory is wiped, and its next `spawn` joins the running members
    /// with `--initial-cluster-state existing`. Add it first (`POST /v2/members`).
    pub fn prepare_rejoin(&mut self, index: usize) {
        assert!(
            self.members[index].child.is_none(),
            "member {index} still runs"
        );
        let _ = std::fs::remove_dir_all(&self.members[index].data_dir);
        let mut initial: Vec<String> = self
            .members
            .iter()
            .enumerate()
            .filter(|(i, m)| *i == index || m.child.is_some())
            .map(|(_, m)| format!("{}={}", m.name, m.peer_url))
            .collect();
        initial.sort();
        let args = &mut self.members[index].args;
        if let Some(at) = args.iter().position(|a| a == "--initial-cluster") {
            args[at + 1] = initial.join(",");
        }
        match args.iter().position(|a| a == "--initial-cluster-state") {
            Some(at) => args[at + 1] = "existing".into(),
            None => args.extend(["--initial-cluster-state".into(), "existing".into()]),
        }
    }

    pub fn spawn(&mut self, index: usize) {
        let member = &mut self.members[index];
        assert!(member.child.is_none(), "member {index} already runs");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .unwrap();
        let mut command = match &member.namespace {
            // `ip netns exec` execs keel, so the child's PID is keel's own.
            Some(namespace) => {
                let mut command = Command::new("ip");
                command
                    .args(["netns", "exec", namespace])
                    .arg(keel_binary());
                command
            }
            None => Command::new(keel_binary()),
        };
        let child = command
            .args(&member.args)
            .envs(member.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("keel starts");
        member.child = Some(child);
    }

    /// `kill -9` a member.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.members[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM a member and wait (up to `deadline`) for it to exit; returns its exit status.
    pub fn stop_gracefully(
        &mut self,
        index: usize,
        deadline: Duration,
    ) -> std::process::ExitStatus {
        self.signal(index, "TERM");
        self.wait_exit(index, deadline)
    }

    /// Wait (up to `deadline`) for a member to exit on its own (e.g. after its removal from
    /// the cluster); returns its exit status.
    pub fn wait_exit(&mut self, index: usize, deadline: Duration) -> std::process::ExitStatus {
        let child = self.members[index].child.as_mut().expect("the member runs");
        let status = wait_for(deadline, "the member to exit after SIGTERM", || {
            child.try_wait().ok().flatten()
        });
        self.members[index].child = None;
        status
    }

    /// Send a signal (`STOP`, `CONT`, `TERM`, ...) to a running member, by its PID.
    pub fn signal(&self, index: usize, signal: &str) {
        let child = self.members[index].child.as_ref().expect("the member runs");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Freeze a member (SIGSTOP): its sockets stay open but it answers nothing.
    pub fn pause(&self, index: usize) {
        self.signal(index, "STOP");
    }

    /// Thaw a member frozen by `pause` (SIGCONT).
    pub fn resume(&self, index: usize) {
        self.signal(index, "CONT");
    }

    /// The leader's index, once every running member agrees on one.
    pub fn wait_leader(&self) -> usize {
        wait_for(
            READY_DEADLINE,
            "an elected leader known to every running member",
            || self.leader(),
        )
    }

    /// Whether member `index` has a process (it may be paused).
    pub fn is_running(&self, index: usize) -> bool {
        self.members[index].child.is_some()
    }

    /// The member that a majority of all members name as leader (asked with a short timeout,
    /// so paused or cut-off members just do not vote), or `None`.
    pub fn leader_by_majority(&self) -> Option<usize> {
        let mut votes: std::collections::BTreeMap<String, usize> = Default::default();
        let mut ids = Vec::new();
        for member in &self.members {
            let stats = member
                .child
                .as_ref()
                .and_then(|_| self.stats(&member.client_url));
            ids.push(
                stats
                    .as_ref()
                    .and_then(|s| s["id"].as_str().map(str::to_owned)),
            );
            if let Some(leader) = stats
                .as_ref()
                .and_then(|s| s["leaderInfo"]["leader"].as_str())
                .filter(|l| !l.is_empty() && *l != "0")
            {
                *votes.entry(leader.to_owned()).or_default() += 1;
            }
        }
        let (leader, count) = votes.into_iter().max_by_key(|(_, count)| *count)?;
        if count * 2 <= self.members.len() {
            return None;
        }
        ids.iter()
            .position(|id| id.as_deref() == Some(leader.as_str()))
    }

    fn stats(&self, base: &str) -> Option<serde_json::Value> {
        let response = self
            .stats_agent
            .get(&format!("{base}/v2/stats/self"))
            .call()
            .ok()?;
        serde_json::from_str(&response.into_string().ok()?).ok()
    }

    /// The leader's index if every running member names the same one.
    pub fn leader(&self) -> Option<usize> {
        let mut leader = None;
        for member in self.members.iter().filter(|m| m.child.is_some()) {
            let reply = self.get(&member.client_url, "/v2/stats/self").ok()?;
            let id = reply.json()["leaderInfo"]["leader"].as_str()?.to_string();
            if leader.as_ref().is_some_and(|l| *l != id) || id.is_empty() || id == "0" {
                return None;
            }
            leader = Some(id);
        }
        let leader = leader?;
        self.members.iter().position(|m| {
            m.child.is_some()
                && self
                    .get(&m.client_url, "/v2/stats/self")
                    .ok()
                    .is_some_and(|r| r.json()["id"] == leader.as_str())
        })
    }

    pub fn url(&self, index: usize) -> &str {
        &self.members[index].client_url
    }

    pub fn log(&self, index: usize) -> String {
        std::fs::read_to_string(&self.members[index].log).unwrap_or_default()
    }

    fn reply(result: Result<ureq::Response, ureq::Error>) -> Result<Reply, String> {
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(error) => return Err(error.to_string()),
        };
        let status = response.status();
        let etcd_index = response.header("X-Etcd-Index").and_then(|v| v.parse().ok());
        let body = response.into_string().map_err(|e| e.to_string())?;
        Ok(Reply {
            status,
            body,
            etcd_index,
        })
    }

    pub fn get(&self, base: &str, path: &str) -> Result<Reply, String> {
        Self::reply(self.agent.get(&format!("{base}{path}")).call())
    }

    /// PUT with a form body.
    pub fn put(&self, base: &str, path: &str, form: &[(&str, &str)]) -> Result<Reply, String> {
        Self::reply(self.agent.put(&format!("{base}{path}")).send_form(form))
    }

    /// A request with a body of the given content type (`POST`/`PUT` of JSON to
    /// `/v2/members`, ...).
    pub fn send_body(
        &self,
        method: &str,
        base: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Result<Reply, String> {
        Self::reply(
            self.agent
                .request(method, &format!("{base}{path}"))
                .set("Content-Type", content_type)
                .send_string(body),
        )
    }

    pub fn delete(&self, base: &str, path: &str) -> Result<Reply, String> {
        Self::reply(self.agent.delete(&format!("{base}{path}")).call())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.members.len() {
            // A paused member must be able to die: SIGKILL works on stopped processes, and
            // SIGCONT first keeps the zombie reaping simple.
            if self.members[index].child.is_some() {
                let _ = Command::new("kill")
                    .arg("-CONT")
                    .arg(
                        self.members[index]
                            .child
                            .as_ref()
                            .map_or(0, Child::id)
                            .to_string(),
                    )
                    .status();
            }
            self.kill(index);
        }
    }
}

/// Run `keel` with `args` to completion (for start-up refusals); returns (exit code, stderr).
/// A keel that does not exit by the deadline is killed, and the test fails.
pub fn run_to_exit(args: &[String], deadline: Duration) -> (Option<i32>, String) {
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(
        Command::new(keel_binary())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keel starts"),
    );
    let status = wait_for(deadline, "keel to exit", || {
        child.0.try_wait().ok().flatten()
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

pub fn data_dir_exists(path: &Path) -> bool {
    path.join("CURRENT").exists()
}
