//! Golden answers for every query type and rule: each test stores records as SkyDNS users
//! write them, asks one question, and compares the answer rendered one record per line
//! (`owner ttl TYPE data`, dig's order of fields) with the expected text.

use crate::answer::{resolve, rotate_addresses, Outcome};
use crate::index::{Index, Stored};
use crate::record::{Answer, Class, Data, External, Query, Rcode, Record, RecordType};
use crate::zone::Zone;

/// 2026-12-05T10:20:30Z: the SOA serial is the hour, 2026-12-05T10:00:00Z.
const NOW_MS: i64 = 1_796_466_030_000;

fn index(records: &[(&str, &str, Option<i64>)]) -> Index {
    let (index, skipped) = Index::build(records.iter().map(|(key, value, expires)| Stored {
        key,
        value,
        expires_at_ms: *expires,
    }));
    assert!(skipped.is_empty(), "{skipped:?}");
    index
}

fn zone() -> Zone {
    Zone::new("skydns.local", "skydns").expect("a valid domain")
}

fn ask_in(zone: &Zone, index: &Index, name: &str, qtype: RecordType) -> Answer {
    let query = Query {
        name: name.to_owned(),
        qtype,
        class: Class::In,
    };
    match resolve(zone, index, &query, NOW_MS) {
        Outcome::Answer(answer) => *answer,
        Outcome::Forward => panic!("{name} was forwarded"),
    }
}

fn ask(index: &Index, name: &str, qtype: RecordType) -> Answer {
    ask_in(&zone(), index, name, qtype)
}

fn line(record: &Record) -> String {
    let data = match &record.data {
        Data::A(v4) => format!("A {v4}"),
        Data::Aaaa(v6) => format!("AAAA {v6}"),
        Data::Cname(target) => format!("CNAME {target}"),
        Data::Srv {
            priority,
            weight,
            port,
            target,
        } => format!("SRV {priority} {weight} {port} {target}"),
        Data::Txt(strings) => format!("TXT {strings:?}"),
        Data::Mx {
            preference,
            exchange,
        } => format!("MX {preference} {exchange}"),
        Data::Ns(server) => format!("NS {server}"),
        Data::Soa(soa) => format!(
            "SOA {} {} {} {} {} {} {}",
            soa.mname, soa.rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum
        ),
        Data::Ptr(target) => format!("PTR {target}"),
    };
    format!("{} {} {data}", record.name, record.ttl)
}

/// The answer as text: the code and flags, then each section's records.
fn render(answer: &Answer) -> String {
    let mut text = format!(
        "{:?}{}\n",
        answer.rcode,
        if answer.authoritative { " aa" } else { "" }
    );
    for (title, section) in [
        ("answer", &answer.answers),
        ("authority", &answer.authority),
        ("additional", &answer.additional),
    ] {
        for record in section {
            text.push_str(&format!("{title}: {}\n", line(record)));
        }
    }
    text
}

const SOA_NEGATIVE: &str = "authority: skydns.local. 60 SOA ns.dns.skydns.local. \
                            hostmaster.skydns.local. 1796464800 28800 7200 604800 60\n";

fn rails() -> Index {
    index(&[
        (
            "/skydns/local/skydns/east/production/rails/1",
            r#"{"host":"10.0.0.1","port":8080}"#,
            None,
        ),
        (
            "/skydns/local/skydns/east/production/rails/2",
            r#"{"host":"10.0.0.2","port":8080,"ttl":30}"#,
            None,
        ),
        (
            "/skydns/local/skydns/east/staging/rails/4",
            r#"{"host":"2001:db8::4","port":8080}"#,
            None,
        ),
        (
            "/skydns/local/skydns/west/production/rails/9",
            r#"{"host":"10.0.9.9","port":8080,"ttl":600}"#,
            Some(NOW_MS + 20_500),
        ),
    ])
}

// Goal: A answers every address at or below the name, owned by the query name, with one TTL
// per RRset: the smallest of the record TTLs, the key's remaining TTL (rounded up) and the
// default. Method: exact, parent and grandparent names of stored records.
#[test]
fn a_aggregates_the_subtree_with_one_ttl() {
    let index = rails();
    assert_eq!(
        render(&ask(
            &index,
            "1.rails.production.east.skydns.local.",
            RecordType::A
        )),
        "NoError aa\nanswer: 1.rails.production.east.skydns.local. 3600 A 10.0.0.1\n"
    );
    assert_eq!(
        render(&ask(
            &index,
            "rails.production.east.skydns.local",
            RecordType::A
        )),
        "NoError aa\n\
         answer: rails.production.east.skydns.local. 30 A 10.0.0.1\n\
         answer: rails.production.east.skydns.local. 30 A 10.0.0.2\n"
    );
    assert_eq!(
        render(&ask(
            &index,
            "Rails.Production.West.skydns.local.",
            RecordType::A
        )),
        "NoError aa\nanswer: rails.production.west.skydns.local. 21 A 10.0.9.9\n"
    );
}

// Goal: a key about to expire answers with 1 s, never the default (skynetservices/skydns#244).
// Method: a key whose expiry has just passed but is still indexed.
#[test]
fn a_key_at_expiry_answers_one_second() {
    let index = index(&[(
        "/skydns/local/skydns/dying",
        r#"{"host":"10.0.0.7"}"#,
        Some(NOW_MS - 10),
    )]);
    assert_eq!(
        render(&ask(&index, "dying.skydns.local.", RecordType::A)),
        "NoError aa\nanswer: dying.skydns.local. 1 A 10.0.0.7\n"
    );
}

// Goal: the instant a record's TTL first changes is exact: the TTL is the same at every
// millisecond before it and differs at it, for keys with and without a record TTL, with
// much and little time left, expired, and without a key TTL.
// Method: every 7 ms over 12 s before and after expiry, against `dns_ttl` itself.
#[test]
fn a_records_ttl_is_steady_exactly_until_it_changes() {
    let values = [r#"{"host":"10.0.0.1"}"#, r#"{"host":"10.0.0.1","ttl":4}"#];
    for value in values {
        for expires in [Some(NOW_MS + 9_500), Some(NOW_MS + 400), None] {
            let index = index(&[("/skydns/local/skydns/a", value, expires)]);
            let entry = index.exact("/skydns/local/skydns/a").expect("indexed");
            for now in (NOW_MS - 2_000..NOW_MS + 12_000).step_by(7) {
                let ttl = entry.dns_ttl(now, 3600);
                let until = entry.dns_ttl_steady_until_ms(now);
                assert!(until > now, "{value} {expires:?} at {now}: {until}");
                let last = until.min(now + 12_000);
                for later in [now + 1, (now + last) / 2, last - 1] {
                    if later >= last {
                        continue;
                    }
                    assert_eq!(entry.dns_ttl(later, 3600), ttl, "{value} at {later}");
                }
                if until != i64::MAX {
                    assert_ne!(entry.dns_ttl(until, 3600), ttl, "{value} at {until}");
                }
            }
        }
    }
}

// Goal: an answer says how long it stays the same: until its first TTL counted from a key
// changes, else until the SOA serial's next hour. Method: a name with a key TTL, one
// without, an absent name.
#[test]
fn answers_say_until_when_they_hold() {
    let index = index(&[
        (
            "/skydns/local/skydns/short",
            r#"{"host":"10.0.0.1"}"#,
            Some(NOW_MS + 30_500),
        ),
        ("/skydns/local/skydns/fixed", r#"{"host":"10.0.0.2"}"#, None),
    ]);
    let steady = |name: &str| {
        let query = Query {
            name: name.to_owned(),
            qtype: RecordType::A,
            class: Class::In,
        };
        crate::answer::resolve_steady(&zone(), &index, &query, NOW_MS).1
    };
    let next_hour = (NOW_MS / 3_600_000 + 1) * 3_600_000;
    assert_eq!(steady("short.skydns.local."), NOW_MS + 500);
    assert_eq!(steady("fixed.skydns.local."), next_hour);
    assert_eq!(steady("absent.skydns.local."), next_hour);
}

// Goal: NXDOMAIN only for a name with nothing at or below it; a name with records of other
// types is NODATA; both carry the SOA with the negative TTL (skynetservices/skydns#37).
// Method: AAAA of an IPv4-only name, A of an IPv6-only one, A of an absent name.
#[test]
fn nxdomain_and_nodata_are_told_apart() {
    let index = rails();
    let nodata = format!("NoError aa\n{SOA_NEGATIVE}");
    let nxdomain = format!("NxDomain aa\n{SOA_NEGATIVE}");
    assert_eq!(
        render(&ask(
            &index,
            "rails.production.east.skydns.local.",
            RecordType::Aaaa
        )),
        nodata
    );
    assert_eq!(
        render(&ask(&index, "staging.east.skydns.local.", RecordType::Aaaa)),
        "NoError aa\nanswer: staging.east.skydns.local. 3600 AAAA 2001:db8::4\n"
    );
    assert_eq!(
        render(&ask(&index, "east.skydns.local.", RecordType::Other(13))),
        nodata
    );
    assert_eq!(
        render(&ask(&index, "nothing.skydns.local.", RecordType::A)),
        nxdomain
    );
    assert_eq!(
        render(&ask(
            &index,
            "1.rails.production.east.skydns.local.",
            RecordType::Ns
        )),
        nodata
    );
}

// Goal: a name in `host` is a CNAME chased inside the domain, kept only when the chain ends
// in records; loops and self-references are cut. Method: a two-link chain, a loop, a record
// pointing at its own name.
#[test]
fn cnames_are_chased_inside_the_domain() {
    let index = index(&[
        (
            "/skydns/local/skydns/web",
            r#"{"host":"front.skydns.local"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/front",
            r#"{"host":"box.skydns.local."}"#,
            None,
        ),
        ("/skydns/local/skydns/box", r#"{"host":"10.1.1.1"}"#, None),
        (
            "/skydns/local/skydns/ping",
            r#"{"host":"pong.skydns.local"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/pong",
            r#"{"host":"ping.skydns.local"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/self",
            r#"{"host":"self.skydns.local"}"#,
            None,
        ),
    ]);
    assert_eq!(
        render(&ask(&index, "web.skydns.local.", RecordType::A)),
        "NoError aa\n\
         answer: web.skydns.local. 3600 CNAME front.skydns.local.\n\
         answer: front.skydns.local. 3600 CNAME box.skydns.local.\n\
         answer: box.skydns.local. 3600 A 10.1.1.1\n"
    );
    let nodata = format!("NoError aa\n{SOA_NEGATIVE}");
    assert_eq!(
        render(&ask(&index, "ping.skydns.local.", RecordType::A)),
        nodata
    );
    assert_eq!(
        render(&ask(&index, "self.skydns.local.", RecordType::A)),
        nodata
    );
    assert_eq!(
        render(&ask(&index, "web.skydns.local.", RecordType::Cname)),
        "NoError aa\nanswer: web.skydns.local. 3600 CNAME front.skydns.local.\n"
    );
}

// Goal: a CNAME to a name outside the domain asks the server for the target's records, and
// the CNAME stays only if they come back, with the upstream TTL (`rcache_ttl`). Method: the
// pending lookup, completed once with records and once with none.
#[test]
fn cnames_outside_the_domain_are_completed_by_the_server() {
    let index = index(&[(
        "/skydns/local/skydns/ext",
        r#"{"host":"example.org"}"#,
        None,
    )]);
    let answer = ask(&index, "ext.skydns.local.", RecordType::A);
    assert_eq!(render(&answer), "NoError aa\n");
    let [External::Chase { target, qtype, .. }] = answer.external.as_slice() else {
        panic!("one chase expected: {:?}", answer.external);
    };
    assert_eq!((target.as_str(), *qtype), ("example.org.", RecordType::A));
    let found = Record {
        name: "example.org.".to_owned(),
        ttl: 86_400,
        data: Data::A("192.0.2.10".parse().expect("an address")),
    };
    let lookup = answer.external[0].clone();
    let completed = answer
        .clone()
        .complete(vec![(lookup.clone(), vec![found])], 60);
    assert_eq!(
        render(&completed),
        "NoError aa\n\
         answer: ext.skydns.local. 3600 CNAME example.org.\n\
         answer: example.org. 60 A 192.0.2.10\n"
    );
    let failed = answer.complete(vec![(lookup, Vec::new())], 60);
    assert_eq!(render(&failed), format!("NoError aa\n{SOA_NEGATIVE}"));
}

// Goal: SRV weights are shares of their priority level (SkyDNS's floor(100 × w ÷ sum)),
// priority 0 is the default 10, address hosts get targets made from their keys with the
// address as additional, and `targetstrip` shortens them. Method: SkyDNS's README examples.
#[test]
fn srv_weights_targets_and_additionals() {
    let index = index(&[
        (
            "/skydns/local/skydns/db/a",
            r#"{"host":"10.0.0.1","port":5432,"weight":120}"#,
            None,
        ),
        (
            "/skydns/local/skydns/db/b",
            r#"{"host":"10.0.0.2","port":5432}"#,
            None,
        ),
        (
            "/skydns/local/skydns/db/c",
            r#"{"host":"10.0.0.3","port":5432,"weight":130}"#,
            None,
        ),
        (
            "/skydns/local/skydns/db/standby",
            r#"{"host":"10.0.0.4","port":5432,"priority":20}"#,
            None,
        ),
        (
            "/skydns/local/skydns/bar/http",
            r#"{"host":"10.9.0.1","port":80,"targetstrip":1}"#,
            None,
        ),
        (
            "/skydns/local/skydns/bar/https",
            r#"{"host":"10.9.0.1","port":443,"targetstrip":1}"#,
            None,
        ),
    ]);
    assert_eq!(
        render(&ask(&index, "db.skydns.local.", RecordType::Srv)),
        "NoError aa\n\
         answer: db.skydns.local. 3600 SRV 10 34 5432 a.db.skydns.local.\n\
         answer: db.skydns.local. 3600 SRV 10 28 5432 b.db.skydns.local.\n\
         answer: db.skydns.local. 3600 SRV 10 37 5432 c.db.skydns.local.\n\
         answer: db.skydns.local. 3600 SRV 20 100 5432 standby.db.skydns.local.\n\
         additional: a.db.skydns.local. 3600 A 10.0.0.1\n\
         additional: b.db.skydns.local. 3600 A 10.0.0.2\n\
         additional: c.db.skydns.local. 3600 A 10.0.0.3\n\
         additional: standby.db.skydns.local. 3600 A 10.0.0.4\n"
    );
    assert_eq!(
        render(&ask(&index, "bar.skydns.local.", RecordType::Srv)),
        "NoError aa\n\
         answer: bar.skydns.local. 3600 SRV 10 50 80 bar.skydns.local.\n\
         answer: bar.skydns.local. 3600 SRV 10 50 443 bar.skydns.local.\n\
         additional: bar.skydns.local. 3600 A 10.9.0.1\n"
    );
}

// Goal: an SRV target that is a name gets its addresses resolved inside the domain, or asked
// of the upstreams outside it. Method: one target of each kind.
#[test]
fn srv_name_targets_get_glue() {
    let index = index(&[
        (
            "/skydns/local/skydns/svc/in",
            r#"{"host":"box.skydns.local","port":1}"#,
            None,
        ),
        (
            "/skydns/local/skydns/svc/out",
            r#"{"host":"mirror.example.org","port":2}"#,
            None,
        ),
        (
            "/skydns/local/skydns/box/v4",
            r#"{"host":"10.1.1.1"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/box/v6",
            r#"{"host":"2001:db8::1"}"#,
            None,
        ),
    ]);
    let answer = ask(&index, "svc.skydns.local.", RecordType::Srv);
    assert_eq!(
        render(&answer),
        "NoError aa\n\
         answer: svc.skydns.local. 3600 SRV 10 50 1 box.skydns.local.\n\
         answer: svc.skydns.local. 3600 SRV 10 50 2 mirror.example.org.\n\
         additional: box.skydns.local. 3600 A 10.1.1.1\n\
         additional: box.skydns.local. 3600 AAAA 2001:db8::1\n"
    );
    assert_eq!(
        answer.external,
        vec![External::Glue {
            target: "mirror.example.org.".to_owned()
        }]
    );
}

// Goal: TXT serves every record with text, split into 255-byte strings; MX only records with
// `mail`, preference from priority. Method: mixed records under one name.
#[test]
fn txt_and_mx() {
    let long = "x".repeat(300);
    let mail = format!(r#"{{"host":"10.0.0.25","mail":true,"priority":5,"text":"{long}"}}"#);
    let index = index(&[
        ("/skydns/local/skydns/corp/mx1", mail.as_str(), None),
        (
            "/skydns/local/skydns/corp/web",
            r#"{"host":"10.0.0.80","text":"hello"}"#,
            None,
        ),
    ]);
    assert_eq!(
        render(&ask(&index, "corp.skydns.local.", RecordType::Mx)),
        "NoError aa\n\
         answer: corp.skydns.local. 3600 MX 5 mx1.corp.skydns.local.\n\
         additional: mx1.corp.skydns.local. 3600 A 10.0.0.25\n"
    );
    let txt = render(&ask(&index, "corp.skydns.local.", RecordType::Txt));
    let pieces = format!("[\"{}\", \"{}\"]", "x".repeat(255), "x".repeat(45));
    assert_eq!(
        txt,
        format!(
            "NoError aa\n\
             answer: corp.skydns.local. 3600 TXT {pieces}\n\
             answer: corp.skydns.local. 3600 TXT [\"hello\"]\n"
        )
    );
}

// Goal: the apex answers SOA (serial = the hour) and NS from `ns.dns.<domain>` with glue;
// apex addresses come only from `apex.dns.<domain>`, never from the whole zone.
// Method: a zone with name servers and other records.
#[test]
fn apex_soa_ns_and_addresses() {
    let index = index(&[
        (
            "/skydns/local/skydns/dns/ns/ns1",
            r#"{"host":"10.0.0.53"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/dns/ns/ns2",
            r#"{"host":"not-an-address.example"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/dns/apex/a",
            r#"{"host":"10.0.0.100"}"#,
            None,
        ),
        ("/skydns/local/skydns/web", r#"{"host":"10.0.0.80"}"#, None),
    ]);
    assert_eq!(
        render(&ask(&index, "skydns.local.", RecordType::Soa)),
        "NoError aa\nanswer: skydns.local. 3600 SOA ns.dns.skydns.local. \
         hostmaster.skydns.local. 1796464800 28800 7200 604800 60\n"
    );
    assert_eq!(
        render(&ask(&index, "skydns.local.", RecordType::Ns)),
        "NoError aa\n\
         answer: skydns.local. 3600 NS ns1.ns.dns.skydns.local.\n\
         additional: ns1.ns.dns.skydns.local. 3600 A 10.0.0.53\n"
    );
    assert_eq!(
        render(&ask(&index, "skydns.local.", RecordType::A)),
        "NoError aa\nanswer: skydns.local. 3600 A 10.0.0.100\n"
    );
    assert_eq!(
        render(&ask(&index, "skydns.local.", RecordType::Txt)),
        format!("NoError aa\n{SOA_NEGATIVE}")
    );
}

// Goal: PTR answers from the reverse record (not authoritative); a reverse name without one,
// and every name outside the domain, is forwarded, with the domain matched on a label
// boundary (skynetservices/skydns#263). Method: one reverse record; foreign names.
#[test]
fn reverse_and_forwarded_names() {
    let index = index(&[(
        "/skydns/arpa/in-addr/10/0/0/1",
        r#"{"host":"web1.skydns.local"}"#,
        None,
    )]);
    let zone = zone();
    assert_eq!(
        render(&ask(&index, "1.0.0.10.in-addr.arpa.", RecordType::Ptr)),
        "NoError\nanswer: 1.0.0.10.in-addr.arpa. 3600 PTR web1.skydns.local.\n"
    );
    for (name, qtype) in [
        ("2.0.0.10.in-addr.arpa.", RecordType::Ptr),
        ("1.0.0.10.in-addr.arpa.", RecordType::A),
        ("example.org.", RecordType::A),
        ("notskydns.local.", RecordType::A),
        (".", RecordType::Ns),
    ] {
        let query = Query {
            name: name.to_owned(),
            qtype,
            class: Class::In,
        };
        assert_eq!(
            resolve(&zone, &index, &query, NOW_MS),
            Outcome::Forward,
            "{name}"
        );
    }
    let endocode = Zone::new("endocode.com.", "skydns").expect("a valid domain");
    let query = Query {
        name: "ndocode.com.".to_owned(),
        qtype: RecordType::A,
        class: Class::In,
    };
    assert_eq!(resolve(&endocode, &index, &query, NOW_MS), Outcome::Forward);
}

// Goal: groups stop a parent from aggregating its children of another group (SkyDNS's
// example). Method: a, b in g1 at `domain`, c, d in g2 at `subdom.domain`.
#[test]
fn groups_keep_apart() {
    let index = index(&[
        (
            "/skydns/local/skydns/domain/a",
            r#"{"host":"10.0.0.1","group":"g1"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/domain/b",
            r#"{"host":"10.0.0.2","group":"g1"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/domain/subdom/c",
            r#"{"host":"10.0.0.3","group":"g2"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/domain/subdom/d",
            r#"{"host":"10.0.0.4","group":"g2"}"#,
            None,
        ),
    ]);
    assert_eq!(
        render(&ask(&index, "domain.skydns.local.", RecordType::A)),
        "NoError aa\n\
         answer: domain.skydns.local. 3600 A 10.0.0.1\n\
         answer: domain.skydns.local. 3600 A 10.0.0.2\n"
    );
    assert_eq!(
        render(&ask(&index, "subdom.domain.skydns.local.", RecordType::A)),
        "NoError aa\n\
         answer: subdom.domain.skydns.local. 3600 A 10.0.0.3\n\
         answer: subdom.domain.skydns.local. 3600 A 10.0.0.4\n"
    );
}

// Goal: `*` and `any` match one label in any position, deeper records match too, and the
// owner is the name as asked. Method: SkyDNS's `*.east` / `staging.*` / `*.*` queries.
#[test]
fn wildcards_in_queries() {
    let index = rails();
    assert_eq!(
        render(&ask(&index, "rails.*.east.skydns.local.", RecordType::A)),
        "NoError aa\n\
         answer: rails.*.east.skydns.local. 30 A 10.0.0.1\n\
         answer: rails.*.east.skydns.local. 30 A 10.0.0.2\n"
    );
    assert_eq!(
        render(&ask(&index, "production.any.skydns.local.", RecordType::A)),
        "NoError aa\n\
         answer: production.any.skydns.local. 21 A 10.0.0.1\n\
         answer: production.any.skydns.local. 21 A 10.0.0.2\n\
         answer: production.any.skydns.local. 21 A 10.0.9.9\n"
    );
    assert_eq!(
        render(&ask(&index, "*.*.north.skydns.local.", RecordType::A)),
        format!("NxDomain aa\n{SOA_NEGATIVE}")
    );
}

// Goal: ANY and classes other than IN and CHAOS are refused; CHAOS serves the version and
// host name. Method: one query of each.
#[test]
fn any_chaos_and_other_classes() {
    let index = rails();
    let zone = zone();
    let any = ask(
        &index,
        "rails.production.east.skydns.local.",
        RecordType::Any,
    );
    assert_eq!(any.rcode, Rcode::Refused);
    let ask_class = |name: &str, class| {
        let query = Query {
            name: name.to_owned(),
            qtype: RecordType::Txt,
            class,
        };
        match resolve(&zone, &index, &query, NOW_MS) {
            Outcome::Answer(answer) => render(&answer),
            Outcome::Forward => "forwarded".to_owned(),
        }
    };
    assert_eq!(
        ask_class("version.bind.", Class::Chaos),
        format!(
            "NoError aa\nanswer: version.bind. 0 TXT [\"keel-discovery {}\"]\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert_eq!(
        ask_class("id.server.", Class::Chaos),
        "NoError aa\nanswer: id.server. 0 TXT [\"localhost\"]\n"
    );
    assert_eq!(ask_class("authors.bind.", Class::Chaos), "Refused\n");
    assert_eq!(ask_class("skydns.local.", Class::Other(4)), "Refused\n");
}

// Goal: the host-local name answers as the configured name; identical services are returned
// once. Method: `-local` set to a per-host key; two keys with the same service.
#[test]
fn host_local_name_and_duplicates() {
    let index = index(&[
        (
            "/skydns/local/skydns/hosts/h1",
            r#"{"host":"10.0.0.11"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/twice/x1",
            r#"{"host":"10.0.0.12","port":80}"#,
            None,
        ),
        (
            "/skydns/local/skydns/twice/x2",
            r#"{"host":"10.0.0.12","port":80}"#,
            None,
        ),
    ]);
    let mut zone = zone();
    zone.local = Some("h1.hosts.skydns.local.".to_owned());
    assert_eq!(
        render(&ask_in(
            &zone,
            &index,
            "local.dns.skydns.local.",
            RecordType::A
        )),
        "NoError aa\nanswer: local.dns.skydns.local. 3600 A 10.0.0.11\n"
    );
    assert_eq!(
        render(&ask(&index, "twice.skydns.local.", RecordType::Srv)),
        "NoError aa\n\
         answer: twice.skydns.local. 3600 SRV 10 100 80 x1.twice.skydns.local.\n\
         additional: x1.twice.skydns.local. 3600 A 10.0.0.12\n"
    );
}

// Goal: malformed values are skipped and listed, never indexed; an update replaces, removes
// and skips per key without touching the rest. Method: build, then update.
#[test]
fn malformed_records_are_skipped_and_updates_apply() {
    let stored = [
        ("/skydns/local/skydns/good", r#"{"host":"10.0.0.1"}"#),
        ("/skydns/local/skydns/array", "[1,2]"),
        (
            "/skydns/local/skydns/port",
            r#"{"host":"10.0.0.2","port":"80"}"#,
        ),
        ("/skydns/local/skydns/text", "not json"),
    ];
    let (index, skipped) = Index::build(stored.iter().map(|(key, value)| Stored {
        key,
        value,
        expires_at_ms: None,
    }));
    assert_eq!(index.len(), 1);
    let keys: Vec<&str> = skipped.iter().map(|skip| skip.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "/skydns/local/skydns/array",
            "/skydns/local/skydns/port",
            "/skydns/local/skydns/text"
        ]
    );
    let changed = Stored {
        key: "/skydns/local/skydns/port",
        value: r#"{"host":"10.0.0.2","port":80}"#,
        expires_at_ms: None,
    };
    let (updated, skipped) = index.updated([
        ("/skydns/local/skydns/good", None),
        ("/skydns/local/skydns/port", Some(changed)),
    ]);
    assert!(skipped.is_empty());
    assert_eq!(updated.len(), 1);
    assert!(updated.exact("/skydns/local/skydns/port").is_some());
    assert!(
        index.exact("/skydns/local/skydns/good").is_some(),
        "the old index is unchanged"
    );
}

// Goal: round robin rotates addresses, but never a chain of CNAMEs. Method: rotate by one.
#[test]
fn round_robin_rotates_addresses_only() {
    let mut answer = ask(
        &rails(),
        "rails.production.east.skydns.local.",
        RecordType::A,
    );
    rotate_addresses(&mut answer, 1);
    assert_eq!(
        render(&answer),
        "NoError aa\n\
         answer: rails.production.east.skydns.local. 30 A 10.0.0.2\n\
         answer: rails.production.east.skydns.local. 30 A 10.0.0.1\n"
    );
    let index = index(&[
        (
            "/skydns/local/skydns/a",
            r#"{"host":"b.skydns.local"}"#,
            None,
        ),
        (
            "/skydns/local/skydns/b",
            r#"{"host":"c.skydns.local"}"#,
            None,
        ),
        ("/skydns/local/skydns/c/1", r#"{"host":"10.0.0.1"}"#, None),
        ("/skydns/local/skydns/c/2", r#"{"host":"10.0.0.2"}"#, None),
    ]);
    let mut chained = ask(&index, "a.skydns.local.", RecordType::A);
    let before = render(&chained);
    rotate_addresses(&mut chained, 1);
    assert_eq!(render(&chained), before);
}
