//! DNS names and the Keel keys of their records, in SkyDNS's layout: the key of a name is the
//! prefix followed by the name's labels in reverse order, lower case
//! (`1.rails.production.east.skydns.local.` → `/skydns/local/skydns/east/production/rails/1`).
//! Reverse records live outside the served domain: an IPv4 address in normal order under
//! `/<prefix>/arpa/in-addr/`, an IPv6 address as its 32 nibbles under `/<prefix>/arpa/ip6/`.
//!
//! Invariants: a key built here round-trips to the same (lower-cased, absolute) name; a name
//! with an empty label, a label over 63 bytes, a `/` in a label, or over 253 bytes is refused
//! rather than mapped onto another name's key.

use std::net::IpAddr;

/// SkyDNS's default key prefix (`-path-prefix`).
pub const DEFAULT_PREFIX: &str = "skydns";

/// The longest DNS label, in bytes.
const LABEL_BYTES_MAX: usize = 63;

/// The longest DNS name in its text form without the final dot, in bytes.
const NAME_BYTES_MAX: usize = 253;

/// A name that has no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// An empty label (`a..b`), or the empty name.
    #[error("{name:?} has an empty label")]
    EmptyLabel {
        /// The name.
        name: String,
    },
    /// A label over 63 bytes.
    #[error("{name:?} has a label longer than 63 bytes")]
    LongLabel {
        /// The name.
        name: String,
    },
    /// The name is over 253 bytes.
    #[error("{name:?} is longer than 253 bytes")]
    LongName {
        /// The name.
        name: String,
    },
    /// A label holds `/`, which would split it into two keys.
    #[error("{name:?} has a '/' in a label")]
    Slash {
        /// The name.
        name: String,
    },
}

/// The lower-cased labels of `name` (a final dot optional), checked.
///
/// # Errors
/// [`NameError`].
pub fn labels(name: &str) -> Result<Vec<String>, NameError> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let owned = || name.to_owned();
    if trimmed.len() > NAME_BYTES_MAX {
        return Err(NameError::LongName { name: owned() });
    }
    trimmed
        .split('.')
        .map(|label| {
            if label.is_empty() {
                Err(NameError::EmptyLabel { name: owned() })
            } else if label.len() > LABEL_BYTES_MAX {
                Err(NameError::LongLabel { name: owned() })
            } else if label.contains('/') {
                Err(NameError::Slash { name: owned() })
            } else {
                Ok(label.to_ascii_lowercase())
            }
        })
        .collect()
}

/// The key of `name`'s records under `prefix` (no slashes around it).
///
/// # Errors
/// [`NameError`] for a name without a key.
pub fn key_for_name(prefix: &str, name: &str) -> Result<String, NameError> {
    let mut key = format!("/{prefix}");
    for label in labels(name)?.iter().rev() {
        key.push('/');
        key.push_str(label);
    }
    Ok(key)
}

/// The absolute name (`a.b.c.`) whose records a key under `prefix` holds; `None` for a key
/// outside the prefix or the prefix itself.
#[must_use]
pub fn name_for_key(prefix: &str, key: &str) -> Option<String> {
    let rest = key
        .strip_prefix('/')
        .unwrap_or(key)
        .strip_prefix(prefix)?
        .strip_prefix('/')?;
    let labels: Vec<&str> = rest.split('/').filter(|label| !label.is_empty()).collect();
    if labels.is_empty() {
        return None;
    }
    let mut name: String = labels
        .iter()
        .rev()
        .map(|label| label.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".");
    name.push('.');
    Some(name)
}

/// The key of the reverse (PTR) record of `address` under `prefix`.
#[must_use]
pub fn key_for_address(prefix: &str, address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("/{prefix}/arpa/in-addr/{a}/{b}/{c}/{d}")
        }
        IpAddr::V6(v6) => {
            let nibbles: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|byte| [byte >> 4, byte & 0x0f])
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            format!("/{prefix}/arpa/ip6/{}", nibbles.join("/"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: names map to SkyDNS's keys (reversed, lower case) and back. Method: a table,
    // each row checked both ways.
    #[test]
    fn names_and_keys() {
        for (name, key) in [
            (
                "1.rails.production.east.skydns.local.",
                "/skydns/local/skydns/east/production/rails/1",
            ),
            (
                "Rails.Production.Skydns.Local",
                "/skydns/local/skydns/production/rails",
            ),
            ("local.", "/skydns/local"),
            ("*.db.skydns.local.", "/skydns/local/skydns/db/*"),
        ] {
            assert_eq!(key_for_name("skydns", name).as_deref(), Ok(key), "{name}");
            let back = name_for_key("skydns", key).expect("a name");
            let expected = format!(
                "{}.",
                name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
            );
            assert_eq!(back, expected, "{key}");
        }
        assert_eq!(name_for_key("skydns", "/other/local/a"), None);
        assert_eq!(name_for_key("skydns", "/skydns"), None);
        assert_eq!(name_for_key("skydns", "/skydnsx/local"), None);
        assert_eq!(key_for_name("dns", "a.b.").as_deref(), Ok("/dns/b/a"));
    }

    // Goal: names without a key are refused, never mapped onto another name's key. Method:
    // a table of bad names.
    #[test]
    fn bad_names() {
        let long_label = format!("{}.local.", "a".repeat(64));
        let long_name = format!("{}local.", "abcdefghi.".repeat(26));
        for name in [
            "",
            ".",
            "a..b",
            "a/b.local.",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(key_for_name("skydns", name).is_err(), "{name:?}");
        }
        assert!(key_for_name("skydns", &format!("{}.local.", "a".repeat(63))).is_ok());
    }

    // Goal: reverse records sit where SkyDNS reads them: IPv4 in normal order, IPv6 as 32
    // nibbles. Method: one of each.
    #[test]
    fn reverse_keys() {
        let v4: IpAddr = "10.0.0.1".parse().expect("an address");
        assert_eq!(
            key_for_address("skydns", v4),
            "/skydns/arpa/in-addr/10/0/0/1"
        );
        let v6: IpAddr = "2001:db8::1".parse().expect("an address");
        let key = key_for_address("skydns", v6);
        assert!(
            key.starts_with("/skydns/arpa/ip6/2/0/0/1/0/d/b/8/0/"),
            "{key}"
        );
        assert!(key.ends_with("/0/0/0/1"), "{key}");
        assert_eq!(key.matches('/').count(), 3 + 32);
    }
}
