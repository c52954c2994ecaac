//! `keel`'s flags (etcd's names and defaults, each with a `KEEL_` environment fallback) and
//! their validation into a typed configuration.

use anyhow::{bail, Context};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The version this server reports as etcd (`/version`, `--version`): clients and harnesses
/// written for etcd check it (spec §9.6, §12).
pub const ETCD_COMPATIBLE_VERSION: &str = "3.4.23";

/// Flags, named and defaulted as etcd's.
#[derive(Debug, Parser)]
#[command(
    name = "keel",
    about = "Keel: an etcd v2 compatible, raft-replicated key-value store",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Flags {
    /// Human-readable name of this member.
    #[arg(long, env = "KEEL_NAME", default_value = "default")]
    pub name: String,
    /// Path to the data directory [default: ./<name>.keel].
    #[arg(long, env = "KEEL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// URLs to listen on for client traffic (comma-separated).
    #[arg(
        long,
        env = "KEEL_LISTEN_CLIENT_URLS",
        default_value = "http://127.0.0.1:2379"
    )]
    pub listen_client_urls: String,
    /// This member's client URLs to advertise to the rest of the cluster.
    #[arg(
        long,
        env = "KEEL_ADVERTISE_CLIENT_URLS",
        default_value = "http://127.0.0.1:2379"
    )]
    pub advertise_client_urls: String,
    /// URLs to listen on for peer traffic.
    #[arg(
        long,
        env = "KEEL_LISTEN_PEER_URLS",
        default_value = "http://127.0.0.1:2380"
    )]
    pub listen_peer_urls: String,
    /// This member's peer URLs to advertise to the rest of the cluster.
    #[arg(
        long,
        env = "KEEL_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://127.0.0.1:2380"
    )]
    pub initial_advertise_peer_urls: String,
    /// Initial cluster configuration, `name=peerURL,...` [default: <name>=<initial-advertise-peer-urls>].
    #[arg(long, env = "KEEL_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// Initial cluster state: `new` or `existing`.
    #[arg(long, env = "KEEL_INITIAL_CLUSTER_STATE", default_value = "new")]
    pub initial_cluster_state: String,
    /// Initial cluster token; members of one cluster must share it.
    #[arg(
        long,
        env = "KEEL_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster"
    )]
    pub initial_cluster_token: String,
    /// Time (in milliseconds) of a heartbeat interval (etcd's default: 100).
    #[arg(long, env = "KEEL_HEARTBEAT_INTERVAL", default_value_t = 100)]
    pub heartbeat_interval: u64,
    /// Time (in milliseconds) for an election to timeout (etcd's default: 1000).
    #[arg(long, env = "KEEL_ELECTION_TIMEOUT", default_value_t = 1000)]
    pub election_timeout: u64,
    /// Applied entries between two snapshots of the store; the log before a snapshot is then
    /// compacted (etcd's default: 100000).
    #[arg(long, env = "KEEL_SNAPSHOT_COUNT", default_value_t = 100_000)]
    pub snapshot_count: u64,
    /// Entries kept in the log behind each snapshot for slow followers (etcd keeps 5000).
    #[arg(long, env = "KEEL_SNAPSHOT_CATCH_UP_ENTRIES", default_value_t = 5_000)]
    pub snapshot_catch_up_entries: u64,
    /// Start a new member from a backup file (taken with `GET /keel/backup`). It shapes a new
    /// data directory only and is ignored (with a warning) once the directory holds the
    /// member, like the --initial-* flags. Start every member of the new cluster from the same
    /// file.
    #[arg(long, env = "KEEL_RESTORE")]
    pub restore: Option<PathBuf>,
    /// Largest client request body in bytes (etcd's default: 1.5 MiB).
    #[arg(long, env = "KEEL_MAX_REQUEST_BYTES", default_value_t = 1_572_864)]
    pub max_request_bytes: usize,
    /// Log format: `text` or `json` (one object per line).
    #[arg(long, env = "KEEL_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: keel_cli::LogFormat,
    /// Print the version and exit.
    #[arg(long)]
    pub version: bool,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    pub completion: Option<keel_cli::Shell>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub data_dir: PathBuf,
    pub listen_client: Vec<SocketAddr>,
    pub advertise_client_urls: Vec<String>,
    pub listen_peer: Vec<SocketAddr>,
    pub advertise_peer_urls: Vec<String>,
    /// (name, peer URLs) of each initial member, in flag order.
    pub initial_cluster: Vec<(String, Vec<String>)>,
    pub join_existing: bool,
    pub cluster_token: String,
    pub tick_interval: Duration,
    pub snapshot_count: u64,
    pub snapshot_catch_up_entries: u64,
    pub restore: Option<PathBuf>,
    pub election_ticks: usize,
    pub max_request_bytes: usize,
    pub log_format: keel_cli::LogFormat,
}

impl Flags {
    /// Check the flags and build the configuration.
    ///
    /// # Errors
    /// A message naming the flag that is wrong and why, in etcd's manner.
    pub fn validate(self) -> anyhow::Result<Config> {
        let advertise_peer_urls = url_list(
            &self.initial_advertise_peer_urls,
            "--initial-advertise-peer-urls",
        )?;
        let initial_cluster = match &self.initial_cluster {
            Some(text) => parse_initial_cluster(text)?,
            None => vec![(self.name.clone(), advertise_peer_urls.clone())],
        };
        check_self_in_cluster(&self.name, &advertise_peer_urls, &initial_cluster)?;
        let join_existing = match self.initial_cluster_state.as_str() {
            "new" => false,
            "existing" => true,
            other => bail!(
                "invalid value {other:?} for flag --initial-cluster-state: must be new or existing"
            ),
        };
        if self.heartbeat_interval == 0 {
            bail!("--heartbeat-interval must be greater than 0");
        }
        if self.election_timeout < 5 * self.heartbeat_interval {
            bail!(
                "--election-timeout[{}ms] should be at least as 5 times as --heartbeat-interval[{}ms]",
                self.election_timeout,
                self.heartbeat_interval
            );
        }
        Ok(Config {
            data_dir: self
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.keel", self.name))),
            listen_client: socket_addresses(&self.listen_client_urls, "--listen-client-urls")?,
            advertise_client_urls: url_list(
                &self.advertise_client_urls,
                "--advertise-client-urls",
            )?,
            listen_peer: socket_addresses(&self.listen_peer_urls, "--listen-peer-urls")?,
            advertise_peer_urls,
            initial_cluster,
            join_existing,
            cluster_token: self.initial_cluster_token,
            // As etcd: one tick per heartbeat; the election timeout counted in ticks.
            tick_interval: Duration::from_millis(self.heartbeat_interval),
            election_ticks: usize::try_from(self.election_timeout / self.heartbeat_interval)
                .unwrap_or(usize::MAX),
            snapshot_count: self.snapshot_count,
            restore: self.restore,
            snapshot_catch_up_entries: self.snapshot_catch_up_entries,
            max_request_bytes: self.max_request_bytes,
            log_format: self.log_format,
            name: self.name,
        })
    }
}

/// Comma-separated `http://host:port` URLs, trimmed of a trailing slash.
fn url_list(text: &str, flag: &str) -> anyhow::Result<Vec<String>> {
    let mut urls = Vec::new();
    for url in text.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        host_port(url).with_context(|| format!("invalid value {url:?} for flag {flag}"))?;
        urls.push(url.trim_end_matches('/').to_string());
    }
    if urls.is_empty() {
        bail!("flag {flag} needs at least one URL");
    }
    Ok(urls)
}

/// The `host:port` of an `http://host:port` URL.
pub fn host_port(url: &str) -> anyhow::Result<String> {
    if url.starts_with("https://") || url.starts_with("unixs://") {
        bail!("TLS is not supported by this keel: use http:// URLs");
    }
    let rest = url
        .strip_prefix("http://")
        .context("URL scheme must be http://")?;
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') {
        bail!("URL must not have a path");
    }
    let (host, port) = authority.rsplit_once(':').context("URL must have a port")?;
    if host.is_empty() {
        bail!("URL must have a host");
    }
    port.parse::<u16>()
        .context("URL port must be a number from 0 to 65535")?;
    Ok(authority.to_string())
}

fn socket_addresses(text: &str, flag: &str) -> anyhow::Result<Vec<SocketAddr>> {
    let mut addresses = Vec::new();
    for url in url_list(text, flag)? {
        let authority = host_port(&url)?;
        let authority = authority.replace("localhost:", "127.0.0.1:");
        let address = authority.parse::<SocketAddr>().with_context(|| {
            format!("invalid value {url:?} for flag {flag}: listen URLs need an IP address")
        })?;
        addresses.push(address);
    }
    Ok(addresses)
}

fn parse_initial_cluster(text: &str) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut members: Vec<(String, Vec<String>)> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, url) = item.split_once('=').with_context(|| {
            format!("invalid value {item:?} in --initial-cluster: expected name=url")
        })?;
        let url = url_list(url, "--initial-cluster")?.remove(0);
        match members.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url),
            None => members.push((name.to_string(), vec![url])),
        }
    }
    if members.is_empty() {
        bail!("--initial-cluster is empty");
    }
    Ok(members)
}

/// As etcd: this member must be in the initial cluster with exactly its advertised peer URLs.
fn check_self_in_cluster(
    name: &str,
    peer_urls: &[String],
    cluster: &[(String, Vec<String>)],
) -> anyhow::Result<()> {
    let Some((_, urls)) = cluster.iter().find(|(n, _)| n == name) else {
        bail!("couldn't find local name {name:?} in the initial cluster configuration");
    };
    let mut expected = urls.clone();
    let mut advertised = peer_urls.to_vec();
    expected.sort();
    advertised.sort();
    if expected != advertised {
        bail!(
            "--initial-cluster has {name}={} but missing from --initial-advertise-peer-urls={}",
            expected.join(","),
            advertised.join(",")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> anyhow::Result<Config> {
        let mut argv = vec!["keel".to_string()];
        argv.extend(crate::argv::normalise(args.iter().map(ToString::to_string).collect()).0);
        Flags::try_parse_from(argv)?.validate()
    }

    // Goal: with no flags, keel is a one-member cluster on 127.0.0.1:2379/2380 in ./default.keel.
    #[test]
    fn defaults_are_a_one_member_cluster() {
        let config = flags(&[]).unwrap();
        assert_eq!(config.name, "default");
        assert_eq!(config.data_dir, PathBuf::from("default.keel"));
        assert_eq!(
            config.listen_client,
            vec!["127.0.0.1:2379".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            config.initial_cluster,
            vec![(
                "default".to_string(),
                vec!["http://127.0.0.1:2380".to_string()]
            )]
        );
        assert_eq!(config.tick_interval, Duration::from_millis(100));
        assert_eq!(config.election_ticks, 10);
        assert_eq!(config.max_request_bytes, 1_572_864);
    }

    // Goal: Go spellings parse and a repeated flag keeps its last value.
    #[test]
    fn go_style_flags_and_repeats() {
        let config = flags(&[
            "-name",
            "n1",
            "--initial-cluster=x=http://127.0.0.1:1",
            "-initial-cluster",
            "n1=http://127.0.0.1:9380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:9380",
            "--enable-v2=true",
            "-snapshot-count",
            "10",
        ])
        .unwrap();
        assert_eq!(config.name, "n1");
        assert_eq!(config.data_dir, PathBuf::from("n1.keel"));
        assert_eq!(config.initial_cluster[0].0, "n1");
    }

    // Goal: bad flag values are refused with a message naming the flag.
    #[test]
    fn bad_values_name_the_flag() {
        let error = flags(&["--listen-client-urls", "http://127.0.0.1"]).unwrap_err();
        assert!(
            format!("{error:#}").contains("--listen-client-urls"),
            "{error:#}"
        );
        let error = flags(&["--initial-cluster-state", "old"]).unwrap_err();
        assert!(format!("{error:#}").contains("--initial-cluster-state"));
        let error = flags(&["--election-timeout", "100"]).unwrap_err();
        assert!(format!("{error:#}").contains("--election-timeout"));
        let error =
            flags(&["--name", "a", "--initial-cluster", "b=http://127.0.0.1:1"]).unwrap_err();
        assert!(format!("{error:#}").contains("\"a\""));
        assert!(flags(&["--no-such-flag"]).is_err());
        assert!(flags(&["--listen-client-urls", "https://127.0.0.1:1"]).is_err());
    }
}
