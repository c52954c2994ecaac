//! `Client::batch` sends one request to Keel's batch endpoint and decodes each write's reply,
//! and falls back to one request per write where the endpoint is missing (etcd's 404).

use crate::config;
use crate::fake::{FakeServer, Reply};
use kv_client::{
    Batch, Client, ClientError, DeleteOptions, PrevConditions, SetOptions, StoreIndex,
};

const CREATED: &str =
    "{\"action\":\"create\",\"node\":{\"key\":\"/a\",\"value\":\"1\",\"modifiedIndex\":7,\"createdIndex\":7}}\n";
const EXISTS: &str =
    "{\"errorCode\":105,\"message\":\"Key already exists\",\"cause\":\"/b\",\"index\":7}";

fn batch() -> Batch {
    let mut batch = Batch::new();
    batch
        .create("/a", "1", SetOptions::default())
        .create("/b", "2", SetOptions::default())
        .delete(
            "/c",
            DeleteOptions {
                dir: false,
                recursive: true,
            },
        );
    batch
}

// Goal: one POST with the writes as the v2 requests would carry them, JSON typed, and each
// write's reply decoded as a single request's: a success with its own index, an etcd error.
#[tokio::test]
async fn a_batch_is_one_request_and_each_write_gets_its_reply() {
    let answer = format!(
        "{{\"results\":[{{\"status\":201,\"index\":7,\"response\":{}}},{{\"status\":412,\"index\":7,\"response\":{EXISTS}}},{{\"status\":200,\"index\":8,\"response\":{{\"action\":\"delete\",\"node\":{{\"key\":\"/c\",\"dir\":true,\"modifiedIndex\":8,\"createdIndex\":3}}}}}}]}}",
        CREATED.trim_end()
    );
    let server = FakeServer::start(move |_, _| Reply::keys(200, 8, &answer)).await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let results = client.batch(&batch()).await.unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/keel/v1/batch")
    );
    assert_eq!(
        requests[0].content_type.as_deref(),
        Some("application/json")
    );
    let sent: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!([
            {"method": "PUT", "key": "/a", "form": "value=1&prevExist=false"},
            {"method": "PUT", "key": "/b", "form": "value=2&prevExist=false"},
            {"method": "DELETE", "key": "/c", "form": "dir=true&recursive=true"},
        ])
    );
    assert_eq!(results.len(), 3);
    let created = results[0].as_ref().unwrap();
    assert_eq!(created.etcd_index, StoreIndex(7));
    assert_eq!(created.node.value.as_deref(), Some("1"));
    assert!(
        matches!(results[1], Err(ClientError::Etcd { code: 105, .. })),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap().etcd_index, StoreIndex(8));
}

// Goal: against a server without the endpoint the writes go one by one, in order, with the
// same answers; a write that cannot be built refuses the batch before anything is sent.
#[tokio::test]
async fn without_the_endpoint_the_writes_go_one_by_one() {
    let server = FakeServer::start(|request, _| match request.path.as_str() {
        "/keel/v1/batch" => Reply::plain(404, "404 page not found\n"),
        "/v2/keys/b" => Reply::keys(412, 7, EXISTS),
        _ => Reply::keys(201, 7, CREATED),
    })
    .await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let results = client.batch(&batch()).await.unwrap();
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /keel/v1/batch",
            "PUT /v2/keys/a",
            "PUT /v2/keys/b",
            "DELETE /v2/keys/c"
        ]
    );
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(matches!(
        results[1],
        Err(ClientError::Etcd { code: 105, .. })
    ));

    let mut bad = Batch::new();
    bad.set("/x", "1", SetOptions::default()).compare_and_swap(
        "/y",
        "2",
        &PrevConditions::default(),
        SetOptions::default(),
    );
    assert!(matches!(
        client.batch(&bad).await,
        Err(ClientError::InvalidRequest(_))
    ));
    assert_eq!(
        server.requests().len(),
        4,
        "nothing sent for a refused batch"
    );
}
