//! fleetd's configuration exactly as fleet reads it: the keys,
//! their defaults, `FLEET_<KEY>` environment variables over the INI file over the defaults,
//! and the value syntaxes (Go booleans, Go durations, comma lists with JSON-style brackets,
//! `k=v` metadata), plus Keel's `api_listen`.
//!
//! Pure: the binary reads the file and the environment and hands their text here, so every
//! rule is tested without touching either.
//!
//! Invariants: a [`Config`] that [`Config::from_sources`] returned is valid (durations
//! positive, at least one store endpoint, a page size ≥ 1, every listen address parsed).

use fleet_core::model::MachineId;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the API listens: a unix socket or a TCP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddress {
    /// `unix:///path`.
    Unix(PathBuf),
    /// `http://host:port`.
    Tcp(String),
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `verbosity`: > 0 enables debug logs. Default 0.
    pub verbosity: u32,
    /// `log_format` (Keel's): `text` (default) or `json`, one object per line.
    pub log_format: keel_cli::LogFormat,
    /// `etcd_servers`: Keel's client URLs. Default fleet's
    /// `http://127.0.0.1:2379,http://127.0.0.1:4001`.
    pub etcd_servers: Vec<String>,
    /// `etcd_key_prefix`: the registry prefix. Default `/_coreos.com/fleet/`.
    pub etcd_key_prefix: String,
    /// `etcd_request_timeout`: per store request. Default 1 s, as fleet.
    pub etcd_request_timeout: Duration,
    /// `engine_reconcile_interval`: engine pass interval; the lease TTL is 5 × this. Default
    /// 2 s.
    pub engine_reconcile_interval: Duration,
    /// `public_ip`: the published IP; detected when `None`.
    pub public_ip: Option<String>,
    /// `metadata`: static machine metadata.
    pub metadata: BTreeMap<String, String>,
    /// `engine_reschedule_grace` (Keel's): how long the units of a machine that went away
    /// stay placed there before the engine moves them. Default `0s` (at once, as fleet).
    pub engine_reschedule_grace: Duration,
    /// `engine_rebalance_moves` (Keel's): units the rebalancer may move per
    /// `engine_rebalance_interval`. Default 0 (off).
    pub engine_rebalance_moves: usize,
    /// `engine_rebalance_interval` (Keel's). Default `30s`.
    pub engine_rebalance_interval: Duration,
    /// `capacity_cpu` (Keel's): the CPU this machine offers to units' `Cpu=` requests, in
    /// millicores (`4`, `3500m`); detected (one core per online CPU) when `None`.
    pub capacity_cpu: Option<u64>,
    /// `capacity_memory` (Keel's): the memory offered to `Memory=` requests (`8G`); detected
    /// (`MemTotal`) when `None`.
    pub capacity_memory: Option<u64>,
    /// `agent_ttl`: how long a silent machine stays present. Default 30 s.
    pub agent_ttl: Duration,
    /// `units_directory`: where unit files are written. Default `/run/fleet/units/`.
    pub units_directory: PathBuf,
    /// `systemd_user`: drive the user manager on the session bus (tests) instead of the
    /// system manager (production). Default false.
    pub systemd_user: bool,
    /// `token_limit`: API page size. Default 100.
    pub token_limit: u16,
    /// `disable_engine`: never compete for the engine lease. Default false.
    pub disable_engine: bool,
    /// `disable_watches`: accepted for compatibility; Keel's caches are always watch-fed
    /// (the periodic passes still run).
    pub disable_watches: bool,
    /// `api_listen` (Keel's): API addresses besides socket-activated ones. Default
    /// `unix:///var/run/fleet.sock`.
    pub api_listen: Vec<ListenAddress>,
    /// The machine ID, when `machine_id` is set (Keel's, for tests and containers: fleet
    /// always read `/etc/machine-id`).
    pub machine_id: Option<MachineId>,
    /// `dns_domain` and `dns_prefix` (Keel's): the discovery zone units with an
    /// `[X-Discovery]` section are published in. Default `skydns.local` under `skydns`, as
    /// discoveryd; an empty `dns_domain` turns publishing off.
    pub dns_zone: Option<discovery_core::zone::Zone>,
    /// Keys that are deprecated or unknown and were ignored, for one warning each.
    pub ignored_keys: Vec<String>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A line of the INI file that is neither `key=value`, a comment nor blank.
    #[error("config file line {line}: expected key=value, found {text:?}")]
    MalformedLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A value that does not parse for its key.
    #[error("invalid value {value:?} for {key} (from {source_name}): {problem}")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// The value as given.
        value: String,
        /// `FLEET_<KEY>`, the config file, or the default.
        source_name: String,
        /// What is wrong.
        problem: String,
    },
}

/// The keys fleet has that Keel reads, in fleet's order.
const KEYS: &[&str] = &[
    "verbosity",
    "etcd_servers",
    "etcd_username",
    "etcd_password",
    "etcd_cafile",
    "etcd_certfile",
    "etcd_keyfile",
    "etcd_key_prefix",
    "etcd_request_timeout",
    "engine_reconcile_interval",
    "public_ip",
    "metadata",
    "agent_ttl",
    "units_directory",
    "systemd_user",
    "token_limit",
    "disable_engine",
    "disable_watches",
    "enable_grpc",
    "api_listen",
    "machine_id",
    "capacity_cpu",
    "capacity_memory",
    "engine_reschedule_grace",
    "engine_rebalance_moves",
    "engine_rebalance_interval",
    "dns_domain",
    "dns_prefix",
    "log_format",
];

/// Deprecated in fleet: logged and ignored.
const DEPRECATED_KEYS: &[&str] = &["verify_units", "authorized_keys_file"];

/// Read by fleet, not supported by Keel (no TLS or authentication to the store yet, no gRPC
/// engine): a non-empty value is reported as ignored.
const UNSUPPORTED_KEYS: &[&str] = &[
    "etcd_username",
    "etcd_password",
    "etcd_cafile",
    "etcd_certfile",
    "etcd_keyfile",
    "enable_grpc",
];

/// Each key's text and where it came from.
struct Raw {
    values: BTreeMap<&'static str, (String, String)>,
}

impl Config {
    /// Builds the configuration from the INI file's text (when there is one) and the process
    /// environment (`FLEET_*` variables; others are ignored). Environment beats file beats
    /// default, key by key.
    ///
    /// # Errors
    /// [`ConfigError`] for a malformed file line or a value that does not parse.
    pub fn from_sources(
        file: Option<&str>,
        environment: &BTreeMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let mut ignored_keys = Vec::new();
        let mut raw = Raw {
            values: BTreeMap::new(),
        };
        if let Some(text) = file {
            for (key, value) in parse_ini(text)? {
                match KEYS.iter().find(|known| **known == key) {
                    Some(known) => {
                        raw.values.insert(known, (value, "the config file".into()));
                    }
                    None => ignored_keys.push(key),
                }
            }
        }
        for key in KEYS {
            let variable = format!("FLEET_{}", key.to_ascii_uppercase());
            if let Some(value) = environment.get(&variable) {
                raw.values.insert(key, (value.clone(), variable));
            }
        }
        for key in DEPRECATED_KEYS {
            let variable = format!("FLEET_{}", key.to_ascii_uppercase());
            if environment.contains_key(&variable) {
                ignored_keys.push((*key).to_owned());
            }
        }
        for key in UNSUPPORTED_KEYS {
            let set = raw.values.get(key).is_some_and(|(value, _)| {
                let value = value.trim();
                !value.is_empty() && parse_go_bool(value) != Ok(false)
            });
            if set {
                ignored_keys.push((*key).to_owned());
            }
        }
        ignored_keys.sort();
        ignored_keys.dedup();
        let mut config = raw.build()?;
        config.ignored_keys = ignored_keys;
        Ok(config)
    }

    /// The engine lease's TTL: 5 × the reconcile interval, as fleet.
    #[must_use]
    pub fn engine_lease_ttl(&self) -> Duration {
        self.engine_reconcile_interval * 5
    }
}

impl Raw {
    fn text(&self, key: &'static str, default: &str) -> (String, String) {
        self.values
            .get(key)
            .cloned()
            .unwrap_or_else(|| (default.to_owned(), "the default".to_owned()))
    }

    fn parse<T>(
        &self,
        key: &'static str,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (value, source_name) = self.text(key, default);
        parse(&value).map_err(|problem| ConfigError::InvalidValue {
            key,
            value,
            source_name,
            problem,
        })
    }

    fn build(&self) -> Result<Config, ConfigError> {
        let positive = |text: &str| {
            parse_seconds(text).and_then(|duration| {
                if duration.is_zero() {
                    Err("must be greater than zero".to_owned())
                } else {
                    Ok(duration)
                }
            })
        };
        Ok(Config {
            verbosity: self.parse("verbosity", "0", |text| {
                text.trim().parse::<u32>().map_err(|e| e.to_string())
            })?,
            log_format: self.parse("log_format", "text", |text| {
                <keel_cli::LogFormat as clap::ValueEnum>::from_str(text.trim(), true)
                    .map_err(|_| "expected text or json".to_owned())
            })?,
            etcd_servers: self.parse(
                "etcd_servers",
                "http://127.0.0.1:2379,http://127.0.0.1:4001",
                parse_server_list,
            )?,
            etcd_key_prefix: self.text("etcd_key_prefix", "/_coreos.com/fleet/").0,
            etcd_request_timeout: self.parse("etcd_request_timeout", "1.0", positive)?,
            engine_reconcile_interval: self.parse("engine_reconcile_interval", "2.0", positive)?,
            public_ip: Some(self.text("public_ip", "").0).filter(|ip| !ip.trim().is_empty()),
            metadata: parse_metadata(&self.text("metadata", "").0),
            engine_reschedule_grace: self.parse(
                "engine_reschedule_grace",
                "0s",
                parse_go_duration,
            )?,
            engine_rebalance_moves: self.parse("engine_rebalance_moves", "0", |text| {
                text.trim().parse::<usize>().map_err(|e| e.to_string())
            })?,
            engine_rebalance_interval: self.parse(
                "engine_rebalance_interval",
                "30s",
                positive_go_duration,
            )?,
            capacity_cpu: self.parse("capacity_cpu", "", |text| {
                optional(text, fleet_core::resources::parse_cpu)
            })?,
            capacity_memory: self.parse("capacity_memory", "", |text| {
                optional(text, fleet_core::resources::parse_memory)
            })?,
            agent_ttl: self.parse("agent_ttl", "30s", positive_go_duration)?,
            units_directory: PathBuf::from(self.text("units_directory", "/run/fleet/units/").0),
            systemd_user: self.parse("systemd_user", "false", parse_go_bool)?,
            token_limit: self.parse("token_limit", "100", |text| {
                match text.trim().parse::<u16>() {
                    Ok(limit) if limit > 0 => Ok(limit),
                    _ => Err("expected a page size in 1..=65535".to_owned()),
                }
            })?,
            disable_engine: self.parse("disable_engine", "false", parse_go_bool)?,
            disable_watches: self.parse("disable_watches", "false", parse_go_bool)?,
            api_listen: self.parse("api_listen", "unix:///var/run/fleet.sock", parse_listen)?,
            machine_id: self.parse("machine_id", "", |text| {
                if text.trim().is_empty() {
                    Ok(None)
                } else {
                    MachineId::parse(text).map(Some).map_err(|e| e.to_string())
                }
            })?,
            dns_zone: self.dns_zone()?,
            ignored_keys: Vec::new(),
        })
    }

    fn dns_zone(&self) -> Result<Option<discovery_core::zone::Zone>, ConfigError> {
        let prefix = self.text("dns_prefix", "skydns").0;
        self.parse("dns_domain", "skydns.local", |domain| {
            if domain.trim().is_empty() {
                return Ok(None);
            }
            discovery_core::zone::Zone::new(domain.trim(), prefix.trim().trim_matches('/'))
                .map(Some)
                .map_err(|error| error.to_string())
        })
    }
}

/// Top-level `key=value` lines; `#` and `;` comments; blank lines; surrounding whitespace
/// trimmed; a value's surrounding double quotes removed.
fn parse_ini(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(ConfigError::MalformedLine {
                line: index + 1,
                text: line.to_owned(),
            });
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value);
        pairs.push((key.trim().to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

/// fleet's server list: surrounding `[`, `]`, `"` and spaces stripped from each item, so a
/// JSON-style list works too; empty items dropped.
fn parse_server_list(text: &str) -> Result<Vec<String>, String> {
    let servers: Vec<String> = text
        .split(',')
        .map(|item| item.trim_matches(|c: char| c == '[' || c == ']' || c == '"' || c == ' '))
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect();
    if servers.is_empty() {
        Err("at least one server URL is needed".to_owned())
    } else {
        Ok(servers)
    }
}

/// fleet's metadata: `k=v,k=v`, outer quotes allowed, whitespace around `,` and `=` trimmed,
/// items without `=` dropped. A repeated key keeps every value, each once, comma-joined in
/// order (`disk=ssd,disk=nvme` gives `disk` = `ssd,nvme`, which metadata expressions read
/// as two values); fleet kept only the last (fleet#1255).
#[must_use]
pub fn parse_metadata(text: &str) -> BTreeMap<String, String> {
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(text);
    let mut metadata: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in text
        .split(',')
        .filter_map(|item| item.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
        .filter(|(key, _)| !key.is_empty())
    {
        let values = metadata.entry(key.to_owned()).or_default();
        if !values.iter().any(|held| held == value) {
            values.push(value.to_owned());
        }
    }
    metadata
        .into_iter()
        .map(|(key, values)| (key, values.join(",")))
        .collect()
}

/// A Go duration greater than zero.
fn positive_go_duration(text: &str) -> Result<Duration, String> {
    parse_go_duration(text).and_then(|duration| {
        if duration.is_zero() {
            Err("must be greater than zero".to_owned())
        } else {
            Ok(duration)
        }
    })
}

/// An amount, or `None` for an empty value.
fn optional(
    text: &str,
    parse: impl FnOnce(&str) -> Result<u64, fleet_core::resources::QuantityError>,
) -> Result<Option<u64>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse(text).map(Some).map_err(|error| error.to_string())
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("expected a boolean (true/false, 1/0, t/f)".to_owned()),
    }
}

/// fleet's float seconds (`1.0`, `0.5`, `2`).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected seconds as a number, e.g. 1.5".to_owned())?;
    Duration::try_from_secs_f64(seconds).map_err(|_| "expected a non-negative number".to_owned())
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units `ns`, `us`, `µs`,
/// `ms`, `s`, `m`, `h` (`30s`, `1m30s`, `1.5h`); `0` alone is zero. Negative durations are
/// refused (a TTL cannot be negative).
fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("expected a duration such as 30s or 1m30s, found {text:?}");
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Keel's `api_listen`: a comma list of `unix:///path` and `http://host:port`.
fn parse_listen(text: &str) -> Result<Vec<ListenAddress>, String> {
    let mut addresses = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        if let Some(path) = item.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!("{item}: a unix address needs an absolute path"));
            }
            addresses.push(ListenAddress::Unix(PathBuf::from(path)));
        } else if let Some(authority) = item.strip_prefix("http://") {
            let authority = authority.strip_suffix('/').unwrap_or(authority);
            let valid = authority
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(format!("{item}: expected http://host:port"));
            }
            addresses.push(ListenAddress::Tcp(authority.to_owned()));
        } else {
            return Err(format!("{item}: expected unix:///path or http://host:port"));
        }
    }
    Ok(addresses)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
