//! Keel's routes against a real Keel member: pending reasons, finished batch jobs in `why`
//! and `GET /keel/v1/completions`, `status` and `journal` run
//! here or forwarded to the unit's host over TCP (a second API server in-process), and
//! serving on TCP and on a unix socket with a drain deadline.

mod api_support;

use api_support::*;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use fleet_core::model::{Attempt, DesiredState};
use fleet_registry::wire::CompletionRecord;
use fleetd::api::{bind, serve, ApiListener, ServeError};
use fleetd::config::ListenAddress;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const DEADLINE: Duration = Duration::from_secs(10);
const SERVICE: &str = "[Service]\nExecStart=/bin/true\n";

/// Waits until `condition` holds, checking every few milliseconds, failing after
/// [`DEADLINE`].
async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let started = tokio::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keel_routes_and_serving_on_one_member() {
    // Goal: the pending endpoint's answers; the API's answers counted in its metrics by
    // method and code; each machine's capacity and allocation; a batch job finished on its current file listed
    // and explained with how it ended, one finished on an older file or unloaded not; status and journal answered on the unit's host,
    // here or through a forward that streams and stops when the client goes away; the 409,
    // 404, 400 and 502 cases; serving on TCP and a unix socket, with stale sockets replaced
    // and shutdown bounded by the drain deadline.
    // Method: one member; routers over their own registry prefixes with fake inspectors; a
    // second fleetd served on 127.0.0.1:0 as the remote host; hyper over a unix socket.
    let cluster = cluster();
    let pending = api(&registry(&cluster, "/k-pending/"), 100, M1);
    pending_reasons(&pending).await;
    requests_are_counted(&pending).await;
    finished_batch_jobs(&api(&registry(&cluster, "/k-batch/"), 100, M1)).await;
    allocation_of_machines(&api(&registry(&cluster, "/k-alloc/"), 100, M1)).await;
    inspection_here_and_forwarded(&registry(&cluster, "/k-inspect/")).await;
    unix_socket_serving(&registry(&cluster, "/k-unix/")).await;
}

async fn pending_reasons(api: &Api) {
    let router = &api.router;
    let uri = "/keel/v1/units/p.service/pending";
    create(&api.registry, "p.service", SERVICE, DesiredState::Launched).await;
    assert_eq!(
        get(router, uri).await.error(),
        (404, "unit is not pending".to_owned())
    );
    set_pending(
        &api.registry,
        "p.service",
        "no machine accepts it (2 machines)",
        &[(M1, "MachineMetadata region=eu"), (M2, "Conflicts q*")],
    )
    .await;
    let reply = get(router, uri).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    let golden = format!(
        r#"{{"reason":"no machine accepts it (2 machines)","refusals":[{{"machine":"{M1}","rule":"MachineMetadata region=eu"}},{{"machine":"{M2}","rule":"Conflicts q*"}}]}}"#
    );
    assert_eq!(reply.text(), golden);
    let missing = get(router, "/keel/v1/units/nope.service/pending").await;
    assert_eq!(missing.error(), (404, "unit does not exist".to_owned()));
}

/// After [`pending_reasons`] (two 404s and one 200, all GETs), `/metrics` counts them: the
/// requests that reached it before it, and not the one that reads it.
async fn requests_are_counted(api: &Api) {
    let text = get(&api.router, "/metrics").await.text();
    for line in [
        r#"fleet_api_requests_total{method="GET",code="404"} 2"#,
        r#"fleet_api_requests_total{method="GET",code="200"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    let put = put(&api.router, "/keel/v1/units/p.service/replicas", "{").await;
    assert_eq!(put.status, StatusCode::BAD_REQUEST);
    let text = get(&api.router, "/metrics").await.text();
    for line in [
        r#"fleet_api_requests_total{method="GET",code="200"} 2"#,
        r#"fleet_api_requests_total{method="PUT",code="400"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
}

/// `GET /keel/v1/allocation`: a machine with capacity shows it and the requests of the
/// unit placed there (the inactive one does not count); one without capacity shows none.
async fn allocation_of_machines(api: &Api) {
    const SIZED: &str = "[Service]\nExecStart=/bin/true\n[X-Fleet]\nCpu=500m\nMemory=256M\n";
    let (router, registry) = (&api.router, &api.registry);
    let sized = fleet_registry::wire::MachineObject {
        id: id(M1),
        public_ip: "10.0.0.1".into(),
        metadata: std::collections::BTreeMap::new(),
        engine_disabled: false,
        version: "0.1.0".into(),
        api_url: None,
        capacity: Some(fleet_core::resources::Resources {
            cpu_millis: 2000,
            memory_bytes: 1 << 30,
        }),
        cordoned: false,
    };
    registry
        .announce(&sized, Duration::from_secs(600))
        .await
        .expect("announces");
    announce(registry, M2, None).await;
    create(registry, "web.service", SIZED, DesiredState::Launched).await;
    place(registry, "web.service", M1).await;
    create(registry, "old.service", SIZED, DesiredState::Inactive).await;
    place(registry, "old.service", M1).await;
    let reply = get(router, "/keel/v1/allocation").await;
    assert_eq!(reply.status, StatusCode::OK);
    let golden = format!(
        r#"{{"machines":[{{"machine":"{M1}","primaryIp":"10.0.0.1","capacity":{{"cpuMillis":2000,"memoryBytes":1073741824}},"allocated":{{"cpuMillis":500,"memoryBytes":268435456}}}},{{"machine":"{M2}","primaryIp":"10.0.0.{}","allocated":{{"cpuMillis":0,"memoryBytes":0}}}}]}}"#,
        M2.len()
    );
    assert_eq!(reply.text(), golden);
}

async fn finished_batch_jobs(api: &Api) {
    const JOB: &str = "[Service]\nType=oneshot\nExecStart=/bin/false\n";
    let (router, registry) = (&api.router, &api.registry);
    announce(registry, M1, None).await;
    create(registry, "job.service", JOB, DesiredState::Launched).await;
    place(registry, "job.service", M1).await;
    let ended = CompletionRecord {
        hash: unit_file(JOB).hash(),
        machine: id(M1),
        result: "exit-code".into(),
        exit_status: 1,
        finished_ms: 1_700_000_000_000,
        attempt: Attempt::ONLY,
    };
    registry
        .put_completion("job.service", &ended)
        .await
        .expect("writes");
    let completion = format!(
        r#"{{"unit":"job.service","machine":"{M1}","result":"exit-code","exitStatus":1,"finished":1700000000000,"summary":"failed (exit-code, status 1)"}}"#
    );
    let listed = get(router, "/keel/v1/completions").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.text(),
        format!(r#"{{"completions":[{completion}]}}"#)
    );
    let why = get(router, "/keel/v1/units/job.service/why").await;
    assert_eq!(
        why.text(),
        format!(
            r#"{{"unit":"job.service","placed":"{M1}","desiredState":"launched","completion":{completion},"machines":[]}}"#
        )
    );
    // A run of an older file: the job is not finished, so it is judged as any unit.
    let older = CompletionRecord {
        hash: unit_file(SERVICE).hash(),
        ..ended.clone()
    };
    registry
        .put_completion("job.service", &older)
        .await
        .expect("writes");
    assert_eq!(
        get(router, "/keel/v1/completions").await.text(),
        r#"{"completions":[]}"#
    );
    let why = get(router, "/keel/v1/units/job.service/why").await.json();
    assert_eq!(why["completion"], serde_json::Value::Null, "{why}");
    assert_eq!(why["machines"][0]["machine"], M1, "{why}");
    // Unloaded: the record is forgotten, so the job runs again when started.
    registry
        .put_completion("job.service", &ended)
        .await
        .expect("writes");
    registry
        .set_desired_state("job.service", DesiredState::Inactive)
        .await
        .expect("writes");
    assert_eq!(
        get(router, "/keel/v1/completions").await.text(),
        r#"{"completions":[]}"#
    );
}

/// The first chunk of a streamed body, then the response is dropped (the client leaves).
async fn first_chunk(router: &axum::Router, uri: &str) -> (StatusCode, String) {
    let response = within(
        "a response head",
        router.clone().oneshot(request(Method::GET, uri, "")),
    )
    .await
    .expect("infallible");
    let status = response.status();
    let mut body = response.into_body();
    let frame = within("a first chunk", body.frame())
        .await
        .expect("a frame")
        .expect("a readable frame");
    let data = frame.into_data().expect("data");
    (status, String::from_utf8_lossy(&data).into_owned())
}

async fn inspection_here_and_forwarded(registry: &fleet_registry::Registry) {
    let here = api(registry, 100, M1);
    let there = api(registry, 100, M2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("an address");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        there.router.clone(),
        vec![ApiListener::Tcp(listener)],
        shutdown.clone(),
        Duration::from_secs(2),
    ));
    announce(registry, M1, None).await;
    announce(registry, M2, Some(format!("http://{address}"))).await;
    announce(registry, M3, None).await;
    for (name, machine) in [
        ("local.service", Some(M1)),
        ("remote.service", Some(M2)),
        ("noapi.service", Some(M3)),
        ("unplaced.service", None),
    ] {
        create(registry, name, SERVICE, DesiredState::Launched).await;
        if let Some(machine) = machine {
            place(registry, name, machine).await;
        }
    }
    create(
        registry,
        "all.service",
        "[X-Fleet]\nGlobal=true\n",
        DesiredState::Launched,
    )
    .await;

    answered_on_the_host(&here, &there).await;
    refusals_of_inspection(&here).await;
    followed_journals_stop_with_the_client(&here, &there).await;
    shutdown.cancel();
    within("the server to stop", server)
        .await
        .expect("joins")
        .expect("served");
}

async fn answered_on_the_host(here: &Api, there: &Api) {
    let local = get(&here.router, "/keel/v1/units/local.service/status").await;
    assert_eq!(
        (local.status, local.text()),
        (StatusCode::OK, format!("status of local.service on {M1}\n"))
    );
    assert_eq!(local.content_type(), "text/plain; charset=utf-8");
    let remote = get(&here.router, "/keel/v1/units/remote.service/status").await;
    assert_eq!(
        (remote.status, remote.text()),
        (
            StatusCode::OK,
            format!("status of remote.service on {M2}\n")
        )
    );
    let journal = get(
        &here.router,
        "/keel/v1/units/remote.service/journal?lines=5&output=json",
    )
    .await;
    assert_eq!(
        journal.text(),
        format!("journal of remote.service on {M2} (lines=5&output=json&follow=false)\n")
    );
    assert_eq!(here.inspector.calls(), ["status local.service"]);
    assert_eq!(
        there.inspector.calls(),
        [
            "status remote.service",
            "journal remote.service lines=5&output=json&follow=false"
        ]
    );

    let marked = Request::get("/keel/v1/units/local.service/status")
        .header("keel-forwarded-by", M1)
        .body(Body::empty())
        .expect("a request");
    let answered_there = send(&there.router, marked).await;
    assert_eq!(
        answered_there.text(),
        format!("status of local.service on {M2}\n"),
        "a marked request is never forwarded again"
    );
}

async fn refusals_of_inspection(here: &Api) {
    let refusals: &[(&str, u16, &str)] = &[
        (
            "unplaced.service/status",
            409,
            "unit unplaced.service is not loaded on any machine",
        ),
        (
            "all.service/journal",
            409,
            "unit all.service is not loaded on any machine",
        ),
        ("missing.service/status", 404, "unit does not exist"),
        (
            "local.service/journal?lines=many",
            400,
            "invalid lines \"many\"",
        ),
        (
            "local.service/journal?output=fancy",
            400,
            "invalid output \"fancy\"",
        ),
        (
            "local.service/journal?follow=maybe",
            400,
            "invalid follow \"maybe\"",
        ),
        ("noapi.service/status", 502, "publishes no API URL"),
    ];
    for (path, status, message) in refusals {
        let (code, text) = get(&here.router, &format!("/keel/v1/units/{path}"))
            .await
            .error();
        assert_eq!(code, *status, "{path}: {text}");
        assert!(text.contains(message), "{path}: {text}");
    }
}

async fn followed_journals_stop_with_the_client(here: &Api, there: &Api) {
    let (status, text) = first_chunk(
        &here.router,
        "/keel/v1/units/local.service/journal?follow=true",
    )
    .await;
    assert_eq!(
        (status, text),
        (
            StatusCode::OK,
            format!("journal of local.service on {M1} (lines=10&output=short&follow=true)\n")
        )
    );
    wait_until("the local journal to stop", || {
        here.inspector.journals_dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    let (status, text) = first_chunk(
        &here.router,
        "/keel/v1/units/remote.service/journal?follow=true&lines=3",
    )
    .await;
    assert_eq!(
        (status, text),
        (
            StatusCode::OK,
            format!("journal of remote.service on {M2} (lines=3&output=short&follow=true)\n")
        )
    );
    wait_until("the remote journal to stop", || {
        there.inspector.journals_dropped.load(Ordering::SeqCst) == 1
    })
    .await;
}

async fn unix_socket_serving(registry: &fleet_registry::Registry) {
    let api = api(registry, 100, M1);
    announce(registry, M1, None).await;
    create(registry, "tail.service", SERVICE, DesiredState::Launched).await;
    place(registry, "tail.service", M1).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("run").join("fleet.sock");
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("creates");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("binds a stale socket"));
    let not_a_socket = dir.path().join("file");
    std::fs::write(&not_a_socket, "keep me").expect("writes");
    let refused = bind(&[ListenAddress::Unix(not_a_socket.clone())]).await;
    assert!(
        matches!(refused, Err(ServeError::NotASocket { .. })),
        "{refused:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&not_a_socket).expect("kept"),
        "keep me"
    );

    let listeners = bind(&[ListenAddress::Unix(path.clone())])
        .await
        .expect("replaces the stale socket");
    let shutdown = CancellationToken::new();
    let drain = Duration::from_millis(300);
    let server = tokio::spawn(serve(
        api.router.clone(),
        listeners,
        shutdown.clone(),
        drain,
    ));
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .expect("connects");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshakes");
    let driver = tokio::spawn(connection);
    let ask = |uri: &str| {
        Request::get(uri)
            .header(header::HOST, "localhost")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .expect("a request")
    };
    let machines = within("machines", sender.send_request(ask("/fleet/v1/machines")))
        .await
        .expect("answers");
    assert_eq!(machines.status(), StatusCode::OK);
    assert_eq!(
        machines.headers()[header::SERVER],
        concat!("fleetd/", env!("CARGO_PKG_VERSION"))
    );
    let body = machines
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains(M1));

    within("the connection to be ready", sender.ready())
        .await
        .expect("ready again");
    let following = within(
        "a journal",
        sender.send_request(ask("/keel/v1/units/tail.service/journal?follow=true")),
    )
    .await
    .expect("answers");
    let mut body = following.into_body();
    within("a first chunk", body.frame())
        .await
        .expect("a frame")
        .expect("readable");
    shutdown.cancel();
    within("the server to stop after the drain deadline", server)
        .await
        .expect("joins")
        .expect("served");
    wait_until("the followed journal to stop", || {
        api.inspector.journals_dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    drop(body);
    driver.abort();
}
