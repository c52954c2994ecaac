//! The service JSON SkyDNS stores at a record's key: every field optional, unknown fields
//! ignored (`{"host":"10.0.0.1","port":8080,"priority":10,"weight":100,"ttl":60}`), and what
//! the answers make of it: an address or a name in `host`, SRV's defaults (priority 0 means the
//! server's default, weight 0 means 100), TXT split into 255-byte strings, and the TTL rule (the
//! smaller of the key's remaining TTL and the record's, else whichever is set, else the
//! server's default; never the default for a record about to expire, skynetservices/skydns#244).
//!
//! Invariants: parsing never panics and a malformed record is an error naming why, so the
//! index can skip it; no DNS wire type appears here.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// SRV weight used for a record without one (SkyDNS's).
pub const DEFAULT_WEIGHT: u16 = 100;

/// The longest character-string of a TXT record, in bytes.
const TXT_STRING_BYTES_MAX: usize = 255;

/// A service record as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// An IPv4 or IPv6 literal (A/AAAA), or a domain name (CNAME, SRV target, MX exchange).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// SRV port.
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub port: u16,
    /// SRV priority and MX preference; 0 means the server's default.
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub priority: u16,
    /// SRV weight; 0 means [`DEFAULT_WEIGHT`].
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub weight: u16,
    /// TXT data.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Record TTL in seconds; 0 means unset.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
    /// Also served as MX.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mail: bool,
    /// Labels stripped from the left of a synthesised target name.
    #[serde(default, skip_serializing_if = "is_zero_u16")]
    pub targetstrip: u16,
    /// Records of different groups are not returned together.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u16(value: &u16) -> bool {
    *value == 0
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}

/// What a record's `host` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An address: an A or AAAA record.
    Address(IpAddr),
    /// A name: CNAME, SRV target, MX exchange.
    Name(String),
    /// No host.
    None,
}

/// A stored value that is not a service record.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Not JSON, or a field of the wrong type.
    #[error("malformed service record: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object.
    #[error("malformed service record: not a JSON object")]
    NotAnObject,
}

impl Service {
    /// Parses a stored value.
    ///
    /// # Errors
    /// [`ServiceError`] when it is not a JSON object of that shape (wrong types, a port over
    /// 65535, a negative TTL, an array).
    pub fn parse(text: &str) -> Result<Service, ServiceError> {
        let value: serde_json::Value = serde_json::from_str(text)?;
        if !value.is_object() {
            return Err(ServiceError::NotAnObject);
        }
        Ok(serde_json::from_value(value)?)
    }

    /// The record as stored.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a service record always serialises")
    }

    /// What `host` is (an address literal, else a name, lower-cased and absolute).
    #[must_use]
    pub fn host(&self) -> Host {
        if self.host.is_empty() {
            return Host::None;
        }
        match self.host.parse::<IpAddr>() {
            Ok(address) => Host::Address(address),
            Err(_) => {
                let mut name = self.host.to_ascii_lowercase();
                if !name.ends_with('.') {
                    name.push('.');
                }
                Host::Name(name)
            }
        }
    }

    /// SRV priority / MX preference, `default` for 0.
    #[must_use]
    pub fn priority_or(&self, default: u16) -> u16 {
        if self.priority == 0 {
            default
        } else {
            self.priority
        }
    }

    /// SRV weight, [`DEFAULT_WEIGHT`] for 0.
    #[must_use]
    pub fn weight(&self) -> u16 {
        if self.weight == 0 {
            DEFAULT_WEIGHT
        } else {
            self.weight
        }
    }

    /// The TXT character-strings: `text` split into pieces of at most 255 bytes, never inside
    /// a UTF-8 character.
    #[must_use]
    pub fn txt_strings(&self) -> Vec<String> {
        let mut pieces = Vec::new();
        let mut current = String::new();
        for character in self.text.chars() {
            if current.len() + character.len_utf8() > TXT_STRING_BYTES_MAX {
                pieces.push(std::mem::take(&mut current));
            }
            current.push(character);
        }
        if !current.is_empty() || pieces.is_empty() {
            pieces.push(current);
        }
        pieces
    }

    /// The record's DNS TTL given its key's remaining TTL (`key_ttl`, `None` for a key
    /// without one) and the server's `default`: the smaller of the two set, else the one set,
    /// else `default`. A key with 0 s left still answers with 1 s, never the default.
    #[must_use]
    pub fn dns_ttl(&self, key_ttl: Option<u32>, default: u32) -> u32 {
        let record = (self.ttl != 0).then_some(self.ttl);
        let key = key_ttl.map(|ttl| ttl.max(1));
        match (record, key) {
            (Some(record), Some(key)) => record.min(key),
            (Some(ttl), None) | (None, Some(ttl)) => ttl,
            (None, None) => default,
        }
    }

    /// Whether `self` and `other` are the same service for one answer (same host, port,
    /// priority, weight and text: returned once).
    #[must_use]
    pub fn same_service(&self, other: &Service) -> bool {
        (
            &self.host,
            self.port,
            self.priority,
            self.weight,
            &self.text,
        ) == (
            &other.host,
            other.port,
            other.priority,
            other.weight,
            &other.text,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: SkyDNS's JSON reads with every field optional and unknown fields ignored, and
    // writes back without the unset ones; malformed values are errors. Method: golden texts.
    #[test]
    fn json_reads_and_writes() {
        let full = Service::parse(
            r#"{"host":"10.0.0.1","port":8080,"priority":10,"weight":20,"text":"hi","ttl":60,"mail":true,"targetstrip":1,"group":"g","extra":[1]}"#,
        )
        .expect("valid");
        assert_eq!(
            (full.port, full.priority, full.weight, full.ttl),
            (8080, 10, 20, 60)
        );
        assert!(full.mail);
        assert_eq!(Service::parse("{}").expect("valid"), Service::default());
        let written = Service {
            host: "10.0.0.2".to_owned(),
            port: 80,
            ..Service::default()
        };
        assert_eq!(written.to_json(), r#"{"host":"10.0.0.2","port":80}"#);
        for bad in [
            "",
            "[]",
            "not json",
            r#"{"port":"80"}"#,
            r#"{"port":70000}"#,
            r#"{"ttl":-1}"#,
            r#"{"host":1}"#,
        ] {
            let error = Service::parse(bad).expect_err(bad);
            assert!(
                error.to_string().starts_with("malformed service record"),
                "{bad}: {error}"
            );
        }
    }

    // Goal: hosts are addresses or names, SRV defaults are SkyDNS's, TXT splits at 255 bytes
    // without breaking a character. Method: tables.
    #[test]
    fn hosts_defaults_and_txt() {
        let host = |text: &str| {
            Service {
                host: text.to_owned(),
                ..Service::default()
            }
            .host()
        };
        assert_eq!(
            host("10.0.0.1"),
            Host::Address("10.0.0.1".parse().expect("v4"))
        );
        assert_eq!(
            host("2001:db8::1"),
            Host::Address("2001:db8::1".parse().expect("v6"))
        );
        assert_eq!(
            host("DB.Example.com"),
            Host::Name("db.example.com.".to_owned())
        );
        assert_eq!(host(""), Host::None);
        let plain = Service::default();
        assert_eq!(
            (plain.priority_or(10), plain.weight()),
            (10, DEFAULT_WEIGHT)
        );
        let set = Service {
            priority: 5,
            weight: 7,
            ..Service::default()
        };
        assert_eq!((set.priority_or(10), set.weight()), (5, 7));
        let long = Service {
            text: format!("{}é{}", "a".repeat(254), "b".repeat(300)),
            ..Service::default()
        };
        let pieces = long.txt_strings();
        assert!(
            pieces.iter().all(|piece| piece.len() <= 255),
            "{:?}",
            pieces.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(pieces.concat(), long.text);
        assert_eq!(pieces[0].len(), 254, "é does not fit in the first string");
        assert_eq!(Service::default().txt_strings(), [""]);
    }

    // Goal: the TTL rule: the smaller of key and record TTLs, else the one set, else the
    // default, and a key about to expire never answers with the default (#244). Method: table.
    #[test]
    fn ttls() {
        let with = |ttl: u32| Service {
            ttl,
            ..Service::default()
        };
        for (record, key, ttl) in [
            (60, Some(30), 30),
            (30, Some(60), 30),
            (60, None, 60),
            (0, Some(20), 20),
            (0, Some(0), 1),
            (0, None, 3600),
        ] {
            assert_eq!(with(record).dns_ttl(key, 3600), ttl, "{record} {key:?}");
        }
    }

    // Goal: identical services are recognised for dedup, differing ones are not. Method: pairs.
    #[test]
    fn same_service() {
        let a = Service {
            host: "h".to_owned(),
            port: 1,
            ttl: 5,
            ..Service::default()
        };
        let b = Service {
            ttl: 9,
            group: "x".to_owned(),
            ..a.clone()
        };
        assert!(a.same_service(&b));
        let c = Service {
            port: 2,
            ..a.clone()
        };
        assert!(!a.same_service(&c));
    }
}
