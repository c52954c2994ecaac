//! Answering one query from the index, in SkyDNS's order: `ANY` refused; CHAOS identity;
//! the host-local name; reverse names; names outside the domain forwarded; then the
//! authoritative answer for the type asked, NXDOMAIN only for a name with no record at or
//! below it, NODATA (NOERROR, no records, the SOA in authority) for one without records of
//! that type.
//!
//! Invariants: [`resolve`] never fails and never panics on any name, type or class; it reads
//! no clock (`now_ms` is an argument) and draws no random numbers (round robin is
//! [`rotate_addresses`], driven by the server).

use crate::index::Index;
use crate::lookup::{record, Built, Context};
use crate::path;
use crate::record::{Answer, Class, Data, Query, Rcode, RecordType, Soa};
use crate::service::Host;
use crate::zone::{is_reverse, Zone};
use std::cell::Cell;

/// SOA timers, SkyDNS's: refresh 8 h, retry 2 h, expire 7 days.
const SOA_REFRESH_SECS: u32 = 28_800;
const SOA_RETRY_SECS: u32 = 7_200;
const SOA_EXPIRE_SECS: u32 = 604_800;
/// The SOA serial is Unix time rounded down to this period (an hour).
const SOA_SERIAL_PERIOD_SECS: i64 = 3_600;

/// Who answers a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This server, from the index.
    Answer(Box<Answer>),
    /// The upstream resolvers: a name outside the domain, or a reverse name with no record
    /// here.
    Forward,
}

/// Answers `query` from `index` at `now_ms` (Unix milliseconds).
#[must_use]
pub fn resolve(zone: &Zone, index: &Index, query: &Query, now_ms: i64) -> Outcome {
    resolve_steady(zone, index, query, now_ms).0
}

/// [`resolve`], and the instant (Unix milliseconds) before which the same query on the same
/// index gets the same outcome: only TTLs counted from a key's remaining time and the SOA
/// serial move with the clock (`i64::MAX` when nothing in the outcome does).
#[must_use]
pub fn resolve_steady(zone: &Zone, index: &Index, query: &Query, now_ms: i64) -> (Outcome, i64) {
    let steady_until_ms = Cell::new(i64::MAX);
    let context = Context {
        zone,
        index,
        now_ms,
        steady_until_ms: &steady_until_ms,
    };
    let outcome = outcome(&context, query);
    (outcome, steady_until_ms.get())
}

fn outcome(context: &Context<'_>, query: &Query) -> Outcome {
    let zone = context.zone;
    let name = normalise(&query.name);
    match query.class {
        Class::In => {}
        Class::Chaos => return Outcome::Answer(Box::new(chaos(zone, &name, query.qtype))),
        Class::Other(_) => return Outcome::Answer(Box::new(Answer::code(Rcode::Refused, false))),
    }
    if query.qtype == RecordType::Any {
        return Outcome::Answer(Box::new(Answer::code(Rcode::Refused, false)));
    }
    if is_reverse(&name) {
        return reverse(context, &name, query.qtype);
    }
    if !zone.contains(&name) {
        return Outcome::Forward;
    }
    let lookup = match &zone.local {
        Some(local) if name == zone.reserved("local") => local.clone(),
        _ => name.clone(),
    };
    Outcome::Answer(Box::new(authoritative(
        context,
        &name,
        &lookup,
        query.qtype,
    )))
}

/// Rotates the A and AAAA records of `answer` by `by` places (round robin), unless the answer
/// holds more than one CNAME (a resolver cannot follow a reordered chain).
pub fn rotate_addresses(answer: &mut Answer, by: usize) {
    rotate_address_records(&mut answer.answers, |record| record.data.record_type(), by);
}

/// The rule of [`rotate_addresses`] over any list of records whose types `type_of` tells
/// (the server rotates its encoded records, or references to them, with it).
pub fn rotate_address_records<T: Clone>(
    records: &mut [T],
    type_of: impl Fn(&T) -> RecordType,
    by: usize,
) {
    let cnames = records
        .iter()
        .filter(|record| type_of(record) == RecordType::Cname)
        .count();
    if cnames > 1 {
        return;
    }
    let positions: Vec<usize> = (0..records.len())
        .filter(|&position| {
            matches!(
                type_of(&records[position]),
                RecordType::A | RecordType::Aaaa
            )
        })
        .collect();
    if positions.len() < 2 {
        return;
    }
    let mut addresses: Vec<T> = positions
        .iter()
        .map(|&position| records[position].clone())
        .collect();
    addresses.rotate_left(by % positions.len());
    for (position, address) in positions.into_iter().zip(addresses) {
        records[position] = address;
    }
}

/// The zone's SOA record at `now_ms` (serial: Unix time rounded down to the hour).
#[must_use]
pub fn soa(zone: &Zone, now_ms: i64, ttl: u32) -> crate::record::Record {
    let hour_secs = (now_ms / 1000).max(0) / SOA_SERIAL_PERIOD_SECS * SOA_SERIAL_PERIOD_SECS;
    let data = Data::Soa(Soa {
        mname: zone.reserved("ns"),
        rname: zone.hostmaster.clone(),
        serial: u32::try_from(hour_secs).unwrap_or(u32::MAX),
        refresh: SOA_REFRESH_SECS,
        retry: SOA_RETRY_SECS,
        expire: SOA_EXPIRE_SECS,
        minimum: zone.min_ttl,
    });
    record(&zone.domain, ttl, data)
}

/// The instant (Unix milliseconds) after `now_ms` at which [`soa`]'s serial next changes.
#[must_use]
pub fn soa_serial_changes_at_ms(now_ms: i64) -> i64 {
    let period_ms = SOA_SERIAL_PERIOD_SECS * 1000;
    (now_ms.div_euclid(period_ms) + 1).saturating_mul(period_ms)
}

fn authoritative(context: &Context<'_>, name: &str, lookup: &str, qtype: RecordType) -> Answer {
    let zone = context.zone;
    let apex = name == zone.domain;
    let mut built = Built::default();
    let services_name = if apex {
        zone.reserved("apex")
    } else {
        lookup.to_owned()
    };
    match qtype {
        RecordType::A | RecordType::Aaaa => {
            context.addresses(name, &services_name, qtype, &mut built);
        }
        RecordType::Srv => context.srv(name, &services_name, &mut built),
        RecordType::Mx => context.mx(name, &services_name, &mut built),
        RecordType::Txt => context.txt(name, &services_name, &mut built),
        RecordType::Cname => cname(context, name, lookup, &mut built),
        RecordType::Ns if apex => name_servers(context, &mut built),
        RecordType::Soa if apex => built.answers.push(context.soa(zone.ttl)),
        _ => {}
    }
    let exists = apex || context.exists(lookup);
    let rcode = if built.answers.is_empty() && built.external.is_empty() && !exists {
        Rcode::NxDomain
    } else {
        Rcode::NoError
    };
    let mut answer = Answer {
        rcode,
        authoritative: true,
        answers: built.answers,
        authority: Vec::new(),
        additional: built.additional,
        external: built.external,
        negative_soa: Some(context.soa(zone.min_ttl)),
    };
    answer.finish();
    answer
}

/// A CNAME question: the record at exactly the name, if its host is a name; no chasing.
fn cname(context: &Context<'_>, name: &str, lookup: &str, built: &mut Built) {
    let Ok(key) = path::key_for_name(&context.zone.prefix, lookup) else {
        return;
    };
    let Some(entry) = context.index.exact(&key) else {
        return;
    };
    if let Host::Name(target) = entry.service.host() {
        let ttl = context.ttl(entry);
        built.answers.push(record(name, ttl, Data::Cname(target)));
    }
}

/// NS at the apex: every record under `ns.dns.<domain>` with an address host, named after
/// its key, with that address as glue.
fn name_servers(context: &Context<'_>, built: &mut Built) {
    let zone = context.zone;
    for entry in context.services(&zone.reserved("ns")) {
        let Host::Address(address) = entry.service.host() else {
            continue;
        };
        let Some(server) = path::name_for_key(&zone.prefix, &entry.key) else {
            continue;
        };
        let ttl = context.ttl(entry);
        built
            .answers
            .push(record(&zone.domain, ttl, Data::Ns(server.clone())));
        let glue = match address {
            std::net::IpAddr::V4(v4) => Data::A(v4),
            std::net::IpAddr::V6(v6) => Data::Aaaa(v6),
        };
        built.additional.push(record(&server, ttl, glue));
    }
}

/// A reverse name: a PTR from the single record at its key (not authoritative), else
/// forwarded.
fn reverse(context: &Context<'_>, name: &str, qtype: RecordType) -> Outcome {
    if qtype != RecordType::Ptr {
        return Outcome::Forward;
    }
    let Ok(key) = path::key_for_name(&context.zone.prefix, name) else {
        return Outcome::Forward;
    };
    let Some(entry) = context.index.exact(&key) else {
        return Outcome::Forward;
    };
    let Host::Name(target) = entry.service.host() else {
        return Outcome::Forward;
    };
    let ttl = context.ttl(entry);
    let mut answer = Answer::code(Rcode::NoError, false);
    answer.answers.push(record(name, ttl, Data::Ptr(target)));
    Outcome::Answer(Box::new(answer))
}

/// CHAOS TXT: the server's version and host name; anything else refused.
fn chaos(zone: &Zone, name: &str, qtype: RecordType) -> Answer {
    let text = match name {
        "version.bind." | "version.server." => Some(zone.version.clone()),
        "hostname.bind." | "id.server." => Some(zone.hostname.clone()),
        _ => None,
    };
    match text {
        Some(text) if qtype == RecordType::Txt => {
            let mut answer = Answer::code(Rcode::NoError, true);
            answer.answers.push(record(name, 0, Data::Txt(vec![text])));
            answer
        }
        _ => Answer::code(Rcode::Refused, false),
    }
}

/// Lower case with a final dot (the root stays `.`).
fn normalise(name: &str) -> String {
    let mut lower = name.to_ascii_lowercase();
    if !lower.ends_with('.') {
        lower.push('.');
    }
    lower
}
