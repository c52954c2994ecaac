//! Shared fixtures of the API tests: registries over a one-member Keel (each scenario under
//! its own prefix, so one member serves several), routers over them driven in-process, a
//! fake inspector, and the registry writes the engine and agents would make.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use fleet_core::model::{DesiredState, MachineId};
use fleet_core::name::UnitName;
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::{MachineObject, PendingReason, StateReport};
use fleet_registry::{Held, Keys, Registry};
use fleetd::api::inspect::ByteStream;
use fleetd::api::{
    router, ApiSettings, ApiState, InspectError, JournalRequest, Readiness, UnitInspector,
};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
use http_body_util::BodyExt;
use kv_client::{Client, ClientConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::Cluster;
use tower::ServiceExt;

pub const M1: &str = "1111111111111111111111111111111a";
pub const M2: &str = "2222222222222222222222222222222b";
pub const M3: &str = "3333333333333333333333333333333c";

/// A registry under `prefix` in the cluster's member 0, with a client that gives up within
/// a few seconds when the member is gone.
pub fn registry(cluster: &Cluster, prefix: &str) -> Registry {
    let config = ClientConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(4),
        attempts_max: 2,
        ..ClientConfig::new(vec![cluster.url(0).to_owned()])
    };
    Registry::new(
        Client::new(config).expect("valid client"),
        Keys::new(prefix),
    )
}

pub fn id(text: &str) -> MachineId {
    MachineId::parse(text).expect("valid ID")
}

pub fn unit_file(text: &str) -> UnitFile {
    UnitFile::parse(text).expect("test unit parses")
}

/// A fake `systemctl`/`journalctl`: answers name the unit and this machine; a followed
/// journal sends one chunk and then waits forever, counting when it is dropped.
pub struct FakeInspector {
    machine: String,
    pub calls: Mutex<Vec<String>>,
    pub journals_dropped: Arc<AtomicUsize>,
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl FakeInspector {
    pub fn new(machine: &str) -> FakeInspector {
        FakeInspector {
            machine: machine.to_owned(),
            calls: Mutex::new(Vec::new()),
            journals_dropped: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

impl UnitInspector for FakeInspector {
    fn status(&self, unit: &UnitName) -> BoxFuture<'static, Result<Bytes, InspectError>> {
        self.calls
            .lock()
            .expect("not poisoned")
            .push(format!("status {unit}"));
        let text = format!("status of {unit} on {}\n", self.machine);
        Box::pin(async move { Ok(Bytes::from(text)) })
    }

    fn journal(
        &self,
        unit: &UnitName,
        request: &JournalRequest,
    ) -> Result<ByteStream, InspectError> {
        let query = request.to_query();
        self.calls
            .lock()
            .expect("not poisoned")
            .push(format!("journal {unit} {query}"));
        let first = Bytes::from(format!("journal of {unit} on {} ({query})\n", self.machine));
        let head = stream::once(async move { Ok(first) });
        if !request.follow {
            return Ok(head.boxed());
        }
        let guard = DropCounter(self.journals_dropped.clone());
        let tail = stream::once(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(Bytes::new())
        });
        Ok(head.chain(tail).boxed())
    }
}

/// A router over `registry` as machine `machine`, ready, with its fake inspector.
pub struct Api {
    pub router: Router,
    pub readiness: Readiness,
    pub registry: Registry,
    pub inspector: Arc<FakeInspector>,
}

pub fn api(registry: &Registry, token_limit: u16, machine: &str) -> Api {
    let readiness = Readiness::new();
    readiness.set(true);
    let inspector = Arc::new(FakeInspector::new(machine));
    let state = ApiState::new(ApiSettings {
        registry: registry.clone(),
        token_limit,
        machine: id(machine),
        readiness: readiness.clone(),
        inspector: inspector.clone(),
        status: fleetd::status::Status::default(),
    });
    Api {
        router: router(state),
        readiness,
        registry: registry.clone(),
        inspector,
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {:?}", self.body))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The status and the envelope's message, after checking the envelope's shape.
    pub fn error(&self) -> (u16, String) {
        assert_eq!(self.content_type(), "application/json", "{self:?}");
        let json = self.json();
        let code = json["error"]["code"].as_u64().expect("an error code");
        assert_eq!(code, u64::from(self.status.as_u16()), "{json}");
        let message = json["error"]["message"].as_str().expect("a message");
        (self.status.as_u16(), message.to_owned())
    }
}

pub fn request(method: Method, uri: &str, body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

/// Sends `request` through `router` and reads the whole response.
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a readable body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    send(router, request(Method::GET, uri, "")).await
}

pub async fn put(router: &Router, uri: &str, body: &str) -> Reply {
    send(router, request(Method::PUT, uri, body)).await
}

/// Writes machine `machine`'s presence, as its fleetd does on start.
pub async fn announce(registry: &Registry, machine: &str, api_url: Option<String>) {
    let object = MachineObject {
        id: id(machine),
        public_ip: format!("10.0.0.{}", machine.len()),
        metadata: BTreeMap::from([("role".to_owned(), "web".to_owned())]),
        engine_disabled: false,
        version: "0.1.0".to_owned(),
        api_url,
        capacity: None,
        cordoned: false,
    };
    registry
        .announce(&object, Duration::from_secs(600))
        .await
        .expect("announces");
}

/// Places `unit` on `machine`, as the engine does.
pub async fn place(registry: &Registry, unit: &str, machine: &str) {
    registry.place(unit, &id(machine)).await.expect("places");
}

/// Publishes `machine`'s report of `unit`, as its agent does.
pub async fn report(registry: &Registry, unit: &str, machine: &str, launched: bool) {
    let job = registry
        .unit(unit)
        .await
        .expect("reads")
        .expect("the unit exists");
    let state = StateReport {
        load_state: "loaded".into(),
        active_state: if launched { "active" } else { "inactive" }.into(),
        sub_state: if launched { "running" } else { "dead" }.into(),
        machine: id(machine),
        hash: job.hash,
        launched,
    };
    let held = match registry.state(unit, &state.machine).await.expect("reads") {
        Some(found) => Held::At(found.index),
        None => Held::Absent,
    };
    let written = registry.publish_state(unit, &state, held).await;
    assert!(
        written.expect("publishes").is_some(),
        "nobody else writes it"
    );
}

pub async fn create(registry: &Registry, unit: &str, text: &str, desired: DesiredState) {
    registry
        .create_unit(unit, &unit_file(text), desired)
        .await
        .expect("creates");
}

pub async fn set_pending(registry: &Registry, unit: &str, reason: &str, refusals: &[(&str, &str)]) {
    let reason = PendingReason {
        reason: reason.to_owned(),
        refusals: refusals
            .iter()
            .map(|(machine, rule)| ((*machine).to_owned(), (*rule).to_owned()))
            .collect(),
    };
    registry.set_pending(unit, &reason).await.expect("writes");
}

/// A fresh one-member cluster.
pub fn cluster() -> Cluster {
    Cluster::start(1, &[])
}
