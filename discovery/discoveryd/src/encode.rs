//! Between the core's plain records and hickory's wire types: a hickory question becomes the
//! core's [`Query`], the core's records become hickory records (and back, for what the
//! upstreams answer to the core's own lookups).
//!
//! Invariants: every core record converts (its names were checked when the index was built;
//! one that still fails to parse is dropped and counted, never a panic).

use discovery_core::record::{self as core, Class, Data, Query};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// The core's question for a hickory one.
#[must_use]
pub fn query(name: &Name, qtype: RecordType, class: DNSClass) -> Query {
    Query {
        name: name.to_ascii(),
        qtype: record_type(qtype),
        class: match class {
            DNSClass::IN => Class::In,
            DNSClass::CH => Class::Chaos,
            other => Class::Other(u16::from(other)),
        },
    }
}

/// The core's record type for a hickory one.
#[must_use]
pub fn record_type(qtype: RecordType) -> core::RecordType {
    match qtype {
        RecordType::A => core::RecordType::A,
        RecordType::AAAA => core::RecordType::Aaaa,
        RecordType::CNAME => core::RecordType::Cname,
        RecordType::SRV => core::RecordType::Srv,
        RecordType::TXT => core::RecordType::Txt,
        RecordType::MX => core::RecordType::Mx,
        RecordType::NS => core::RecordType::Ns,
        RecordType::SOA => core::RecordType::Soa,
        RecordType::PTR => core::RecordType::Ptr,
        RecordType::ANY => core::RecordType::Any,
        other => core::RecordType::Other(u16::from(other)),
    }
}

/// hickory's record type for a core one.
#[must_use]
pub fn wire_type(qtype: core::RecordType) -> RecordType {
    match qtype {
        core::RecordType::A => RecordType::A,
        core::RecordType::Aaaa => RecordType::AAAA,
        core::RecordType::Cname => RecordType::CNAME,
        core::RecordType::Srv => RecordType::SRV,
        core::RecordType::Txt => RecordType::TXT,
        core::RecordType::Mx => RecordType::MX,
        core::RecordType::Ns => RecordType::NS,
        core::RecordType::Soa => RecordType::SOA,
        core::RecordType::Ptr => RecordType::PTR,
        core::RecordType::Any => RecordType::ANY,
        core::RecordType::Other(number) => RecordType::from(number),
    }
}

/// A hickory record for a core one; `None` when a name in it does not parse.
#[must_use]
pub fn record(record: &core::Record, class: DNSClass) -> Option<Record> {
    let name = Name::from_ascii(&record.name).ok()?;
    let data = match &record.data {
        Data::A(v4) => RData::A(A(*v4)),
        Data::Aaaa(v6) => RData::AAAA(AAAA(*v6)),
        Data::Cname(target) => RData::CNAME(CNAME(Name::from_ascii(target).ok()?)),
        Data::Srv {
            priority,
            weight,
            port,
            target,
        } => RData::SRV(SRV::new(
            *priority,
            *weight,
            *port,
            Name::from_ascii(target).ok()?,
        )),
        Data::Txt(strings) => RData::TXT(TXT::new(strings.clone())),
        Data::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, Name::from_ascii(exchange).ok()?)),
        Data::Ns(server) => RData::NS(NS(Name::from_ascii(server).ok()?)),
        Data::Soa(soa) => RData::SOA(SOA::new(
            Name::from_ascii(&soa.mname).ok()?,
            Name::from_ascii(&soa.rname).ok()?,
            soa.serial,
            i32::try_from(soa.refresh).ok()?,
            i32::try_from(soa.retry).ok()?,
            i32::try_from(soa.expire).ok()?,
            soa.minimum,
        )),
        Data::Ptr(target) => RData::PTR(PTR(Name::from_ascii(target).ok()?)),
    };
    let mut record = Record::from_rdata(name, record.ttl, data);
    record.dns_class = class;
    Some(record)
}

/// A core record for an address or CNAME record from an upstream (what chasing and glue
/// need); `None` for other types.
#[must_use]
pub fn from_wire(record: &Record) -> Option<core::Record> {
    let data = match &record.data {
        RData::A(A(v4)) => Data::A(*v4),
        RData::AAAA(AAAA(v6)) => Data::Aaaa(*v6),
        RData::CNAME(CNAME(target)) => Data::Cname(target.to_ascii().to_ascii_lowercase()),
        _ => return None,
    };
    Some(core::Record {
        name: record.name.to_ascii().to_ascii_lowercase(),
        ttl: record.ttl,
        data,
    })
}
