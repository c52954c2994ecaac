//! Finding the services a name answers with, and turning them into records of one type:
//! the subtree at the name's key (or the records a wildcard name matches), group filtering,
//! duplicates dropped; then addresses with CNAME chasing, SRV with generated targets and
//! their addresses, MX, TXT.
//!
//! Invariants: every record owned by the query name carries that name as given (a wildcard
//! name is echoed, skynetservices/skydns#155); chasing stops at a record pointing at its own
//! name, at a target already in the chain, and at [`CHAIN_DEPTH_MAX`] links.

use crate::index::{is_wildcard, Entry, Index};
use crate::path;
use crate::record::{Data, External, Record, RecordType};
use crate::service::Host;
use crate::zone::Zone;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The longest CNAME chain followed inside the domain (SkyDNS's 8).
pub const CHAIN_DEPTH_MAX: usize = 8;

/// What a lookup reads: the zone, the index, and the time TTLs are counted from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The zone.
    pub zone: &'a Zone,
    /// The index.
    pub index: &'a Index,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
    /// The earliest instant at which a TTL (or the SOA serial) given so far changes: what
    /// [`Context::ttl`] and [`Context::soa`] lower.
    pub steady_until_ms: &'a Cell<i64>,
}

/// Records built for one query: the answer section, the additional section, and lookups
/// outside the domain.
#[derive(Debug, Default)]
pub struct Built {
    /// Answer records.
    pub answers: Vec<Record>,
    /// Additional records.
    pub additional: Vec<Record>,
    /// Lookups outside the domain.
    pub external: Vec<External>,
}

impl Context<'_> {
    /// `entry`'s DNS TTL now, under the zone's default; notes when it changes.
    #[must_use]
    pub fn ttl(&self, entry: &Entry) -> u32 {
        self.steady_until(entry.dns_ttl_steady_until_ms(self.now_ms));
        entry.dns_ttl(self.now_ms, self.zone.ttl)
    }

    /// The zone's SOA now with `ttl`; notes that its serial changes on the next hour.
    #[must_use]
    pub fn soa(&self, ttl: u32) -> Record {
        self.steady_until(crate::answer::soa_serial_changes_at_ms(self.now_ms));
        crate::answer::soa(self.zone, self.now_ms, ttl)
    }

    fn steady_until(&self, instant_ms: i64) {
        self.steady_until_ms
            .set(self.steady_until_ms.get().min(instant_ms));
    }

    /// The services `name` answers with: group filtered, duplicates dropped, in key order.
    #[must_use]
    pub fn services(&self, name: &str) -> Vec<&Entry> {
        let Ok(labels) = path::labels(name) else {
            return Vec::new();
        };
        let segments: Vec<String> = labels.into_iter().rev().collect();
        let prefix_key = self.zone.prefix_key();
        let found: Vec<&Entry> = if segments.iter().any(|segment| is_wildcard(segment)) {
            self.index.matching(&prefix_key, &segments)
        } else {
            let key = segments
                .iter()
                .fold(prefix_key.clone(), |key, segment| key + "/" + segment);
            self.index.subtree(&key)
        };
        let mut kept: Vec<&Entry> = Vec::with_capacity(found.len());
        for entry in groups(found, &prefix_key) {
            if !kept
                .iter()
                .any(|other| other.service.same_service(&entry.service))
            {
                kept.push(entry);
            }
        }
        kept
    }

    /// Whether `name` has any record at or below it.
    #[must_use]
    pub fn exists(&self, name: &str) -> bool {
        let Ok(labels) = path::labels(name) else {
            return false;
        };
        let segments: Vec<String> = labels.into_iter().rev().collect();
        !self
            .index
            .matching(&self.zone.prefix_key(), &segments)
            .is_empty()
    }

    /// A and AAAA records (`qtype`) of `lookup` owned by `owner`, following names in `host`
    /// as CNAMEs: inside the domain through the same lookup, outside it as an [`External`].
    pub fn addresses(&self, owner: &str, lookup: &str, qtype: RecordType, built: &mut Built) {
        let mut chain = vec![owner.to_owned()];
        self.addresses_in_chain(owner, lookup, qtype, &mut chain, built);
    }

    fn addresses_in_chain(
        &self,
        owner: &str,
        lookup: &str,
        qtype: RecordType,
        chain: &mut Vec<String>,
        built: &mut Built,
    ) {
        for entry in self.services(lookup) {
            let ttl = self.ttl(entry);
            match (entry.service.host(), qtype) {
                (Host::Address(IpAddr::V4(v4)), RecordType::A) => {
                    built.answers.push(record(owner, ttl, Data::A(v4)));
                }
                (Host::Address(IpAddr::V6(v6)), RecordType::Aaaa) => {
                    built.answers.push(record(owner, ttl, Data::Aaaa(v6)));
                }
                (Host::Name(target), _) => {
                    if target == lookup || chain.contains(&target) || chain.len() > CHAIN_DEPTH_MAX
                    {
                        continue;
                    }
                    let cname = record(owner, ttl, Data::Cname(target.clone()));
                    if !self.zone.contains(&target) {
                        built.external.push(External::Chase {
                            cname,
                            target,
                            qtype,
                        });
                        continue;
                    }
                    let mut tail = Built::default();
                    chain.push(target.clone());
                    self.addresses_in_chain(&target, &target, qtype, chain, &mut tail);
                    chain.pop();
                    if !tail.answers.is_empty() || !tail.external.is_empty() {
                        built.answers.push(cname);
                        built.answers.append(&mut tail.answers);
                    }
                    built.external.append(&mut tail.external);
                }
                _ => {}
            }
        }
    }

    /// SRV records owned by `name` from the services of `lookup`: priority (0 → the zone's), weight as a share of its priority
    /// level (SkyDNS's `floor(100 × weight ÷ level sum)`, at least 1), the port, and the host
    /// name as target or, for an address, a target made from the record's key (minus
    /// `targetstrip` labels) with the address in the additional section.
    pub fn srv(&self, name: &str, lookup: &str, built: &mut Built) {
        let services = self.services(lookup);
        let mut level_sums: BTreeMap<u16, u32> = BTreeMap::new();
        for entry in &services {
            *level_sums
                .entry(entry.service.priority_or(self.zone.priority))
                .or_default() += u32::from(entry.service.weight());
        }
        for entry in services {
            let Some(target) = self.target(entry, built) else {
                continue;
            };
            let priority = entry.service.priority_or(self.zone.priority);
            let sum = level_sums.get(&priority).copied().unwrap_or(1).max(1);
            let share = 100 * u32::from(entry.service.weight()) / sum;
            let data = Data::Srv {
                priority,
                weight: u16::try_from(share.max(1)).unwrap_or(u16::MAX),
                port: entry.service.port,
                target,
            };
            let ttl = self.ttl(entry);
            built.answers.push(record(name, ttl, data));
        }
    }

    /// MX records owned by `name` from the services of `lookup`: services with `mail`, preference = priority, exchange as an SRV
    /// target.
    pub fn mx(&self, name: &str, lookup: &str, built: &mut Built) {
        for entry in self.services(lookup) {
            if !entry.service.mail {
                continue;
            }
            let Some(exchange) = self.target(entry, built) else {
                continue;
            };
            let data = Data::Mx {
                preference: entry.service.priority_or(self.zone.priority),
                exchange,
            };
            let ttl = self.ttl(entry);
            built.answers.push(record(name, ttl, data));
        }
    }

    /// TXT records owned by `name` from the services of `lookup`: every service with text.
    pub fn txt(&self, name: &str, lookup: &str, built: &mut Built) {
        for entry in self.services(lookup) {
            if entry.service.text.is_empty() {
                continue;
            }
            let ttl = self.ttl(entry);
            let data = Data::Txt(entry.service.txt_strings());
            built.answers.push(record(name, ttl, data));
        }
    }

    /// The SRV target / MX exchange of `entry`, with its addresses added to the additional
    /// section (or asked for outside the domain); `None` for a record without a host.
    fn target(&self, entry: &Entry, built: &mut Built) -> Option<String> {
        let ttl = self.ttl(entry);
        match entry.service.host() {
            Host::None => None,
            Host::Name(target) if self.zone.contains(&target) => {
                let mut glue = Built::default();
                self.addresses(&target, &target, RecordType::A, &mut glue);
                self.addresses(&target, &target, RecordType::Aaaa, &mut glue);
                built.additional.append(&mut glue.answers);
                built.external.append(&mut glue.external);
                Some(target)
            }
            Host::Name(target) => {
                built.external.push(External::Glue {
                    target: target.clone(),
                });
                Some(target)
            }
            Host::Address(address) => {
                let target = self.synthesised_target(entry);
                let data = match address {
                    IpAddr::V4(v4) => Data::A(v4),
                    IpAddr::V6(v6) => Data::Aaaa(v6),
                };
                built.additional.push(record(&target, ttl, data));
                Some(target)
            }
        }
    }

    /// The name of `entry`'s key minus its `targetstrip` leftmost labels (the whole name when
    /// stripping would leave nothing).
    fn synthesised_target(&self, entry: &Entry) -> String {
        let full = path::name_for_key(&self.zone.prefix, &entry.key).unwrap_or_default();
        let labels: Vec<&str> = full.trim_end_matches('.').split('.').collect();
        let strip = usize::from(entry.service.targetstrip);
        if strip == 0 || strip >= labels.len() {
            return full;
        }
        labels[strip..].join(".") + "."
    }
}

/// A record.
#[must_use]
pub fn record(name: &str, ttl: u32, data: Data) -> Record {
    Record {
        name: name.to_owned(),
        ttl,
        data,
    }
}

/// SkyDNS's groups: the group of the shallowest records that carry one becomes the active
/// group, unless a record without a group sits shallower or the records at that depth
/// disagree; with an active group, its records and the records without a group are kept.
fn groups<'a>(found: Vec<&'a Entry>, prefix_key: &str) -> Vec<&'a Entry> {
    let depth = |entry: &Entry| entry.segments(prefix_key).len();
    let grouped_depth = found
        .iter()
        .filter(|entry| !entry.service.group.is_empty())
        .map(|entry| depth(entry))
        .min();
    let Some(grouped_depth) = grouped_depth else {
        return found;
    };
    let shallower_ungrouped = found
        .iter()
        .any(|entry| entry.service.group.is_empty() && depth(entry) < grouped_depth);
    let mut at_depth = found
        .iter()
        .filter(|entry| !entry.service.group.is_empty() && depth(entry) == grouped_depth)
        .map(|entry| entry.service.group.as_str());
    let active = at_depth.next().unwrap_or_default().to_owned();
    if shallower_ungrouped || at_depth.any(|group| group != active) {
        return found;
    }
    found
        .into_iter()
        .filter(|entry| entry.service.group.is_empty() || entry.service.group == active)
        .collect()
}
