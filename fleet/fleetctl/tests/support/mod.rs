//! A fake fleetd for the end-to-end tests: fleet's v1 API and Keel's extensions, in memory,
//! served by axum on 127.0.0.1:0 or on a unix socket in a temporary directory, plus a runner
//! that executes fleetctl's real `run` against it with in-memory sinks.
//!
//! The fake's engine is a knob: [`Engine::Instant`] applies a desired state on the next read
//! (placing on the first machine and reporting systemd state), [`Engine::Lagging`] does so
//! only after some reads of the unit (so waiting is exercised), [`Engine::Frozen`] never
//! moves. Every request is logged as `METHOD /path?query`, so tests can assert that nothing
//! was sent.
#![allow(dead_code)] // each test binary uses a different part of the fake

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use fleet_api::entities::{
    ErrorEnvelope, Machine, MachinePage, Unit, UnitOption, UnitPage, UnitState, UnitStatePage,
};
use fleet_api::page::{slice, PageToken, PageTokenError};
use fleet_core::name::UnitName;
use fleet_core::unit_file::UnitFile;
use fleetctl::session::Poll;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The first machine of [`machines`].
pub const MACHINE_A: &str = "113f16a7bdc54e5d8a8aa5ec2c4c5bf6";
/// The second machine of [`machines`].
pub const MACHINE_B: &str = "85c0c5952e354a50b6b0db5b8d1e2c1b";

/// How the fake engine reacts to desired states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Applied by the next read.
    Instant,
    /// Applied once the unit has been read this many times since the change.
    Lagging(u32),
    /// Never applied: units stay where they are.
    Frozen,
}

/// The fake cluster's state.
#[derive(Debug)]
pub struct Cluster {
    pub units: BTreeMap<String, Unit>,
    pub states: Vec<UnitState>,
    pub machines: Vec<Machine>,
    pub pending: BTreeMap<String, serde_json::Value>,
    /// Bodies of `GET /keel/v1/units/{name}/why`.
    pub why: BTreeMap<String, serde_json::Value>,
    /// Counts received by `PUT /keel/v1/units/{name}/replicas`.
    pub scaled: BTreeMap<String, u32>,
    /// What `GET /keel/v1/replicas` lists.
    pub replica_sets: Vec<serde_json::Value>,
    /// What `GET /keel/v1/completions` lists.
    pub completions: Vec<serde_json::Value>,
    /// Machines drained through `PUT /keel/v1/machines/{id}/cordon`.
    pub cordoned: std::collections::BTreeSet<String>,
    /// Bodies received by `PUT /keel/v1/units/{name}/rollout`.
    pub replaced: BTreeMap<String, serde_json::Value>,
    /// What successive `GET /keel/v1/rollouts` show of each unit: one entry per read, the
    /// last repeated.
    pub rollout_script: BTreeMap<String, std::collections::VecDeque<serde_json::Value>>,
    pub status_texts: BTreeMap<String, String>,
    pub journal_texts: BTreeMap<String, String>,
    pub requests: Vec<String>,
    pub engine: Engine,
    /// Reads left before a lagging change applies, per unit.
    lag: BTreeMap<String, u32>,
    pub page_limit: u16,
}

impl Cluster {
    pub fn new(engine: Engine) -> Cluster {
        Cluster {
            units: BTreeMap::new(),
            states: Vec::new(),
            machines: machines(),
            pending: BTreeMap::new(),
            why: BTreeMap::new(),
            scaled: BTreeMap::new(),
            replica_sets: Vec::new(),
            completions: Vec::new(),
            cordoned: std::collections::BTreeSet::new(),
            replaced: BTreeMap::new(),
            rollout_script: BTreeMap::new(),
            status_texts: BTreeMap::new(),
            journal_texts: BTreeMap::new(),
            requests: Vec::new(),
            engine,
            lag: BTreeMap::new(),
            page_limit: 2,
        }
    }

    /// Stores a unit as it is (test fixture).
    pub fn put(&mut self, unit: Unit) {
        self.units.insert(unit.name.clone(), unit);
    }

    /// Creates or overwrites a unit from a PUT body (desired state absent: inactive, as
    /// fleet's create path).
    fn store(&mut self, name: &str, sent: Unit) {
        let previous = self.units.get(name).cloned().unwrap_or_default();
        let current_state = if is_global(&sent) {
            String::new()
        } else if previous.current_state.is_empty() {
            "inactive".to_owned()
        } else {
            previous.current_state
        };
        let desired_state = if sent.desired_state.is_empty() {
            "inactive".to_owned()
        } else {
            sent.desired_state
        };
        self.put(Unit {
            name: name.to_owned(),
            options: sent.options,
            desired_state,
            current_state,
            machine_id: previous.machine_id,
        });
        self.desired_changed(name);
    }

    /// The requests that change something.
    pub fn writes(&self) -> Vec<String> {
        self.requests
            .iter()
            .filter(|request| !request.starts_with("GET "))
            .cloned()
            .collect()
    }

    fn desired_changed(&mut self, name: &str) {
        match self.engine {
            Engine::Instant => {
                self.lag.insert(name.to_owned(), 0);
            }
            Engine::Lagging(reads) => {
                self.lag.insert(name.to_owned(), reads);
            }
            Engine::Frozen => {}
        }
    }

    /// Called on every read of a unit: applies a due change.
    fn read(&mut self, name: &str) {
        let Some(left) = self.lag.get_mut(name) else {
            return;
        };
        if *left > 0 {
            *left -= 1;
            return;
        }
        self.lag.remove(name);
        self.apply(name);
    }

    fn apply(&mut self, name: &str) {
        let first_machine = self.machines.first().map(|machine| machine.id.clone());
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if is_global(unit) {
            return;
        }
        self.states.retain(|state| state.name != name);
        let (current, machine, active, sub) = match unit.desired_state.as_str() {
            "loaded" => ("loaded", first_machine, "inactive", "dead"),
            "launched" => ("launched", first_machine, "active", "running"),
            _ => ("inactive", None, "", ""),
        };
        unit.current_state = current.to_owned();
        unit.machine_id = machine.clone().unwrap_or_default();
        if let Some(machine) = machine {
            let hash = unit_hash(unit);
            self.states.push(UnitState {
                name: name.to_owned(),
                hash,
                machine_id: machine,
                load_state: "loaded".into(),
                active_state: active.into(),
                sub_state: sub.into(),
            });
            self.states
                .sort_by(|a, b| (&a.name, &a.machine_id).cmp(&(&b.name, &b.machine_id)));
        }
    }
}

/// The fixture's machines, fleet's documentation examples.
pub fn machines() -> Vec<Machine> {
    vec![
        Machine {
            id: MACHINE_A.into(),
            primary_ip: "172.17.8.103".into(),
            metadata: [("az".to_owned(), "us-west-1b".to_owned())].into(),
        },
        Machine {
            id: MACHINE_B.into(),
            primary_ip: "172.17.8.102".into(),
            metadata: BTreeMap::new(),
        },
    ]
}

pub fn option(section: &str, name: &str, value: &str) -> UnitOption {
    UnitOption {
        section: section.into(),
        name: name.into(),
        value: value.into(),
    }
}

/// A unit with a description and one ExecStart.
pub fn unit(name: &str, description: &str, desired: &str, current: &str, machine: &str) -> Unit {
    Unit {
        name: name.into(),
        options: vec![
            option("Unit", "Description", description),
            option("Service", "ExecStart", "/usr/bin/sleep infinity"),
        ],
        desired_state: desired.into(),
        current_state: current.into(),
        machine_id: machine.into(),
    }
}

pub fn is_global(unit: &Unit) -> bool {
    fleetctl::units::is_global(unit)
}

pub fn unit_hash(unit: &Unit) -> String {
    fleetctl::units::unit_file(unit)
        .map(|file| file.hash().to_hex())
        .unwrap_or_default()
}

type Shared = Arc<Mutex<Cluster>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Cluster> {
    shared.lock().expect("the fake's lock is never poisoned")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(ErrorEnvelope::new(status.as_u16(), message))).into_response()
}

async fn log(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    lock(&shared).requests.push(line);
    next.run(request).await
}

fn token(
    query: &BTreeMap<String, String>,
    limit: u16,
) -> Result<Option<PageToken>, PageTokenError> {
    query
        .get("nextPageToken")
        .map(|text| PageToken::decode(text, limit))
        .transpose()
}

async fn list_units(
    State(shared): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let cluster = lock(&shared);
    let token = match token(&query, cluster.page_limit) {
        Ok(token) => token,
        Err(refusal) => return error(StatusCode::BAD_REQUEST, &refusal.to_string()),
    };
    let units: Vec<Unit> = cluster
        .units
        .values()
        .cloned()
        .map(|mut unit| {
            if is_global(&unit) {
                unit.current_state = "inactive".into();
            }
            unit
        })
        .collect();
    let page = slice(units, token, cluster.page_limit);
    Json(UnitPage {
        units: page.items,
        next_page_token: page.next.map(PageToken::encode).unwrap_or_default(),
    })
    .into_response()
}

async fn get_unit(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let mut cluster = lock(&shared);
    cluster.read(&name);
    match cluster.units.get(&name) {
        Some(unit) => Json(unit.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "unit does not exist"),
    }
}

async fn delete_unit(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let mut cluster = lock(&shared);
    if cluster.units.remove(&name).is_none() {
        return error(StatusCode::NOT_FOUND, "unit does not exist");
    }
    cluster.states.retain(|state| state.name != name);
    StatusCode::NO_CONTENT.into_response()
}

async fn put_unit(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        != Some("application/json")
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
        );
    }
    let Ok(sent) = serde_json::from_slice::<Unit>(&body) else {
        return error(StatusCode::BAD_REQUEST, "unable to decode body");
    };
    if !sent.name.is_empty() && sent.name != name {
        return error(
            StatusCode::BAD_REQUEST,
            "name in URL does not match name in body",
        );
    }
    if let Err(refusal) = UnitName::parse(&name) {
        return error(StatusCode::BAD_REQUEST, &refusal.to_string());
    }
    let mut cluster = lock(&shared);
    let changed_contents = match cluster.units.get(&name) {
        None if sent.options.is_empty() => {
            return error(
                StatusCode::CONFLICT,
                "unit does not exist and options field empty",
            )
        }
        None => true,
        Some(stored) => !sent.options.is_empty() && unit_hash(stored) != unit_hash(&sent),
    };
    if changed_contents {
        cluster.store(&name, sent);
        return StatusCode::CREATED.into_response();
    }
    if sent.desired_state.is_empty() {
        return error(
            StatusCode::CONFLICT,
            "unit does not exist and options field empty",
        );
    }
    if let Some(stored) = cluster.units.get_mut(&name) {
        stored.desired_state = sent.desired_state;
    }
    cluster.desired_changed(&name);
    StatusCode::NO_CONTENT.into_response()
}

async fn list_states(
    State(shared): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let cluster = lock(&shared);
    let token = match token(&query, cluster.page_limit) {
        Ok(token) => token,
        Err(refusal) => return error(StatusCode::BAD_REQUEST, &refusal.to_string()),
    };
    let states: Vec<UnitState> = cluster
        .states
        .iter()
        .filter(|state| {
            query
                .get("machineID")
                .is_none_or(|id| *id == state.machine_id)
        })
        .filter(|state| query.get("unitName").is_none_or(|name| *name == state.name))
        .cloned()
        .collect();
    let page = slice(states, token, cluster.page_limit);
    Json(UnitStatePage {
        states: page.items,
        next_page_token: page.next.map(PageToken::encode).unwrap_or_default(),
    })
    .into_response()
}

async fn get_state(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let cluster = lock(&shared);
    match cluster.states.iter().find(|state| state.name == name) {
        Some(state) => Json(state.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "unit state does not exist"),
    }
}

async fn list_machines(
    State(shared): State<Shared>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let cluster = lock(&shared);
    let token = match token(&query, cluster.page_limit) {
        Ok(token) => token,
        Err(refusal) => return error(StatusCode::BAD_REQUEST, &refusal.to_string()),
    };
    let page = slice(cluster.machines.clone(), token, cluster.page_limit);
    Json(MachinePage {
        machines: page.items,
        next_page_token: page.next.map(PageToken::encode).unwrap_or_default(),
    })
    .into_response()
}

async fn get_pending(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let cluster = lock(&shared);
    match cluster.pending.get(&name) {
        Some(record) => Json(record.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "unit is not pending"),
    }
}

async fn get_why(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let cluster = lock(&shared);
    match cluster.why.get(&name) {
        Some(body) => Json(body.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "unit does not exist"),
    }
}

async fn put_replicas(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let mut cluster = lock(&shared);
    if !cluster.units.contains_key(&name) {
        return error(StatusCode::NOT_FOUND, "unit does not exist");
    }
    let Some(count) = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body["count"].as_u64())
        .and_then(|count| u32::try_from(count).ok())
    else {
        return error(StatusCode::BAD_REQUEST, "unable to decode body");
    };
    cluster.scaled.insert(name, count);
    StatusCode::NO_CONTENT.into_response()
}

async fn put_cordon(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let mut cluster = lock(&shared);
    if !cluster.machines.iter().any(|machine| machine.id == id) {
        return error(StatusCode::NOT_FOUND, "machine does not exist");
    }
    cluster.cordoned.insert(id);
    StatusCode::NO_CONTENT.into_response()
}

async fn delete_cordon(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    lock(&shared).cordoned.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}

async fn put_rollout(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let mut cluster = lock(&shared);
    if !cluster.units.contains_key(&name) {
        return error(StatusCode::NOT_FOUND, "unit does not exist");
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "unable to decode body");
    };
    cluster.replaced.insert(name.clone(), body);
    let shown = serde_json::json!({"unit": name, "state": "running"});
    (StatusCode::ACCEPTED, Json(shown)).into_response()
}

async fn list_rollouts(State(shared): State<Shared>) -> Response {
    let mut cluster = lock(&shared);
    let mut rollouts = Vec::new();
    for script in cluster.rollout_script.values_mut() {
        let shown = if script.len() > 1 {
            script.pop_front()
        } else {
            script.front().cloned()
        };
        rollouts.extend(shown);
    }
    Json(serde_json::json!({ "rollouts": rollouts })).into_response()
}

async fn list_replicas(State(shared): State<Shared>) -> Response {
    let cluster = lock(&shared);
    Json(serde_json::json!({"replicas": cluster.replica_sets})).into_response()
}

async fn list_completions(State(shared): State<Shared>) -> Response {
    let cluster = lock(&shared);
    Json(serde_json::json!({"completions": cluster.completions})).into_response()
}

fn text_for(cluster: &Cluster, name: &str, texts: &BTreeMap<String, String>) -> Response {
    if !cluster.units.contains_key(name) {
        return error(StatusCode::NOT_FOUND, "unit does not exist");
    }
    match texts.get(name) {
        Some(text) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            Body::from(text.clone()),
        )
            .into_response(),
        None => error(StatusCode::CONFLICT, "unit is not running on any machine"),
    }
}

async fn get_status(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let cluster = lock(&shared);
    text_for(&cluster, &name, &cluster.status_texts)
}

async fn get_journal(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let cluster = lock(&shared);
    text_for(&cluster, &name, &cluster.journal_texts)
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/fleet/v1/units", get(list_units))
        .route(
            "/fleet/v1/units/{name}",
            get(get_unit).put(put_unit).delete(delete_unit),
        )
        .route("/fleet/v1/state", get(list_states))
        .route("/fleet/v1/state/{name}", get(get_state))
        .route("/fleet/v1/machines", get(list_machines))
        .route("/keel/v1/units/{name}/pending", get(get_pending))
        .route("/keel/v1/units/{name}/status", get(get_status))
        .route("/keel/v1/units/{name}/journal", get(get_journal))
        .route("/keel/v1/units/{name}/why", get(get_why))
        .route("/keel/v1/units/{name}/replicas", put(put_replicas))
        .route("/keel/v1/replicas", get(list_replicas))
        .route("/keel/v1/completions", get(list_completions))
        .route("/keel/v1/units/{name}/rollout", put(put_rollout))
        .route("/keel/v1/rollouts", get(list_rollouts))
        .route(
            "/keel/v1/machines/{id}/cordon",
            put(put_cordon).delete(delete_cordon),
        )
        .layer(middleware::from_fn_with_state(shared.clone(), log))
        .with_state(shared)
}

/// What one fleetctl run printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// A running fake fleetd.
pub struct Fake {
    pub cluster: Shared,
    pub endpoint: String,
    task: tokio::task::JoinHandle<()>,
    _directory: Option<tempfile::TempDir>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fast polling for tests: a poll every millisecond, two polls per attempt.
pub fn test_poll() -> Poll {
    Poll {
        interval: Duration::from_millis(1),
        polls_per_attempt: 2,
    }
}

impl Fake {
    /// Serves `cluster` on 127.0.0.1, on a port the system picks.
    pub async fn tcp(cluster: Cluster) -> Fake {
        let shared = Arc::new(Mutex::new(cluster));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("a bound address");
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            cluster: shared,
            endpoint: format!("http://{address}"),
            task,
            _directory: None,
        }
    }

    /// Serves `cluster` on a unix socket in a fresh temporary directory.
    pub async fn unix(cluster: Cluster) -> Fake {
        let shared = Arc::new(Mutex::new(cluster));
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("fleet.sock");
        let listener = tokio::net::UnixListener::bind(&path).expect("a unix socket");
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            cluster: shared,
            endpoint: format!("unix://{}", path.display()),
            task,
            _directory: Some(directory),
        }
    }

    /// Runs `fleetctl --endpoint <fake> <args>`.
    pub async fn run(&self, args: &[&str]) -> Outcome {
        let mut full = vec!["fleetctl", "--endpoint", self.endpoint.as_str()];
        full.extend_from_slice(args);
        run_fleetctl(&full).await
    }

    pub fn with<T>(&self, change: impl FnOnce(&mut Cluster) -> T) -> T {
        change(&mut lock(&self.cluster))
    }
}

/// Runs fleetctl with exactly `args` (the program name first).
pub async fn run_fleetctl(args: &[&str]) -> Outcome {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = fleetctl::run(args.iter().copied(), test_poll(), &mut stdout, &mut stderr).await;
    Outcome {
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
        code,
    }
}

/// The unit file text of a simple service.
pub fn service_text(description: &str) -> String {
    format!("[Unit]\nDescription={description}\n\n[Service]\nExecStart=/usr/bin/sleep infinity\n")
}

/// Writes `text` to `name` in `directory`; the path, as fleetctl's argument.
pub fn write(directory: &std::path::Path, name: &str, text: &str) -> String {
    let path = directory.join(name);
    std::fs::write(&path, text).expect("a writable temporary directory");
    path.display().to_string()
}

/// Parses a unit file text (fixture helper).
pub fn parse(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("a valid unit file")
}
