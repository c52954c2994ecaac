//! The DNS request handler: each question answered from the current index by the core, names
//! outside the domain forwarded, the core's pending upstream lookups done, the answer encoded
//! by hickory within the client's buffer (EDNS0 size, at least 512 bytes, at most
//! [`UDP_PAYLOAD_MAX`]; what does not fit is left out with TC set; TCP up to 64 KiB).
//!
//! Invariants: every request gets a reply (FORMERR for a message without exactly one
//! question, NOTIMP for another opcode, BADVERS for EDNS above version 0, REFUSED before the
//! index is first loaded, SERVFAIL when forwarding fails); no query waits on Keel.

use crate::cache::ResponseCache;
use crate::dnssec::Signer;
use crate::encode;
use crate::feed::Records;
use crate::forward::Forwarder;
use crate::memo::{Memo, Question, Sections};
use crate::metrics::{Cause, Metrics, System};
use discovery_core::answer::{self, Outcome};
use discovery_core::record::{Answer, External, Rcode, RecordType};
use discovery_core::stub;
use discovery_core::zone::Zone;
use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Record};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The largest UDP answer sent, whatever the client advertises: 1232 bytes, the size DNS Flag
/// Day 2020 recommends (no IP fragmentation on common paths).
pub const UDP_PAYLOAD_MAX: u16 = 1232;

/// The forwarding settings (SkyDNS's `-no-rec`, `-ndots`, `-rcache-ttl`).
#[derive(Debug, Clone)]
pub struct Recursion {
    /// The upstreams; `None` with `-no-rec`.
    pub forwarder: Option<Forwarder>,
    /// Names with fewer labels are not forwarded (SERVFAIL).
    pub ndots: usize,
    /// TTL of records found upstream for the core's own lookups.
    pub upstream_ttl: u32,
}

/// What a reload of the configuration replaces: the zone, forwarding and rotation.
#[derive(Debug, Clone)]
pub struct Live {
    /// The zone answered.
    pub zone: Zone,
    /// Forwarding.
    pub recursion: Recursion,
    /// Rotate addresses between answers.
    pub round_robin: bool,
    /// The response cache for forwarded answers, if on.
    pub cache: Option<Arc<ResponseCache>>,
    /// Stub zones on (`-stubzones`), and the timeout towards their servers.
    pub stub_zones: Option<Duration>,
    /// The zone's signer (`-dnssec`), if on.
    pub signer: Option<Arc<Signer>>,
}

/// The current [`Live`] settings, shared between the handler and the reload; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveHandle(Arc<RwLock<Arc<Live>>>);

impl LiveHandle {
    /// A handle holding `live`.
    #[must_use]
    pub fn new(live: Live) -> LiveHandle {
        LiveHandle(Arc::new(RwLock::new(Arc::new(live))))
    }

    /// The current settings (the lock is held only to clone the `Arc`).
    #[must_use]
    pub fn current(&self) -> Arc<Live> {
        match self.0.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the settings; requests already being answered finish with the old ones.
    pub fn replace(&self, live: Live) {
        let live = Arc::new(live);
        match self.0.write() {
            Ok(mut guard) => *guard = live,
            Err(poisoned) => *poisoned.into_inner() = live,
        }
    }
}

/// Answers DNS requests.
#[derive(Debug)]
pub struct Handler {
    live: LiveHandle,
    records: Records,
    metrics: Option<Arc<Metrics>>,
    rotation: AtomicUsize,
    memo: Memo,
}

impl Handler {
    /// A handler over `records` with the settings of `live`, recording into `metrics`.
    #[must_use]
    pub fn new(live: LiveHandle, records: Records, metrics: Option<Arc<Metrics>>) -> Handler {
        Handler {
            live,
            records,
            metrics,
            rotation: AtomicUsize::new(0),
            memo: Memo::default(),
        }
    }
}

/// A question on its way to the index's answer.
struct Asked<'a> {
    question: Question,
    /// The name as asked (the core's form).
    name: &'a str,
    index: &'a Arc<discovery_core::index::Index>,
    now_ms: i64,
    /// Until when the core's answer holds ([`answer::resolve_steady`]).
    steady_until_ms: i64,
}

/// What a request is answered with.
enum Reply {
    /// A response code alone.
    Code(ResponseCode),
    /// The core's answer, encoded (and perhaps memoized).
    Answer(Arc<Sections>),
    /// An upstream's reply.
    Forwarded(Box<Message>),
}

/// A reply in hickory's terms, ready to send.
struct Outgoing {
    metadata: Metadata,
    sections: Arc<Sections>,
    /// An answer from the index, whose addresses round robin rotates.
    from_index: bool,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let started = Instant::now();
        let live = self.live.current();
        let response_edns = request.edns.as_ref().map(|edns| {
            let mut response = Edns::new();
            response.set_max_payload(edns.max_payload().clamp(512, UDP_PAYLOAD_MAX));
            response.set_dnssec_ok(edns.flags().dnssec_ok && live.signer.is_some());
            response
        });
        let (reply, system) = self.reply(&live, request).await;
        let out = outgoing(&live, request, reply);
        let mut answers: Vec<&Record> = out.sections.answers.iter().collect();
        if live.round_robin && out.from_index {
            let by = self.rotation.fetch_add(1, Ordering::Relaxed);
            answer::rotate_address_records(
                &mut answers,
                |record| encode::record_type(record.record_type()),
                by,
            );
        }
        let builder = MessageResponseBuilder::new(&request.queries, response_edns.as_ref());
        let response = builder.build(
            out.metadata,
            answers.iter().copied(),
            out.sections.authority.iter(),
            std::iter::empty(),
            out.sections.additional.iter(),
        );
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                tracing::debug!(%error, "the reply was not sent");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(hickory_proto::op::Header {
                    metadata,
                    counts: hickory_proto::op::HeaderCounts::default(),
                })
            }
        };
        if let Some(metrics) = &self.metrics {
            let size = response_size(request, &out, &answers, &info, response_edns);
            metrics.observe(system, cause(system, &info), started.elapsed(), size);
        }
        info
    }
}

/// The reply as hickory's header and records.
fn outgoing(live: &Live, request: &Request, reply: Reply) -> Outgoing {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.recursion_available = live.recursion.forwarder.is_some();
    let (sections, from_index) = match reply {
        Reply::Code(code) => {
            metadata.response_code = code;
            (Arc::new(sections(code, false)), false)
        }
        Reply::Answer(sections) => {
            metadata.response_code = sections.rcode;
            metadata.authoritative = sections.authoritative;
            metadata.authentic_data = sections.signed;
            (sections, true)
        }
        Reply::Forwarded(message) => {
            let message = *message;
            metadata.response_code = message.metadata.response_code;
            metadata.truncation = message.metadata.truncation;
            metadata.authentic_data = message.metadata.authentic_data;
            let forwarded = Sections {
                answers: message.answers,
                authority: message.authorities,
                additional: message.additionals,
                ..sections(message.metadata.response_code, false)
            };
            (Arc::new(forwarded), false)
        }
    };
    Outgoing {
        metadata,
        sections,
        from_index,
    }
}

/// Empty sections with `rcode`.
fn sections(rcode: ResponseCode, authoritative: bool) -> Sections {
    Sections {
        rcode,
        authoritative,
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        signed: false,
    }
}

/// The core's answer in hickory's records, in the question's class.
fn encoded(answer: &Answer, class: DNSClass) -> Sections {
    let encode_all = |section: &[discovery_core::record::Record]| -> Vec<Record> {
        section
            .iter()
            .filter_map(|record| encode::record(record, class))
            .collect()
    };
    Sections {
        answers: encode_all(&answer.answers),
        authority: encode_all(&answer.authority),
        additional: encode_all(&answer.additional),
        ..sections(response_code(answer.rcode), answer.authoritative)
    }
}

/// The error cause of a sent reply, if it is one.
fn cause(system: System, info: &ResponseInfo) -> Option<Cause> {
    if info.truncation {
        return Some(Cause::truncated);
    }
    match info.response_code {
        ResponseCode::NXDomain => Some(Cause::nxdomain),
        ResponseCode::ServFail => Some(Cause::servfail),
        ResponseCode::Refused => Some(Cause::refused),
        ResponseCode::NoError
            if info.counts().answers == 0
                && !matches!(system, System::recursive | System::cache) =>
        {
            Some(Cause::nodata)
        }
        _ => None,
    }
}

/// The size of the reply as sent: the records hickory kept (its counts) encoded again.
/// Only computed when metrics are on.
fn response_size(
    request: &Request,
    out: &Outgoing,
    answers: &[&Record],
    info: &ResponseInfo,
    edns: Option<Edns>,
) -> usize {
    let counts = info.counts();
    let kept_additional =
        usize::from(counts.additionals).saturating_sub(usize::from(edns.is_some()));
    let mut message = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    message.metadata = out.metadata;
    message.add_queries(
        request
            .queries
            .queries()
            .iter()
            .map(|query| query.original().clone()),
    );
    message.add_answers(
        answers
            .iter()
            .take(usize::from(counts.answers))
            .map(|record| (*record).clone()),
    );
    message.add_authorities(
        out.sections
            .authority
            .iter()
            .take(usize::from(counts.authorities))
            .cloned(),
    );
    message.add_additionals(
        out.sections
            .additional
            .iter()
            .take(kept_additional)
            .cloned(),
    );
    if let Some(edns) = edns {
        message.set_edns(edns);
    }
    message.to_vec().map_or(0, |bytes| bytes.len())
}

impl Handler {
    async fn reply(&self, live: &Arc<Live>, request: &Request) -> (Reply, System) {
        let refuse = |code| (Reply::Code(code), System::auth);
        if request.metadata.op_code != OpCode::Query {
            return refuse(ResponseCode::NotImp);
        }
        if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
            return refuse(ResponseCode::BADVERS);
        }
        let Ok(info) = request.request_info() else {
            return refuse(ResponseCode::FormErr);
        };
        if !self.records.is_loaded() {
            return refuse(ResponseCode::Refused);
        }
        let dnssec_ok = live.signer.is_some()
            && request
                .edns
                .as_ref()
                .is_some_and(|edns| edns.flags().dnssec_ok);
        let asked = Question {
            name: info.query.name().clone(),
            qtype: info.query.query_type(),
            class: info.query.query_class(),
            dnssec_ok,
        };
        let index = self.records.index();
        let now_ms = now_ms();
        if let Some((sections, system)) = self.memo.get(&index, live, now_ms, &asked) {
            return (Reply::Answer(sections), system);
        }
        let question = info.query.original();
        let query = encode::query(
            question.name(),
            question.query_type(),
            question.query_class(),
        );
        if let Some(timeout) = live.stub_zones {
            if let Some((zone, servers)) = stub::servers_for(&live.zone, &index, &query.name) {
                return (
                    to_stub_zone(request, &zone, servers, timeout).await,
                    System::stub,
                );
            }
        }
        match answer::resolve_steady(&live.zone, &index, &query, now_ms) {
            (Outcome::Forward, _) => self.forward_cached(live, request, &query.name).await,
            (Outcome::Answer(answer), steady_until_ms) => {
                let asked = Asked {
                    question: asked,
                    name: &query.name,
                    index: &index,
                    now_ms,
                    steady_until_ms,
                };
                self.answer_from_index(live, asked, *answer).await
            }
        }
    }

    /// The core's answer completed, encoded, signed when the zone is, and memoized when it
    /// needed no upstream.
    async fn answer_from_index(
        &self,
        live: &Arc<Live>,
        asked: Asked<'_>,
        answer: Answer,
    ) -> (Reply, System) {
        let system = if answer.authoritative {
            System::auth
        } else {
            System::reverse
        };
        let keep = answer.external.is_empty();
        let answer = complete(live, answer).await;
        let question = asked.question;
        let mut sections = encoded(&answer, question.class);
        let mut until_ms = asked.steady_until_ms;
        if let Some(signer) = live.signer.as_ref().filter(|_| system == System::auth) {
            // Signed answers are kept within their second, as their signatures are cached.
            until_ms = until_ms.min((asked.now_ms.div_euclid(1000) + 1) * 1000);
            sections = crate::dnssec::secure(
                signer,
                &live.zone,
                asked.index,
                (asked.name, question.qtype),
                question.dnssec_ok,
                sections,
                asked.now_ms,
            );
        }
        let sections = Arc::new(sections);
        if keep {
            let kept = (Arc::clone(&sections), system);
            let entry = (kept, until_ms);
            self.memo
                .put(asked.index, live, asked.now_ms, question, entry);
        }
        (Reply::Answer(sections), system)
    }

    /// Forwards through the response cache: a cached answer if there is one, else the
    /// upstream's, kept for the next asker.
    async fn forward_cached(&self, live: &Live, request: &Request, name: &str) -> (Reply, System) {
        let Some(cache) = &live.cache else {
            return (
                forward(&live.recursion, request, name).await,
                System::recursive,
            );
        };
        if let Some(message) = cache.get(request, now_ms()) {
            return (Reply::Forwarded(Box::new(message)), System::cache);
        }
        if let Some(metrics) = &self.metrics {
            metrics.cache_miss("response");
        }
        let reply = forward(&live.recursion, request, name).await;
        if let Reply::Forwarded(message) = &reply {
            cache.put(request, message, now_ms());
        }
        (reply, System::recursive)
    }
}

/// Does the answer's upstream lookups.
async fn complete(live: &Live, answer: Answer) -> Answer {
    if answer.external.is_empty() {
        return answer;
    }
    let mut results = Vec::with_capacity(answer.external.len());
    for lookup in answer.external.clone() {
        let records = external(&live.recursion, &lookup).await;
        results.push((lookup, records));
    }
    answer.complete(results, live.recursion.upstream_ttl)
}

/// Sends the question to the stub zone's servers, marked with SkyDNS's loop option; a
/// question that already carries the mark came from another server's stub forwarding and is
/// refused rather than sent round again.
async fn to_stub_zone(
    request: &Request,
    zone: &str,
    servers: Vec<std::net::SocketAddr>,
    timeout: Duration,
) -> Reply {
    let loop_code = EdnsCode::Unknown(stub::LOOP_OPTION_CODE);
    if request
        .edns
        .as_ref()
        .is_some_and(|edns| edns.option(loop_code).is_some())
    {
        tracing::warn!(
            zone,
            "a stub-zone question came back marked: refused (a forwarding loop)"
        );
        return Reply::Code(ResponseCode::Refused);
    }
    let Ok(mut message) = Message::from_vec(request.as_slice()) else {
        return Reply::Code(ResponseCode::FormErr);
    };
    let mut edns = message.edns.take().unwrap_or_default();
    edns.set_max_payload(edns.max_payload().max(UDP_PAYLOAD_MAX));
    edns.options_mut()
        .insert(EdnsOption::Unknown(stub::LOOP_OPTION_CODE, vec![1]));
    message.set_edns(edns);
    let Ok(raw) = message.to_vec() else {
        return Reply::Code(ResponseCode::FormErr);
    };
    let forwarder = Forwarder {
        upstreams: servers,
        timeout,
        rotate: true,
    };
    let tcp = request.protocol() == Protocol::Tcp;
    match forwarder.forward(&raw, request.metadata.id, tcp).await {
        Ok(reply) => Reply::Forwarded(Box::new(reply)),
        Err(error) => {
            tracing::warn!(%error, zone, "the stub zone's servers failed");
            Reply::Code(ResponseCode::ServFail)
        }
    }
}

async fn forward(recursion: &Recursion, request: &Request, name: &str) -> Reply {
    let Some(forwarder) = &recursion.forwarder else {
        return Reply::Code(ResponseCode::ServFail);
    };
    let labels = name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .count();
    if labels < recursion.ndots {
        return Reply::Code(ResponseCode::ServFail);
    }
    let tcp = request.protocol() == Protocol::Tcp;
    match forwarder
        .forward(request.as_slice(), request.metadata.id, tcp)
        .await
    {
        Ok(message) => Reply::Forwarded(Box::new(message)),
        Err(error) => {
            tracing::warn!(%error, name, "forwarding failed");
            Reply::Code(ResponseCode::ServFail)
        }
    }
}

async fn external(recursion: &Recursion, lookup: &External) -> Vec<discovery_core::record::Record> {
    let Some(forwarder) = &recursion.forwarder else {
        return Vec::new();
    };
    let (target, types) = match lookup {
        External::Chase { target, qtype, .. } => (target, vec![*qtype]),
        External::Glue { target } => (target, vec![RecordType::A, RecordType::Aaaa]),
    };
    let mut found = Vec::new();
    for qtype in types {
        match forwarder.lookup(target, encode::wire_type(qtype)).await {
            Ok(message) => found.extend(message.answers.iter().filter_map(encode::from_wire)),
            Err(error) => tracing::debug!(%error, target, "upstream lookup failed"),
        }
    }
    found
}

fn response_code(rcode: Rcode) -> ResponseCode {
    match rcode {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::ServFail => ResponseCode::ServFail,
        Rcode::Refused => ResponseCode::Refused,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
