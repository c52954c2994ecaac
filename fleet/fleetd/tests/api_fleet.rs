//! fleet's v1 API against a real Keel member: the routing table with its 404/405 rules and
//! headers, the PUT decision table, the current-state derivation, state reports, machines
//! and their metadata, pagination, and the 503s. Each scenario has its own registry prefix,
//! so one member serves them all.

mod api_support;

use api_support::*;
use axum::http::{header, Method, StatusCode};
use fleet_api::page::PageToken;
use fleet_core::model::DesiredState;
use kv_client::SetOptions;
use serde_json::json;

const HELLO_URI: &str = "/fleet/v1/units/hello.service";

const SERVER: &str = concat!("fleetd/", env!("CARGO_PKG_VERSION"));

const HELLO: &str = r#"{"desiredState":"launched","options":[{"section":"Unit","name":"Description","value":"Hello"},{"section":"Service","name":"ExecStart","value":"/bin/sleep 1000"},{"section":"Service","name":"Environment","value":""}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_v1_api_on_one_member() {
    // Goal: every fleet v1 route's answers, shapes and errors, as fleet's server gives them,
    // with Keel's fixes (desired states and templates checked before anything is stored).
    // Method: one member; each scenario a router over its own registry prefix, driven
    // in-process; the engine's and agents' writes made directly through the registry.
    let cluster = cluster();
    routing_rules(&api(&registry(&cluster, "/t-routing/"), 100, M1)).await;
    put_decision_table(&api(&registry(&cluster, "/t-units/"), 100, M1)).await;
    current_state_and_reports(&api(&registry(&cluster, "/t-state/"), 100, M1)).await;
    machines_and_metadata(&api(&registry(&cluster, "/t-machines/"), 100, M1)).await;
    pagination(&api(&registry(&cluster, "/t-pages/"), 2, M1)).await;
    unreadable_values(&api(&registry(&cluster, "/t-corrupt/"), 100, M1)).await;
}

async fn unreadable_values(api: &Api) {
    let router = &api.router;
    let (client, keys) = (api.registry.client(), api.registry.keys());
    create(
        &api.registry,
        "ok.service",
        "[Service]\nExecStart=/bin/true\n",
        DesiredState::Loaded,
    )
    .await;
    client
        .set(
            &keys.job_object("bad.service"),
            "not json",
            SetOptions::default(),
        )
        .await
        .expect("writes");
    client
        .set(
            &keys.target_state("ok.service"),
            "running",
            SetOptions::default(),
        )
        .await
        .expect("writes");
    let units = get(router, "/fleet/v1/units").await.json();
    assert_eq!(units["units"].as_array().map(Vec::len), Some(1), "{units}");
    assert_eq!(
        units["units"][0]["desiredState"], "inactive",
        "a junk state reads as inactive"
    );
    let bad = get(router, "/fleet/v1/units/bad.service").await;
    assert_eq!(bad.error(), (500, String::new()));
}

async fn routing_rules(api: &Api) {
    let router = &api.router;
    let cases: &[(Method, &str, u16, &str)] = &[
        (Method::GET, "/", 405, ""),
        (Method::POST, "/fleet/v1", 405, ""),
        (Method::GET, "/v1-alpha", 405, ""),
        (Method::GET, "/fleet/v1/", 404, ""),
        (Method::GET, "/fleet/v1/units/", 404, ""),
        (Method::GET, "/fleet/v1/state/", 404, ""),
        (Method::GET, "/fleet/v1/machines/", 404, ""),
        (Method::GET, "/fleet/v1/machines/m1", 404, ""),
        (Method::GET, "/fleet/v1/units/a.service/x", 404, ""),
        (Method::GET, "/fleet/v1/units/a%2Fb.service", 404, ""),
        (Method::GET, "/fleet/v2/units", 404, ""),
        (Method::GET, "/metrics-nope", 404, ""),
        (
            Method::POST,
            "/fleet/v1/units",
            405,
            "only GET supported against this resource",
        ),
        (
            Method::PATCH,
            "/fleet/v1/units/a.service",
            405,
            "only GET, PUT and DELETE supported against this resource",
        ),
        (
            Method::DELETE,
            "/v1-alpha/machines",
            405,
            "only GET and PATCH supported against this resource",
        ),
        (
            Method::PUT,
            "/fleet/v1/state",
            405,
            "only GET supported against this resource",
        ),
        (
            Method::DELETE,
            "/fleet/v1/state/a.service",
            405,
            "only GET supported against this resource",
        ),
        (
            Method::POST,
            "/fleet/v1/discovery",
            400,
            "only HTTP GET supported against this resource",
        ),
        (
            Method::POST,
            "/keel/v1/units/a.service/pending",
            405,
            "only GET supported against this resource",
        ),
    ];
    for (method, uri, status, message) in cases {
        let reply = send(router, request(method.clone(), uri, "")).await;
        assert_eq!(
            reply.error(),
            (*status, (*message).to_owned()),
            "{method} {uri}"
        );
        assert_eq!(reply.headers[header::SERVER], SERVER, "{method} {uri}");
    }
    for prefix in ["/fleet/v1", "/v1-alpha"] {
        let reply = get(router, &format!("{prefix}/discovery")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(reply.headers[header::SERVER], SERVER);
        assert_eq!(reply.json()["id"], "fleet:v1");
        assert_eq!(reply.json()["rootUrl"], "$ENDPOINT/");
    }
    for uri in [
        "/fleet/v1/units?alt=json",
        "/fleet/v1/state?alt=json&unknown=1",
        "/v1-alpha/machines",
    ] {
        let reply = get(router, uri).await;
        assert_eq!(
            (reply.status, reply.text()),
            (StatusCode::OK, "{}".to_owned()),
            "{uri}"
        );
        assert_eq!(reply.content_type(), "application/json");
        assert_eq!(reply.headers[header::SERVER], SERVER);
    }
}

async fn put_decision_table(api: &Api) {
    put_refusals(api).await;
    put_creates_replaces_and_changes_state(api).await;
    templates_and_encoded_names(api).await;
    delete_and_names_of_no_unit(api).await;
}

async fn put_refusals(api: &Api) {
    let router = &api.router;
    let uri = HELLO_URI;
    let without_type = Method::PUT;
    let reply = send(
        router,
        axum::http::Request::builder()
            .method(without_type)
            .uri(uri)
            .body(axum::body::Body::from(HELLO))
            .expect("a request"),
    )
    .await;
    assert_eq!(
        reply.error(),
        (415, "expected 1 Content-Type, got 0".to_owned())
    );
    let plain = axum::http::Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(axum::body::Body::from(HELLO))
        .expect("a request");
    assert_eq!(
        send(router, plain).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    let refusals: &[(&str, &str, u16, &str)] = &[
        (uri, "{", 400, "unable to decode body: "),
        (
            uri,
            r#"{"name":"other.service","desiredState":"loaded"}"#,
            400,
            r#"name in URL "hello.service" differs from unit name in request body "other.service""#,
        ),
        (
            "/fleet/v1/units/hello.txt",
            HELLO,
            400,
            r#"invalid unit type: "txt""#,
        ),
        (
            uri,
            r#"{"desiredState":"loaded"}"#,
            409,
            "unit does not exist and options field empty",
        ),
        (
            uri,
            r#"{"options":[{"section":"X-Fleet","name":"MachineID","value":"m"},{"section":"X-Fleet","name":"Conflicts","value":"x*"}]}"#,
            400,
            "MachineID cannot be used with Conflicts",
        ),
        (
            uri,
            r#"{"options":[{"section":"X-Fleet","name":"Memory","value":"lots"}]}"#,
            400,
            r#"invalid Memory value "lots": expected bytes or a number with K, M, G or T"#,
        ),
        (
            uri,
            r#"{"options":[{"section":"X-Fleet","name":"MachineMetadata","value":"zone in a"}]}"#,
            400,
            r#"invalid MachineMetadata expression "zone in a": expected key=value"#,
        ),
        (
            uri,
            r#"{"desiredState":"started","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}"#,
            400,
            r#"invalid desired state "started": expected inactive, loaded or launched"#,
        ),
        (
            "/fleet/v1/units/db@.service",
            r#"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}"#,
            400,
            r#"cannot activate template "db@.service""#,
        ),
    ];
    for (uri, body, status, message) in refusals {
        let (code, text) = put(router, uri, body).await.error();
        assert_eq!(code, *status, "{body}");
        assert!(text.starts_with(message), "{body}: {text}");
    }
    assert_eq!(
        get(router, "/fleet/v1/units").await.text(),
        "{}",
        "4xx stored nothing"
    );
}

async fn put_creates_replaces_and_changes_state(api: &Api) {
    let router = &api.router;
    let uri = HELLO_URI;
    let created = put(router, uri, HELLO).await;
    assert_eq!(
        (created.status, created.body.len()),
        (StatusCode::CREATED, 0)
    );
    let golden = r#"{"name":"hello.service","options":[{"section":"Unit","name":"Description","value":"Hello"},{"section":"Service","name":"ExecStart","value":"/bin/sleep 1000"},{"section":"Service","name":"Environment"}],"desiredState":"launched","currentState":"inactive"}"#;
    let unit = get(router, uri).await;
    assert_eq!(
        (unit.status, unit.text()),
        (StatusCode::OK, golden.to_owned())
    );
    assert_eq!(
        get(router, "/v1-alpha/units/hello.service").await.text(),
        golden
    );

    let same_options = HELLO.replace(r#""desiredState":"launched","#, "");
    let state_changes: &[(&str, u16, &str)] = &[
        (
            &same_options,
            409,
            "must provide DesiredState to update existing unit",
        ),
        (
            r#"{"desiredState":"junk"}"#,
            400,
            r#"invalid desired state "junk": expected inactive, loaded or launched"#,
        ),
    ];
    for (body, status, message) in state_changes {
        assert_eq!(
            put(router, uri, body).await.error(),
            (*status, (*message).to_owned())
        );
    }
    assert_eq!(
        get(router, uri).await.json()["desiredState"],
        "launched",
        "junk not stored"
    );
    let desired = |name: &'static str| async move {
        get(router, &format!("/fleet/v1/units/{name}")).await.json()["desiredState"].clone()
    };
    assert_eq!(
        put(router, uri, r#"{"desiredState":"loaded"}"#)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(desired("hello.service").await, "loaded");
    let same_hash = HELLO.replace("launched", "inactive");
    assert_eq!(
        put(router, uri, &same_hash).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(desired("hello.service").await, "inactive");
    let other = r#"{"desiredState":"launched","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"}]}"#;
    assert_eq!(put(router, uri, other).await.status, StatusCode::CREATED);
    assert_eq!(desired("hello.service").await, "launched");
    let replaced_without_state =
        r#"{"options":[{"section":"Service","name":"ExecStart","value":"/bin/false"}]}"#;
    assert_eq!(
        put(router, uri, replaced_without_state).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        desired("hello.service").await,
        "inactive",
        "fleet: absent means inactive"
    );
}

async fn delete_and_names_of_no_unit(api: &Api) {
    let router = &api.router;
    let uri = HELLO_URI;
    let delete = || send(router, request(Method::DELETE, uri, ""));
    assert_eq!(delete().await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        delete().await.error(),
        (404, "unit does not exist".to_owned())
    );
    assert_eq!(
        get(router, uri).await.error(),
        (404, "unit does not exist".to_owned())
    );
    for bad in [
        "/fleet/v1/units/nodot",
        "/fleet/v1/units/..",
        "/fleet/v1/units/a.txt",
    ] {
        assert_eq!(
            get(router, bad).await.error(),
            (404, "unit does not exist".to_owned())
        );
        let deleted = send(router, request(Method::DELETE, bad, "")).await;
        assert_eq!(deleted.error(), (404, "unit does not exist".to_owned()));
    }
    assert!(api
        .registry
        .unit("web@.service")
        .await
        .expect("reads")
        .is_some());
}

async fn templates_and_encoded_names(api: &Api) {
    let router = &api.router;
    let template = r#"{"desiredState":"inactive","options":[{"section":"Service","name":"ExecStart","value":"/bin/echo %i"}]}"#;
    let uri = "/fleet/v1/units/web%40.service";
    assert_eq!(put(router, uri, template).await.status, StatusCode::CREATED);
    let refused = put(router, uri, r#"{"desiredState":"launched"}"#).await;
    assert_eq!(
        refused.error(),
        (400, r#"cannot activate template "web@.service""#.to_owned())
    );
    let instance = template.replace("inactive", "loaded");
    assert_eq!(
        put(router, "/fleet/v1/units/web%401.service", &instance)
            .await
            .status,
        StatusCode::CREATED
    );
    let unit = get(router, "/fleet/v1/units/web%401.service").await.json();
    assert_eq!(
        (unit["name"].clone(), unit["desiredState"].clone()),
        (json!("web@1.service"), json!("loaded"))
    );
    let named = put(
        router,
        "/fleet/v1/units/web%402.service",
        &instance.replace("{\"desired", "{\"name\":\"web@2.service\",\"desired"),
    )
    .await;
    assert_eq!(named.status, StatusCode::CREATED, "{named:?}");
    let names: Vec<String> = get(router, "/fleet/v1/units").await.json()["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|unit| unit["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "hello.service",
            "web@.service",
            "web@1.service",
            "web@2.service"
        ]
    );
}

async fn current_state_and_reports(api: &Api) {
    seed_placements_and_reports(api).await;
    units_show_current_state(api).await;
    state_reports_of_present_machines(api).await;
}

async fn seed_placements_and_reports(api: &Api) {
    let registry = &api.registry;
    announce(registry, M1, None).await;
    announce(registry, M2, None).await;
    let service = "[Service]\nExecStart=/bin/true\n";
    for name in [
        "a.service",
        "b.service",
        "c.service",
        "d.service",
        "e.service",
    ] {
        create(registry, name, service, DesiredState::Launched).await;
    }
    create(
        registry,
        "g.service",
        "[X-Fleet]\nGlobal=true\n",
        DesiredState::Launched,
    )
    .await;
    place(registry, "a.service", M1).await;
    place(registry, "b.service", M1).await;
    place(registry, "c.service", M2).await;
    place(registry, "d.service", M3).await;
    report(registry, "a.service", M1, true).await;
    report(registry, "b.service", M1, false).await;
    report(registry, "d.service", M3, true).await;
    report(registry, "g.service", M1, true).await;
    report(registry, "g.service", M2, true).await;
}

async fn units_show_current_state(api: &Api) {
    let router = &api.router;
    let units = get(router, "/fleet/v1/units").await.json();
    let summary: Vec<_> = units["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|unit| {
            (
                unit["name"].clone(),
                unit["currentState"].clone(),
                unit["machineID"].clone(),
            )
        })
        .collect();
    let null = serde_json::Value::Null;
    let want = vec![
        (json!("a.service"), json!("launched"), json!(M1)),
        (json!("b.service"), json!("loaded"), json!(M1)),
        (json!("c.service"), json!("inactive"), json!(M2)),
        (json!("d.service"), json!("inactive"), json!(M3)),
        (json!("e.service"), json!("inactive"), null.clone()),
        (json!("g.service"), json!("inactive"), null.clone()),
    ];
    assert_eq!(summary, want);
    let single = |name: &'static str| async move {
        get(router, &format!("/fleet/v1/units/{name}")).await.json()
    };
    assert_eq!(single("a.service").await["currentState"], "launched");
    assert_eq!(single("b.service").await["currentState"], "loaded");
    assert_eq!(single("d.service").await["currentState"], "inactive");
    assert_eq!(single("e.service").await["currentState"], "inactive");
    let global = single("g.service").await;
    assert!(global.get("currentState").is_none(), "{global}");
    assert!(global.get("machineID").is_none(), "{global}");
}

async fn state_reports_of_present_machines(api: &Api) {
    let router = &api.router;
    let registry = &api.registry;
    let states = get(router, "/fleet/v1/state").await.json();
    let pairs: Vec<_> = states["states"]
        .as_array()
        .expect("states")
        .iter()
        .map(|state| (state["name"].clone(), state["machineID"].clone()))
        .collect();
    let want: Vec<_> = [
        ("a.service", M1),
        ("b.service", M1),
        ("g.service", M1),
        ("g.service", M2),
    ]
    .iter()
    .map(|(name, machine)| (json!(name), json!(machine)))
    .collect();
    assert_eq!(pairs, want, "the absent machine's report is not shown");
    let hash = registry
        .unit("a.service")
        .await
        .expect("reads")
        .expect("exists")
        .hash
        .to_hex();
    let filtered = get(
        router,
        &format!("/fleet/v1/state?machineID={M1}&unitName=a.service"),
    )
    .await;
    let golden = format!(
        r#"{{"states":[{{"name":"a.service","hash":"{hash}","machineID":"{M1}","systemdLoadState":"loaded","systemdActiveState":"active","systemdSubState":"running"}}]}}"#
    );
    assert_eq!(filtered.text(), golden);
    let by_machine = get(router, &format!("/fleet/v1/state?machineID={M2}"))
        .await
        .json();
    assert_eq!(by_machine["states"].as_array().map(Vec::len), Some(1));
    let first = get(router, "/fleet/v1/state/g.service").await.json();
    assert_eq!(first["machineID"], M1);
    for missing in ["d.service", "zzz.service", "no-dot"] {
        let reply = get(router, &format!("/fleet/v1/state/{missing}")).await;
        assert_eq!(reply.error(), (404, "unit state does not exist".to_owned()));
    }
}

async fn machines_and_metadata(api: &Api) {
    let router = &api.router;
    announce(&api.registry, M1, None).await;
    announce(&api.registry, M2, Some("http://127.0.0.1:1".to_owned())).await;
    let golden = format!(
        r#"{{"machines":[{{"id":"{M1}","primaryIP":"10.0.0.32","metadata":{{"role":"web"}}}},{{"id":"{M2}","primaryIP":"10.0.0.32","metadata":{{"role":"web"}}}}]}}"#
    );
    assert_eq!(get(router, "/fleet/v1/machines").await.text(), golden);

    let patch = |body: String| send(router, request(Method::PATCH, "/fleet/v1/machines", &body));
    let half_bad = format!(
        r#"[{{"op":"add","path":"/{M1}/metadata/zone","value":"a"}},{{"op":"add","path":"/{M1}/metadata/bad key","value":"b"}}]"#
    );
    assert_eq!(
        patch(half_bad).await.error(),
        (400, "machine metadata path invalid".to_owned())
    );
    let (code, _) = patch("{".to_owned()).await.error();
    assert_eq!(code, 400);
    let bad_op = format!(r#"[{{"op":"test","path":"/{M1}/metadata/zone"}}]"#);
    assert_eq!(
        patch(bad_op).await.error(),
        (400, "invalid op: expect add, remove, or replace".to_owned())
    );
    assert_eq!(
        get(router, "/fleet/v1/machines").await.text(),
        golden,
        "nothing applied"
    );

    let both_forms = format!(
        r#"[{{"op":"add","path":"/{M1}/metadata/region","value":{{"value":"eu"}}}},
           {{"op":"replace","path":"/{M2}/metadata/role","value":"db"}},
           {{"op":"remove","path":"/{M1}/metadata/role"}},
           {{"op":"add","path":"/{M3}/metadata/later","value":"yes"}}]"#
    );
    let reply = patch(both_forms).await;
    assert_eq!(
        (reply.status, reply.body.len()),
        (StatusCode::NO_CONTENT, 0)
    );
    let machines = get(router, "/fleet/v1/machines").await.json();
    assert_eq!(machines["machines"][0]["metadata"], json!({"region": "eu"}));
    assert_eq!(machines["machines"][1]["metadata"], json!({"role": "db"}));
    assert_eq!(
        machines["machines"].as_array().map(Vec::len),
        Some(2),
        "M3 is not present"
    );
    announce(&api.registry, M3, None).await;
    let machines = get(router, "/fleet/v1/machines").await.json();
    assert_eq!(
        machines["machines"][2]["metadata"],
        json!({"role": "web", "later": "yes"})
    );
}

async fn follow(router: &axum::Router, path: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut uri = path.to_owned();
    loop {
        let page = get(router, &uri).await.json();
        let key = ["units", "states", "machines"]
            .into_iter()
            .find(|key| page.get(*key).is_some());
        let names = key
            .map(|key| {
                page[key]
                    .as_array()
                    .expect("a list")
                    .iter()
                    .map(|item| {
                        let field = if key == "machines" { "id" } else { "name" };
                        item[field].as_str().expect("a name").to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        pages.push(names);
        match page["nextPageToken"].as_str() {
            Some(token) => {
                let separator = if path.contains('?') { '&' } else { '?' };
                uri = format!("{path}{separator}nextPageToken={token}");
            }
            None => return pages,
        }
        assert!(pages.len() < 10, "pages never end");
    }
}

async fn pagination(api: &Api) {
    let router = &api.router;
    let registry = &api.registry;
    for index in 1..=5 {
        let name = format!("u{index}.service");
        create(
            registry,
            &name,
            "[Service]\nExecStart=/bin/true\n",
            DesiredState::Inactive,
        )
        .await;
    }
    let first = get(router, "/fleet/v1/units").await.json();
    assert_eq!(
        first["nextPageToken"],
        PageToken { limit: 2, page: 2 }.encode()
    );
    let names = |range: std::ops::RangeInclusive<i32>| -> Vec<String> {
        range.map(|index| format!("u{index}.service")).collect()
    };
    assert_eq!(
        follow(router, "/fleet/v1/units").await,
        vec![names(1..=2), names(3..=4), names(5..=5)]
    );
    create(
        registry,
        "u6.service",
        "[Service]\nExecStart=/bin/true\n",
        DesiredState::Inactive,
    )
    .await;
    assert_eq!(
        follow(router, "/fleet/v1/units").await,
        vec![names(1..=2), names(3..=4), names(5..=6), vec![]],
        "fleet's trailing empty page when the total is a multiple of the limit"
    );
    let last = PageToken { limit: 2, page: 4 }.encode();
    assert_eq!(
        get(router, &format!("/fleet/v1/units?nextPageToken={last}"))
            .await
            .text(),
        "{}"
    );

    let foreign = PageToken {
        limit: 100,
        page: 2,
    }
    .encode();
    let zero = PageToken { limit: 2, page: 0 }.encode();
    let two = PageToken { limit: 2, page: 2 }.encode();
    let bad: [(String, &str); 4] = [
        ("!!!".to_owned(), "invalid page token"),
        (foreign, "token limit must be 2"),
        (zero, "token page must be greater than zero"),
        (
            format!("{two}&nextPageToken={two}"),
            "too many values for page token",
        ),
    ];
    for collection in ["units", "state", "machines"] {
        for (token, message) in &bad {
            let reply = get(
                router,
                &format!("/fleet/v1/{collection}?nextPageToken={token}"),
            )
            .await;
            assert_eq!(
                reply.error(),
                (400, (*message).to_owned()),
                "{collection} {token}"
            );
        }
    }

    for machine in [M1, M2, M3] {
        announce(registry, machine, None).await;
        report(registry, "u1.service", machine, true).await;
        report(registry, "u2.service", machine, false).await;
    }
    let ids = |list: &[&str]| list.iter().map(|id| (*id).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        follow(router, "/fleet/v1/machines").await,
        vec![ids(&[M1, M2]), ids(&[M3])]
    );
    assert_eq!(
        follow(router, "/fleet/v1/state?unitName=u1.service").await,
        vec![ids(&["u1.service", "u1.service"]), ids(&["u1.service"])],
        "filters apply before paging"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_before_readiness_and_while_the_store_is_down() {
    // Goal: fleet's 503 with its text, before the machine is registered (every path) and
    // when the store cannot be reached; the Server header and envelope on each.
    // Method: a router whose readiness starts unset; set it; then kill the only member.
    let mut cluster = cluster();
    let api = api(&registry(&cluster, "/t-down/"), 100, M1);
    api.readiness.set(false);
    let unavailable = (
        503,
        "fleet server unable to communicate with etcd".to_owned(),
    );
    for uri in ["/fleet/v1/units", "/nope", "/", "/fleet/v1/discovery"] {
        let reply = get(&api.router, uri).await;
        assert_eq!(reply.error(), unavailable, "{uri}");
        assert_eq!(reply.headers[header::SERVER], SERVER);
    }
    api.readiness.set(true);
    assert_eq!(
        get(&api.router, "/fleet/v1/units").await.status,
        StatusCode::OK
    );
    assert_eq!(
        put(&api.router, "/fleet/v1/units/a.service", HELLO)
            .await
            .status,
        StatusCode::CREATED
    );

    cluster.kill(0);
    for uri in [
        "/fleet/v1/units",
        "/fleet/v1/units/a.service",
        "/fleet/v1/state",
        "/fleet/v1/machines",
    ] {
        assert_eq!(get(&api.router, uri).await.error(), unavailable, "{uri}");
    }
    let change = put(
        &api.router,
        "/fleet/v1/units/a.service",
        r#"{"desiredState":"loaded"}"#,
    )
    .await;
    assert_eq!(change.error(), unavailable);
    let discovery = get(&api.router, "/fleet/v1/discovery").await;
    assert_eq!(
        discovery.status,
        StatusCode::OK,
        "the document needs no store"
    );
}
