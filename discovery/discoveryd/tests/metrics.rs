//! The metrics endpoint with SkyDNS's names, `/ready` and `/health`, and serve-stale: with
//! Keel gone, the last index keeps being answered and `/health` says so.

mod support;

use support::{tools_present, Stack};

fn value_of(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

// Goal: every answer is counted under SkyDNS's names with its system (auth, recursive) and
// error cause (nxdomain, nodata, servfail, truncated), response sizes are recorded, the index
// gauges are served; /ready and /health are 200 while Keel is followed; after Keel is killed
// the record is still answered (serve-stale), /health turns 503 and `discoveryd_synced` 0.
// Method: a stack with the endpoint on a free port; dig for each kind of answer; the text
// format read back with the test kit's HTTP client; then the member killed.
#[test]
fn metrics_count_answers_and_health_follows_keel() {
    if !tools_present(false) {
        return;
    }
    let port = testkit::free_port().to_string();
    let mut stack = Stack::start(&["--prometheus-port", &port]);
    let base = format!("http://127.0.0.1:{port}");
    for n in 0..40 {
        let value = format!(r#"{{"host":"10.4.0.{}"}}"#, n + 1);
        stack.curl_put(&format!("/skydns/local/skydns/web/h{n}"), &value, None);
    }
    stack.dig_until(
        &["web.skydns.local", "A", "+tcp"],
        "every record",
        |reply| reply.answer.len() == 40,
    );
    assert_eq!(stack.dig(&["missing.skydns.local", "A"]).status, "NXDOMAIN");
    assert_eq!(stack.dig(&["web.skydns.local", "MX"]).status, "NOERROR");
    assert_eq!(stack.dig(&["www.example.org", "A"]).status, "SERVFAIL");
    assert!(stack
        .dig(&["web.skydns.local", "A", "+noedns", "+ignore"])
        .has_flag("tc"));
    let get =
        |path: &str| support::http_get(&format!("{base}{path}")).expect("the endpoint answers");
    assert_eq!(get("/ready").status, 200);
    assert_eq!(get("/health").status, 200);
    let metrics = get("/metrics").body;
    let count = |series: &str| {
        value_of(&metrics, series).unwrap_or_else(|| panic!("{series} in\n{metrics}"))
    };
    assert!(count(r#"skydns_skydns_dns_request_count_total{system="auth"}"#) >= 5.0);
    assert_eq!(
        count(r#"skydns_skydns_dns_request_count_total{system="recursive"}"#),
        1.0
    );
    for (system, cause) in [
        ("auth", "nxdomain"),
        ("auth", "nodata"),
        ("recursive", "servfail"),
        ("auth", "truncated"),
    ] {
        let series =
            format!(r#"skydns_skydns_dns_error_count_total{{system="{system}",cause="{cause}"}}"#);
        assert!(count(&series) >= 1.0, "{series}");
    }
    assert!(count(r#"skydns_skydns_dns_response_size_bytes_sum{system="auth"}"#) > 512.0);
    assert!(count(r#"skydns_skydns_dns_request_duration_seconds_count{system="auth"}"#) >= 5.0);
    assert_eq!(count("discoveryd_records"), 40.0);
    assert_eq!(count("discoveryd_synced"), 1.0);
    stack.cluster.kill(0);
    testkit::wait_for(support::DEADLINE, "/health to report stale", || {
        (get("/health").status == 503).then_some(())
    });
    assert!(get("/health").body.starts_with("stale"));
    assert_eq!(
        value_of(&get("/metrics").body, "discoveryd_synced"),
        Some(0.0)
    );
    let stale = stack.dig(&["web.skydns.local", "A", "+tcp"]);
    assert_eq!(
        stale.answer.len(),
        40,
        "served from the last index: {}",
        stale.output
    );
    assert_eq!(get("/ready").status, 200);
}

// Goal: before the records are first loaded (Keel unreachable from the start) queries are
// REFUSED and /ready is 503. Method: discoveryd pointed at a port nothing listens on.
#[test]
fn not_ready_until_the_records_are_loaded() {
    if !tools_present(false) {
        return;
    }
    let port = testkit::free_port().to_string();
    let stack = Stack::start_unloaded(&["--prometheus-port", &port]);
    let base = format!("http://127.0.0.1:{port}");
    let ready = testkit::wait_for(support::DEADLINE, "the endpoint", || {
        support::http_get(&format!("{base}/ready")).ok()
    });
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(
        support::http_get(&format!("{base}/health"))
            .expect("answers")
            .status,
        503
    );
    assert_eq!(stack.dig(&["skydns.local", "SOA"]).status, "REFUSED");
}
