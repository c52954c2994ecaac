//! Endpoint discovery from `/v2/members`.

use crate::config;
use crate::fake::{closed_endpoint, FakeServer, Reply};
use kv_client::{Client, Endpoint, GetOptions};

const GET_BODY: &str =
    "{\"action\":\"get\",\"node\":{\"key\":\"/k\",\"value\":\"v\",\"modifiedIndex\":5,\"createdIndex\":5}}\n";

fn members(client_urls: &[&str]) -> String {
    let members: Vec<String> = client_urls
        .iter()
        .enumerate()
        .map(|(id, url)| {
            format!(
                "{{\"id\":\"{:x}\",\"name\":\"n{id}\",\"peerURLs\":[],\"clientURLs\":[\"{url}\"]}}",
                id + 1
            )
        })
        .collect();
    format!("{{\"members\":[{}]}}\n", members.join(","))
}

// Goal: with discovery on, the first call fetches /v2/members from the configured endpoint and
// then talks to the members' client URLs, the configured endpoint kept as fallback.
#[tokio::test]
async fn first_call_discovers_members_and_uses_them() {
    let member = FakeServer::start(|_, _| Reply::keys(200, 5, GET_BODY)).await;
    let member_url = member.endpoint.clone();
    let seed = FakeServer::start(move |request, _| match request.path.as_str() {
        "/v2/members" => Reply::plain(200, &members(&[&member_url])),
        _ => Reply::keys(200, 5, GET_BODY),
    })
    .await;
    let mut settings = config(&[&seed.endpoint]);
    settings.discover_endpoints = true;
    let client = Client::new(settings).unwrap();
    client.get("/k", GetOptions::default()).await.unwrap();
    let paths: Vec<String> = seed.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/v2/members".to_owned()]);
    assert_eq!(member.requests()[0].path, "/v2/keys/k");
    let expected = vec![
        Endpoint::parse(&member.endpoint).unwrap(),
        Endpoint::parse(&seed.endpoint).unwrap(),
    ];
    assert_eq!(client.endpoints(), expected);
}

// Goal: a discovered member that is down is failed over, and the configured seed still
// serves as fallback.
#[tokio::test]
async fn discovered_member_down_falls_back() {
    let down = closed_endpoint();
    let down_url = down.clone();
    let seed = FakeServer::start(move |request, _| match request.path.as_str() {
        "/v2/members" => Reply::plain(200, &members(&[&down_url])),
        _ => Reply::keys(200, 5, GET_BODY),
    })
    .await;
    let client = Client::new(config(&[&seed.endpoint])).unwrap();
    let listed = client.sync_endpoints().await.unwrap();
    assert_eq!(listed[0], Endpoint::parse(&down).unwrap());
    let response = client.get("/k", GetOptions::default()).await.unwrap();
    assert_eq!(response.node.value.as_deref(), Some("v"));
    assert_eq!(seed.requests().last().unwrap().path, "/v2/keys/k");
}
