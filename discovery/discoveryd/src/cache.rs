//! The response cache for forwarded answers (SkyDNS's `-rcache`): the upstream's reply kept
//! for the smallest TTL in it, at most `-rcache-ttl` seconds, and handed out with every TTL
//! lowered by the time it has been held.
//!
//! Invariants: only whole answers are kept (NOERROR or NXDOMAIN, TC clear); the key holds
//! the name (lower case), type, class and DO bit, so a DNSSEC-asking client never gets an
//! answer fetched without DNSSEC records; the lock is held only to look up or insert.

use discovery_core::cache::{self, Cache, Key};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_server::server::Request;
use std::sync::Mutex;

/// Forwarded answers by question.
#[derive(Debug)]
pub struct ResponseCache {
    answers: Mutex<Cache<Key, Message>>,
    ttl_cap: u32,
}

impl ResponseCache {
    /// A cache of at most `capacity` answers, each kept at most `ttl_cap` seconds.
    #[must_use]
    pub fn new(capacity: usize, ttl_cap: u32) -> ResponseCache {
        ResponseCache {
            answers: Mutex::new(Cache::new(capacity)),
            ttl_cap,
        }
    }

    /// The cached answer to `request`'s question at `now_ms`, its TTLs lowered by its age.
    pub fn get(&self, request: &Request, now_ms: i64) -> Option<Message> {
        let key = key(request)?;
        let hit = {
            let mut answers = self
                .answers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            answers.get(&key, now_ms)?
        };
        let mut message = hit.value;
        for record in message
            .answers
            .iter_mut()
            .chain(message.authorities.iter_mut())
            .chain(message.additionals.iter_mut())
        {
            record.ttl = record.ttl.saturating_sub(hit.age_s).max(1);
        }
        Some(message)
    }

    /// Keeps `reply` to `request`'s question if it is a whole answer.
    pub fn put(&self, request: &Request, reply: &Message, now_ms: i64) {
        let cacheable = matches!(
            reply.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain
        ) && !reply.metadata.truncation;
        let Some(key) = key(request).filter(|_| cacheable) else {
            return;
        };
        let ttls = reply
            .answers
            .iter()
            .chain(reply.authorities.iter())
            .chain(reply.additionals.iter())
            .filter(|record| record.record_type() != RecordType::OPT)
            .map(|record| record.ttl);
        let lifetime = cache::lifetime(ttls, self.ttl_cap);
        let mut answers = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        answers.insert(key, reply.clone(), lifetime, now_ms);
    }
}

fn key(request: &Request) -> Option<Key> {
    let query = request.queries.queries().first()?.original();
    Some(Key {
        name: query.name().to_lowercase().to_ascii(),
        qtype: u16::from(query.query_type()),
        class: u16::from(query.query_class()),
        dnssec_ok: request
            .edns
            .as_ref()
            .is_some_and(|edns| edns.flags().dnssec_ok),
    })
}
