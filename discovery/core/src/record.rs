//! The answers the core builds, as plain data: resource records (owner, TTL, data), response
//! codes, and an [`Answer`]'s three sections plus the lookups outside the served domain it
//! still needs. The server turns these into hickory's wire types; nothing here encodes a
//! packet.
//!
//! Invariants: owner names and names inside record data are absolute and lower case; a
//! finished answer holds no exact duplicate record in a section, one TTL per RRset
//! (RFC 2181 §5.2) and at most one CNAME per owner (RFC 1034 §3.6.2).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A record type, as a query asks for it and as a record has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Service location (RFC 2782).
    Srv,
    /// Text.
    Txt,
    /// Mail exchange.
    Mx,
    /// Name server.
    Ns,
    /// Start of authority.
    Soa,
    /// Pointer (reverse).
    Ptr,
    /// The `ANY` (`*`) query type.
    Any,
    /// Any other type, by number.
    Other(u16),
}

/// A query's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Internet.
    In,
    /// CHAOS (server identity: `version.bind.`).
    Chaos,
    /// Any other class, by number.
    Other(u16),
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The name asked for, in any case, with or without the final dot.
    pub name: String,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class asked in.
    pub class: Class,
}

/// The SOA record's fields.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Soa {
    /// Primary name server.
    pub mname: String,
    /// Responsible mailbox, as a name (`hostmaster.skydns.local.`).
    pub rname: String,
    /// Serial.
    pub serial: u32,
    /// Refresh interval, seconds.
    pub refresh: u32,
    /// Retry interval, seconds.
    pub retry: u32,
    /// Expiry, seconds.
    pub expire: u32,
    /// Negative-caching TTL, seconds.
    pub minimum: u32,
}

/// A record's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Data {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Canonical name.
    Cname(String),
    /// Service location.
    Srv {
        /// Priority (lower first).
        priority: u16,
        /// Relative weight within a priority.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: String,
    },
    /// Character-strings of at most 255 bytes each.
    Txt(Vec<String>),
    /// Mail exchange.
    Mx {
        /// Preference (lower first).
        preference: u16,
        /// Exchange host.
        exchange: String,
    },
    /// Name server.
    Ns(String),
    /// Start of authority.
    Soa(Soa),
    /// Pointer.
    Ptr(String),
}

impl Data {
    /// The data's record type.
    #[must_use]
    pub fn record_type(&self) -> RecordType {
        match self {
            Data::A(_) => RecordType::A,
            Data::Aaaa(_) => RecordType::Aaaa,
            Data::Cname(_) => RecordType::Cname,
            Data::Srv { .. } => RecordType::Srv,
            Data::Txt(_) => RecordType::Txt,
            Data::Mx { .. } => RecordType::Mx,
            Data::Ns(_) => RecordType::Ns,
            Data::Soa(_) => RecordType::Soa,
            Data::Ptr(_) => RecordType::Ptr,
        }
    }
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    /// Owner name (absolute, lower case).
    pub name: String,
    /// TTL, seconds.
    pub ttl: u32,
    /// Data.
    pub data: Data,
}

/// The response code of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    /// Success (possibly with no data: NODATA).
    NoError,
    /// The name does not exist.
    NxDomain,
    /// The server failed.
    ServFail,
    /// The server will not answer this query.
    Refused,
}

/// A lookup the answer needs outside the served domain, done by the server through its
/// upstreams and folded in by [`Answer::complete`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum External {
    /// A CNAME whose target is outside the domain: the target's records of `qtype` follow the
    /// CNAME in the answer, and the CNAME is kept only if they exist.
    Chase {
        /// The CNAME record to add before the target's records.
        cname: Record,
        /// The target name.
        target: String,
        /// The type asked for (A or AAAA).
        qtype: RecordType,
    },
    /// Addresses (A and AAAA) of an SRV target or MX exchange outside the domain, for the
    /// additional section.
    Glue {
        /// The host name.
        target: String,
    },
}

/// An answer to one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Response code.
    pub rcode: Rcode,
    /// Whether the answer is authoritative (AA).
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (the SOA of a negative answer, NS).
    pub authority: Vec<Record>,
    /// Additional section (addresses of SRV targets, MX exchanges, NS names).
    pub additional: Vec<Record>,
    /// Lookups still to do outside the domain.
    pub external: Vec<External>,
    /// The SOA to put in authority if the answer ends up empty once `external` is done.
    pub negative_soa: Option<Record>,
}

impl Answer {
    /// An answer with only a response code.
    #[must_use]
    pub fn code(rcode: Rcode, authoritative: bool) -> Answer {
        Answer {
            rcode,
            authoritative,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            external: Vec::new(),
            negative_soa: None,
        }
    }

    /// Folds in the results of [`Answer::external`] (each lookup with the records it found,
    /// in the same order; an empty list for a lookup that failed or found nothing): chased
    /// CNAMEs join the answer with their target's records, glue joins the additional section.
    /// Every record that came from outside gets `ttl` (SkyDNS's `rcache_ttl`), and an answer
    /// still empty gets its negative SOA. Then the sections are finished as [`Answer::finish`].
    #[must_use]
    pub fn complete(mut self, results: Vec<(External, Vec<Record>)>, ttl: u32) -> Answer {
        for (lookup, mut records) in results {
            for record in &mut records {
                record.ttl = ttl;
            }
            match lookup {
                External::Chase { cname, .. } if !records.is_empty() => {
                    self.answers.push(cname);
                    self.answers.extend(records);
                }
                External::Chase { .. } => {}
                External::Glue { .. } => self.additional.extend(records),
            }
        }
        self.external.clear();
        self.finish();
        self
    }

    /// Removes exact duplicates per section, keeps one CNAME per owner, gives every RRset the
    /// smallest TTL among its records, and puts the negative SOA in authority when nothing is
    /// left to answer and no lookup is pending.
    pub fn finish(&mut self) {
        for section in [&mut self.answers, &mut self.authority, &mut self.additional] {
            dedup(section);
            one_cname_per_owner(section);
            rrset_ttls(section);
        }
        if self.answers.is_empty() && self.external.is_empty() && self.rcode != Rcode::Refused {
            if let Some(soa) = self.negative_soa.take() {
                self.authority.push(soa);
            }
        }
    }
}

fn dedup(section: &mut Vec<Record>) {
    let mut seen: Vec<(String, Data)> = Vec::with_capacity(section.len());
    section.retain(|record| {
        let identity = (record.name.clone(), record.data.clone());
        let fresh = !seen.contains(&identity);
        if fresh {
            seen.push(identity);
        }
        fresh
    });
}

fn one_cname_per_owner(section: &mut Vec<Record>) {
    let mut owners: Vec<String> = Vec::new();
    section.retain(|record| {
        if record.data.record_type() != RecordType::Cname {
            return true;
        }
        let fresh = !owners.contains(&record.name);
        if fresh {
            owners.push(record.name.clone());
        }
        fresh
    });
}

fn rrset_ttls(section: &mut [Record]) {
    let mut smallest: BTreeMap<(String, RecordType), u32> = BTreeMap::new();
    for record in section.iter() {
        let entry = smallest
            .entry((record.name.clone(), record.data.record_type()))
            .or_insert(record.ttl);
        *entry = (*entry).min(record.ttl);
    }
    for record in section.iter_mut() {
        if let Some(ttl) = smallest.get(&(record.name.clone(), record.data.record_type())) {
            record.ttl = *ttl;
        }
    }
}
