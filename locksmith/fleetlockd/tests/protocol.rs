//! The FleetLock endpoints with the protocol's exact requests, served in-process on a real
//! Keel member: statuses, error bodies, idempotence, and slots shared with locksmith's
//! semaphore (what `locksmithd` and `locksmithctl` use).

use kv_client::{Client, ClientConfig};
use locksmith_store::SemaphoreStore;
use testkit::Cluster;

/// One answer: status and body.
type Answer = (u16, String);

async fn serve(cluster: &Cluster) -> (String, Client) {
    let client = Client::new(ClientConfig::new(vec![cluster.url(0).to_owned()])).expect("client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    // Ends with the test's runtime.
    tokio::spawn(fleetlockd::serve(listener, client.clone()));
    (base, client)
}

async fn post(url: String, header: Option<&'static str>, body: String) -> Answer {
    tokio::task::spawn_blocking(move || {
        let mut request = ureq::post(&url).set("content-type", "application/json");
        if let Some(value) = header {
            request = request.set("fleet-lock-protocol", value);
        }
        match request.send_string(&body) {
            Ok(response) => (
                response.status(),
                response.into_string().unwrap_or_default(),
            ),
            Err(ureq::Error::Status(status, response)) => {
                (status, response.into_string().unwrap_or_default())
            }
            Err(error) => panic!("no answer from {url}: {error}"),
        }
    })
    .await
    .expect("the request ran")
}

fn params(id: &str, group: &str) -> String {
    format!(r#"{{"client_params":{{"id":"{id}","group":"{group}"}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_reboot_and_steady_state_are_idempotent_and_share_locksmiths_slots() {
    // Goal: pre-reboot takes a slot of locksmith's default group for FleetLock's `default`,
    // again and again for the same id; another id is refused while full (409, failed_lock);
    // steady-state gives it back, also when not held; a named group is locksmith's group.
    // Method: the protocol's requests in sequence, the semaphore read through locksmith-store.
    let cluster = Cluster::start(1, &[]);
    let (base, client) = serve(&cluster).await;
    let lock = format!("{base}/v1/pre-reboot");
    let unlock = format!("{base}/v1/steady-state");
    let default = SemaphoreStore::new(client.clone(), "");
    assert_eq!(
        post(lock.clone(), Some("true"), params("zincati-1", "default")).await,
        (200, String::new())
    );
    assert_eq!(
        post(lock.clone(), Some("true"), params("zincati-1", "default"))
            .await
            .0,
        200
    );
    assert_eq!(
        default.read().await.expect("read").semaphore.holders,
        ["zincati-1"]
    );
    let (status, body) = post(lock.clone(), Some("true"), params("zincati-2", "default")).await;
    assert_eq!(status, 409, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["kind"], "failed_lock");
    assert!(
        error["value"]
            .as_str()
            .is_some_and(|v| v.contains("semaphore is at 0")),
        "{body}"
    );
    assert_eq!(
        post(unlock.clone(), Some("true"), params("zincati-1", "default"))
            .await
            .0,
        200
    );
    assert_eq!(
        post(unlock.clone(), Some("true"), params("zincati-1", "default"))
            .await
            .0,
        200
    );
    assert!(default
        .read()
        .await
        .expect("read")
        .semaphore
        .holders
        .is_empty());

    // A locksmith host holds the default group's slot: FleetLock clients wait for it.
    default.lock("locksmith-host", 0).await.expect("lock");
    assert_eq!(
        post(lock.clone(), Some("true"), params("zincati-2", "default"))
            .await
            .0,
        409
    );
    default.unlock("locksmith-host", 0).await.expect("unlock");
    assert_eq!(
        post(lock.clone(), Some("true"), params("zincati-2", "default"))
            .await
            .0,
        200
    );

    assert_eq!(
        post(lock, Some("true"), params("w1", "workers")).await.0,
        200
    );
    let workers = SemaphoreStore::new(client, "workers");
    assert_eq!(
        workers.read().await.expect("read").semaphore.holders,
        ["w1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_protocols_errors() {
    // Goal: a request without the header, with a bad body, to an unknown path, or against a
    // malformed semaphore is refused with a status and a {"kind","value"} body, and nothing is
    // written. Method: each bad request, then the semaphore's index compared.
    let cluster = Cluster::start(1, &[]);
    let (base, client) = serve(&cluster).await;
    let lock = format!("{base}/v1/pre-reboot");
    let store = SemaphoreStore::new(client.clone(), "");
    store.init().await.expect("init");
    let before = store.read().await.expect("read").index;
    for (header, body, status, kind) in [
        (None, params("a", "default"), 400, "missing_protocol_header"),
        (
            Some("yes"),
            params("a", "default"),
            400,
            "missing_protocol_header",
        ),
        (Some("true"), "{".to_owned(), 400, "bad_request"),
        (
            Some("true"),
            r#"{"client_params":{"id":"a"}}"#.to_owned(),
            400,
            "bad_request",
        ),
        (Some("true"), params("", "default"), 400, "bad_request"),
    ] {
        let (got, text) = post(lock.clone(), header, body.clone()).await;
        let error: serde_json::Value = serde_json::from_str(&text).expect("a JSON error");
        assert_eq!(
            (got, error["kind"].as_str()),
            (status, Some(kind)),
            "{body}: {text}"
        );
        assert!(error["value"].is_string(), "{text}");
    }
    let (status, text) = post(
        format!("{base}/v2/pre-reboot"),
        Some("true"),
        params("a", "g"),
    )
    .await;
    assert_eq!(status, 404, "{text}");
    assert_eq!(
        store.read().await.expect("read").index,
        before,
        "nothing written"
    );

    client
        .set(
            locksmith_core::semaphore::DEFAULT_KEY,
            "garbage",
            kv_client::SetOptions::default(),
        )
        .await
        .expect("set");
    let (status, text) = post(lock, Some("true"), params("a", "default")).await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("bad_semaphore"), "{text}");
}
