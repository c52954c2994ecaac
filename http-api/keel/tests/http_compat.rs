//! HTTP compatibility with etcd 3.4: one script of raw HTTP requests runs, in order, against a
//! real single-member etcd (`/usr/bin/etcd --enable-v2`, Debian's `etcd-server`) and against a
//! single-member Keel, and every pair of replies must be equal after normalisation (status,
//! the headers clients read, and the body, JSON field order included). The real etcd is the
//! reference wherever the spec is silent; the differences `docs/compat.md` lists as deliberate
//! are tolerated exactly, case by case (`http_compat::Known`).
//!
//! The harness is in `http_compat/`: the etcd launcher, a raw HTTP/1.1 client, the normaliser
//! (what it rewrites and why is documented there) and the runner.

// A test crate: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

use testkit as common;
#[path = "http_compat/mod.rs"]
mod http_compat;

use common::Cluster;
use http_compat::etcd::{Etcd, ETCD};
use http_compat::normalise::Shape;
use http_compat::{delete, get, head, method, post, put, put_bare, Case, Known, Runner, Step};
use std::net::SocketAddr;

/// The script must exercise at least this many compared requests.
const COMPARED_MIN: usize = 80;
/// Writes of the burst that pushes the first events out of the 1000-event history.
const BURST_WRITES: usize = 1010;

fn send(cases: Vec<Case>) -> Vec<Step> {
    cases.into_iter().map(Step::Send).collect()
}

/// Set, create, update, compare-and-swap and `noValueOnSuccess` (spec §5.2, §5.5). The comment
/// after a write is its index relative to the first write (`@0`).
fn writes() -> Vec<Step> {
    send(vec![
        put("/v2/keys/anchor", "value=a"), // @0: the base of both servers' indexes
        get("/v2/keys/anchor"),
        put("/v2/keys/foo", "value=bar"),                  // @1
        put("/v2/keys/foo", "value=baz"),                  // @2
        put("/v2/keys/foo?prevExist=true", "value=y"),     // @3
        put("/v2/keys/foo?prevExist=false", "value=z"),    // 105
        put("/v2/keys/new1?prevExist=false", "value=n"),   // @4
        put("/v2/keys/foo?prevValue=y", "value=cas1"),     // @5
        put("/v2/keys/foo?prevValue=wrong", "value=z"),    // 101
        put("/v2/keys/foo?prevIndex={i:5}", "value=cas2"), // @6
        put("/v2/keys/foo?prevIndex={i:1}", "value=z"),    // 101, index cause
        put("/v2/keys/foo?prevValue=wrong&prevIndex={i:1}", "value=z"), // 101, both
        put("/v2/keys/foo?prevExist=true&prevValue=cas2", "value=cas3"), // @7
        put("/v2/keys/foo?prevExist=false&prevValue=x", "value=z"), // 105
        put("/v2/keys/foo?prevIndex=0", "value=plain"),    // @8: set
        put("/v2/keys/missing?prevExist=true", "value=x"), // 100
        put("/v2/keys/missing?prevValue=x", "value=y"),    // 100
        put("/v2/keys/missing?prevIndex=3", "value=y"),    // 100
        put("/v2/keys/nv?noValueOnSuccess=true", "value=1"), // @9
        put(
            "/v2/keys/nv?noValueOnSuccess=true&prevExist=true",
            "value=2",
        ), // @10
        put("/v2/keys/nv?noValueOnSuccess=true&prevValue=2", "value=3"), // @11
        put(
            "/v2/keys/nv2?noValueOnSuccess=true&prevExist=false",
            "value=1",
        ), // @12
        put(
            "/v2/keys/nv?noValueOnSuccess=true&prevValue=nope",
            "value=3",
        ), // 101
        put("/v2/keys/foo/sub?prevExist=false", "value=x"), // 104
        get("/v2/keys/missing?quorum=true"),               // 100
        delete("/v2/keys/nv?noValueOnSuccess=true"),       // @13
    ])
}

/// Deletes, compare-and-delete, directories, and the errors of each (spec §5.2, §5.4).
fn deletes_and_directories() -> Vec<Step> {
    send(vec![
        put("/v2/keys/cad", "value=one"),                      // @14
        delete("/v2/keys/cad?prevValue=two"),                  // 101
        delete("/v2/keys/cad?prevIndex={i:3}"),                // 101
        delete("/v2/keys/cad?prevValue=one&prevIndex={i:14}"), // @15
        delete("/v2/keys/cad?prevValue=one"),                  // 100
        delete("/v2/keys/new1"),                               // @16
        put("/v2/keys/dir1", "dir=true"),                      // @17
        put("/v2/keys/dir1/a", "value=1"),                     // @18
        put("/v2/keys/dir1", "value=x"),                       // 102
        put("/v2/keys/dir1", "dir=true"),                      // 102
        put("/v2/keys/dir1?prevExist=false", "dir=true"),      // 105
        delete("/v2/keys/dir1"),                               // 102
        delete("/v2/keys/dir1?dir=true"),                      // 108
        delete("/v2/keys/dir1?prevValue=x"),                   // 102
        put("/v2/keys/dir1/a/b", "value=x"),                   // 104
        get("/v2/keys/dir1/a/b"),                              // 104
        post("/v2/keys/dir1/a", "value=x"),                    // 104
        delete("/v2/keys/dir1/a/b"),                           // 104
        delete("/v2/keys/dir1?recursive=true"),                // @19
        get("/v2/keys/dir1/a"),                                // 100, cause /dir1
        delete("/v2/keys/dir1?dir=true"),                      // 100
        put("/v2/keys/", "value=x"),                           // 107
        put_bare("/v2/keys?prevExist=true"),                   // 107
        put("/v2/keys/?prevExist=false", "dir=true"),          // 107
        put("/v2/keys/?prevValue=x", "value=y"),               // 107
        delete("/v2/keys/?dir=true"),                          // 107
        delete("/v2/keys/?recursive=true"),                    // 107
        delete("/v2/keys/?prevValue=x").known(Known::RootCompareAndDeleteCause),
        put("/v2/keys/file1", "value=f"),                    // @20
        put("/v2/keys/file1", "dir=true"),                   // @21: the file becomes a directory
        put("/v2/keys/emptydir", "dir=true&value=ignored"),  // @22
        put("/v2/keys/emptydir?prevExist=true", "value=x"),  // 102
        put("/v2/keys/emptydir?prevExist=true", "dir=true"), // @23: update of a directory
        get("/v2/keys/emptydir"),                            // modifiedIndex stays @22 [Q]
        delete("/v2/keys/emptydir?dir=true"),                // @24
        get("/v2/keys/"),
    ])
}

/// In-order keys (spec §5.3).
fn in_order_keys() -> Vec<Step> {
    send(vec![
        post("/v2/keys/queue", "value=job1"), // @25
        post("/v2/keys/queue", "value=job2"), // @26
        post("/v2/keys/queue", "dir=true"),   // @27
        post("/v2/keys/queue?prevExist=false&prevValue=x", "value=job3"), // @28
        get("/v2/keys/queue?sorted=true"),
        get("/v2/keys/queue/{q:25}"),
        post("/v2/keys/", "value=rootseq"),             // @29
        delete("/v2/keys/{q:29}"),                      // @30
        post("/v2/keys/foo", "value=x"),                // 104
        post("/v2/keys/queue", "value=ttljob&ttl=500"), // @31
        put("/v2/keys/queue/{q:25}?prevValue=job1", "value=done"), // @32
    ])
}

/// Request validation: every parse error code, etcd's order, where parameters come from
/// (spec §1, §10). None of these changes the index, except the last four writes.
fn parameters() -> Vec<Step> {
    let mut cases = vec![
        put("/v2/keys/e?prevValue=", "value=x"),             // 201
        put("/v2/keys/e", "value=x&ttl=abc"),                // 202
        put("/v2/keys/e?ttl=-1", "value=x"),                 // 202
        put_bare("/v2/keys/e?ttl=1.5"),                      // 202
        put("/v2/keys/e?prevIndex=abc", "value=x"),          // 203
        delete("/v2/keys/e?prevIndex=-1"),                   // 203
        get("/v2/keys/e?wait=true&waitIndex=x"),             // 203
        get("/v2/keys/e?recursive=maybe"),                   // 209
        get("/v2/keys/e?sorted=2"),                          // 209
        get("/v2/keys/e?quorum=yes"),                        // 209
        get("/v2/keys/e?wait=yes"),                          // 209
        get("/v2/keys/e?wait=true&stream=nope"),             // 209
        put("/v2/keys/e?wait=true", "value=x"),              // 209
        delete("/v2/keys/e?wait=true"),                      // 209
        put("/v2/keys/e?prevExist=yes", "value=x"),          // 209, unquoted name
        put_bare("/v2/keys/e?refresh=yes&ttl=5"),            // 209, unquoted name
        put("/v2/keys/e?noValueOnSuccess=maybe", "value=x"), // 209
        put_bare("/v2/keys/e?dir=maybe"),                    // 209
        put("/v2/keys/e?a=%zz", "value=x"),                  // 210
        put("/v2/keys/e", "value=%zz"),                      // 210
        put_bare("/v2/keys/e?a=1;b=2"),                      // 210
        put("/v2/keys/e?refresh=true&ttl=5", "value=x"),     // 211
        put_bare("/v2/keys/e?refresh=true"),                 // 212
        put_bare("/v2/keys/e?refresh=true&ttl="),            // 212
        put_bare("/v2/keys/e?refresh=true&ttl=5"),           // 100
        put_bare("/v2/keys/e?refresh=true&ttl=5&prevExist=true"), // 100
        put_bare("/v2/keys/e?prevIndex=x&recursive=maybe&ttl=bad"), // 203 first
        put_bare("/v2/keys/e?recursive=maybe&prevValue="),   // 209 before 201
        put_bare("/v2/keys/e?prevValue=&ttl=bad"),           // 201 before 202
        put_bare("/v2/keys/e?ttl=bad&prevExist=maybe"),      // 202 before 209
        put("/v2/keys/form?value=query", "value=body"),      // @33: the body wins
        put_bare("/v2/keys/form?value=first&value=second"),  // @34: the first wins
    ];
    cases.push(
        // @35: a JSON body is not read, so the value is empty.
        method("PUT", "/v2/keys/form").typed_body("application/json", r#"{"value":"x"}"#),
    );
    // @36: a DELETE body is not read: a plain delete, not a compare-and-delete.
    cases.push(method("DELETE", "/v2/keys/form").form("prevValue=nomatch"));
    send(cases)
}

/// TTL set, refresh, clear, directory TTL and expiry (spec §6).
fn ttl() -> Vec<Step> {
    let mut steps = send(vec![
        put("/v2/keys/ttlkey", "value=t&ttl=500"), // @37
        get("/v2/keys/ttlkey"),
        put("/v2/keys/ttlkey?refresh=true&prevExist=true", "ttl=600"), // @38 update
        put("/v2/keys/ttlkey?refresh=true", "ttl=700"), // @39 set, new createdIndex [Q]
        put("/v2/keys/ttlkey?refresh=true&prevValue=t", "ttl=800"), // @40 compareAndSwap
        put("/v2/keys/ttlkey?refresh=true&prevValue=wrong", "ttl=800"), // 101
        put("/v2/keys/ttlkey?prevExist=true", "value=t2"), // @41: the TTL goes
        get("/v2/keys/ttlkey"),
        put("/v2/keys/ttlkey", "value=t3&ttl=500"), // @42
        put("/v2/keys/ttlkey", "value=t4"),         // @43: set without ttl is permanent
        put("/v2/keys/ttlkey?prevExist=true", "value=t5&ttl="), // @44
        put("/v2/keys/ttldir", "dir=true&ttl=500"), // @45
        put("/v2/keys/ttldir/child", "value=c"),    // @46
        get("/v2/keys/ttldir?recursive=true"),
        put("/v2/keys/ttldir?prevExist=true", "dir=true&ttl=600"), // @47
        put("/v2/keys/ttldir?prevExist=true", "dir=true&ttl="),    // @48
        get("/v2/keys/ttldir"),
        put("/v2/keys/short", "value=s&ttl=1"), // @49
    ]);
    steps.push(Step::AwaitGone("/short")); // @50: expire
    steps.extend(send(vec![
        get("/v2/keys/short?wait=true&waitIndex={i:50}"),
        get("/v2/keys/short?wait=true&waitIndex={i:49}"),
        put("/v2/keys/shortdir", "dir=true&ttl=1"), // @51
        put("/v2/keys/shortdir/x", "value=1"),      // @52
    ]));
    steps.push(Step::AwaitGone("/shortdir")); // @53: one expire event for the directory
    steps.extend(send(vec![
        get("/v2/keys/shortdir/x?wait=true&waitIndex={i:53}"),
        get("/v2/keys/shortdir/x"),
    ]));
    steps
}

/// Hidden keys (spec §8) and listings (spec §5.1), HEAD (spec §4).
fn hidden_and_listings() -> Vec<Step> {
    send(vec![
        put("/v2/keys/hid/_secret", "value=s"),     // @54
        put("/v2/keys/hid/visible", "value=v"),     // @55
        put("/v2/keys/hid/sub/_deep", "value=d"),   // @56
        put("/v2/keys/hid/_hdir/inner", "value=i"), // @57
        get("/v2/keys/hid?recursive=true&sorted=true"),
        get("/v2/keys/hid"),
        get("/v2/keys/hid/_secret"),
        get("/v2/keys/hid/_hdir?recursive=true"),
        get("/v2/keys/hid?wait=true&recursive=true&waitIndex={i:54}").known(Known::HiddenKeyReplay),
        get("/v2/keys/hid/_secret?wait=true&waitIndex={i:54}"),
        delete("/v2/keys/hid/_secret"),      // @58
        put("/v2/keys/list/b", "value=b"),   // @59
        put("/v2/keys/list/a/y", "value=y"), // @60
        put("/v2/keys/list/a/x", "value=x"), // @61
        put("/v2/keys/list/c", "dir=true"),  // @62
        get("/v2/keys/list"),
        get("/v2/keys/list?sorted=true"),
        get("/v2/keys/list?recursive=true"),
        get("/v2/keys/list?recursive=true&sorted=true"),
        get("/v2/keys/list/b?recursive=true&sorted=true"),
        get("/v2/keys/list/a/x?quorum=true"),
        get("/v2/keys/?recursive=true&sorted=true"),
        head("/v2/keys/list/b"),
        head("/v2/keys/nokey"),
        head("/v2/keys/list?recursive=true"),
        head("/v2/keys/list?wait=true"),             // 209
        put("/v2/keys/list?prevValue=x", "value=y"), // 102
        put("/v2/keys/list/b", "value="),            // @63: an empty value is kept as ""
    ])
}

/// Watches answered from history with `waitIndex` (spec §7).
fn history_watches() -> Vec<Step> {
    send(vec![
        get("/v2/keys/foo?wait=true&waitIndex={i:1}"),
        get("/v2/keys/foo?wait=true&waitIndex={i:4}"),
        get("/v2/keys/dir1?wait=true&recursive=true&waitIndex={i:17}"),
        get("/v2/keys/dir1?wait=true&recursive=true&waitIndex={i:18}"),
        get("/v2/keys/dir1?wait=true&waitIndex={i:18}"),
        get("/v2/keys/dir1/a?wait=true&waitIndex={i:19}"),
        get("/v2/keys/ttlkey?wait=true&waitIndex={i:38}"), // refreshes are skipped: @41
        get("/v2/keys/?wait=true&recursive=true&waitIndex={i:0}"),
        get("/v2/keys/nv?wait=true&waitIndex={i:13}"),
        get("/v2/keys/queue?wait=true&recursive=true&waitIndex={i:25}"),
        get("/v2/keys/foo?wait=true&waitIndex={i:1}&quorum=true&sorted=true"),
    ])
}

/// Watches that wait for a later write (spec §7).
fn live_watches() -> Vec<Step> {
    vec![
        Step::LiveWatch {
            watch: get("/v2/keys/live?wait=true"),
            triggers: vec![put("/v2/keys/live", "value=1")], // @64
        },
        Step::LiveWatch {
            // waitIndex in the future: the first write is too early, the hidden one is
            // skipped by a live watch, the third is delivered.
            watch: get("/v2/keys/lw?wait=true&recursive=true&waitIndex={c:2}"),
            triggers: vec![
                put("/v2/keys/lw/a", "value=1"),  // @65
                put("/v2/keys/lw/_h", "value=h"), // @66
                put("/v2/keys/lw/b", "value=2"),  // @67
            ],
        },
        Step::Send(put("/v2/keys/ld/k", "value=k")), // @68
        Step::LiveWatch {
            watch: get("/v2/keys/ld/k?wait=true"),
            triggers: vec![delete("/v2/keys/ld?recursive=true")], // @69
        },
        Step::Send(put("/v2/keys/ldir", "dir=true")), // @70
        Step::LiveWatch {
            watch: get("/v2/keys/ldir?wait=true"),
            triggers: vec![
                put("/v2/keys/ldir/child", "value=1"),                   // @71
                put("/v2/keys/ldir?prevExist=true", "dir=true&ttl=500"), // @72
            ],
        },
    ]
}

/// Path handling (spec §1): cleaning, percent-decoding, 404, 405.
fn paths() -> Vec<Step> {
    send(vec![
        get("/v2/keys//foo"),
        put("/v2/keys/a/../foo", "value=x"),
        get("/v2/keys/./x?y=1"),
        delete("/v2/keys/dir//x"),
        method("PATCH", "/v2/keys//foo"),
        get("/v2/keys/foo/"),
        get("/v2/keys"),
        get("/v2/keysfoo"),
        get("/nope"),
        get("/v2/nope"),
        get("/v2/stats/nope"),
        method("PATCH", "/v2/keys/foo"),
        put("/v2/keys/pct%2Fa", "value=x"),  // @73
        put("/v2/keys/sp%20ace", "value=y"), // @74
        get("/v2/keys/pct"),
        get("/v2/keys/pct%2F%2Fa"),
        put("/v2/keys/utf/%C3%A9t%C3%A9", "value=%E2%9C%93"), // @75
        get("/v2/keys/utf?recursive=true"),
        put("/v2/keys/esc", "value=%3Ca%3E%26%22%5C%0A%08%E2%80%A8"), // @76
        put("/v2/keys/plus+sign", "value=a+b"),                       // @77
        post("/v2/keys/newq", "value=1"), // @78: the directory is made with the same index
        get("/v2/keys/newq?recursive=true"),
        put("/v2/keys/_roothidden", "value=h"), // @79
        get("/v2/keys/?sorted=true"),
    ])
}

/// Less common shapes of the same operations, and parameter edge cases.
fn corners() -> Vec<Step> {
    send(vec![
        put("/v2/keys/cdir?prevExist=false", "dir=true"), // @80
        put("/v2/keys/cttl?prevExist=false", "value=1&ttl=500"), // @81
        delete("/v2/keys/nv2?dir=true"),                  // @82: a file goes whatever dir says
        delete("/v2/keys/cttl?recursive=true"),           // @83
        put("/v2/keys/cdir?prevExist=true&prevValue=x", "value=y"), // 102
        put("/v2/keys/cdir/f", "value=f"),                // @84
        delete("/v2/keys/cdir?dir=true&recursive=false"), // 108
        put("/v2/keys/dots/...", "value=x"),              // @85
        put("/v2/keys/dots/.x", "value=x"),               // @86: not hidden
        get("/v2/keys/dots?sorted=true"),
        get("/v2/keys/e?wait=true&waitIndex=18446744073709551616"), // 203
        put("/v2/keys/e?prevIndex=18446744073709551616", "value=x"), // 203
        put_bare("/v2/keys/e?ttl=99999999999999999999"),            // 202
        put_bare("/v2/keys/e?value=a+b&prevExist=maybe"),           // 209
        method("PUT", "/v2/keys/ct").typed_body(
            "application/x-www-form-urlencoded; charset=UTF-8",
            "value=x",
        ), // @87
        method("PUT", "/v2/keys/ct").typed_body("text/plain", "value=y"), // @88: body unread
        method("PUT", "/v2/keys/ct").typed_body("bad type", "value=z"), // 210
        method("GET", "/v2/keys/ct").form("recursive=maybe"),       // a GET body is unread
        post("/v2/keys/ct?wait=true", "value=x"),                   // 209
        head("/v2/keys/"),
        method("OPTIONS", "/v2/keys/foo"),
    ])
}

/// The other endpoints (spec §9): exact where both servers must agree, shape where they hold
/// run-specific values.
fn other_endpoints() -> Vec<Step> {
    send(vec![
        get("/version"),
        get("/v2/stats/store").shape(Shape::Counters),
        get("/v2/members").shape(Shape::Members),
        get("/v2/members/leader").shape(Shape::Members),
        get("/v2/members/nope"),
        get("/health"),
        get("/v2/machines"),
    ])
}

/// Error 401 (spec §7): push the first events out of the 1000-event window.
fn cleared_history() -> Vec<Step> {
    let mut steps = vec![Step::Burst(BURST_WRITES)];
    steps.extend(send(vec![
        get("/v2/keys/foo?wait=true&waitIndex={i:1}"),
        get("/v2/keys/burst?wait=true&recursive=true&waitIndex={c:-999}"),
        get("/v2/keys/burst?wait=true&recursive=true&waitIndex={c:-1000}"),
    ]));
    steps
}

fn script() -> Vec<Step> {
    [
        writes(),
        deletes_and_directories(),
        in_order_keys(),
        parameters(),
        ttl(),
        hidden_and_listings(),
        history_watches(),
        live_watches(),
        paths(),
        corners(),
        other_endpoints(),
        cleared_history(),
    ]
    .concat()
}

/// Whether the real etcd is installed (see `testkit::reference_tools_present`).
fn etcd_present() -> bool {
    testkit::reference_tools_present(&[(ETCD, "etcd-server")])
}

// Goal: Keel answers every keys operation, error, TTL, listing, watch, path and cluster
// request as etcd 3.4 does. Method: start one etcd and one Keel member on loopback, run the
// same script of raw HTTP requests against both in lockstep, normalise each reply (relative
// indexes, times, ids, ports) and require equal status, headers and bodies; documented
// deliberate differences are allowed case by case, and every difference is listed at the end.
#[test]
fn keys_api_matches_etcd() {
    if !etcd_present() {
        return;
    }
    let etcd = Etcd::start();
    let keel = Cluster::start(1, &[]);
    let keel_address: SocketAddr = keel.url(0).trim_start_matches("http://").parse().unwrap();
    let mut runner = Runner::new(etcd.address, keel_address);
    runner.run(&script());
    let report = &runner.report;
    assert!(
        report.compared >= COMPARED_MIN,
        "only {} requests compared",
        report.compared
    );
    assert!(
        report.differences.is_empty(),
        "{} of {} replies differ from etcd {}:\n\n{}\n\netcd log tail:\n{}",
        report.differences.len(),
        report.compared,
        etcd.client_url,
        report.differences.join("\n\n"),
        etcd.log_tail()
    );
    eprintln!("{} requests compared, no difference", report.compared);
}
