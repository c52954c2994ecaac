//! Harness for comparing the real `etcdctl` (v2 mode) against two clusters: a real etcd 3.4
//! cluster (the reference) and a Keel cluster. It starts etcd ([`etcd`]), runs a script of
//! etcdctl invocations against either cluster ([`script`], [`etcdctl`]), rewrites what must
//! differ between any two clusters ([`normalise`]) and diffs the two transcripts ([`diff`]).

pub mod diff;
pub mod etcd;
pub mod etcdctl;
pub mod http;
pub mod normalise;
pub mod script;

use http::Http;
use std::time::{Duration, Instant};

/// Both clusters run etcd's default raft timing, spelled out so that it is visibly the same:
/// heartbeat 100 ms, election timeout 1000 ms.
pub const TIMING_FLAGS: [&str; 4] = ["--heartbeat-interval", "100", "--election-timeout", "1000"];

/// How long a fresh cluster may take to be healthy, published and settled (2 shared cores).
pub const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Upper bound on the attempts of any [`poll`], on top of its deadline.
const POLL_ATTEMPTS_MAX: u32 = 10_000;

/// What the harness needs to know about a running cluster, whichever server runs it.
pub struct Topology {
    /// `etcd` or `keel`, for messages.
    pub server: &'static str,
    /// Member names, in start order (`m0`, `m1`, …, the same on both clusters).
    pub names: Vec<String>,
    /// Each member's advertised client URL, in start order.
    pub client_urls: Vec<String>,
    /// Each member's advertised peer URL, in start order.
    pub peer_urls: Vec<String>,
}

/// Retry `attempt` until it returns `Ok`, for at most `deadline` (and [`POLL_ATTEMPTS_MAX`]
/// attempts). The error names `what` and the last failure. The pause between attempts is a
/// poll interval, never a wait for the condition itself.
pub fn poll<T>(
    deadline: Duration,
    what: &str,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    let mut last = String::from("no attempt made");
    for _ in 0..POLL_ATTEMPTS_MAX {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(error) => last = error,
        }
        if start.elapsed() >= deadline {
            break;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
    Err(format!(
        "gave up after {:?} waiting for {what}; last failure: {last}",
        start.elapsed()
    ))
}

/// Wait until every member is healthy, lists every member with a published client URL, and
/// has decided its cluster version (etcd writes bootstrap data into the v2 index until then),
/// then until all members agree on the etcd index. Returns that index.
pub fn wait_ready(topology: &Topology, http: &Http) -> Result<u64, String> {
    let size = topology.client_urls.len();
    let what = format!(
        "{} members healthy, published, on a decided cluster version",
        topology.server
    );
    poll(READY_DEADLINE, &what, || {
        topology
            .client_urls
            .iter()
            .try_for_each(|url| member_ready(http, url, size))
    })?;
    settle(topology, http)
}

fn member_ready(http: &Http, url: &str, size: usize) -> Result<(), String> {
    let health = http.json(url, "/health")?;
    if health["health"] != "true" {
        return Err(format!("{url}/health says {health}"));
    }
    let members = http.json(url, "/v2/members")?;
    let list = members["members"]
        .as_array()
        .ok_or_else(|| format!("{url}/v2/members says {members}"))?;
    let published = list
        .iter()
        .filter(|m| {
            m["clientURLs"]
                .as_array()
                .is_some_and(|urls| !urls.is_empty())
        })
        .count();
    if list.len() != size || published != size {
        return Err(format!(
            "{url}/v2/members lists {} members, {published} published",
            list.len()
        ));
    }
    let version = http.json(url, "/version")?;
    if version["etcdcluster"] == "not_decided" {
        return Err(format!("{url}/version says {version}"));
    }
    Ok(())
}

/// Wait until every member reports the same `X-Etcd-Index`, and return it. Every write was
/// applied by the member that acknowledged it, so once all agree, all have applied every
/// acknowledged write, and a plain (local) read on any member sees them.
pub fn settle(topology: &Topology, http: &Http) -> Result<u64, String> {
    let what = format!("{} members to agree on the etcd index", topology.server);
    poll(READY_DEADLINE, &what, || {
        let indexes = topology
            .client_urls
            .iter()
            .map(|url| http.etcd_index(url))
            .collect::<Result<Vec<u64>, String>>()?;
        match indexes.windows(2).all(|pair| pair[0] == pair[1]) {
            true => Ok(indexes[0]),
            false => Err(format!("members report {indexes:?}")),
        }
    })
}
