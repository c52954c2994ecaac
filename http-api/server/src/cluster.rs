//! Cluster endpoints: `/v2/members`, `/v2/machines`, `/v2/stats/*`, `/health`, `/version`,
//! and the 404 for every unknown path. None of them carry `X-Etcd-Index` (spec §9).

use crate::error::ApiError;
use crate::keys::render::encode;
use crate::{rfc3339, Api};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use kv_wire::{
    format_go_duration, Body, CountsStats, FollowerStats, Health, LatencyStats, LeaderInfo,
    LeaderStats, Member, MemberList, MemberState, SelfStats, StoreStats, Version,
};
use kvstore::{NodeId, Role};
use std::time::Duration;

/// The etcd cluster version reported beside `ETCD_SERVER_VERSION`.
const ETCD_CLUSTER_VERSION: &str = "3.4.0";
/// The etcd server version reported by `/version` (clients parse it: spec §9.6).
pub const ETCD_SERVER_VERSION: &str = "3.4.23";
/// How long `/health` waits for a linearizable read before answering unhealthy.
const HEALTH_READ_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) fn routes() -> Router<Api> {
    Router::new()
        .route("/v2/members", any(members))
        .route("/v2/members/{id}", any(member))
        .route("/v2/machines", get(machines))
        .route("/v2/stats/self", get(stats_self))
        .route("/v2/stats/leader", get(stats_leader))
        .route("/v2/stats/store", get(stats_store))
        .route("/debug/raft", get(debug_raft))
        .route("/keel/backup", get(backup))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/version", get(version))
}

/// Every path no route serves: Go's plain `404 page not found`.
pub(crate) async fn page_not_found() -> Response {
    ApiError::RouteNotFound.into_response()
}

fn json<T: Body>(status: StatusCode, body: &T) -> Response {
    let mut response = (status, encode(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn text(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn wire_member(member: &kvstore::Member) -> Member {
    Member {
        id: member.id.to_string(),
        name: member.name.clone(),
        peer_urls: member.peer_urls.clone(),
        client_urls: member.client_urls.clone(),
    }
}

async fn members(
    State(api): State<Api>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
) -> Response {
    if method == axum::http::Method::POST {
        return add_member(&api, &headers, &body).await;
    }
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return ApiError::MethodNotAllowed {
            allow: "GET, HEAD, POST",
        }
        .into_response();
    }
    let list = MemberList {
        members: api.node.state().members.iter().map(wire_member).collect(),
    };
    json(StatusCode::OK, &list)
}

async fn member(
    State(api): State<Api>,
    Path(id): Path<String>,
    method: axum::http::Method,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
) -> Response {
    if method == axum::http::Method::DELETE {
        return remove_member(&api, &id).await;
    }
    if method == axum::http::Method::PUT {
        return update_member(&api, &id, &headers, &body).await;
    }
    if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
        return ApiError::MethodNotAllowed {
            allow: "GET, HEAD, PUT, DELETE",
        }
        .into_response();
    }
    if id != "leader" {
        return ApiError::short(404, "Not found").into_response();
    }
    let Some(leader) = api.node.progress().leader() else {
        return ApiError::short(503, "During election").into_response();
    };
    match api.node.state().members.get(leader) {
        Some(member) => json(StatusCode::OK, &wire_member(member)),
        None => ApiError::short(503, "During election").into_response(),
    }
}

/// The member a `PUT` or `DELETE /v2/members/<id>` names, as etcd answers otherwise: 404
/// `No such member: <id>` for an unknown or unparsable id, 410 `Member permanently removed:
/// <id>` for a removed one.
fn current_member(api: &Api, text: &str) -> Result<NodeId, ApiError> {
    let no_such = || ApiError::short(404, format!("No such member: {text}"));
    let id = u64::from_str_radix(text, 16)
        .map(NodeId)
        .map_err(|_| no_such())?;
    let state = api.node.state();
    if state.members.is_removed(id) {
        return Err(ApiError::short(
            410,
            format!("Member permanently removed: {text}"),
        ));
    }
    state.members.get(id).map(|_| id).ok_or_else(no_such)
}

/// The body of `POST /v2/members`.
#[derive(serde::Deserialize)]
struct AddRequest {
    #[serde(rename = "peerURLs")]
    peer_urls: Vec<String>,
}

/// Checks a peer URL as etcd does (scheme, then host and port), in etcd's words.
fn check_peer_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "URL scheme must be http, https, unix, or unixs: {url}"
        ));
    };
    match scheme {
        "http" => {}
        "https" | "unix" | "unixs" => {
            return Err(format!("{scheme} peer URLs are not supported: {url}"))
        }
        _ => {
            return Err(format!(
                "URL scheme must be http, https, unix, or unixs: {url}"
            ))
        }
    }
    let authority = rest.trim_end_matches('/');
    let port_ok = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if authority.contains('/') || !port_ok {
        return Err(format!(
            "URL address does not have the form \"host:port\": {url}"
        ));
    }
    Ok(())
}

/// The peer URLs of a `POST` or `PUT` member request, checked in etcd's order: JSON content
/// type (415), body (400), each URL (400).
fn peer_urls_of(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<Vec<String>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some("application/json") {
        return Err(ApiError::short(
            415,
            format!("Bad Content-Type {content_type}, accept application/json"),
        ));
    }
    let request: AddRequest =
        serde_json::from_slice(body).map_err(|error| ApiError::short(400, error.to_string()))?;
    if request.peer_urls.is_empty() {
        return Err(ApiError::short(400, "peerURLs must not be empty"));
    }
    for url in &request.peer_urls {
        check_peer_url(url).map_err(|message| ApiError::short(400, message))?;
    }
    Ok(request
        .peer_urls
        .iter()
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect())
}

/// `PUT /v2/members/<id>` as etcd answers it: 204 once the new peer URLs are applied here;
/// 404 / 410 as for `DELETE`; 409 `membership: peerURL exists` when another member uses one.
/// The member keeps its id; restart it with the new URLs.
async fn update_member(
    api: &Api,
    text: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Response {
    let peer_urls = match peer_urls_of(headers, body) {
        Ok(urls) => urls,
        Err(error) => return error.into_response(),
    };
    let id = match current_member(api, text) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    {
        let state = api.node.state();
        if state
            .members
            .peer_url_owner(&peer_urls)
            .is_some_and(|owner| owner != id)
        {
            return ApiError::short(409, "membership: peerURL exists").into_response();
        }
    }
    let body = kvstore::CommandBody::UpdatePeerUrls { id, peer_urls };
    match api.propose(body, kvstore::thread::wall_now()).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => ApiError::short(500, "etcdserver: request timed out").into_response(),
    }
}

/// `POST /v2/members` as etcd answers it: 201 with the new member (no name or client URLs
/// until it starts) once the addition is applied on this member; 415 without a JSON content
/// type; 400 for a body or URL that does not parse; 409 `membership: peerURL exists`.
async fn add_member(api: &Api, headers: &axum::http::HeaderMap, body: &[u8]) -> Response {
    let peer_urls = match peer_urls_of(headers, body) {
        Ok(urls) => urls,
        Err(error) => return error.into_response(),
    };
    let id = {
        let state = api.node.state();
        if state.members.peer_url_owner(&peer_urls).is_some() {
            return ApiError::short(409, "membership: peerURL exists").into_response();
        }
        // A fresh id: the time makes re-adding the same URLs after a removal a new member.
        let salt = format!("{:x}", api.config.cluster_id.0);
        let mut now = u64::try_from(kvstore::thread::wall_now().0).unwrap_or(0);
        loop {
            let id = kvstore::ids::added_member_id(&peer_urls, &salt, now);
            if state.members.get(id).is_none() && !state.members.is_removed(id) {
                break id;
            }
            now += 1;
        }
    };
    let timeout = api.config.request_timeout;
    match tokio::time::timeout(timeout, api.node.add_member(id, peer_urls.clone())).await {
        Ok(Ok(())) => {
            let member = Member {
                id: id.to_string(),
                name: String::new(),
                peer_urls,
                client_urls: Vec::new(),
            };
            json(StatusCode::CREATED, &member)
        }
        Ok(Err(kvstore::ProposeError::Busy)) => {
            ApiError::short(409, "membership: another membership change is in progress")
                .into_response()
        }
        Ok(Err(_)) | Err(_) => {
            ApiError::short(500, "etcdserver: request timed out").into_response()
        }
    }
}

/// `DELETE /v2/members/<id>` as etcd answers it: 204 once the removal is applied on this
/// member; 404 `No such member: <id>` for an unknown (or unparsable) id; 410 `Member
/// permanently removed: <id>` for one removed before. Keel also refuses to remove the last
/// member (409), which would leave no cluster to serve.
async fn remove_member(api: &Api, text: &str) -> Response {
    let id = match current_member(api, text) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    {
        let state = api.node.state();
        if state.members.len() == 1 {
            return ApiError::short(409, "membership: cannot remove the last member")
                .into_response();
        }
    }
    let timeout = api.config.request_timeout;
    match tokio::time::timeout(timeout, api.node.remove_member(id)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(kvstore::ProposeError::Busy)) => {
            ApiError::short(409, "membership: another membership change is in progress")
                .into_response()
        }
        Ok(Err(_)) | Err(_) => {
            ApiError::short(500, "etcdserver: request timed out").into_response()
        }
    }
}

async fn machines(State(api): State<Api>) -> Response {
    let mut urls: Vec<String> = api
        .node
        .state()
        .members
        .iter()
        .flat_map(|m| m.client_urls.clone())
        .collect();
    urls.sort();
    text(StatusCode::OK, urls.join(", ").into_bytes())
}

fn member_state(role: Role) -> MemberState {
    match role {
        Role::Leader => MemberState::Leader,
        Role::Candidate => MemberState::Candidate,
        Role::Follower => MemberState::Follower,
    }
}

/// A consistent backup of this member's store (Keel's own endpoint, like etcd's `snapshot
/// save`): after a linearizable read point is applied here, the store is saved under the state
/// lock, so the file reflects one applied index that includes every write acknowledged before
/// the request. Restore with `keel --restore FILE` on new data directories.
async fn backup(State(api): State<Api>) -> Response {
    if let Err(error) = api.read_index().await {
        return error.into_response();
    }
    let bytes = {
        let state = api.node.state();
        kvstore::backup::encode(&state.store, api.node.progress().applied().0)
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"keel-backup.db\"",
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /metrics`: Prometheus's text format (`crate::metrics`).
async fn metrics(State(api): State<Api>) -> Response {
    api.metrics.response()
}

/// Keel's own view of its raft log (not an etcd endpoint): indexes, the extent of the stored
/// log after compaction, and snapshot counters. Operators and tests use it to see compaction
/// and snapshot catch-up happen.
async fn debug_raft(State(api): State<Api>) -> Response {
    use std::sync::atomic::Ordering;
    let progress = api.node.progress();
    let first = progress.first_index.load(Ordering::Acquire);
    let last = progress.last_index.load(Ordering::Acquire);
    let body = serde_json::json!({
        "id": format!("{:x}", api.node.id().0),
        "term": progress.term().0,
        "commitIndex": progress.commit().0,
        "appliedIndex": progress.applied().0,
        "snapshotIndex": progress.snapshot_index.load(Ordering::Acquire),
        "firstIndex": first,
        "lastIndex": last,
        "logEntries": (last + 1).saturating_sub(first),
        "snapshotsSaved": progress.snapshots_saved.load(Ordering::Acquire),
        "snapshotsInstalled": progress.snapshots_installed.load(Ordering::Acquire),
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn stats_self(State(api): State<Api>) -> Response {
    let progress = api.node.progress();
    let now = kvstore::thread::wall_now();
    let since = progress.leader_since();
    let uptime_nanos = u64::try_from(now.0.saturating_sub(since.0)).unwrap_or(0);
    let stats = SelfStats {
        name: api.config.name.clone(),
        id: api.node.id().to_string(),
        state: member_state(progress.role()),
        start_time: rfc3339::format(api.config.start_time),
        leader_info: LeaderInfo {
            leader: progress
                .leader()
                .map_or_else(String::new, |l| l.to_string()),
            uptime: format_go_duration(Duration::from_nanos(uptime_nanos)),
            start_time: rfc3339::format(since),
        },
        received_append_request_count: progress
            .append_received
            .load(std::sync::atomic::Ordering::Relaxed),
        received_package_rate: 0.0,
        received_bandwidth_rate: 0.0,
        sent_append_request_count: progress
            .append_sent
            .load(std::sync::atomic::Ordering::Relaxed),
        sent_package_rate: 0.0,
        sent_bandwidth_rate: 0.0,
    };
    json(StatusCode::OK, &stats)
}

async fn stats_leader(State(api): State<Api>) -> Response {
    if api.node.progress().role() != Role::Leader {
        return ApiError::short(403, "not current leader").into_response();
    }
    let own = api.node.id();
    let peers: Vec<NodeId> = api
        .node
        .state()
        .members
        .iter()
        .map(|m| m.id)
        .filter(|id| *id != own)
        .collect();
    let followers = peers
        .into_iter()
        .map(|peer| {
            let (success, fail) = api.peers.counts(peer);
            let counts = CountsStats { fail, success };
            (
                peer.to_string(),
                FollowerStats {
                    latency: LatencyStats::default(),
                    counts,
                },
            )
        })
        .collect();
    json(
        StatusCode::OK,
        &LeaderStats {
            leader: own.to_string(),
            followers,
        },
    )
}

async fn stats_store(State(api): State<Api>) -> Response {
    let stats = api.node.state().store.stats();
    let wire = StoreStats {
        gets_success: stats.gets_success,
        gets_fail: stats.gets_fail,
        sets_success: stats.sets_success,
        sets_fail: stats.sets_fail,
        delete_success: stats.delete_success,
        delete_fail: stats.delete_fail,
        update_success: stats.update_success,
        update_fail: stats.update_fail,
        create_success: stats.create_success,
        create_fail: stats.create_fail,
        compare_and_swap_success: stats.compare_and_swap_success,
        compare_and_swap_fail: stats.compare_and_swap_fail,
        compare_and_delete_success: stats.compare_and_delete_success,
        compare_and_delete_fail: stats.compare_and_delete_fail,
        expire_count: stats.expire_count,
        watchers: stats.watchers,
    };
    json(StatusCode::OK, &wire)
}

/// Healthy when a leader is known and a linearizable read succeeds (etcd 3.4 does a QGET).
async fn health(State(api): State<Api>) -> Response {
    let healthy = api.node.progress().leader().is_some()
        && tokio::time::timeout(HEALTH_READ_TIMEOUT, api.node.read_index())
            .await
            .is_ok_and(|r| r.is_ok());
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, encode(&Health::new(healthy)))
}

async fn version() -> Response {
    let body = Version {
        etcdserver: ETCD_SERVER_VERSION.to_string(),
        etcdcluster: ETCD_CLUSTER_VERSION.to_string(),
    };
    json(StatusCode::OK, &body)
}
