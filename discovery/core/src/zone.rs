//! The served zone's settings, as SkyDNS names them: the domain, the key prefix, the default
//! and negative TTLs, the default priority, the SOA's mailbox, the host-local name and the
//! server's CHAOS identity; and the tests a name is put to (inside the domain on a label
//! boundary, skynetservices/skydns#263; the apex; the reverse zones).
//!
//! Invariants: `domain`, `hostmaster` and `local` are absolute, lower-case names, checked at
//! construction.

use crate::path::{self, NameError};

/// SkyDNS's default domain.
pub const DEFAULT_DOMAIN: &str = "skydns.local.";

/// The zone's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The served domain (`skydns.local.`).
    pub domain: String,
    /// The key prefix, without slashes (`skydns`).
    pub prefix: String,
    /// Default record TTL, seconds. SkyDNS's 3600.
    pub ttl: u32,
    /// TTL of negative answers and the SOA's minimum, seconds. SkyDNS's 60.
    pub min_ttl: u32,
    /// SRV priority and MX preference of records without one. SkyDNS's 10.
    pub priority: u16,
    /// The SOA's mailbox as a name (`hostmaster.skydns.local.`).
    pub hostmaster: String,
    /// The name `local.dns.<domain>` stands for on this host (`-local`), if any.
    pub local: Option<String>,
    /// What `version.bind.` answers in CHAOS.
    pub version: String,
    /// What `hostname.bind.` answers in CHAOS.
    pub hostname: String,
}

impl Zone {
    /// A zone for `domain` under `prefix` with SkyDNS's defaults; the mailbox is
    /// `hostmaster.<domain>`.
    ///
    /// # Errors
    /// [`NameError`] when `domain` is not a name.
    pub fn new(domain: &str, prefix: &str) -> Result<Zone, NameError> {
        let domain = absolute(domain)?;
        Ok(Zone {
            hostmaster: format!("hostmaster.{domain}"),
            domain,
            prefix: prefix.trim_matches('/').to_owned(),
            ttl: 3600,
            min_ttl: 60,
            priority: 10,
            local: None,
            version: format!("keel-discovery {}", env!("CARGO_PKG_VERSION")),
            hostname: "localhost".to_owned(),
        })
    }

    /// Whether `name` (absolute, lower case) is the domain or below it, on a label boundary.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        name == self.domain
            || name
                .strip_suffix(self.domain.as_str())
                .is_some_and(|head| head.ends_with('.'))
    }

    /// The key of the prefix itself (`/skydns`).
    #[must_use]
    pub fn prefix_key(&self) -> String {
        format!("/{}", self.prefix)
    }

    /// `<label>.dns.<domain>`: the reserved names (`ns`, `local`, `stub`, `apex`).
    #[must_use]
    pub fn reserved(&self, label: &str) -> String {
        format!("{label}.dns.{}", self.domain)
    }
}

/// Whether `name` (absolute, lower case) is in a reverse zone (`in-addr.arpa.`, `ip6.arpa.`).
#[must_use]
pub fn is_reverse(name: &str) -> bool {
    name.ends_with(".in-addr.arpa.") || name.ends_with(".ip6.arpa.")
}

/// `name` checked, lower case and absolute.
///
/// # Errors
/// [`NameError`] when it is not a name.
pub fn absolute(name: &str) -> Result<String, NameError> {
    let labels = path::labels(name)?;
    Ok(labels.join(".") + ".")
}
