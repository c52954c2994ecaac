//! Units published in DNS: a unit whose file has an `[X-Discovery]` section with a `Name=` is
//! written into discovery's records (SkyDNS's layout, `docs/discovery.md`) with this
//! machine's public IP while systemd reports it active here, and withdrawn when it stops, is
//! unscheduled, or (its key TTL running out) when this machine is lost. No sidekick unit is
//! needed.
//!
//! Keys of the section: `Name=` (the service's name, relative to the domain or absolute
//! inside it; `%n`, `%N`, `%p`, `%i` replaced as in `[X-Fleet]`), `Port=`, `Priority=`,
//! `Weight=`, `Text=` and `TTL=` (the record's DNS TTL), as the service JSON's fields. The
//! record's key is the name's key with one instance label below it, made of the unit's name
//! and this machine's short ID, so replicas and global units add up under one name.
//!
//! Invariants: [`announcement`] is pure; a section that cannot be used is logged once per
//! file and publishes nothing; a record is written with the key TTL (fleetd's `agent_ttl`)
//! and refreshed after half of it, so only a running agent keeps it; a write or delete that
//! fails is tried again at the next round.

use super::Agent;
use discovery_core::announce::{AnnounceError, Announcement};
use discovery_core::service::Service;
use discovery_core::zone::Zone;
use fleet_core::model::MachineId;
use fleet_core::name::UnitName;
use fleet_core::options::substitute;
use fleet_core::ports::Systemd;
use fleet_core::unit_file::UnitFile;
use kv_client::{DeleteOptions, SetOptions};
use std::time::Duration;
use tokio::time::Instant;

/// The unit file section read.
pub const SECTION: &str = "X-Discovery";

const KEYS: [&str; 6] = ["Name", "Port", "Priority", "Weight", "Text", "TTL"];

/// Where this machine's units are published.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// The discovery zone (fleetd's `dns_domain` and `dns_prefix`).
    pub zone: Zone,
    /// The address records carry (fleetd's `public_ip`).
    pub host: String,
}

/// Why a unit's `[X-Discovery]` section cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsOptionError {
    /// A key the section does not have.
    #[error("[{SECTION}] has no key {0:?} (keys: Name, Port, Priority, Weight, Text, TTL)")]
    UnknownKey(String),
    /// The section without `Name=`.
    #[error("[{SECTION}] needs Name=")]
    NoName,
    /// A number that does not parse.
    #[error("[{SECTION}] {key}={value:?} is not a number from 0 to {max}")]
    Number {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// The largest value.
        max: u64,
    },
    /// The name or instance cannot be announced.
    #[error("[{SECTION}] {0}")]
    Announce(#[from] AnnounceError),
}

fn number(file: &UnitFile, key: &'static str, max: u64) -> Result<u64, DnsOptionError> {
    let Some(value) = file.last_value(SECTION, key) else {
        return Ok(0);
    };
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| DnsOptionError::Number {
            key,
            value: value.to_owned(),
            max,
        })
}

/// The record `unit` (file `file`) publishes from `machine` with `host` as its address, or
/// `None` when the file has no `[X-Discovery]` section.
///
/// # Errors
/// [`DnsOptionError`] for a section that cannot be used.
pub fn announcement(
    unit: &UnitName,
    file: &UnitFile,
    machine: &MachineId,
    settings: &DnsSettings,
    key_ttl: u64,
) -> Result<Option<Announcement>, DnsOptionError> {
    let mut keys = file
        .options()
        .iter()
        .filter(|option| option.section == SECTION)
        .map(|option| option.name.as_str())
        .peekable();
    if keys.peek().is_none() {
        return Ok(None);
    }
    if let Some(unknown) = keys.find(|key| !KEYS.contains(key)) {
        return Err(DnsOptionError::UnknownKey(unknown.to_owned()));
    }
    let name = file
        .last_value(SECTION, "Name")
        .map(|name| substitute(name, unit))
        .filter(|name| !name.trim().is_empty())
        .ok_or(DnsOptionError::NoName)?;
    let u16_of = |key| number(file, key, u64::from(u16::MAX)).map(|n| n as u16);
    let service = Service {
        host: settings.host.clone(),
        port: u16_of("Port")?,
        priority: u16_of("Priority")?,
        weight: u16_of("Weight")?,
        text: file
            .last_value(SECTION, "Text")
            .map(|text| substitute(text, unit))
            .unwrap_or_default(),
        ttl: number(file, "TTL", u64::from(u32::MAX))? as u32,
        ..Service::default()
    };
    let instance = instance_label(unit, machine);
    let announced = Announcement::new(&settings.zone, name.trim(), &instance, service, key_ttl)?;
    Ok(Some(announced))
}

/// One DNS label for this unit on this machine: the unit's name without its suffix, with
/// every character other than a letter, digit or hyphen made a hyphen, then the machine's
/// short ID (`web-1-3f2a1b9c` for `web@1.service`).
fn instance_label(unit: &UnitName, machine: &MachineId) -> String {
    let mut label: String = unit
        .without_suffix()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    label.truncate(50);
    let label = label.trim_matches('-');
    format!("{label}-{}", machine.short())
        .trim_start_matches('-')
        .to_owned()
}

/// A record this agent wrote.
#[derive(Debug, Clone)]
pub(super) struct Published {
    key: String,
    value: String,
    written: Instant,
}

impl<S: Systemd> Agent<'_, S> {
    /// Makes Keel hold the records of the units active here, and not those of others.
    pub(super) async fn publish_dns(&mut self) {
        let Some(settings) = self.settings.dns.clone() else {
            return;
        };
        let key_ttl = self.settings.agent_ttl.as_secs().max(1);
        let wanted = self.dns_wanted(&settings, key_ttl);
        let refresh = Duration::from_secs(key_ttl) / 2;
        for (unit, (key, value)) in &wanted {
            let current = self.dns.get(unit);
            let fresh = current.is_some_and(|p| {
                p.key == *key && p.value == *value && p.written.elapsed() < refresh
            });
            if fresh {
                continue;
            }
            if let Some(old) = current.filter(|p| p.key != *key).map(|p| p.key.clone()) {
                if !self.withdraw_dns(&old).await {
                    continue;
                }
            }
            let options = SetOptions {
                ttl: Some(Duration::from_secs(key_ttl)),
            };
            match self.registry.client().set(key, value, options).await {
                Ok(_) => {
                    let written = Instant::now();
                    let (key, value) = (key.clone(), value.clone());
                    self.dns.insert(
                        unit.clone(),
                        Published {
                            key,
                            value,
                            written,
                        },
                    );
                }
                Err(error) => tracing::warn!(%error, %unit, %key, "DNS record not written yet"),
            }
        }
        let gone: Vec<String> = self
            .dns
            .keys()
            .filter(|unit| !wanted.contains_key(*unit))
            .cloned()
            .collect();
        for unit in gone {
            let key = self.dns[&unit].key.clone();
            if self.withdraw_dns(&key).await {
                self.dns.remove(&unit);
            }
        }
    }

    /// The record (key and JSON) of each unit active here that declares one.
    fn dns_wanted(
        &mut self,
        settings: &DnsSettings,
        key_ttl: u64,
    ) -> std::collections::BTreeMap<String, (String, String)> {
        let mut wanted = std::collections::BTreeMap::new();
        for (unit, want) in &self.wanted {
            let active = self
                .states
                .get(unit)
                .is_some_and(|state| state.active_state == "active");
            let (Some(file), Ok(name)) = (self.files.get(&want.hash), UnitName::parse(unit)) else {
                continue;
            };
            if !active {
                continue;
            }
            match announcement(&name, file, &self.settings.machine, settings, key_ttl) {
                Ok(Some(announced)) => {
                    let (Ok(key), Ok(value)) = (
                        announced.key(&settings.zone),
                        serde_json::to_string(&announced.service),
                    ) else {
                        continue;
                    };
                    wanted.insert(unit.clone(), (key, value));
                }
                Ok(None) => {}
                Err(error) => {
                    if self.dns_refused.insert(want.hash) {
                        tracing::warn!(%unit, %error, "not published in DNS");
                    }
                }
            }
        }
        wanted
    }

    /// Deletes a record; whether it is gone.
    async fn withdraw_dns(&self, key: &str) -> bool {
        match self
            .registry
            .client()
            .delete(key, DeleteOptions::default())
            .await
        {
            Ok(_) => true,
            Err(error) if error.code() == Some(kv_client::code::KEY_NOT_FOUND) => true,
            Err(error) => {
                tracing::warn!(%error, %key, "DNS record not removed yet");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DnsSettings {
        DnsSettings {
            zone: Zone::new("skydns.local.", "skydns").unwrap(),
            host: "10.0.0.7".to_owned(),
        }
    }

    fn machine() -> MachineId {
        MachineId::parse("3f2a1b9c0d1e2f3a4b5c6d7e8f901234").unwrap()
    }

    fn announce(unit: &str, text: &str) -> Result<Option<Announcement>, DnsOptionError> {
        let file = UnitFile::parse(text).unwrap();
        announcement(
            &UnitName::parse(unit).unwrap(),
            &file,
            &machine(),
            &settings(),
            30,
        )
    }

    // Goal: the section becomes the record: the name (with specifiers) under the zone, the
    // host's address, port and the other fields, one instance label per unit and machine.
    // Method: a template instance and a plain unit.
    #[test]
    fn a_section_becomes_a_record() {
        let text = "[Service]\nExecStart=/bin/true\n[X-Discovery]\nName=%p.production\nPort=8080\nWeight=20\nText=v%i\n";
        let web = announce("web@1.service", text).unwrap().unwrap();
        assert_eq!(web.name, "web.production.skydns.local.");
        assert_eq!(web.instance, "web-1-3f2a1b9c");
        assert_eq!(
            (web.service.host.as_str(), web.service.port),
            ("10.0.0.7", 8080)
        );
        assert_eq!((web.service.weight, web.service.text.as_str()), (20, "v1"));
        let key = web.key(&settings().zone).unwrap();
        assert_eq!(key, "/skydns/local/skydns/production/web/web-1-3f2a1b9c");
        let plain = announce("db.service", "[X-Discovery]\nName=db.skydns.local.\n").unwrap();
        assert_eq!(plain.unwrap().name, "db.skydns.local.");
        assert!(announce("x.service", "[Service]\nExecStart=/bin/true\n")
            .unwrap()
            .is_none());
    }

    // Goal: a section that cannot be used is an error naming what is wrong.
    // Method: a table of bad sections.
    #[test]
    fn bad_sections_are_refused() {
        for (text, expected) in [
            ("[X-Discovery]\nPort=80\n", "needs Name="),
            ("[X-Discovery]\nName=web\nPort=http\n", "Port=\"http\""),
            ("[X-Discovery]\nName=web\nPort=70000\n", "0 to 65535"),
            ("[X-Discovery]\nName=web\nHost=1.2.3.4\n", "no key \"Host\""),
            (
                "[X-Discovery]\nName=web.example.com.\n",
                "not a name in skydns.local.",
            ),
        ] {
            let error = announce("web.service", text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
