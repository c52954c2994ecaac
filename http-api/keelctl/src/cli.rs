//! The command line, as etcdctl v2 (etcd 3.4) spells it: global flags before the command,
//! command flags after it. Positional arguments are collected loosely and checked by each
//! command, so a missing key prints etcdctl's `Error:  key required` (exit 1), not clap's usage.

use clap::{Parser, Subcommand, ValueEnum};
use std::time::Duration;

/// keelctl - a simple command line client for Keel (etcdctl v2 compatible).
#[derive(Debug, Parser)]
#[command(name = "keelctl", version, about, long_about = None)]
pub struct Cli {
    /// Output cURL-like request traces on stderr (accepted for etcdctl compatibility).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Don't synchronize cluster information before sending request.
    #[arg(long, global = true)]
    pub no_sync: bool,
    /// Output response in the given format (`simple`, `extended` or `json`).
    #[arg(short, long, value_enum, default_value = "simple", global = true)]
    pub output: Format,
    /// A comma-delimited list of machine addresses in the cluster (also from
    /// `KEELCTL_ENDPOINTS`, then `ETCDCTL_ENDPOINTS`). Default: http://127.0.0.1:2379 (etcdctl
    /// also tries the legacy port 4001, which Keel never listens on).
    #[arg(long, env = "KEELCTL_ENDPOINTS", value_delimiter = ',', global = true)]
    pub endpoints: Vec<String>,
    /// Connection timeout per request (Go duration: 2s, 500ms, 1m).
    #[arg(long, value_parser = parse_duration, default_value = "2s", global = true)]
    pub timeout: Duration,
    /// Timeout for the command execution (except watch).
    #[arg(long, value_parser = parse_duration, default_value = "5s", global = true)]
    pub total_timeout: Duration,
    #[command(subcommand)]
    pub command: Command,
}

/// etcdctl's `--output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The value only.
    Simple,
    /// Key, indexes, TTL, then the value.
    Extended,
    /// The response as JSON.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Retrieve the value of a key.
    Get {
        /// Returns result in sorted order.
        #[arg(long)]
        sort: bool,
        /// Require quorum for get request.
        #[arg(short, long)]
        quorum: bool,
        /// <key>
        args: Vec<String>,
    },
    /// Set the value of a key (`set -- <key> <value>` when the value begins with '-').
    Set {
        #[command(flatten)]
        ttl: Ttl,
        /// Previous value.
        #[arg(long, default_value = "")]
        swap_with_value: String,
        /// Previous index.
        #[arg(long, default_value_t = 0)]
        swap_with_index: u64,
        /// <key> <value>
        args: Vec<String>,
    },
    /// Make a new key with a given value.
    Mk {
        /// Create in-order key under directory <key>.
        #[arg(long)]
        in_order: bool,
        #[command(flatten)]
        ttl: Ttl,
        /// <key> <value>
        args: Vec<String>,
    },
    /// Make a new directory.
    Mkdir(DirArgs),
    /// Create a new directory or update an existing directory TTL.
    Setdir(DirArgs),
    /// Update an existing key with a given value.
    Update {
        #[command(flatten)]
        ttl: Ttl,
        /// <key> <value>
        args: Vec<String>,
    },
    /// Update an existing directory.
    Updatedir(DirArgs),
    /// Remove a key or a directory.
    Rm {
        /// Removes the key if it is an empty directory or a key-value pair.
        #[arg(long)]
        dir: bool,
        /// Removes the key and all child keys (if it is a directory).
        #[arg(short, long)]
        recursive: bool,
        /// Previous value.
        #[arg(long, default_value = "")]
        with_value: String,
        /// Previous index.
        #[arg(long, default_value_t = 0)]
        with_index: u64,
        /// <key>
        args: Vec<String>,
    },
    /// Removes the key if it is an empty directory or a key-value pair.
    Rmdir {
        /// <key>
        args: Vec<String>,
    },
    /// Retrieve a directory.
    Ls {
        /// Returns result in sorted order.
        #[arg(long)]
        sort: bool,
        /// Returns all key names recursively for the given path.
        #[arg(short, long)]
        recursive: bool,
        /// Append slash (/) to directories.
        #[arg(short = 'p')]
        slash: bool,
        /// Require quorum for get request.
        #[arg(short, long)]
        quorum: bool,
        /// [key]
        args: Vec<String>,
    },
    /// Watch a key for changes.
    Watch {
        /// Forever watch a key until CTRL+C.
        #[arg(short, long)]
        forever: bool,
        /// Watch after the given index.
        #[arg(long, default_value_t = 0)]
        after_index: u64,
        /// Returns all values for key and child keys.
        #[arg(short, long)]
        recursive: bool,
        /// <key>
        args: Vec<String>,
    },
    /// Watch a key for changes and exec an executable (`exec-watch <key> -- <command> [args...]`).
    ExecWatch {
        /// Watch after the given index.
        #[arg(long, default_value_t = 0)]
        after_index: u64,
        /// Watch all values for key and child keys.
        #[arg(short, long)]
        recursive: bool,
        /// <key> <command> [args...]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Member add, remove and list subcommands.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Check the health of the cluster.
    ClusterHealth {
        /// Forever check the health every 10 second until CTRL+C.
        #[arg(short, long)]
        forever: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion {
        /// The shell.
        shell: keel_cli::Shell,
    },
}

/// `member` subcommands.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Enumerate existing cluster members.
    List {
        /// (none accepted)
        args: Vec<String>,
    },
    /// Add a new member to the cluster: <name> <peerURL>.
    Add {
        /// <name> <peerURL>
        args: Vec<String>,
    },
    /// Remove an existing member from the cluster: <memberID>.
    Remove {
        /// <memberID>
        args: Vec<String>,
    },
    /// Update an existing member in the cluster: <memberID> <peerURLs>.
    Update {
        /// <memberID> <peerURLs>
        args: Vec<String>,
    },
}

/// `--ttl`, shared by the writes.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Ttl {
    /// Key time-to-live in seconds (0: none).
    #[arg(long, default_value_t = 0)]
    pub ttl: u64,
}

/// Arguments of the directory writes.
#[derive(Debug, clap::Args)]
pub struct DirArgs {
    #[command(flatten)]
    pub ttl: Ttl,
    /// <key>
    pub args: Vec<String>,
}

/// A Go `time.ParseDuration` subset: a number followed by h, m, s, ms, us or ns (`1m30s` too).
///
/// # Errors
/// A message when `text` is not such a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        total += Duration::from_secs_f64(number * seconds);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report
    use super::*;

    // Goal: flags parse as etcdctl's (globals before the command, short forms, defaults).
    #[test]
    fn parses_etcdctl_command_lines() {
        let cli = Cli::try_parse_from(["keelctl", "-o", "json", "ls", "-p", "-r", "--sort", "/d"])
            .unwrap();
        assert_eq!(cli.output, Format::Json);
        assert!(
            matches!(cli.command, Command::Ls { slash: true, recursive: true, sort: true, ref args, .. } if args == &["/d"])
        );
        assert_eq!(cli.timeout, Duration::from_secs(2));
        assert_eq!(cli.total_timeout, Duration::from_secs(5));
        assert!(cli.endpoints.is_empty() || std::env::var_os("KEELCTL_ENDPOINTS").is_some());
        let cli = Cli::try_parse_from([
            "keelctl",
            "--endpoints",
            "http://a:1,http://b:2",
            "set",
            "--ttl",
            "5",
            "--",
            "/k",
            "-v",
        ])
        .unwrap();
        assert_eq!(cli.endpoints, ["http://a:1", "http://b:2"]);
        assert!(
            matches!(cli.command, Command::Set { ttl: Ttl { ttl: 5 }, ref args, .. } if args == &["/k", "-v"])
        );
        let cli = Cli::try_parse_from([
            "keelctl",
            "exec-watch",
            "-r",
            "/k",
            "--",
            "sh",
            "-c",
            "echo",
        ])
        .unwrap();
        assert!(
            matches!(cli.command, Command::ExecWatch { recursive: true, ref args, .. } if args == &["/k", "--", "sh", "-c", "echo"])
        );
        let cli = Cli::try_parse_from(["keelctl", "rm", "--with-index", "7", "-r", "/k"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Rm {
                with_index: 7,
                recursive: true,
                ..
            }
        ));
    }

    // Goal: Go duration syntax, which etcd users type for --timeout.
    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("3x").is_err());
    }
}
