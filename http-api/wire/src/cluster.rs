//! Members, `/version` and `/health` bodies.
//!
//! Member field order copies etcd 3.4's `httptypes.Member`; version copies `version.Versions`.

use crate::Body;
use serde::{Deserialize, Serialize};

/// A cluster member: `{"id":…,"name":…,"peerURLs":[…],"clientURLs":[…]}`.
///
/// `id` is the 64-bit member id in lowercase hex without leading zeros. A member that was added
/// but has not started yet has `name: ""` and `clientURLs: []` (an empty list, never `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Lowercase hex member id.
    pub id: String,
    /// The member's `--name`; empty until it starts.
    pub name: String,
    /// URLs peers reach it on.
    #[serde(rename = "peerURLs")]
    pub peer_urls: Vec<String>,
    /// URLs clients reach it on; empty until it starts.
    #[serde(rename = "clientURLs")]
    pub client_urls: Vec<String>,
}

impl Body for Member {
    /// etcd's members handler writes with `json.NewEncoder(w).Encode`.
    const TRAILING_NEWLINE: bool = true;
}

/// `GET /v2/members`: `{"members":[…]}`, sorted by numeric id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberList {
    /// The members.
    pub members: Vec<Member>,
}

impl Body for MemberList {
    /// Seen on etcd 3.4.23: the list ends with `}\n`.
    const TRAILING_NEWLINE: bool = true;
}

/// `GET /version`: `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The server version; python-etcd parses its major.minor, so it must look like `3.4.x`.
    pub etcdserver: String,
    /// The cluster version, `major.minor.0`.
    pub etcdcluster: String,
}

impl Body for Version {
    /// Seen on etcd 3.4.23: no newline.
    const TRAILING_NEWLINE: bool = false;
}

/// `GET /health`: `{"health":"true"}` or `{"health":"false"}` (a string, not a bool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"true"` or `"false"`.
    pub health: String,
}

impl Health {
    /// The body for a healthy member (200) or an unhealthy one (503).
    #[must_use]
    pub fn new(healthy: bool) -> Health {
        let health = if healthy { "true" } else { "false" };
        Health {
            health: health.to_owned(),
        }
    }
}

impl Body for Health {
    /// Seen on etcd 3.4.23: no newline (and `Content-Type: text/plain`).
    const TRAILING_NEWLINE: bool = false;
}
