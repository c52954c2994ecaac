//! The few plain HTTP reads the harness makes itself (readiness, the index barrier, member ids,
//! watcher counts, captured indexes). Loopback only.

use std::time::Duration;

/// A GET answer: status, `X-Etcd-Index`, `X-Etcd-Cluster-Id`, body.
pub struct Answer {
    pub status: u16,
    pub etcd_index: Option<String>,
    pub cluster_id: Option<String>,
    pub body: String,
}

/// A blocking HTTP client with a per-request timeout.
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Http {
        Http::new()
    }
}

impl Http {
    pub fn new() -> Http {
        Http {
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(5))
                .build(),
        }
    }

    /// GET `base` + `path`; any status is an answer, only transport failures are errors.
    pub fn get(&self, base: &str, path: &str) -> Result<Answer, String> {
        let url = format!("{base}{path}");
        let response = match self.agent.get(&url).call() {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => return Err(format!("GET {url}: {error}")),
        };
        let status = response.status();
        let etcd_index = response.header("X-Etcd-Index").map(str::to_string);
        let cluster_id = response.header("X-Etcd-Cluster-Id").map(str::to_string);
        let body = response
            .into_string()
            .map_err(|error| format!("GET {url}: reading the body: {error}"))?;
        Ok(Answer {
            status,
            etcd_index,
            cluster_id,
            body,
        })
    }

    /// GET a JSON document.
    pub fn json(&self, base: &str, path: &str) -> Result<serde_json::Value, String> {
        let answer = self.get(base, path)?;
        serde_json::from_str(&answer.body).map_err(|error| {
            format!(
                "GET {base}{path}: {} is not JSON ({error}): {}",
                answer.status, answer.body
            )
        })
    }

    /// The member's current etcd index, from `X-Etcd-Index` on a GET of the root.
    pub fn etcd_index(&self, base: &str) -> Result<u64, String> {
        let answer = self.get(base, "/v2/keys/")?;
        let header = answer
            .etcd_index
            .ok_or_else(|| format!("GET {base}/v2/keys/ has no X-Etcd-Index"))?;
        header
            .parse()
            .map_err(|error| format!("X-Etcd-Index {header:?} from {base}: {error}"))
    }

    /// The `X-Etcd-Cluster-Id` the member sends.
    pub fn cluster_id(&self, base: &str) -> Result<String, String> {
        self.get(base, "/v2/keys/")?
            .cluster_id
            .ok_or_else(|| format!("GET {base}/v2/keys/ has no X-Etcd-Cluster-Id"))
    }

    /// `modifiedIndex` of `key`, read through consensus.
    pub fn modified_index(&self, base: &str, key: &str) -> Result<u64, String> {
        let document = self.json(base, &format!("/v2/keys{key}?quorum=true"))?;
        document["node"]["modifiedIndex"]
            .as_u64()
            .ok_or_else(|| format!("no modifiedIndex for {key}: {document}"))
    }

    /// The member's live watcher count (`/v2/stats/store`).
    pub fn watchers(&self, base: &str) -> Result<u64, String> {
        let stats = self.json(base, "/v2/stats/store")?;
        stats["watchers"]
            .as_u64()
            .ok_or_else(|| format!("no watcher count in {base}/v2/stats/store: {stats}"))
    }

    /// `(id, name)` of every member, from `/v2/members`.
    pub fn member_ids(&self, base: &str) -> Result<Vec<(String, String)>, String> {
        let document = self.json(base, "/v2/members")?;
        let members = document["members"]
            .as_array()
            .ok_or_else(|| format!("{base}/v2/members: {document}"))?;
        members
            .iter()
            .map(|m| match (m["id"].as_str(), m["name"].as_str()) {
                (Some(id), Some(name)) => Ok((id.to_string(), name.to_string())),
                _ => Err(format!("member without id or name: {m}")),
            })
            .collect()
    }
}
