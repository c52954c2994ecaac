//! The names whose NSEC3 records prove a negative answer of the signed zone (RFC 5155 §7.2),
//! for the server to make "white lies" of them (RFC 7129 appendix B: NSEC3 records made up
//! on the fly around each name's hash, so no list of the zone's names is ever given away).
//!
//! - NXDOMAIN: a record matching the closest encloser (the longest ancestor of the name that
//!   exists, the apex at least), one covering the next closer name (the encloser plus one more
//!   label of the name) and one covering the wildcard at the encloser;
//! - NODATA: a record matching the name, whose type list is the types the name really has.
//!
//! Unlike SkyDNS (which takes the name minus its first label as the encloser and always lists
//! A, AAAA and SRV), the encloser is one that exists and the type lists are the real ones, so a
//! resolver that caches denials (RFC 8198) is never told a type or a name away.
//!
//! Invariants: pure; every name comes back lower case and absolute; the answer is found by
//! asking [`answer::resolve`] itself, so a proof never disagrees with an answer.

use crate::answer::{self, Outcome};
use crate::index::Index;
use crate::record::{Class, Query, Rcode, RecordType};
use crate::zone::Zone;

/// The types a name can have in the zone (what a type list is made of).
const TYPES: [RecordType; 8] = [
    RecordType::A,
    RecordType::Aaaa,
    RecordType::Cname,
    RecordType::Srv,
    RecordType::Txt,
    RecordType::Mx,
    RecordType::Ns,
    RecordType::Soa,
];

/// The names to prove a denial with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proof {
    /// Names that exist, each with its types: an NSEC3 record matching each.
    pub matching: Vec<(String, Vec<RecordType>)>,
    /// Names that do not exist: an NSEC3 record covering each.
    pub covering: Vec<String>,
}

/// The proof for a negative answer to `qtype` at `name` with `rcode`; `None` when the answer
/// is not a denial (NOERROR with records) or the name is outside the zone.
#[must_use]
pub fn proof(zone: &Zone, index: &Index, name: &str, rcode: Rcode, now_ms: i64) -> Option<Proof> {
    let name = lower_absolute(name);
    if !zone.contains(&name) {
        return None;
    }
    match rcode {
        Rcode::NxDomain => {
            let encloser = closest_encloser(zone, index, &name, now_ms);
            let next_closer = next_closer(&name, &encloser);
            Some(Proof {
                matching: vec![(encloser.clone(), types_at(zone, index, &encloser, now_ms))],
                covering: vec![next_closer, format!("*.{encloser}")],
            })
        }
        Rcode::NoError => Some(Proof {
            matching: vec![(name.clone(), types_at(zone, index, &name, now_ms))],
            covering: Vec::new(),
        }),
        Rcode::ServFail | Rcode::Refused => None,
    }
}

/// The types `name` has: those whose question the core answers with a record at the name.
#[must_use]
pub fn types_at(zone: &Zone, index: &Index, name: &str, now_ms: i64) -> Vec<RecordType> {
    let name = lower_absolute(name);
    let mut found: Vec<RecordType> = Vec::new();
    for qtype in TYPES {
        let Outcome::Answer(answer) = answer::resolve(zone, index, &query(&name, qtype), now_ms)
        else {
            continue;
        };
        for record in &answer.answers {
            let kind = record.data.record_type();
            if lower_absolute(&record.name) == name && !found.contains(&kind) {
                found.push(kind);
            }
        }
    }
    found.sort_by_key(|kind| TYPES.iter().position(|known| known == kind));
    found
}

/// The longest ancestor of `name` (itself excluded) that exists, the apex at least.
fn closest_encloser(zone: &Zone, index: &Index, name: &str, now_ms: i64) -> String {
    let mut candidate = parent(name);
    while candidate.len() > zone.domain.len() {
        if exists(zone, index, &candidate, now_ms) {
            return candidate;
        }
        candidate = parent(&candidate);
    }
    zone.domain.clone()
}

fn exists(zone: &Zone, index: &Index, name: &str, now_ms: i64) -> bool {
    match answer::resolve(zone, index, &query(name, RecordType::A), now_ms) {
        Outcome::Answer(answer) => answer.rcode != Rcode::NxDomain,
        Outcome::Forward => false,
    }
}

/// `encloser` with one more label of `name` (`name` is below `encloser`).
fn next_closer(name: &str, encloser: &str) -> String {
    let above = name.len() - encloser.len();
    let head = &name[..above.saturating_sub(1)];
    let label = head.rsplit('.').next().unwrap_or(head);
    format!("{label}.{encloser}")
}

fn parent(name: &str) -> String {
    name.split_once('.')
        .map_or_else(|| ".".to_owned(), |(_, rest)| rest.to_owned())
}

fn query(name: &str, qtype: RecordType) -> Query {
    Query {
        name: name.to_owned(),
        qtype,
        class: Class::In,
    }
}

fn lower_absolute(name: &str) -> String {
    let mut lower = name.to_ascii_lowercase();
    if !lower.ends_with('.') {
        lower.push('.');
    }
    lower
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Stored;

    fn index(records: &[(&str, &str)]) -> Index {
        let stored = records.iter().map(|(key, value)| Stored {
            key,
            value,
            expires_at_ms: None,
        });
        Index::build(stored).0
    }

    fn zone() -> Zone {
        Zone::new("skydns.local.", "skydns").unwrap()
    }

    // Goal: an NXDOMAIN's proof matches the closest encloser that exists (not merely the
    // parent) and covers the next closer name and the encloser's wildcard.
    // Method: a record at a.b.skydns.local; ask for x.y.b.skydns.local and for a name right
    // under the apex.
    #[test]
    fn nxdomain_proofs_use_the_closest_encloser_that_exists() {
        let index = index(&[("/skydns/local/skydns/b/a", r#"{"host":"10.0.0.1"}"#)]);
        let proof = proof(&zone(), &index, "X.y.b.skydns.local", Rcode::NxDomain, 0).unwrap();
        // SkyDNS answers a name with the services below it: b has their types.
        let types = vec![RecordType::A, RecordType::Srv];
        assert_eq!(proof.matching, [("b.skydns.local.".to_owned(), types)]);
        assert_eq!(proof.covering, ["y.b.skydns.local.", "*.b.skydns.local."]);
        let top = super::proof(&zone(), &index, "nope.skydns.local.", Rcode::NxDomain, 0).unwrap();
        assert_eq!(top.matching[0].0, "skydns.local.");
        assert!(top.matching[0].1.contains(&RecordType::Soa));
        assert_eq!(top.covering, ["nope.skydns.local.", "*.skydns.local."]);
    }

    // Goal: a NODATA proof lists the types the name really has, so the asked type is absent
    // and no other is denied.
    // Method: a service with an address and a text record; the types at its name and at an
    // empty non-terminal; a name outside the zone has no proof.
    #[test]
    fn nodata_proofs_list_the_real_types() {
        let index = index(&[
            (
                "/skydns/local/skydns/web",
                r#"{"host":"10.0.0.1","port":80}"#,
            ),
            ("/skydns/local/skydns/note/x", r#"{"text":"hi"}"#),
        ]);
        let web = proof(&zone(), &index, "web.skydns.local.", Rcode::NoError, 0).unwrap();
        assert_eq!(
            web.matching,
            [(
                "web.skydns.local.".to_owned(),
                vec![RecordType::A, RecordType::Srv]
            )]
        );
        let note = types_at(&zone(), &index, "note.skydns.local.", 0);
        assert_eq!(note, [RecordType::Txt]);
        assert!(super::proof(&zone(), &index, "example.com.", Rcode::NoError, 0).is_none());
    }
}
