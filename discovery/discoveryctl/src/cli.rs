//! `discoveryctl`'s command line: where Keel is and which zone (SkyDNS's environment variables
//! as defaults, so a sidekick unit shares discoveryd's environment file), and the commands.

use clap::{Parser, Subcommand};

/// Announce, list and remove SkyDNS-style records in Keel.
#[derive(Debug, Parser)]
#[command(name = "discoveryctl", version)]
pub struct Cli {
    /// Keel client URLs, comma-separated.
    #[arg(
        long,
        env = "ETCD_MACHINES",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379",
        global = true
    )]
    pub machines: Vec<String>,
    /// The key prefix of the records.
    #[arg(
        long = "path-prefix",
        env = "SKYDNS_PATH_PREFIX",
        default_value = "skydns",
        global = true
    )]
    pub path_prefix: String,
    /// The domain served.
    #[arg(long, env = "SKYDNS_DOMAIN", default_value = discovery_core::zone::DEFAULT_DOMAIN, global = true)]
    pub domain: String,
    /// Log format (announce's health checks and refreshes): text or json.
    #[arg(
        long,
        env = "DISCOVERYCTL_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    pub log_format: keel_cli::LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Keep a record of this instance in the store while it is healthy; withdraw it on exit.
    Announce(Announce),
    /// List the records at or below a name (the whole zone by default).
    Ls(Ls),
    /// Remove the record at a name (with --recursive, every record below it too).
    Rm(Rm),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion {
        /// The shell.
        shell: keel_cli::Shell,
    },
}

/// `discoveryctl announce NAME HOST:PORT`.
#[derive(Debug, clap::Args)]
pub struct Announce {
    /// The service's name, relative to the domain (`web`) or absolute (`web.skydns.local.`).
    pub name: String,
    /// Where the instance listens: `10.0.0.1:80`, `db.example.org:5432`, `[2001:db8::1]:80`.
    pub address: String,
    /// The instance's label under the name; default: this host's name.
    #[arg(long)]
    pub instance: Option<String>,
    /// The key's TTL, seconds: the record goes away this long after the last refresh.
    #[arg(long, default_value_t = 60)]
    pub ttl: u64,
    /// The DNS TTL in answers (the record's `ttl`); default: the key's remaining TTL.
    #[arg(long = "record-ttl")]
    pub record_ttl: Option<u32>,
    /// SRV priority.
    #[arg(long, default_value_t = 0)]
    pub priority: u16,
    /// SRV weight.
    #[arg(long, default_value_t = 0)]
    pub weight: u16,
    /// TXT data.
    #[arg(long, default_value = "")]
    pub text: String,
    /// The record's group.
    #[arg(long, default_value = "")]
    pub group: String,
    /// Healthy while this URL answers 2xx or 3xx (http:// only).
    #[arg(long = "health-url", conflicts_with = "health_cmd")]
    pub health_url: Option<String>,
    /// Healthy while this shell command exits 0.
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// How long one health check may take (Go-style duration: 2s, 500ms).
    #[arg(long = "health-timeout", default_value = "2s")]
    pub health_timeout: String,
}

/// `discoveryctl ls [NAME]`.
#[derive(Debug, clap::Args)]
pub struct Ls {
    /// The name; default: the whole zone.
    pub name: Option<String>,
    /// One JSON object per record instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `discoveryctl rm NAME`.
#[derive(Debug, clap::Args)]
pub struct Rm {
    /// The name of the record.
    pub name: String,
    /// Remove the instance's record below the name.
    #[arg(long)]
    pub instance: Option<String>,
    /// Remove every record at or below the name.
    #[arg(long, short = 'r')]
    pub recursive: bool,
}
