//! Running the script on both servers and comparing what they answered.

use super::normalise::{self, Body, Indexes, Normalised};
use super::raw::{self, Reply, Request, REQUEST_DEADLINE};
use super::{Case, Known, Step};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;
use testkit::wait_for;

/// How long a TTL of one second may take to be swept (etcd's SYNC runs every 500 ms).
const EXPIRY_DEADLINE: Duration = Duration::from_secs(15);
/// How long a live watch may take to show up in `/v2/stats/store`.
const WATCHER_DEADLINE: Duration = Duration::from_secs(10);
/// Connections a burst writes through at once.
const BURST_CONNECTIONS: usize = 4;

/// One server under test and what the harness tracks about its index.
struct Server {
    name: &'static str,
    address: SocketAddr,
    /// The index of the test's first write, once it happened.
    base: Option<u64>,
    /// The last non-zero `X-Etcd-Index` seen.
    current: u64,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests sent to both servers and compared.
    pub compared: usize,
    /// One entry per request whose normalised replies differ.
    pub differences: Vec<String>,
}

/// Runs steps on etcd (the reference) and Keel, in lockstep.
pub struct Runner {
    etcd: Server,
    keel: Server,
    pub report: Report,
}

impl Runner {
    pub fn new(etcd: SocketAddr, keel: SocketAddr) -> Runner {
        let server = |name, address| Server {
            name,
            address,
            base: None,
            current: 0,
        };
        Runner {
            etcd: server("etcd", etcd),
            keel: server("keel", keel),
            report: Report::default(),
        }
    }

    pub fn run(&mut self, steps: &[Step]) {
        for (number, step) in steps.iter().enumerate() {
            self.step(number, step);
        }
    }

    fn step(&mut self, number: usize, step: &Step) {
        match step {
            Step::Send(case) => {
                let etcd = self.etcd.send(case);
                let keel = self.keel.send(case);
                self.compare(number, case, &etcd, &keel);
            }
            Step::AwaitGone(path) => {
                self.etcd.await_gone(path);
                self.keel.await_gone(path);
            }
            Step::Burst(count) => {
                self.etcd.burst(*count);
                self.keel.burst(*count);
            }
            Step::LiveWatch { watch, triggers } => {
                let (etcd_watch, etcd_writes) = self.etcd.live_watch(watch, triggers);
                let (keel_watch, keel_writes) = self.keel.live_watch(watch, triggers);
                for (trigger, (etcd, keel)) in
                    triggers.iter().zip(etcd_writes.iter().zip(&keel_writes))
                {
                    self.compare(number, trigger, etcd, keel);
                }
                self.compare(number, watch, &etcd_watch, &keel_watch);
            }
        }
    }

    /// Normalise both replies, allow exactly the documented differences, compare the rest.
    fn compare(&mut self, number: usize, case: &Case, etcd: &Sent, keel: &Sent) {
        self.report.compared += 1;
        let indexes = |server: &Server| Indexes {
            base: server.base.unwrap_or(0),
        };
        let mut etcd_normalised =
            normalise::normalise(&etcd.reply, &etcd.target, case.shape, indexes(&self.etcd));
        let mut keel_normalised =
            normalise::normalise(&keel.reply, &keel.target, case.shape, indexes(&self.keel));
        allow_known(case.known, &mut etcd_normalised, &mut keel_normalised).unwrap_or_else(
            |problem| {
                self.report
                    .differences
                    .push(format!("step {number} {}: {problem}", describe(case)));
            },
        );
        // Keel's router adds `X-Etcd-Cluster-Id` to every reply (a layer in kv-http's
        // `lib.rs`); etcd sends it on the keys and members replies only. An extra header no
        // client reads is allowed; a missing one is not.
        if !etcd_normalised
            .headers
            .iter()
            .any(|(name, _)| name == "x-etcd-cluster-id")
        {
            keel_normalised
                .headers
                .retain(|(name, _)| name != "x-etcd-cluster-id");
        }
        if let (
            Body::Json {
                value: reference, ..
            },
            Body::Json { value, .. },
        ) = (&etcd_normalised.body, &mut keel_normalised.body)
        {
            normalise::reconcile_ttl(reference, value);
        }
        let (etcd_text, keel_text) = (
            normalise::render(&etcd_normalised),
            normalise::render(&keel_normalised),
        );
        if etcd_text != keel_text {
            self.report.differences.push(format!(
                "step {number} {}\n  etcd:\n{}\n  keel:\n{}",
                describe(case),
                indent(&etcd_text),
                indent(&keel_text)
            ));
        }
    }
}

/// A reply and the target it answered (placeholders expanded for that server).
struct Sent {
    target: String,
    reply: Reply,
}

impl Server {
    /// Expand a template for this server (see the module docs of `http_compat`).
    fn expand(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let Some(length) = rest[start..].find('}') else {
                break;
            };
            out.push_str(&rest[..start]);
            let inner = &rest[start + 1..start + length];
            out.push_str(
                &self
                    .placeholder(inner)
                    .unwrap_or_else(|| format!("{{{inner}}}")),
            );
            rest = &rest[start + length + 1..];
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&self, inner: &str) -> Option<String> {
        let (kind, offset) = inner.split_once(':')?;
        let offset: i64 = offset.parse().ok()?;
        let from = match kind {
            "i" | "q" => self
                .base
                .expect("a relative index is used after the first write"),
            "c" => self.current,
            _ => return None,
        };
        let index = u64::try_from(i128::from(from) + i128::from(offset)).ok()?;
        Some(if kind == "q" {
            format!("{index:020}")
        } else {
            index.to_string()
        })
    }

    fn request(&self, case: &Case) -> Request {
        Request {
            method: case.method.to_owned(),
            target: self.expand(&case.target),
            body: case.body.as_ref().map(|(content_type, body)| {
                ((*content_type).to_owned(), self.expand(body).into_bytes())
            }),
        }
    }

    fn send(&mut self, case: &Case) -> Sent {
        let request = self.request(case);
        let reply = raw::send(self.address, &request).unwrap_or_else(|error| {
            panic!(
                "{} {} {}: {error}",
                self.name, request.method, request.target
            )
        });
        self.observe(&reply);
        Sent {
            target: request.target,
            reply,
        }
    }

    /// Track the index: the first write's is the base; every later one is the current index.
    fn observe(&mut self, reply: &Reply) {
        let index = reply
            .header("x-etcd-index")
            .and_then(|value| value.parse::<u64>().ok())
            .filter(|index| *index > 0);
        if let Some(index) = index {
            if self.base.is_none() {
                assert_eq!(
                    reply.status, 201,
                    "{}: the first step must be a write",
                    self.name
                );
                self.base = Some(index);
            }
            self.current = index;
        }
    }

    fn await_gone(&mut self, path: &str) {
        let case = super::get(&format!("/v2/keys{path}"));
        let what = format!("{}: {path} to expire", self.name);
        let reply = wait_for(EXPIRY_DEADLINE, &what, || {
            let reply = raw::send(self.address, &self.request(&case)).ok()?;
            (reply.status == 404).then_some(reply)
        });
        self.observe(&reply);
    }

    /// `count` sets of one key to one value through [`BURST_CONNECTIONS`] threads. Every one
    /// must succeed, so both servers move their index by exactly `count`; since all writes are
    /// alike, each event (a set whose `prevNode` is the one before) does not depend on how the
    /// threads interleaved, and the events left in history compare equal.
    fn burst(&mut self, count: usize) {
        let address = self.address;
        let request = Request {
            method: "PUT".into(),
            target: "/v2/keys/burst/k".into(),
            body: Some((
                "application/x-www-form-urlencoded".into(),
                b"value=x".to_vec(),
            )),
        };
        let threads: Vec<_> = (0..BURST_CONNECTIONS)
            .map(|thread| {
                let writes =
                    count / BURST_CONNECTIONS + usize::from(thread < count % BURST_CONNECTIONS);
                let request = request.clone();
                std::thread::spawn(move || {
                    (0..writes)
                        .map(|_| raw::send(address, &request).map(|reply| reply.status))
                        .filter(|status| !matches!(status, Ok(200 | 201)))
                        .map(|status| format!("{status:?}"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for thread in threads {
            let failures = thread.join().expect("a burst thread does not panic");
            assert!(
                failures.is_empty(),
                "{}: burst writes failed: {failures:?}",
                self.name
            );
        }
        let root = self.send(&super::get("/v2/keys/"));
        assert_eq!(
            root.reply.status, 200,
            "{}: root after the burst",
            self.name
        );
    }

    /// Start the watch in a thread, wait until the server counts it, send the triggers, then
    /// collect the watch's reply within a deadline.
    fn live_watch(&mut self, watch: &Case, triggers: &[Case]) -> (Sent, Vec<Sent>) {
        let request = self.request(watch);
        let target = request.target.clone();
        let address = self.address;
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let _ = sender.send(raw::send(address, &request));
        });
        let what = format!("{}: the live watch {target} to register", self.name);
        wait_for(WATCHER_DEADLINE, &what, || {
            let stats = raw::send(address, &self.request(&super::get("/v2/stats/store"))).ok()?;
            let stats: serde_json::Value = serde_json::from_slice(&stats.body).ok()?;
            (stats["watchers"].as_u64()? >= 1).then_some(())
        });
        let writes = triggers.iter().map(|trigger| self.send(trigger)).collect();
        let reply = receiver
            .recv_timeout(REQUEST_DEADLINE + Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("{}: no answer to the live watch {target}", self.name))
            .unwrap_or_else(|error| panic!("{}: live watch {target}: {error}", self.name));
        thread.join().expect("the watch thread does not panic");
        (Sent { target, reply }, writes)
    }
}

/// Check that a documented difference is exactly what it says, then make the two equal there.
fn allow_known(known: Known, etcd: &mut Normalised, keel: &mut Normalised) -> Result<(), String> {
    match known {
        Known::None => Ok(()),
        Known::HiddenKeyReplay => {
            let key = |normalised: &Normalised| match &normalised.body {
                Body::Json { value, .. } => value["node"]["key"].as_str().map(str::to_owned),
                _ => None,
            };
            let (etcd_key, keel_key) =
                (key(etcd).unwrap_or_default(), key(keel).unwrap_or_default());
            if !etcd_key.contains("/_") || keel_key.contains("/_") || keel_key.is_empty() {
                return Err(format!(
                    "expected etcd to replay a hidden key and Keel a visible one; got {etcd_key:?} and {keel_key:?}"
                ));
            }
            keel.body = etcd.body.clone();
            Ok(())
        }
        Known::RootCompareAndDeleteCause => {
            let code = |normalised: &Normalised| match &normalised.body {
                Body::Json { value, .. } => value["errorCode"].as_u64(),
                _ => None,
            };
            let keel_has_cause =
                matches!(&keel.body, Body::Json { value, .. } if value.get("cause").is_some());
            if code(etcd) != Some(102) || code(keel) != Some(102) || keel_has_cause {
                return Err("expected 102 from both, and no cause from Keel".into());
            }
            // Drop exactly etcd's cause: the field, and its place in the field order.
            if let Body::Json {
                value,
                field_orders,
                ..
            } = &mut etcd.body
            {
                if let Some(object) = value.as_object_mut() {
                    object.remove("cause");
                }
                *field_orders = field_orders
                    .iter()
                    .map(|order| order.replace("message,cause,index", "message,index"))
                    .collect();
            }
            Ok(())
        }
    }
}

fn describe(case: &Case) -> String {
    let body = case
        .body
        .as_ref()
        .map(|(_, body)| format!(" -d {body:?}"))
        .unwrap_or_default();
    format!("{} {}{body}", case.method, case.target)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
