//! `discoveryd` against real clients on loopback: `dig` for every record type over UDP and
//! TCP, with and without EDNS; truncation; records written with curl appearing and
//! disappearing; forwarding to NSD and SERVFAIL when it is down.

mod support;

use support::{tools_present, Nsd, Stack};

const WEB_1: &str = r#"{"host":"10.0.0.1","port":8080,"priority":10,"weight":50}"#;
const WEB_2: &str = r#"{"host":"10.0.0.2","port":8080,"priority":10,"weight":50}"#;

/// A stack holding the every-type records, once the last one is answered.
fn every_type_stack() -> Stack {
    let stack = Stack::start(&[]);
    write_every_type(&stack);
    stack.dig_until(
        &["1.0.0.10.in-addr.arpa", "PTR"],
        "the last record",
        |reply| !reply.answer.is_empty(),
    );
    stack
}

/// The records of the every-type test, as SkyDNS users write them.
fn write_every_type(stack: &Stack) {
    let records = [
        ("/skydns/local/skydns/web/x1", WEB_1),
        ("/skydns/local/skydns/web/x2", WEB_2),
        ("/skydns/local/skydns/v6", r#"{"host":"2001:db8::1"}"#),
        (
            "/skydns/local/skydns/corp/mx1",
            r#"{"host":"10.0.0.5","mail":true,"priority":5}"#,
        ),
        ("/skydns/local/skydns/note", r#"{"text":"hello world"}"#),
        ("/skydns/local/skydns/dns/ns/ns1", r#"{"host":"10.0.0.53"}"#),
        (
            "/skydns/arpa/in-addr/10/0/0/1",
            r#"{"host":"web.skydns.local"}"#,
        ),
    ];
    for (key, value) in records {
        stack.curl_put(key, value, None);
    }
}

/// One transport and EDNS choice, as dig flags.
const VARIANTS: [&[&str]; 4] = [
    &["+notcp"],
    &["+notcp", "+noedns"],
    &["+tcp"],
    &["+tcp", "+noedns"],
];

// Goal: every record type of the zone is answered the same over UDP and TCP, with and without
// EDNS: A, AAAA, SRV with its targets' addresses as additional records, MX, TXT, PTR, NS with
// glue and SOA at the apex; NXDOMAIN and NODATA both carry the SOA; the reply's EDNS size is
// the client's, at most 1232, and no OPT is sent to a client without EDNS; repeated answers
// rotate their addresses.
// Method: records written with curl; for each of the four variants, each question asked with
// dig and its sections compared; then one question asked four times.
#[test]
fn every_record_type_over_udp_and_tcp_with_and_without_edns() {
    if !tools_present(false) {
        return;
    }
    let stack = every_type_stack();
    for variant in VARIANTS {
        let ask = |name: &str, qtype: &str| {
            let mut args = vec![name, qtype];
            args.extend_from_slice(variant);
            let reply = stack.dig(&args);
            assert_eq!(
                reply.status, "NOERROR",
                "{name} {qtype} {variant:?}: {}",
                reply.output
            );
            reply
        };
        let web = ask("web.skydns.local", "A");
        assert_eq!(web.data("A"), ["10.0.0.1", "10.0.0.2"], "{variant:?}");
        assert!(web.has_flag("aa"), "{}", web.output);
        assert_eq!(ask("v6.skydns.local", "AAAA").data("AAAA"), ["2001:db8::1"]);
        let srv = ask("web.skydns.local", "SRV");
        assert_eq!(
            srv.data("SRV"),
            [
                "10 50 8080 x1.web.skydns.local.",
                "10 50 8080 x2.web.skydns.local."
            ]
        );
        let mut glue: Vec<&str> = srv.additional.iter().map(|rr| rr.data.as_str()).collect();
        glue.sort_unstable();
        assert_eq!(glue, ["10.0.0.1", "10.0.0.2"], "{}", srv.output);
        assert_eq!(
            ask("corp.skydns.local", "MX").data("MX"),
            ["5 mx1.corp.skydns.local."]
        );
        assert_eq!(
            ask("note.skydns.local", "TXT").data("TXT"),
            ["\"hello world\""]
        );
        let ptr = ask("1.0.0.10.in-addr.arpa", "PTR");
        assert_eq!(ptr.data("PTR"), ["web.skydns.local."]);
        let ns = ask("skydns.local", "NS");
        assert_eq!(ns.data("NS"), ["ns1.ns.dns.skydns.local."]);
        assert_eq!(
            ns.additional.first().map(|rr| rr.data.as_str()),
            Some("10.0.0.53")
        );
        assert_eq!(ask("skydns.local", "SOA").data("SOA").len(), 1);
        let nodata = ask("web.skydns.local", "MX");
        assert!(nodata.answer.is_empty(), "{}", nodata.output);
        assert_eq!(
            nodata.authority.first().map(|rr| rr.rtype.as_str()),
            Some("SOA")
        );
        let mut args = vec!["missing.skydns.local", "A"];
        args.extend_from_slice(variant);
        let missing = stack.dig(&args);
        assert_eq!(missing.status, "NXDOMAIN", "{}", missing.output);
        assert_eq!(
            missing.authority.first().map(|rr| rr.rtype.as_str()),
            Some("SOA")
        );
        let edns = if variant.contains(&"+noedns") {
            None
        } else {
            Some(1232)
        };
        assert_eq!(web.edns_udp, edns, "{variant:?}: {}", web.output);
    }
    let large = stack.dig(&["web.skydns.local", "A", "+bufsize=4096"]);
    assert_eq!(large.edns_udp, Some(1232), "{}", large.output);
    // Round robin: answers to the same question (kept in the server's memo) still rotate.
    let firsts: Vec<String> = (0..4)
        .map(|_| stack.dig(&["web.skydns.local", "A"]).answer[0].data.clone())
        .collect();
    for pair in firsts.windows(2) {
        assert_ne!(pair[0], pair[1], "round robin: {firsts:?}");
    }
}

// Goal: a record written with curl is answered within a watch round-trip, with the key's
// remaining TTL when the key has one (never the default), and stops being answered when its
// key is deleted or its TTL runs out.
// Method: write, wait for the answer; delete, wait for NXDOMAIN; write with ttl=3, check the
// answer's TTL is at most 3, wait for NXDOMAIN after expiry.
#[test]
fn records_follow_writes_deletes_and_expiry() {
    if !tools_present(false) {
        return;
    }
    let stack = Stack::start(&[]);
    let is_answered = |reply: &support::Dig| reply.status == "NOERROR" && !reply.answer.is_empty();
    let is_gone = |reply: &support::Dig| reply.status == "NXDOMAIN";
    stack.curl_put("/skydns/local/skydns/db/p1", r#"{"host":"10.1.0.1"}"#, None);
    let reply = stack.dig_until(&["db.skydns.local", "A"], "the written record", is_answered);
    assert_eq!(reply.data("A"), ["10.1.0.1"]);
    assert_eq!(
        reply.answer[0].ttl, 3600,
        "the zone's default TTL: {}",
        reply.output
    );
    stack.curl_delete("/skydns/local/skydns/db/p1");
    stack.dig_until(
        &["db.skydns.local", "A"],
        "the deleted record to go",
        is_gone,
    );
    stack.curl_put(
        "/skydns/local/skydns/cache/c1",
        r#"{"host":"10.1.0.2"}"#,
        Some(3),
    );
    let reply = stack.dig_until(&["cache.skydns.local", "A"], "the TTL record", is_answered);
    assert!(
        reply.answer[0].ttl <= 3,
        "the key's remaining TTL: {}",
        reply.output
    );
    stack.dig_until(
        &["cache.skydns.local", "A"],
        "the expired record to go",
        is_gone,
    );
}

// Goal: an answer larger than the client's UDP buffer is cut with TC set, and the same
// question over TCP gets every record.
// Method: 120 A records under one name; dig over UDP without EDNS (512 bytes, no retry over
// TCP), then with EDNS 1232, then over TCP.
#[test]
fn large_answers_truncate_over_udp_and_are_whole_over_tcp() {
    if !tools_present(false) {
        return;
    }
    let stack = Stack::start(&[]);
    const COUNT: usize = 120;
    for n in 0..COUNT {
        let value = format!(r#"{{"host":"10.2.{}.{}"}}"#, n / 250, n % 250 + 1);
        stack.curl_put(&format!("/skydns/local/skydns/many/h{n}"), &value, None);
    }
    let whole = stack.dig_until(
        &["many.skydns.local", "A", "+tcp"],
        "every record",
        |reply| reply.answer.len() == COUNT,
    );
    assert!(!whole.has_flag("tc"), "{}", whole.output);
    for bufsize in ["+noedns", "+bufsize=1232"] {
        let cut = stack.dig(&["many.skydns.local", "A", "+notcp", "+ignore", bufsize]);
        assert_eq!(cut.status, "NOERROR", "{}", cut.output);
        assert!(cut.has_flag("tc"), "{bufsize}: {}", cut.output);
        assert!(
            cut.answer.len() < COUNT,
            "{bufsize}: {} records",
            cut.answer.len()
        );
    }
}

// Goal: dnspython, a second real client, reads every record type the same over UDP with
// EDNS, UDP without it, and TCP: the answers, AA on authoritative answers only, and EDNS
// version 0 echoed only to a client that sent it.
// Method: the every-type records; tests/clients/dnspython_ask.py asks each question three
// ways and prints one JSON line per reply.
#[test]
fn dnspython_reads_every_record_type() {
    let tools = [
        (support::DIG, "bind9-dnsutils"),
        (support::DNSPYTHON, "python3-dnspython"),
    ];
    if !testkit::reference_tools_present(&tools) {
        return;
    }
    let stack = every_type_stack();
    let expected: [(&str, &[&str]); 7] = [
        ("web.skydns.local.:A", &["10.0.0.1", "10.0.0.2"]),
        ("v6.skydns.local.:AAAA", &["2001:db8::1"]),
        (
            "web.skydns.local.:SRV",
            &[
                "10 50 8080 x1.web.skydns.local.",
                "10 50 8080 x2.web.skydns.local.",
            ],
        ),
        ("corp.skydns.local.:MX", &["5 mx1.corp.skydns.local."]),
        ("note.skydns.local.:TXT", &["\"hello world\""]),
        ("1.0.0.10.in-addr.arpa.:PTR", &["web.skydns.local."]),
        ("skydns.local.:NS", &["ns1.ns.dns.skydns.local."]),
    ];
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/dnspython_ask.py"
    );
    let output = std::process::Command::new(support::PYTHON)
        .arg(script)
        .arg(stack.port.to_string())
        .args(expected.iter().map(|(question, _)| *question))
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), expected.len() * 3);
    for (reply, (question, data)) in lines.iter().zip(expected.iter().flat_map(|e| [e, e, e])) {
        let answers: Vec<String> = reply["answer"]
            .as_array()
            .expect("answers")
            .iter()
            .map(|rr| {
                let text = rr.as_str().expect("text");
                text.splitn(5, ' ').nth(4).unwrap_or_default().to_owned()
            })
            .collect();
        assert_eq!(reply["rcode"], "NOERROR", "{question}: {reply}");
        assert_eq!(answers, *data, "{question}: {reply}");
        let authoritative = !question.contains("in-addr.arpa");
        assert_eq!(reply["aa"], authoritative, "{question}: {reply}");
        let edns = if reply["transport"] == "udp-noedns" {
            -1
        } else {
            0
        };
        assert_eq!(reply["edns"], edns, "{question}: {reply}");
    }
}

const UPSTREAM_ZONE: &str = "$ORIGIN example.test.\n$TTL 300\n\
    @ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60\n\
    @ IN NS ns.example.test.\nns IN A 127.0.0.1\nwww IN A 192.0.2.10\n";

// Goal: names outside the domain are forwarded to the upstream and its answer passed on with
// RA set; a record whose host is a name outside the domain is answered as a CNAME with the
// upstream's address after it; when the upstream is down the reply is SERVFAIL, never
// silence.
// Method: NSD serving example.test on loopback as the only upstream; then NSD stopped.
#[test]
fn forwards_to_nsd_and_servfails_when_it_is_down() {
    if !tools_present(true) {
        return;
    }
    let mut nsd = Nsd::start("example.test", UPSTREAM_ZONE);
    let upstream = nsd.address();
    let stack = Stack::start(&["--nameservers", &upstream, "--rtimeout", "500ms"]);
    let forwarded = stack.dig(&["www.example.test", "A"]);
    assert_eq!(
        forwarded.status,
        "NOERROR",
        "{}\n{}",
        forwarded.output,
        nsd.log()
    );
    assert_eq!(forwarded.data("A"), ["192.0.2.10"]);
    assert!(
        forwarded.has_flag("ra") && !forwarded.has_flag("aa"),
        "{}",
        forwarded.output
    );
    let over_tcp = stack.dig(&["www.example.test", "A", "+tcp"]);
    assert_eq!(over_tcp.data("A"), ["192.0.2.10"], "{}", over_tcp.output);
    stack.curl_put(
        "/skydns/local/skydns/site",
        r#"{"host":"www.example.test"}"#,
        None,
    );
    let chased = stack.dig_until(&["site.skydns.local", "A"], "the CNAME record", |reply| {
        !reply.answer.is_empty()
    });
    assert_eq!(
        chased.data("CNAME"),
        ["www.example.test."],
        "{}",
        chased.output
    );
    assert_eq!(chased.data("A"), ["192.0.2.10"], "{}", chased.output);
    nsd.stop();
    let failed = stack.dig(&["www.example.test", "A"]);
    assert_eq!(failed.status, "SERVFAIL", "{}", failed.output);
}

// Goal: the document at /skydns/config is put over the flags and reloaded without restart:
// its ttl and min_ttl change the answers' TTLs; a document that cannot be used changes
// nothing; deleting it brings the flags' settings back; a new domain is answered at once.
// Method: each document written with curl, then a record written after it, so that once
// that record is answered the document before it has been seen.
#[test]
fn stored_configuration_is_applied_and_reloaded() {
    if !tools_present(false) {
        return;
    }
    let stack = Stack::start(&[]);
    let reply = config_then_record(&stack, r#"{"ttl":30,"min_ttl":5}"#, "r1", "10.3.0.1");
    assert_eq!(reply.answer[0].ttl, 30, "{}", reply.output);
    let missing = stack.dig(&["gone.skydns.local", "A"]);
    let negative_ttl = missing.authority.first().map(|rr| rr.ttl);
    assert_eq!(negative_ttl, Some(5), "{}", missing.output);
    let reply = config_then_record(&stack, r#"{"ttl":"soon"}"#, "r2", "10.3.0.2");
    assert_eq!(
        reply.answer[0].ttl, 30,
        "an unusable document changes nothing"
    );
    stack.curl_delete("/skydns/config");
    stack.dig_until(&["r2.skydns.local", "A"], "the default TTL", |reply| {
        reply.answer.first().is_some_and(|rr| rr.ttl == 3600)
    });
    stack.curl_put("/skydns/config", r#"{"domain":"example.local"}"#, None);
    stack.curl_put("/skydns/local/example/api", r#"{"host":"10.3.0.3"}"#, None);
    let reply = stack.dig_until(&["api.example.local", "A"], "the new domain", |reply| {
        reply
            .answer
            .iter()
            .any(|rr| rr.name == "api.example.local.")
    });
    assert_eq!(reply.data("A"), ["10.3.0.3"]);
    assert!(reply.has_flag("aa"), "{}", reply.output);
    let old = stack.dig(&["r1.skydns.local", "A"]);
    assert_eq!(
        old.status, "SERVFAIL",
        "outside the new domain, no upstreams: {}",
        old.output
    );
}

/// Writes the stored document, then a record `<label>.skydns.local` → `host`, and returns the
/// record's first answer (once it is answered, the document before it has been seen).
fn config_then_record(stack: &Stack, document: &str, label: &str, host: &str) -> support::Dig {
    stack.curl_put("/skydns/config", document, None);
    let value = format!(r#"{{"host":"{host}"}}"#);
    stack.curl_put(&format!("/skydns/local/skydns/{label}"), &value, None);
    let name = format!("{label}.skydns.local");
    stack.dig_until(&[&name, "A"], "the record after the document", |reply| {
        reply.answer.iter().any(|rr| rr.data == host)
    })
}

// Goal: the discoveryd binary reads dns_addr from the stored document before it listens
// (the flag's address is not used), answers there, and exits 0 on SIGTERM.
// Method: the document written first; the binary started with another -addr; dig on the
// stored address; then SIGTERM and a bounded wait for the exit.
#[test]
fn the_binary_listens_on_the_stored_address_and_stops_on_sigterm() {
    if !tools_present(false) {
        return;
    }
    let cluster = testkit::Cluster::start(1, &[]);
    let (flag_port, stored_port) = (testkit::free_port(), testkit::free_port());
    let config = format!(r#"{{"dns_addr":"127.0.0.1:{stored_port}"}}"#);
    let reply = cluster.put(
        cluster.url(0),
        "/v2/keys/skydns/config",
        &[("value", &config)],
    );
    assert!(reply.expect("written").status < 300);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_discoveryd"))
        .args([
            "-machines",
            cluster.url(0),
            "-no-rec",
            &format!("-addr=127.0.0.1:{flag_port}"),
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("discoveryd starts");
    let mut process = support::Process(child);
    testkit::wait_for(support::DEADLINE, "an answer on the stored address", || {
        (support::dig(stored_port, &["skydns.local", "SOA"]).status == "NOERROR").then_some(())
    });
    assert_eq!(
        support::dig(flag_port, &["skydns.local", "SOA"]).status,
        "NO REPLY"
    );
    let status = process.terminate(support::DEADLINE);
    assert!(status.success(), "{status}");
}

// Goal: with -rcache, a forwarded answer is kept and handed out with its TTLs lowered by the
// time it has been held, also when the upstream is gone meanwhile.
// Method: NSD as upstream (TTL 300); the same question asked until the TTL has gone down;
// NSD stopped; asked again.
#[test]
fn forwarded_answers_are_cached_with_decremented_ttls() {
    if !tools_present(true) {
        return;
    }
    let mut nsd = Nsd::start("example.test", UPSTREAM_ZONE);
    let upstream = nsd.address();
    let stack = Stack::start(&[
        "--nameservers",
        &upstream,
        "--rcache",
        "100",
        "--rcache-ttl",
        "60",
    ]);
    let first = stack.dig(&["www.example.test", "A"]);
    assert_eq!(
        first.answer.first().map(|rr| rr.ttl),
        Some(300),
        "{}",
        first.output
    );
    let aged = stack.dig_until(&["www.example.test", "A"], "a lowered TTL", |reply| {
        reply.answer.first().is_some_and(|rr| rr.ttl < 300)
    });
    assert!(aged.answer[0].ttl >= 299 - 20, "{}", aged.output);
    nsd.stop();
    let cached = stack.dig(&["www.example.test", "A"]);
    assert_eq!(
        cached.data("A"),
        ["192.0.2.10"],
        "from the cache: {}",
        cached.output
    );
    assert!(cached.answer[0].ttl < 300);
    let uncached = stack.dig(&["other.example.test", "A"]);
    assert_eq!(uncached.status, "SERVFAIL", "{}", uncached.output);
}

// Goal: with -stubzones, questions in a stub zone declared under stub.dns.<domain> go to
// that zone's servers, even with forwarding off; a question already marked with SkyDNS's
// loop option (65011) is refused, not sent round again; without the record, the zone is
// outside the domain like any other (SERVFAIL with -no-rec).
// Method: NSD serving example.test as the stub zone's one server; dig with +ednsopt.
#[test]
fn stub_zones_go_to_their_servers_and_loops_are_refused() {
    if !tools_present(true) {
        return;
    }
    let nsd = Nsd::start("example.test", UPSTREAM_ZONE);
    let stack = Stack::start(&["--stubzones", "--no-rec"]);
    assert_eq!(stack.dig(&["www.example.test", "A"]).status, "SERVFAIL");
    let server = format!(r#"{{"host":"127.0.0.1","port":{}}}"#, nsd.port);
    stack.curl_put(
        "/skydns/local/skydns/dns/stub/test/example/ns1",
        &server,
        None,
    );
    let stubbed = stack.dig_until(&["www.example.test", "A"], "the stub zone", |reply| {
        reply.status == "NOERROR"
    });
    assert_eq!(stubbed.data("A"), ["192.0.2.10"], "{}", stubbed.output);
    let marked = stack.dig(&["www.example.test", "A", "+ednsopt=65011:01"]);
    assert_eq!(marked.status, "REFUSED", "{}", marked.output);
    assert_eq!(stack.dig(&["web.example.org", "A"]).status, "SERVFAIL");
}
