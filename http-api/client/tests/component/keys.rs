//! Every keys and cluster method sends exactly etcd's request and decodes the reply.

use crate::config;
use crate::fake::{FakeServer, Recorded, Reply};
use kv_client::{
    Action, Client, DeleteOptions, GetOptions, PrevConditions, SetOptions, StoreIndex,
};
use std::time::Duration;

const SET_BODY: &str =
    "{\"action\":\"set\",\"node\":{\"key\":\"/k\",\"value\":\"v\",\"modifiedIndex\":5,\"createdIndex\":5}}\n";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn ttl(seconds: u64) -> SetOptions {
    SetOptions {
        ttl: Some(Duration::from_secs(seconds)),
    }
}

async fn one_request(server: &FakeServer, count: usize) -> Recorded {
    server.wait_for_requests(count).await;
    server.requests()[count - 1].clone()
}

// Goal: each write of a value sends the method, path and form etcdctl would. Method: run the
// methods against a server that records requests and answers a canned set event.
#[tokio::test]
async fn value_writes_send_etcd_parameters() {
    let server = FakeServer::start(|_, _| Reply::keys(200, 5, SET_BODY)).await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let none = SetOptions::default();
    let prev = PrevConditions {
        value: Some("old".to_owned()),
        index: Some(StoreIndex(4)),
    };

    let response = client.set("/k", "v", ttl(9)).await.unwrap();
    assert_eq!(response.action, Action::Set);
    assert_eq!(response.etcd_index, StoreIndex(5));
    let request = one_request(&server, 1).await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("PUT", "/v2/keys/k")
    );
    let form_type = "application/x-www-form-urlencoded";
    assert_eq!(request.content_type.as_deref(), Some(form_type));
    assert_eq!(request.form(), pairs(&[("value", "v"), ("ttl", "9")]));

    client.create("/k", "v", none).await.unwrap();
    let form = one_request(&server, 2).await.form();
    assert_eq!(form, pairs(&[("value", "v"), ("prevExist", "false")]));

    client.update("/k", "v", none).await.unwrap();
    let form = one_request(&server, 3).await.form();
    assert_eq!(form, pairs(&[("value", "v"), ("prevExist", "true")]));

    client
        .compare_and_swap("/k", "v", &prev, none)
        .await
        .unwrap();
    let form = one_request(&server, 4).await.form();
    let expected = [("value", "v"), ("prevValue", "old"), ("prevIndex", "4")];
    assert_eq!(form, pairs(&expected));

    let refresh = Duration::from_secs(30);
    client
        .refresh_ttl("/k", refresh, &PrevConditions::default())
        .await
        .unwrap();
    let form = one_request(&server, 5).await.form();
    assert_eq!(
        form,
        pairs(&[("refresh", "true"), ("ttl", "30"), ("prevExist", "true")])
    );
    client.refresh_ttl("/k", refresh, &prev).await.unwrap();
    let form = one_request(&server, 6).await.form();
    let expected = [
        ("refresh", "true"),
        ("ttl", "30"),
        ("prevValue", "old"),
        ("prevIndex", "4"),
    ];
    assert_eq!(form, pairs(&expected));
}

// Goal: deletes put their parameters in the query; directory and in-order writes send etcdctl's
// form (mkdir = create, setdir = set, updatedir = update, mk --in-order = POST).
#[tokio::test]
async fn delete_dir_and_in_order_writes_send_etcd_parameters() {
    let server = FakeServer::start(|_, _| Reply::keys(200, 5, SET_BODY)).await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let none = SetOptions::default();

    client
        .compare_and_delete("/k", &PrevConditions::value("old"))
        .await
        .unwrap();
    let request = one_request(&server, 1).await;
    assert_eq!(request.method, "DELETE");
    assert_eq!(request.query, "prevValue=old");
    assert_eq!(request.body, "");

    let recursive = DeleteOptions {
        dir: true,
        recursive: true,
    };
    client.delete("/d", recursive).await.unwrap();
    assert_eq!(
        one_request(&server, 2).await.query,
        "dir=true&recursive=true"
    );

    client.mkdir("/d", none).await.unwrap();
    let form = one_request(&server, 3).await.form();
    assert_eq!(form, pairs(&[("dir", "true"), ("prevExist", "false")]));

    client.set_dir("/d", none).await.unwrap();
    assert_eq!(
        one_request(&server, 4).await.form(),
        pairs(&[("dir", "true")])
    );

    client.update_dir("/d", ttl(9)).await.unwrap();
    let form = one_request(&server, 5).await.form();
    assert_eq!(
        form,
        pairs(&[("dir", "true"), ("ttl", "9"), ("prevExist", "true")])
    );

    client.create_in_order("/queue", "job", none).await.unwrap();
    let request = one_request(&server, 6).await;
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v2/keys/queue")
    );
    assert_eq!(request.form(), pairs(&[("value", "job")]));
}

// Goal: awkward keys arrive byte for byte and GET options go in the query.
#[tokio::test]
async fn keys_and_get_options_reach_the_server_intact() {
    let server = FakeServer::start(|_, _| Reply::keys(200, 5, SET_BODY)).await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let key = "/dir/a key?#%+ünï/日本";
    let options = GetOptions {
        recursive: true,
        sorted: true,
        quorum: true,
    };
    client.get(key, options).await.unwrap();
    let request = one_request(&server, 1).await;
    assert_eq!(request.method, "GET");
    assert_eq!(request.decoded_path(), format!("/v2/keys{key}"));
    assert_eq!(request.query, "recursive=true&sorted=true&quorum=true");
}

// Goal: etcd error replies come back as typed errors with their code (no retry, one request).
#[tokio::test]
async fn error_replies_are_typed() {
    let body =
        "{\"errorCode\":105,\"message\":\"Key already exists\",\"cause\":\"/k\",\"index\":9}\n";
    let server = FakeServer::start(move |_, _| Reply::keys(412, 9, body)).await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let error = client
        .create("/k", "v", SetOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_key_exists());
    assert_eq!(error.code(), Some(105));
    assert!(!error.is_retriable() && !error.is_indeterminate());
    assert_eq!(server.requests().len(), 1);
}

// Goal: members, leader, version and health decode etcd's bodies.
#[tokio::test]
async fn cluster_endpoints() {
    let members = "{\"members\":[{\"id\":\"8e9e05c52164694d\",\"name\":\"n1\",\"peerURLs\":[\"http://127.0.0.1:2380\"],\"clientURLs\":[\"http://127.0.0.1:2379\"]}]}\n";
    let leader = "{\"id\":\"8e9e05c52164694d\",\"name\":\"n1\",\"peerURLs\":[\"http://127.0.0.1:2380\"],\"clientURLs\":[\"http://127.0.0.1:2379\"]}\n";
    let server = FakeServer::start(move |request, _| match request.path.as_str() {
        "/v2/members" => Reply::plain(200, members),
        "/v2/members/leader" => Reply::plain(200, leader),
        "/version" => Reply::plain(200, "{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}"),
        "/health" => Reply::plain(200, "{\"health\":\"true\"}"),
        _ => Reply::plain(404, "404 page not found"),
    })
    .await;
    let client = Client::new(config(&[&server.endpoint])).unwrap();
    let list = client.members().await.unwrap();
    assert_eq!(list[0].name, "n1");
    assert_eq!(client.leader().await.unwrap().id, "8e9e05c52164694d");
    assert_eq!(client.version().await.unwrap().etcdserver, "3.4.23");
    assert!(client.health(&server.endpoint).await.unwrap());
    let error = client.health("https://127.0.0.1:1").await.unwrap_err();
    assert!(matches!(error, kv_client::ClientError::InvalidRequest(_)));
}
