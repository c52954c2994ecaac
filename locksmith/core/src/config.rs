//! locksmithd's settings from its environment, as CoreOS ships it: `update.conf` files are
//! lines of `KEY=value` that systemd loads as environment variables
//! (`/usr/share/coreos/update.conf`, then `/etc/coreos/update.conf`, the later winning), and
//! the unit's own environment wins over both. This module turns those variables (given as a
//! map, never read here) into typed settings, refusing what locksmith refused and what it
//! silently misread.
//!
//! Invariants: every problem is an error naming the variable; no defaults are invented
//! beyond locksmith's (strategy `reboot`, no window).

use crate::window::{parse_go_duration, Window, WindowError};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a host that needs a reboot goes about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Take a semaphore slot first; give it back after boot.
    EtcdLock,
    /// Reboot as soon as the window allows.
    Reboot,
    /// Do nothing: the daemon exits at start.
    Off,
}

impl Strategy {
    /// The name as `REBOOT_STRATEGY` spells it (and the state file records it).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Strategy::EtcdLock => "etcd-lock",
            Strategy::Reboot => "reboot",
            Strategy::Off => "off",
        }
    }
}

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `REBOOT_STRATEGY` is not a known strategy.
    #[error("REBOOT_STRATEGY={value:?} is not etcd-lock, reboot or off")]
    UnknownStrategy {
        /// The value given.
        value: String,
    },
    /// A window variable is malformed.
    #[error("{variable}: {source}")]
    Window {
        /// The variable (or pair) at fault.
        variable: &'static str,
        /// What is wrong.
        #[source]
        source: WindowError,
    },
    /// Both locksmith's window and Keel's schedule are set.
    #[error(
        "set either LOCKSMITHD_REBOOT_WINDOW_START/_LENGTH or LOCKSMITHD_REBOOT_WINDOWS, not both"
    )]
    TwoWindowSyntaxes,
    /// A duration variable is malformed.
    #[error("{variable}: {source}")]
    Duration {
        /// The variable.
        variable: &'static str,
        /// What is wrong.
        #[source]
        source: WindowError,
    },
    /// `LOCKSMITHD_METRICS_ADDR` is not `IP:port`.
    #[error("LOCKSMITHD_METRICS_ADDR={value:?} is not IP:port (for example 127.0.0.1:9154)")]
    MetricsAddr {
        /// The value given.
        value: String,
    },
}

/// The window settings, the time zone still a name for the caller to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowSetting {
    /// No window: always.
    Always,
    /// locksmith's one window.
    One(Window),
    /// Keel's schedule text (checked to parse).
    Schedule(String),
}

/// locksmithd's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The strategy.
    pub strategy: Strategy,
    /// True when the obsolete `best-effort` was given and read as `reboot`.
    pub best_effort_mapped: bool,
    /// When reboots may start.
    pub window: WindowSetting,
    /// `LOCKSMITHD_REBOOT_WINDOW_TZ`: a time zone name; `None`: the host's.
    pub time_zone: Option<String>,
    /// `LOCKSMITHD_MAX_HOLD`: reap holders older than this while waiting for a slot.
    pub max_hold: Option<Duration>,
    /// `LOCKSMITHD_ENDPOINT`: Keel's client URLs (comma-separated).
    pub endpoints: Vec<String>,
    /// `LOCKSMITHD_GROUP`: the semaphore group (empty: the default one).
    pub group: String,
    /// `LOCKSMITHD_BUS`: `system`, or a D-Bus address for the updater and logind.
    pub bus: Option<String>,
    /// `LOCKSMITHD_ACCEPT_ANY_SENDER=true`: take `StatusUpdate` from any sender (for
    /// `locksmithctl send-need-reboot`); otherwise only from update_engine's name owner.
    pub any_sender: bool,
    /// `LOCKSMITHD_STATE_FILE`: the coordinator state file.
    pub state_file: String,
    /// `LOCKSMITHD_READY_COMMAND`: run by `sh -c` after boot; the slot is released once it
    /// exits 0.
    pub ready_command: Option<String>,
    /// `LOCKSMITHD_READY_URL`: fetched after boot; the slot is released once it answers 2xx.
    pub ready_url: Option<String>,
    /// `LOCKSMITHD_REBOOT_COMMAND`: run by `sh -c` instead of logind's `Reboot`.
    pub reboot_command: Option<String>,
    /// `LOCKSMITHD_RETRY_MIN` / `_MAX`: the pauses between failed attempts, doubling from
    /// the first to the second (locksmith's 5 s to 5 min).
    pub retry: (Duration, Duration),
    /// `LOCKSMITHD_METRICS_ADDR` (Keel's): serve Prometheus metrics at `/metrics` here.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// locksmith's default endpoints: etcd's client port and its legacy one.
pub const DEFAULT_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";

/// Where locksmith writes its state (`/run`, as its code does; its changelog said `/etc`).
pub const DEFAULT_STATE_FILE: &str = "/run/update-engine/coordinator.conf";

/// `LOCKSMITHD_METRICS_ADDR`: unset or empty is off.
fn metrics_addr(value: Option<&str>) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::MetricsAddr {
                value: text.to_owned(),
            }),
    }
}

/// Reads `KEY=value` lines of an `update.conf`-style file: blank lines and `#` comments
/// skipped, one pair of matching quotes around a value removed, lines without `=` ignored (as
/// systemd ignores them, with a warning it logs).
#[must_use]
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with(';'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|quote| {
                    value
                        .strip_prefix(*quote)
                        .and_then(|rest| rest.strip_suffix(*quote))
                })
                .unwrap_or(value);
            (key.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

impl DaemonConfig {
    /// The settings from `vars` (the files' pairs overlaid by the process environment).
    ///
    /// # Errors
    /// [`ConfigError`] for the first unusable variable.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<DaemonConfig, ConfigError> {
        let get = |name: &str| vars.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let (strategy, best_effort_mapped) = match get("REBOOT_STRATEGY") {
            None | Some("reboot") => (Strategy::Reboot, false),
            Some("etcd-lock") => (Strategy::EtcdLock, false),
            Some("off") => (Strategy::Off, false),
            Some("best-effort") => (Strategy::Reboot, true),
            Some(other) => {
                return Err(ConfigError::UnknownStrategy {
                    value: other.to_owned(),
                })
            }
        };
        let start = get("LOCKSMITHD_REBOOT_WINDOW_START").or_else(|| get("REBOOT_WINDOW_START"));
        let length = get("LOCKSMITHD_REBOOT_WINDOW_LENGTH").or_else(|| get("REBOOT_WINDOW_LENGTH"));
        let one = Window::from_locksmith(start, length).map_err(|source| ConfigError::Window {
            variable: "LOCKSMITHD_REBOOT_WINDOW_START/_LENGTH",
            source,
        })?;
        let window = match (one, get("LOCKSMITHD_REBOOT_WINDOWS")) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoWindowSyntaxes),
            (Some(window), None) => WindowSetting::One(window),
            (None, Some(text)) => {
                crate::window::Schedule::parse(text, jiff::tz::TimeZone::UTC).map_err(
                    |source| ConfigError::Window {
                        variable: "LOCKSMITHD_REBOOT_WINDOWS",
                        source,
                    },
                )?;
                WindowSetting::Schedule(text.to_owned())
            }
            (None, None) => WindowSetting::Always,
        };
        let duration = |variable: &'static str| {
            get(variable)
                .map(parse_go_duration)
                .transpose()
                .map_err(|source| ConfigError::Duration { variable, source })
        };
        let max_hold = duration("LOCKSMITHD_MAX_HOLD")?;
        let retry_min = duration("LOCKSMITHD_RETRY_MIN")?.unwrap_or(Duration::from_secs(5));
        let retry_max = duration("LOCKSMITHD_RETRY_MAX")?.unwrap_or(Duration::from_secs(300));
        let owned = |name: &str| get(name).map(str::to_owned);
        let metrics_addr = metrics_addr(get("LOCKSMITHD_METRICS_ADDR"))?;
        Ok(DaemonConfig {
            strategy,
            best_effort_mapped,
            window,
            time_zone: owned("LOCKSMITHD_REBOOT_WINDOW_TZ"),
            max_hold,
            endpoints: get("LOCKSMITHD_ENDPOINT")
                .unwrap_or(DEFAULT_ENDPOINTS)
                .split(',')
                .map(str::trim)
                .filter(|endpoint| !endpoint.is_empty())
                .map(str::to_owned)
                .collect(),
            group: owned("LOCKSMITHD_GROUP").unwrap_or_default(),
            bus: owned("LOCKSMITHD_BUS").filter(|bus| bus != "system"),
            any_sender: get("LOCKSMITHD_ACCEPT_ANY_SENDER") == Some("true"),
            state_file: owned("LOCKSMITHD_STATE_FILE")
                .unwrap_or_else(|| DEFAULT_STATE_FILE.to_owned()),
            ready_command: owned("LOCKSMITHD_READY_COMMAND"),
            ready_url: owned("LOCKSMITHD_READY_URL"),
            reboot_command: owned("LOCKSMITHD_REBOOT_COMMAND"),
            retry: (retry_min, retry_max.max(retry_min)),
            metrics_addr,
        })
    }

    /// The variables this daemon reads that name secrets or features Keel does not serve
    /// yet, when set (TLS and basic authentication towards Keel).
    #[must_use]
    pub fn unsupported(vars: &BTreeMap<String, String>) -> Vec<&'static str> {
        [
            "LOCKSMITHD_ETCD_CAFILE",
            "LOCKSMITHD_ETCD_CERTFILE",
            "LOCKSMITHD_ETCD_KEYFILE",
            "LOCKSMITHD_ETCD_USERNAME",
            "LOCKSMITHD_ETCD_PASSWORD",
        ]
        .into_iter()
        .filter(|name| vars.get(*name).is_some_and(|value| !value.is_empty()))
        .collect()
    }
}

/// The coordinator state file's text (`/run/update-engine/coordinator.conf`), bash-sourceable
/// as locksmith writes it.
#[must_use]
pub fn coordinator_state(strategy: Strategy, state: &str) -> String {
    format!(
        "NAME=locksmithd\nSTRATEGY={}\nSTATE={state}\n",
        strategy.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    // Goal: update.conf lines read as systemd's EnvironmentFile reads them, the later file
    // winning. Method: two files overlaid.
    #[test]
    fn update_conf_files_overlay() {
        let shipped = "GROUP=stable\nSERVER=https://public.update.core-os.net/v1/update/\n";
        let local = "# local\n\nREBOOT_STRATEGY=\"etcd-lock\"\nLOCKSMITHD_REBOOT_WINDOW_START='Thu 04:00'\nbad line\n";
        let mut all = BTreeMap::new();
        all.extend(parse_env_file(shipped));
        all.extend(parse_env_file(local));
        assert_eq!(all["REBOOT_STRATEGY"], "etcd-lock");
        assert_eq!(all["LOCKSMITHD_REBOOT_WINDOW_START"], "Thu 04:00");
        assert_eq!(all["GROUP"], "stable");
        assert_eq!(all.len(), 4);
    }

    // Goal: the metrics address is off unless set, taken as IP:port, and anything else is
    // refused at start with the variable's name. Method: unset, empty, good, bad.
    #[test]
    fn metrics_address() {
        let read = |value: Option<&str>| {
            let pairs: Vec<(&str, &str)> = value
                .map(|v| vec![("LOCKSMITHD_METRICS_ADDR", v)])
                .unwrap_or_default();
            DaemonConfig::from_vars(&vars(&pairs)).map(|config| config.metrics_addr)
        };
        assert_eq!(read(None).unwrap(), None);
        assert_eq!(read(Some("")).unwrap(), None);
        assert_eq!(
            read(Some("127.0.0.1:9154")).unwrap(),
            Some("127.0.0.1:9154".parse().unwrap())
        );
        let error = read(Some("localhost")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("LOCKSMITHD_METRICS_ADDR=\"localhost\""),
            "{error}"
        );
    }

    // Goal: strategies as locksmith reads them: empty is reboot, best-effort maps to reboot
    // and says so, an unknown one is refused at start. Method: a table.
    #[test]
    fn strategies() {
        for (value, strategy, mapped) in [
            ("", Strategy::Reboot, false),
            ("reboot", Strategy::Reboot, false),
            ("etcd-lock", Strategy::EtcdLock, false),
            ("off", Strategy::Off, false),
            ("best-effort", Strategy::Reboot, true),
        ] {
            let config =
                DaemonConfig::from_vars(&vars(&[("REBOOT_STRATEGY", value)])).expect(value);
            assert_eq!(
                (config.strategy, config.best_effort_mapped),
                (strategy, mapped)
            );
        }
        assert_eq!(
            DaemonConfig::from_vars(&vars(&[("REBOOT_STRATEGY", "etcd")])),
            Err(ConfigError::UnknownStrategy {
                value: "etcd".to_owned()
            })
        );
    }

    // Goal: window variables: prefixed first, unprefixed as fallback, one alone or both
    // syntaxes refused, Keel's schedule checked. Method: a table.
    #[test]
    fn windows() {
        let window =
            |pairs: &[(&str, &str)]| DaemonConfig::from_vars(&vars(pairs)).map(|c| c.window);
        assert_eq!(window(&[]), Ok(WindowSetting::Always));
        assert!(matches!(
            window(&[
                ("REBOOT_WINDOW_START", "4:00"),
                ("REBOOT_WINDOW_LENGTH", "1h")
            ]),
            Ok(WindowSetting::One(_))
        ));
        let prefixed = window(&[
            ("LOCKSMITHD_REBOOT_WINDOW_START", "Mon 4:00"),
            ("LOCKSMITHD_REBOOT_WINDOW_LENGTH", "2h"),
            ("REBOOT_WINDOW_START", "bad"),
        ]);
        assert!(
            matches!(prefixed, Ok(WindowSetting::One(ref w)) if w.to_string() == "mon 04:00 2h"),
            "{prefixed:?}"
        );
        assert!(window(&[("LOCKSMITHD_REBOOT_WINDOW_START", "4:00")]).is_err());
        assert_eq!(
            window(&[
                ("LOCKSMITHD_REBOOT_WINDOW_START", "4:00"),
                ("LOCKSMITHD_REBOOT_WINDOW_LENGTH", "1h"),
                ("LOCKSMITHD_REBOOT_WINDOWS", "5:00 1h"),
            ]),
            Err(ConfigError::TwoWindowSyntaxes)
        );
        assert!(window(&[("LOCKSMITHD_REBOOT_WINDOWS", "Mon-Fri 4:00")]).is_err());
        assert_eq!(
            window(&[("LOCKSMITHD_REBOOT_WINDOWS", "Mon-Fri 4:00 1h")]),
            Ok(WindowSetting::Schedule("Mon-Fri 4:00 1h".to_owned()))
        );
        let hold = DaemonConfig::from_vars(&vars(&[("LOCKSMITHD_MAX_HOLD", "24h")])).expect("hold");
        assert_eq!(hold.max_hold, Some(Duration::from_secs(86_400)));
        assert!(DaemonConfig::from_vars(&vars(&[("LOCKSMITHD_MAX_HOLD", "a day")])).is_err());
    }

    // Goal: the state file is locksmith's bash-sourceable text. Method: golden.
    #[test]
    fn coordinator_state_text() {
        assert_eq!(
            coordinator_state(Strategy::EtcdLock, "reboot-planned"),
            "NAME=locksmithd\nSTRATEGY=etcd-lock\nSTATE=reboot-planned\n"
        );
    }
}
