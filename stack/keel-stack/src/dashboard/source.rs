//! One round of reads from the public APIs into a [`Raw`]: Keel's members, leader and keys
//! through `kv-client`, each member's raft position from its `X-Raft-Index` and
//! `X-Raft-Term`, fleet's v1 API (machines, units, states, and why a unit waits). A source
//! that fails leaves its part empty and says so in `Raw::errors`; the round never fails.

use super::view::{Raw, LOCKSMITH_PREFIX};
use crate::probe;
use fleet_api::entities::{MachinePage, UnitPage, UnitStatePage};
use kv_client::{Client, GetOptions, Node};

/// At most this many pages of one fleet collection per round.
const PAGES_MAX: usize = 100;

/// Where the dashboard reads from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub keel: Client,
    /// fleet's API, `http://host:port` (no `/` at the end).
    pub fleet: String,
    /// The discovery records' prefix (`skydns`).
    pub record_prefix: String,
    /// Daemons' `/metrics` pages, by daemon name ([`super::requests::COUNTERS`]).
    pub metrics: Vec<(String, String)>,
}

impl Sources {
    /// One round of reads.
    pub async fn gather(&self) -> Raw {
        let mut raw = Raw::default();
        match self.keel.members().await {
            Ok(members) => raw.members = members,
            Err(error) => raw.errors.push(format!("keel members: {error}")),
        }
        raw.leader = self.keel.leader().await.ok().map(|leader| leader.id);
        for member in &raw.members {
            let Some(url) = member.client_urls.first() else {
                continue;
            };
            if let Some(position) = position(url).await {
                raw.positions.insert(member.id.clone(), position);
            }
        }
        raw.semaphores = self.leaves(LOCKSMITH_PREFIX, &mut raw.errors).await;
        let records = format!("/{}", self.record_prefix);
        raw.records = self.leaves(&records, &mut raw.errors).await;
        self.fleet(&mut raw).await;
        self.requests(&mut raw).await;
        raw
    }

    /// Each daemon's request counter, from its `/metrics` page.
    async fn requests(&self, raw: &mut Raw) {
        for (name, url) in &self.metrics {
            let Some(counter) = super::requests::counter_of(name) else {
                continue;
            };
            let total = match probe::get(url).await {
                Ok(reply) if reply.status == 200 => {
                    let text = String::from_utf8_lossy(&reply.body);
                    super::requests::total(&text, counter)
                        .ok_or_else(|| format!("no {counter} in {url}"))
                }
                Ok(reply) => Err(format!("{url} answered {}", reply.status)),
                Err(error) => Err(format!("{url}: {error}")),
            };
            match total {
                Ok(total) => {
                    raw.requests.insert(name.clone(), total);
                }
                Err(error) => raw.errors.push(format!("{name} metrics: {error}")),
            }
        }
    }

    /// Every leaf under `key`, as key and value; none when it does not exist.
    async fn leaves(&self, key: &str, errors: &mut Vec<String>) -> Vec<(String, String)> {
        let options = GetOptions {
            recursive: true,
            ..GetOptions::default()
        };
        match self.keel.get(key, options).await {
            Ok(response) => {
                let mut leaves = Vec::new();
                collect(&response.node, &mut leaves);
                leaves
            }
            Err(error) if error.is_key_not_found() => Vec::new(),
            Err(error) => {
                errors.push(format!("keel {key}: {error}"));
                Vec::new()
            }
        }
    }

    async fn fleet(&self, raw: &mut Raw) {
        let base = format!("{}/fleet/v1", self.fleet);
        match pages::<MachinePage>(&format!("{base}/machines")).await {
            Ok(pages) => raw.machines = pages.into_iter().flat_map(|p| p.machines).collect(),
            Err(error) => raw.errors.push(format!("fleet machines: {error}")),
        }
        match pages::<UnitPage>(&format!("{base}/units")).await {
            Ok(pages) => raw.units = pages.into_iter().flat_map(|p| p.units).collect(),
            Err(error) => raw.errors.push(format!("fleet units: {error}")),
        }
        match pages::<UnitStatePage>(&format!("{base}/state")).await {
            Ok(pages) => raw.states = pages.into_iter().flat_map(|p| p.states).collect(),
            Err(error) => raw.errors.push(format!("fleet states: {error}")),
        }
        self.allocation(raw).await;
        let waiting: Vec<String> = raw
            .units
            .iter()
            .filter(|unit| unit.machine_id.is_empty() && unit.desired_state != "inactive")
            .map(|unit| unit.name.clone())
            .collect();
        for name in waiting {
            let url = format!(
                "{}/keel/v1/units/{}/pending",
                self.fleet,
                super::server::segment(&name)
            );
            if let Ok(reply) = probe::get(&url).await {
                let reason = serde_json::from_slice::<serde_json::Value>(&reply.body)
                    .ok()
                    .and_then(|page| page["reason"].as_str().map(str::to_owned));
                if let (200, Some(reason)) = (reply.status, reason) {
                    raw.pending.insert(name, reason);
                }
            }
        }
    }
}

impl Sources {
    /// Each machine's capacity and allocation, and the templates' replica counts; each left
    /// empty (and said) when fleet does not answer, so the page shows none rather than a
    /// wrong one.
    async fn allocation(&self, raw: &mut Raw) {
        match self
            .keel_json::<fleet_api::keel::AllocationList>("allocation")
            .await
        {
            Ok(list) => raw.allocation = list.machines,
            Err(error) => raw.errors.push(format!("fleet allocation: {error}")),
        }
        match self
            .keel_json::<fleet_api::keel::ReplicaList>("replicas")
            .await
        {
            Ok(list) => raw.replicas = list.replicas,
            Err(error) => raw.errors.push(format!("fleet replicas: {error}")),
        }
    }

    /// `GET /keel/v1/<path>` of fleet's API, decoded.
    async fn keel_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let url = format!("{}/keel/v1/{path}", self.fleet);
        let reply = probe::get(&url).await.map_err(|error| error.to_string())?;
        match reply.status {
            200 => serde_json::from_slice(&reply.body).map_err(|error| error.to_string()),
            status => Err(format!("status {status}")),
        }
    }
}

/// A member's raft index and term, from the headers of a read of `/` on it alone.
async fn position(client_url: &str) -> Option<(u64, u64)> {
    let url = format!("{}/v2/keys/", client_url.trim_end_matches('/'));
    let reply = probe::get(&url).await.ok()?;
    let number =
        |name: &str| -> Option<u64> { reply.headers.get(name)?.to_str().ok()?.parse().ok() };
    Some((number("x-raft-index")?, number("x-raft-term")?))
}

/// Every page of a fleet collection, following `nextPageToken`.
async fn pages<T>(url: &str) -> Result<Vec<T>, String>
where
    T: serde::de::DeserializeOwned + NextPage,
{
    let mut pages = Vec::new();
    let mut next = String::new();
    for _ in 0..PAGES_MAX {
        let page_url = if next.is_empty() {
            url.to_owned()
        } else {
            format!("{url}?nextPageToken={next}")
        };
        let reply = probe::get(&page_url).await.map_err(|e| e.to_string())?;
        if reply.status != 200 {
            return Err(format!("{page_url} answered {}", reply.status));
        }
        let page: T = serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
        next = page.next_page().to_owned();
        pages.push(page);
        if next.is_empty() {
            break;
        }
    }
    Ok(pages)
}

/// A fleet page's continuation token.
trait NextPage {
    fn next_page(&self) -> &str;
}

impl NextPage for MachinePage {
    fn next_page(&self) -> &str {
        &self.next_page_token
    }
}

impl NextPage for UnitPage {
    fn next_page(&self) -> &str {
        &self.next_page_token
    }
}

impl NextPage for UnitStatePage {
    fn next_page(&self) -> &str {
        &self.next_page_token
    }
}

fn collect(node: &Node, leaves: &mut Vec<(String, String)>) {
    if let Some(value) = &node.value {
        leaves.push((node.key.clone(), value.clone()));
    }
    for child in &node.nodes {
        collect(child, leaves);
    }
}
