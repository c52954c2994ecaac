//! Announcing a service (the sidekick pattern): the record a running instance keeps in the
//! store while it is healthy: its key (the name's key plus an instance label, so replicas add
//! up under one name), its service JSON, the key TTL and how often it is refreshed, and what
//! to do after each health check.
//!
//! Invariants: the key is always strictly below the name's key (one instance never
//! overwrites the name's other records); the refresh interval is shorter than the key TTL by
//! at least a quarter, so a refresh that is late by a little does not let the key expire.

use crate::path::{self, NameError};
use crate::service::Service;
use crate::zone::{self, Zone};
use std::time::Duration;

/// One instance's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The service's name, absolute (`web.skydns.local.`).
    pub name: String,
    /// The instance label (`x1`, a host name).
    pub instance: String,
    /// The record.
    pub service: Service,
    /// The key's TTL, seconds.
    pub key_ttl: u64,
}

/// Why an announcement cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// The name is not a name inside the zone.
    #[error("{name:?} is not a name in {domain}")]
    OutsideZone {
        /// The name.
        name: String,
        /// The zone's domain.
        domain: String,
    },
    /// The name or instance is not a DNS name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The instance label holds a dot or a slash.
    #[error("the instance {0:?} must be one label (no '.' or '/')")]
    Instance(String),
    /// The address is not `host:port`.
    #[error("{0:?} is not host:port (an IPv6 address in brackets: [2001:db8::1]:80)")]
    Address(String),
    /// A key TTL of 0 would never expire the record.
    #[error("the key TTL must be at least 1 second")]
    Ttl,
}

impl Announcement {
    /// `name` made absolute inside `zone` (a relative name gets the domain appended).
    ///
    /// # Errors
    /// [`AnnounceError`] when the name is not in the zone or the instance is not one label.
    pub fn new(
        zone: &Zone,
        name: &str,
        instance: &str,
        service: Service,
        key_ttl: u64,
    ) -> Result<Announcement, AnnounceError> {
        let name = name_in_zone(zone, name)?;
        if instance.is_empty() || instance.contains(['.', '/']) {
            return Err(AnnounceError::Instance(instance.to_owned()));
        }
        path::labels(instance)?;
        if key_ttl == 0 {
            return Err(AnnounceError::Ttl);
        }
        Ok(Announcement {
            name,
            instance: instance.to_lowercase(),
            service,
            key_ttl,
        })
    }

    /// The key of the record: the name's key with the instance below it.
    ///
    /// # Errors
    /// [`NameError`] when the name has no key (cannot happen for a checked announcement).
    pub fn key(&self, zone: &Zone) -> Result<String, NameError> {
        Ok(format!(
            "{}/{}",
            path::key_for_name(&zone.prefix, &self.name)?,
            self.instance
        ))
    }

    /// How long to wait between refreshes: three quarters of the key TTL, less up to a tenth
    /// of it by `jitter` (in `0.0..1.0`, drawn by the caller), at least 100 ms.
    #[must_use]
    pub fn refresh_interval(&self, jitter: f64) -> Duration {
        let ttl = Duration::from_secs(self.key_ttl);
        let jitter = jitter.clamp(0.0, 1.0);
        let interval = ttl.mul_f64(0.75) - ttl.mul_f64(0.1 * jitter);
        interval.max(Duration::from_millis(100))
    }
}

/// `name` as an absolute name inside `zone`: absolute names must end in the domain, relative
/// ones get it appended.
///
/// # Errors
/// [`AnnounceError`] when the name is not a name or is outside the zone.
pub fn name_in_zone(zone: &Zone, name: &str) -> Result<String, AnnounceError> {
    let absolute = if name.ends_with('.') || zone.contains(&zone::absolute(name)?) {
        zone::absolute(name)?
    } else {
        zone::absolute(&format!("{name}.{}", zone.domain))?
    };
    if !zone.contains(&absolute) {
        return Err(AnnounceError::OutsideZone {
            name: name.to_owned(),
            domain: zone.domain.clone(),
        });
    }
    Ok(absolute)
}

/// `host:port` split, with an IPv6 address in brackets.
///
/// # Errors
/// [`AnnounceError::Address`] when there is no port or it is not a number.
pub fn host_port(text: &str) -> Result<(String, u16), AnnounceError> {
    let bad = || AnnounceError::Address(text.to_owned());
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = port.parse().map_err(|_| bad())?;
    Ok((host.to_owned(), port))
}

/// What the announcer does after a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write (or refresh) the record with its key TTL.
    Write,
    /// Delete the record: it was published and the check now fails.
    Withdraw,
    /// Nothing: the check fails and nothing is published.
    Wait,
}

/// The step for a health check result, given whether the record is published.
#[must_use]
pub fn step(healthy: bool, published: bool) -> Step {
    match (healthy, published) {
        (true, _) => Step::Write,
        (false, true) => Step::Withdraw,
        (false, false) => Step::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        Zone::new("skydns.local", "skydns").expect("a zone")
    }

    // Goal: relative names get the domain, absolute names must be inside it; the key is the
    // name's key with the instance below it; bad instances and TTL 0 are refused.
    // Method: one announcement per case.
    #[test]
    fn keys_are_below_the_name() {
        let zone = zone();
        let service = Service::default();
        let made = |name: &str, instance: &str, ttl| {
            Announcement::new(&zone, name, instance, service.clone(), ttl)
        };
        let web = made("web", "X1", 60).expect("valid");
        assert_eq!(web.name, "web.skydns.local.");
        assert_eq!(
            web.key(&zone).expect("a key"),
            "/skydns/local/skydns/web/x1"
        );
        let east = made("db.east.skydns.local.", "h1", 60).expect("valid");
        assert_eq!(
            east.key(&zone).expect("a key"),
            "/skydns/local/skydns/east/db/h1"
        );
        assert_eq!(
            made("db.east.skydns.local", "h1", 60).expect("valid").name,
            east.name
        );
        assert!(matches!(
            made("www.example.org.", "h1", 60),
            Err(AnnounceError::OutsideZone { .. })
        ));
        assert!(matches!(
            made("web", "a.b", 60),
            Err(AnnounceError::Instance(_))
        ));
        assert!(matches!(
            made("web", "", 60),
            Err(AnnounceError::Instance(_))
        ));
        assert!(matches!(made("web", "h1", 0), Err(AnnounceError::Ttl)));
    }

    // Goal: the refresh comes at 3/4 of the TTL less up to a tenth by jitter, never below
    // 100 ms. Method: the bounds of the jitter, and a 1 s TTL.
    #[test]
    fn refresh_interval_is_well_inside_the_ttl() {
        let zone = zone();
        let made =
            |ttl| Announcement::new(&zone, "web", "x1", Service::default(), ttl).expect("valid");
        assert_eq!(made(60).refresh_interval(0.0), Duration::from_secs(45));
        assert_eq!(made(60).refresh_interval(1.0), Duration::from_secs(39));
        assert_eq!(made(60).refresh_interval(7.0), Duration::from_secs(39));
        assert_eq!(made(1).refresh_interval(0.5), Duration::from_millis(700));
    }

    // Goal: host:port with names, IPv4 and bracketed IPv6; anything else refused.
    // Method: one case per form.
    #[test]
    fn host_port_splits_addresses() {
        assert_eq!(
            host_port("10.0.0.1:80").expect("valid"),
            ("10.0.0.1".to_owned(), 80)
        );
        assert_eq!(host_port("db.example.org:5432").expect("valid").1, 5432);
        assert_eq!(
            host_port("[2001:db8::1]:53").expect("valid").0,
            "2001:db8::1"
        );
        for bad in [
            "10.0.0.1",
            "2001:db8::1:53",
            ":80",
            "h:http",
            "h:70000",
            "[::1:80",
        ] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }

    // Goal: healthy always writes; unhealthy withdraws once, then waits.
    // Method: the four combinations.
    #[test]
    fn steps_follow_health() {
        assert_eq!(step(true, false), Step::Write);
        assert_eq!(step(true, true), Step::Write);
        assert_eq!(step(false, true), Step::Withdraw);
        assert_eq!(step(false, false), Step::Wait);
    }
}
