//! The configuration stored at `/<prefix>/config`: SkyDNS's JSON keys, each optional, read
//! over the flags (a key present in the JSON wins over the flag).
//!
//! Invariants: unknown keys are ignored, as SkyDNS's Go decoder ignores them; a known key of
//! the wrong type, or a value out of range, refuses the whole document (the server keeps the
//! settings it has); `read_timeout` is a Go duration in nanoseconds, as SkyDNS stores it;
//! `ndot` (SkyDNS's code) and `ndots` (its README) are the same key.

use serde::Deserialize;

/// The JSON document at `/<prefix>/config`; `None` is a key not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StoredConfig {
    /// Where to serve (`ip:port`); takes effect at the next start.
    pub dns_addr: Option<String>,
    /// The domain served.
    pub domain: Option<String>,
    /// The SOA's mailbox (`hostmaster@skydns.local.`).
    pub hostmaster: Option<String>,
    /// The name `local.dns.<domain>` stands for.
    pub local: Option<String>,
    /// The DNSSEC key's base name.
    pub dnssec: Option<String>,
    /// Rotate addresses between answers.
    pub round_robin: Option<bool>,
    /// Start forwarding at `query id mod n` rather than at the first upstream.
    pub ns_rotate: Option<bool>,
    /// Upstreams, `ip:port`.
    pub nameservers: Option<Vec<String>>,
    /// Never forward.
    pub no_rec: Option<bool>,
    /// Upstream timeout, nanoseconds.
    pub read_timeout: Option<u64>,
    /// SRV priority of records without one.
    pub priority: Option<u16>,
    /// Default record TTL, seconds.
    pub ttl: Option<u32>,
    /// Negative-answer TTL, seconds.
    pub min_ttl: Option<u32>,
    /// Signature cache capacity.
    pub scache: Option<u64>,
    /// Response cache capacity, messages.
    pub rcache: Option<u64>,
    /// Response cache TTL, seconds.
    pub rcache_ttl: Option<u32>,
    /// Names with fewer labels are not forwarded.
    #[serde(alias = "ndots")]
    pub ndot: Option<usize>,
    /// Socket-activated listeners.
    pub systemd: Option<bool>,
}

/// Why the stored configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not a JSON object of SkyDNS's keys and types.
    #[error("the stored configuration is not valid: {0}")]
    Json(String),
    /// A value out of range.
    #[error("the stored configuration's {key} must be {rule}")]
    Range {
        /// The JSON key.
        key: &'static str,
        /// What it must be.
        rule: &'static str,
    },
}

impl StoredConfig {
    /// Reads the stored document.
    ///
    /// # Errors
    /// [`ConfigError`] when it is not an object of SkyDNS's keys or a value is out of range.
    pub fn parse(text: &str) -> Result<StoredConfig, ConfigError> {
        let invalid = |error: serde_json::Error| ConfigError::Json(error.to_string());
        let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
        if !value.is_object() {
            return Err(ConfigError::Json("not a JSON object".to_owned()));
        }
        let config: StoredConfig = serde_json::from_value(value).map_err(invalid)?;
        let range = |key, rule| Err(ConfigError::Range { key, rule });
        if config.ttl == Some(0) {
            return range("ttl", "at least 1");
        }
        if config.read_timeout == Some(0) {
            return range("read_timeout", "at least 1 ns");
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: SkyDNS's documented keys are read, `ndots` stands for `ndot`, unknown keys are
    // ignored, and an empty object sets nothing.
    // Method: a document as SkyDNS's README shows one, plus an unknown key.
    #[test]
    fn skydns_keys_are_read() {
        let text = r#"{"dns_addr":"127.0.0.1:5354","ttl":3600,"nameservers":["8.8.8.8:53","8.8.4.4:53"],
            "read_timeout":500000000,"ndots":3,"round_robin":false,"unknown":[1]}"#;
        let config = StoredConfig::parse(text).expect("valid");
        assert_eq!(config.dns_addr.as_deref(), Some("127.0.0.1:5354"));
        assert_eq!(config.ttl, Some(3600));
        assert_eq!(config.nameservers.as_ref().map(Vec::len), Some(2));
        assert_eq!(config.read_timeout, Some(500_000_000));
        assert_eq!(config.ndot, Some(3));
        assert_eq!(config.round_robin, Some(false));
        assert_eq!(
            StoredConfig::parse("{}").expect("valid"),
            StoredConfig::default()
        );
    }

    // Goal: a document that is not an object of SkyDNS's types, or a value out of range, is
    // refused with the reason. Method: one bad document per rule.
    #[test]
    fn bad_documents_are_refused() {
        let cases = [
            ("[]", "not valid"),
            ("not json", "not valid"),
            (r#"{"ttl":"60"}"#, "not valid"),
            (r#"{"ttl":-1}"#, "not valid"),
            (r#"{"nameservers":"8.8.8.8:53"}"#, "not valid"),
            (r#"{"ttl":0}"#, "ttl must be at least 1"),
            (r#"{"read_timeout":0}"#, "read_timeout must be"),
        ];
        for (text, expected) in cases {
            let error = StoredConfig::parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
