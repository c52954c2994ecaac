//! `discoveryd`'s settings: SkyDNS's flags in Go's spellings (`-addr`, `-domain`,
//! `-machines`, ...), each also read from SkyDNS's environment variable (`SKYDNS_ADDR`,
//! `ETCD_MACHINES`, ...), checked into a [`Settings`].
//!
//! Invariants: every flag SkyDNS has is accepted or refused with a clear error (the ones not
//! built yet say so); nothing is read from files here (the resolver list from
//! `/etc/resolv.conf` arrives as text).

use clap::{ArgAction, Parser};
use discovery_core::config::StoredConfig;
use discovery_core::zone::{self, Zone};
use std::net::SocketAddr;
use std::time::Duration;

/// SkyDNS-style DNS service discovery over Keel.
#[derive(Debug, Clone, Parser)]
#[command(name = "discoveryd", disable_version_flag = true)]
pub struct Args {
    /// Where to serve DNS (UDP and TCP): ip:port.
    #[arg(long, env = "SKYDNS_ADDR", default_value = "127.0.0.1:53")]
    pub addr: String,
    /// The domain served.
    #[arg(long, env = "SKYDNS_DOMAIN", default_value = zone::DEFAULT_DOMAIN)]
    pub domain: String,
    /// Keel client URLs, comma-separated.
    #[arg(
        long,
        env = "ETCD_MACHINES",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379"
    )]
    pub machines: Vec<String>,
    /// Upstream resolvers (ip:port, comma-separated); default: /etc/resolv.conf's.
    #[arg(long, env = "SKYDNS_NAMESERVERS", value_delimiter = ',')]
    pub nameservers: Vec<String>,
    /// The key prefix of the records.
    #[arg(
        long = "path-prefix",
        env = "SKYDNS_PATH_PREFIX",
        default_value = "skydns"
    )]
    pub path_prefix: String,
    /// Names with fewer labels are not forwarded.
    #[arg(long, env = "SKYDNS_NDOTS", default_value_t = 2)]
    pub ndots: usize,
    /// Never forward: SERVFAIL for every name outside the domain.
    #[arg(long = "no-rec", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false")]
    pub no_rec: bool,
    /// Read and write timeout towards upstreams (Go duration: 2s, 500ms).
    #[arg(long, default_value = "2s")]
    pub rtimeout: String,
    /// The name `local.dns.<domain>` stands for on this host.
    #[arg(long)]
    pub local: Option<String>,
    /// The SOA's mailbox (`hostmaster@skydns.local`).
    #[arg(long)]
    pub hostmaster: Option<String>,
    /// Start forwarding at `query id mod n` rather than always at the first upstream.
    #[arg(long = "ns-rotate", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true")]
    pub ns_rotate: bool,
    /// Socket-activated listeners (not built yet: refused when set).
    #[arg(long, env = "SKYDNS_SYSTEMD", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false")]
    pub systemd: bool,
    /// Rotate addresses between answers.
    #[arg(long = "round-robin", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "true")]
    pub round_robin: bool,
    /// TTL of records found upstream for CNAME tails and glue, seconds.
    #[arg(long = "rcache-ttl", default_value_t = 60)]
    pub rcache_ttl: u32,
    /// Response cache capacity for forwarded answers, in answers; 0: off.
    #[arg(long, default_value_t = 0)]
    pub rcache: usize,
    /// Sign the zone with this BIND key pair: the base name of `dnssec-keygen`'s
    /// `<base>.key` and `<base>.private` files.
    #[arg(long)]
    pub dnssec: Option<String>,
    /// DNSSEC signatures kept for reuse (SkyDNS's signature cache); 0: none.
    #[arg(long, default_value_t = 10_000)]
    pub scache: usize,
    /// Send questions for the stub zones declared under `stub.dns.<domain>` to their servers.
    #[arg(long = "stubzones", action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false")]
    pub stubzones: bool,
    /// TLS and authentication towards Keel (not supported yet: refused when set).
    #[arg(long = "tls-key", env = "ETCD_TLSKEY")]
    pub tls_key: Option<String>,
    /// See `-tls-key`.
    #[arg(long = "tls-pem", env = "ETCD_TLSPEM")]
    pub tls_pem: Option<String>,
    /// See `-tls-key`.
    #[arg(long = "ca-cert", env = "ETCD_CACERT")]
    pub ca_cert: Option<String>,
    /// See `-tls-key`.
    #[arg(long, env = "ETCD_USERNAME")]
    pub username: Option<String>,
    /// See `-tls-key`.
    #[arg(long, env = "ETCD_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Serve Prometheus metrics, `/ready` and `/health` over HTTP on this port, at the DNS
    /// address's IP; 0: off.
    #[arg(long = "prometheus-port", env = "PROMETHEUS_PORT", default_value_t = 0)]
    pub prometheus_port: u16,
    /// The metrics' HTTP path.
    #[arg(
        long = "prometheus-path",
        env = "PROMETHEUS_PATH",
        default_value = "/metrics"
    )]
    pub prometheus_path: String,
    /// The metrics' namespace (the first part of their names).
    #[arg(
        long = "prometheus-namespace",
        env = "PROMETHEUS_NAMESPACE",
        default_value = "skydns"
    )]
    pub prometheus_namespace: String,
    /// The metrics' subsystem (the second part of their names).
    #[arg(
        long = "prometheus-subsystem",
        env = "PROMETHEUS_SUBSYSTEM",
        default_value = "skydns"
    )]
    pub prometheus_subsystem: String,
    /// Log every query.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", default_value = "false")]
    pub verbose: bool,
    /// Log format: text or json (one object per line).
    #[arg(long, env = "SKYDNS_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: keel_cli::LogFormat,
    /// Print the version and exit.
    #[arg(long)]
    pub version: bool,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    pub completion: Option<keel_cli::Shell>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to serve.
    pub addr: SocketAddr,
    /// The zone.
    pub zone: Zone,
    /// Keel URLs.
    pub machines: Vec<String>,
    /// Upstreams (empty with `-no-rec`).
    pub nameservers: Vec<SocketAddr>,
    /// Forwarding off.
    pub no_rec: bool,
    /// Upstream timeout.
    pub rtimeout: Duration,
    /// Labels below which names are not forwarded.
    pub ndots: usize,
    /// Rotate addresses.
    pub round_robin: bool,
    /// Rotate the first upstream asked.
    pub ns_rotate: bool,
    /// TTL of upstream records in answers, and the longest a forwarded answer is cached.
    pub rcache_ttl: u32,
    /// Forwarded answers cached; 0: no cache.
    pub rcache: usize,
    /// Stub zones on.
    pub stubzones: bool,
    /// The DNSSEC key pair's base name, when signing.
    pub dnssec: Option<String>,
    /// DNSSEC signatures kept.
    pub scache: usize,
    /// The metrics endpoint, when on.
    pub metrics: Option<MetricsSettings>,
}

/// Where and under which names metrics are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// The HTTP address.
    pub addr: SocketAddr,
    /// The metrics' path (`/metrics`).
    pub path: String,
    /// The names' namespace.
    pub namespace: String,
    /// The names' subsystem.
    pub subsystem: String,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value that does not parse.
    #[error("invalid value {value:?} for -{flag}: {reason}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A flag of SkyDNS that is not built yet.
    #[error("-{flag} is not supported yet")]
    Unsupported {
        /// The flag.
        flag: &'static str,
    },
    /// The document at `/<prefix>/config` cannot be read.
    #[error(transparent)]
    Stored(#[from] discovery_core::config::ConfigError),
}

impl Args {
    /// Checks the arguments; `resolv_conf` is `/etc/resolv.conf`'s text, for the default
    /// upstreams.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first flag that cannot be used.
    pub fn settings(&self, resolv_conf: &str) -> Result<Settings, SettingsError> {
        self.settings_with(resolv_conf, &StoredConfig::default())
    }

    /// The settings with the stored configuration's keys over the flags (SkyDNS's order).
    ///
    /// # Errors
    /// [`SettingsError`] naming the first flag (the stored key's flag) that cannot be used.
    pub fn settings_with(
        &self,
        resolv_conf: &str,
        stored: &StoredConfig,
    ) -> Result<Settings, SettingsError> {
        let mut settings = self.overlaid(stored).checked(resolv_conf)?;
        if let Some(ttl) = stored.ttl {
            settings.zone.ttl = ttl;
        }
        if let Some(min_ttl) = stored.min_ttl {
            settings.zone.min_ttl = min_ttl;
        }
        if let Some(priority) = stored.priority {
            settings.zone.priority = priority;
        }
        Ok(settings)
    }

    /// These arguments with the stored keys that stand for flags put over them.
    fn overlaid(&self, stored: &StoredConfig) -> Args {
        let mut args = self.clone();
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut args.addr, &stored.dns_addr);
        set(&mut args.domain, &stored.domain);
        if stored.hostmaster.is_some() {
            args.hostmaster.clone_from(&stored.hostmaster);
        }
        if stored.local.is_some() {
            args.local.clone_from(&stored.local);
        }
        if stored.dnssec.is_some() {
            args.dnssec.clone_from(&stored.dnssec);
        }
        if let Some(nameservers) = &stored.nameservers {
            args.nameservers.clone_from(nameservers);
        }
        if let Some(nanos) = stored.read_timeout {
            args.rtimeout = format!("{nanos}ns");
        }
        args.round_robin = stored.round_robin.unwrap_or(args.round_robin);
        args.ns_rotate = stored.ns_rotate.unwrap_or(args.ns_rotate);
        args.no_rec = stored.no_rec.unwrap_or(args.no_rec);
        args.ndots = stored.ndot.unwrap_or(args.ndots);
        args.systemd = stored.systemd.unwrap_or(args.systemd);
        args.rcache_ttl = stored.rcache_ttl.unwrap_or(args.rcache_ttl);
        if let Some(rcache) = stored.rcache {
            args.rcache = usize::try_from(rcache).unwrap_or(usize::MAX);
        }
        if let Some(scache) = stored.scache {
            args.scache = usize::try_from(scache).unwrap_or(usize::MAX);
        }
        args
    }

    fn checked(&self, resolv_conf: &str) -> Result<Settings, SettingsError> {
        self.refuse_unsupported()?;
        let invalid = |flag, value: &str, reason: String| SettingsError::Invalid {
            flag,
            value: value.to_owned(),
            reason,
        };
        let addr = self
            .addr
            .parse()
            .map_err(|error: std::net::AddrParseError| {
                invalid("addr", &self.addr, error.to_string())
            })?;
        let mut zone = Zone::new(&self.domain, &self.path_prefix)
            .map_err(|error| invalid("domain", &self.domain, error.to_string()))?;
        if let Some(hostmaster) = &self.hostmaster {
            zone.hostmaster = zone::absolute(&hostmaster.replace('@', "."))
                .map_err(|error| invalid("hostmaster", hostmaster, error.to_string()))?;
        }
        if let Some(local) = &self.local {
            zone.local = Some(
                zone::absolute(local)
                    .map_err(|error| invalid("local", local, error.to_string()))?,
            );
        }
        let rtimeout = humantime::parse_duration(&self.rtimeout)
            .map_err(|error| invalid("rtimeout", &self.rtimeout, error.to_string()))?;
        let nameservers = if self.no_rec {
            Vec::new()
        } else if self.nameservers.is_empty() {
            resolv_conf_servers(resolv_conf)
        } else {
            self.nameservers
                .iter()
                .map(|server| {
                    server.parse().map_err(|error: std::net::AddrParseError| {
                        invalid("nameservers", server, format!("{error} (want ip:port)"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Settings {
            addr,
            zone,
            machines: self.machines.clone(),
            nameservers,
            no_rec: self.no_rec,
            rtimeout,
            ndots: self.ndots,
            round_robin: self.round_robin,
            ns_rotate: self.ns_rotate,
            rcache_ttl: self.rcache_ttl,
            rcache: self.rcache,
            stubzones: self.stubzones,
            dnssec: self.dnssec.clone(),
            scache: self.scache,
            metrics: self.metrics(addr)?,
        })
    }

    fn metrics(&self, dns: SocketAddr) -> Result<Option<MetricsSettings>, SettingsError> {
        if self.prometheus_port == 0 {
            return Ok(None);
        }
        if !self.prometheus_path.starts_with('/') {
            return Err(SettingsError::Invalid {
                flag: "prometheus-path",
                value: self.prometheus_path.clone(),
                reason: "a path starts with /".to_owned(),
            });
        }
        Ok(Some(MetricsSettings {
            addr: SocketAddr::new(dns.ip(), self.prometheus_port),
            path: self.prometheus_path.clone(),
            namespace: self.prometheus_namespace.clone(),
            subsystem: self.prometheus_subsystem.clone(),
        }))
    }

    fn refuse_unsupported(&self) -> Result<(), SettingsError> {
        let unsupported = [
            ("systemd", self.systemd),
            ("tls-key", self.tls_key.is_some()),
            ("tls-pem", self.tls_pem.is_some()),
            ("ca-cert", self.ca_cert.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
        ];
        match unsupported.into_iter().find(|(_, set)| *set) {
            Some((flag, _)) => Err(SettingsError::Unsupported { flag }),
            None => Ok(()),
        }
    }
}

/// The `nameserver` lines of a resolv.conf, on port 53.
#[must_use]
pub fn resolv_conf_servers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|address| SocketAddr::new(address, 53))
        .collect()
}

/// The arguments with Go's single-dash long flags (`-addr`) spelled as clap reads them
/// (`--addr`); short flags, negative numbers and everything after `--` are left alone.
#[must_use]
pub fn go_style(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut rest = false;
    args.into_iter()
        .enumerate()
        .map(|(position, arg)| {
            let Some(text) = arg.to_str().filter(|_| position > 0 && !rest) else {
                return arg;
            };
            if text == "--" {
                rest = true;
                return arg;
            }
            let mut chars = text.chars();
            let single_dash_word = chars.next() == Some('-')
                && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.next().is_some();
            if single_dash_word && !text.starts_with("--") {
                std::ffi::OsString::from(format!("-{text}"))
            } else {
                arg
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let argv = std::iter::once("discoveryd").chain(args.iter().copied());
        Args::try_parse_from(go_style(argv.map(std::ffi::OsString::from)))
    }

    // Goal: SkyDNS's defaults: 127.0.0.1:53, skydns.local, prefix skydns, ndots 2, forwarding
    // to resolv.conf's servers on port 53, round robin on, a 2 s upstream timeout.
    // Method: no flags, a resolv.conf with two servers and a comment.
    #[test]
    fn defaults_are_skydns_defaults() {
        let resolv = "# generated\nsearch example\nnameserver 192.0.2.1\nnameserver 2001:db8::53\n";
        let settings = parse(&[]).expect("parsed").settings(resolv).expect("valid");
        assert_eq!(settings.addr, "127.0.0.1:53".parse().expect("addr"));
        assert_eq!(settings.zone.domain, "skydns.local.");
        assert_eq!(settings.zone.prefix, "skydns");
        assert_eq!(settings.ndots, 2);
        assert!(settings.round_robin && !settings.no_rec);
        assert_eq!(settings.rtimeout, Duration::from_secs(2));
        let servers: Vec<String> = settings
            .nameservers
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(servers, ["192.0.2.1:53", "[2001:db8::53]:53"]);
    }

    // Goal: Go-style single-dash flags and `-flag=value` are read; `-no-rec` empties the
    // upstreams; `-hostmaster` takes an e-mail address.
    // Method: one argument list with each spelling.
    #[test]
    fn go_style_flags_are_read() {
        let args = parse(&[
            "-addr=127.0.0.1:1053",
            "-domain",
            "example.org",
            "-path-prefix=dns",
            "-nameservers=10.0.0.1:53,10.0.0.2:5353",
            "-ndots",
            "3",
            "-rtimeout=500ms",
            "-hostmaster=ops@example.org",
            "-round-robin=false",
        ])
        .expect("parsed");
        let settings = args.settings("nameserver 192.0.2.1\n").expect("valid");
        assert_eq!(settings.addr.port(), 1053);
        assert_eq!(settings.zone.domain, "example.org.");
        assert_eq!(settings.zone.prefix, "dns");
        assert_eq!(settings.nameservers.len(), 2);
        assert_eq!(settings.ndots, 3);
        assert_eq!(settings.rtimeout, Duration::from_millis(500));
        assert_eq!(settings.zone.hostmaster, "ops.example.org.");
        assert!(!settings.round_robin);
        let quiet = parse(&["-no-rec"])
            .expect("parsed")
            .settings("nameserver 192.0.2.1\n");
        assert!(quiet.expect("valid").nameservers.is_empty());
    }

    // Goal: bad values and flags not built yet are refused naming the flag; an unknown flag
    // is a usage error. Method: each on its own.
    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let refused = |args: &[&str]| match parse(args) {
            Ok(args) => args
                .settings("")
                .map(|_| ())
                .map_err(|error| error.to_string()),
            Err(error) => Err(error.kind().to_string()),
        };
        let cases: [(&[&str], &str); 6] = [
            (&["-scache=-1"], "invalid value"),
            (
                &["-addr=localhost"],
                "invalid value \"localhost\" for -addr",
            ),
            (&["-nameservers=10.0.0.1"], "for -nameservers"),
            (&["-rtimeout=soon"], "for -rtimeout"),
            (&["-domain=bad..name"], "for -domain"),
            (&["-frobnicate"], "unexpected argument"),
        ];
        for (args, expected) in cases {
            let error = refused(args).expect_err("refused");
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }

    // Goal: the stored document's keys win over the flags (read_timeout in nanoseconds,
    // ndots for ndot, the zone's TTLs); keys it leaves out keep the flags' values; a value
    // the flags would refuse is refused from the document too.
    // Method: flags and a document disagreeing on several keys.
    #[test]
    fn the_stored_document_wins_over_the_flags() {
        let args =
            parse(&["-nameservers=10.0.0.1:53", "-ndots=4", "-domain=a.test"]).expect("parsed");
        let stored = StoredConfig::parse(
            r#"{"nameservers":["10.9.9.9:5353"],"read_timeout":250000000,"ndots":1,"ttl":30,"min_ttl":5,"priority":3}"#,
        )
        .expect("a document");
        let settings = args.settings_with("", &stored).expect("valid");
        let servers: Vec<String> = settings
            .nameservers
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(servers, ["10.9.9.9:5353"]);
        assert_eq!(settings.rtimeout, Duration::from_millis(250));
        assert_eq!(settings.ndots, 1);
        assert_eq!(
            (
                settings.zone.ttl,
                settings.zone.min_ttl,
                settings.zone.priority
            ),
            (30, 5, 3)
        );
        assert_eq!(settings.zone.domain, "a.test.");
        let bad = StoredConfig::parse(r#"{"dns_addr":"nowhere"}"#).expect("a document");
        let error = args
            .settings_with("", &bad)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("for -addr"), "{error}");
        let cache = StoredConfig::parse(r#"{"rcache":100,"rcache_ttl":30}"#).expect("a document");
        let settings = args.settings_with("", &cache).expect("valid");
        assert_eq!((settings.rcache, settings.rcache_ttl), (100, 30));
        let signed =
            StoredConfig::parse(r#"{"dnssec":"Kskydns.local","scache":5}"#).expect("a document");
        let settings = args.settings_with("", &signed).expect("valid");
        assert_eq!(settings.dnssec.as_deref(), Some("Kskydns.local"));
        assert_eq!(settings.scache, 5);
    }

    // Goal: only `nameserver` lines with an address count, on port 53.
    // Method: a resolv.conf with comments, options and a malformed line.
    #[test]
    fn resolv_conf_servers_reads_nameserver_lines() {
        let text =
            "options ndots:5\nnameserver 10.0.0.1\n  nameserver   10.0.0.2 \nnameserver bogus\n";
        let servers = resolv_conf_servers(text);
        let servers: Vec<String> = servers.iter().map(ToString::to_string).collect();
        assert_eq!(servers, ["10.0.0.1:53", "10.0.0.2:53"]);
    }
}
