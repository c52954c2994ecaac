//! Stub zones (SkyDNS's `-stubzones`): other zones whose questions go to their own servers,
//! declared as records under `stub.dns.<domain>`: the key
//! `/<prefix>/<domain reversed>/dns/stub/<zone reversed>/<label>` with an address `host` and
//! an optional `port` (53) names one server of that zone.
//!
//! Invariants: only address hosts count (a name host is skipped, as SkyDNS skips it); a
//! question goes to the zone that is its longest suffix, on a label boundary; the stub
//! subtree itself is never a stub zone; pure: the index is read, nothing else.

use crate::index::Index;
use crate::path;
use crate::service::Host;
use crate::zone::Zone;
use std::net::SocketAddr;

/// The EDNS0 option code SkyDNS puts on queries it sends to a stub zone's servers; a query
/// arriving with it came from another SkyDNS-style server and is not sent on again (loops).
pub const LOOP_OPTION_CODE: u16 = 65_011;

/// Port of a stub server whose record has none.
const DNS_PORT: u16 = 53;

/// The servers of the stub zone that holds `name`, with the zone's name, if any.
#[must_use]
pub fn servers_for(zone: &Zone, index: &Index, name: &str) -> Option<(String, Vec<SocketAddr>)> {
    let name = name.to_ascii_lowercase();
    let name = if name.ends_with('.') {
        name
    } else {
        format!("{name}.")
    };
    let stub_root = path::key_for_name(&zone.prefix, &zone.reserved("stub")).ok()?;
    let mut best: Option<(String, Vec<SocketAddr>)> = None;
    for entry in index.subtree(&stub_root) {
        let Some(rest) = entry.key.strip_prefix(&stub_root) else {
            continue;
        };
        let Some((zone_key, _label)) = rest.trim_start_matches('/').rsplit_once('/') else {
            continue;
        };
        let stub_zone = zone_name(zone_key);
        if !within(&name, &stub_zone) {
            continue;
        }
        let Host::Address(address) = entry.service.host() else {
            continue;
        };
        let port = if entry.service.port == 0 {
            DNS_PORT
        } else {
            entry.service.port
        };
        let server = SocketAddr::new(address, port);
        match &mut best {
            Some((found, servers)) if *found == stub_zone => servers.push(server),
            Some((found, _)) if found.len() >= stub_zone.len() => {}
            _ => best = Some((stub_zone, vec![server])),
        }
    }
    best
}

/// `com/example` → `example.com.`
fn zone_name(zone_key: &str) -> String {
    let mut labels: Vec<&str> = zone_key
        .split('/')
        .filter(|label| !label.is_empty())
        .collect();
    labels.reverse();
    format!("{}.", labels.join("."))
}

/// Whether `name` is `zone` or below it, on a label boundary.
fn within(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Stored;

    fn index(records: &[(&str, &str)]) -> Index {
        Index::build(records.iter().map(|(key, value)| Stored {
            key,
            value,
            expires_at_ms: None,
        }))
        .0
    }

    // Goal: a question below a stub zone gets that zone's servers (address hosts only, port
    // 53 by default); the longest zone wins; names beside a zone, or off a label boundary,
    // get none. Method: two nested stub zones and a name host.
    #[test]
    fn questions_find_their_stub_zone() {
        let zone = Zone::new("skydns.local", "skydns").expect("a zone");
        let index = index(&[
            (
                "/skydns/local/skydns/dns/stub/com/example/ns1",
                r#"{"host":"10.0.0.1"}"#,
            ),
            (
                "/skydns/local/skydns/dns/stub/com/example/ns2",
                r#"{"host":"10.0.0.2","port":5353}"#,
            ),
            (
                "/skydns/local/skydns/dns/stub/com/example/ns3",
                r#"{"host":"ns.example.org"}"#,
            ),
            (
                "/skydns/local/skydns/dns/stub/com/example/east/ns1",
                r#"{"host":"10.0.1.1"}"#,
            ),
            ("/skydns/local/skydns/web/x1", r#"{"host":"10.9.9.9"}"#),
        ]);
        let (found, servers) = servers_for(&zone, &index, "www.Example.com.").expect("a stub zone");
        assert_eq!(found, "example.com.");
        let servers: Vec<String> = servers.iter().map(ToString::to_string).collect();
        assert_eq!(servers, ["10.0.0.1:53", "10.0.0.2:5353"]);
        let (found, servers) =
            servers_for(&zone, &index, "db.east.example.com").expect("the inner");
        assert_eq!((found.as_str(), servers.len()), ("east.example.com.", 1));
        assert_eq!(
            servers_for(&zone, &index, "example.com.")
                .map(|(z, _)| z)
                .as_deref(),
            Some("example.com.")
        );
        assert!(servers_for(&zone, &index, "notexample.com.").is_none());
        assert!(servers_for(&zone, &index, "web.skydns.local.").is_none());
    }
}
