//! The command line: locksmith's global flags (before the command, each also read from
//! `LOCKSMITHCTL_<FLAG>`), its commands, and Go's flag syntax (`-endpoint x`,
//! `-endpoint=x`, `--endpoint x` alike).

use clap::{Parser, Subcommand};

/// locksmith's default endpoints: etcd's client port and its legacy one.
const DEFAULT_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";

/// Manage the cluster wide reboot lock.
#[derive(Debug, Parser)]
#[command(
    name = "locksmithctl",
    disable_version_flag = true,
    arg_required_else_help = false
)]
pub struct Cli {
    /// Keel (or etcd) client URLs, comma-separated or repeated.
    #[arg(long, env = "LOCKSMITHCTL_ENDPOINT", value_delimiter = ',', default_value = DEFAULT_ENDPOINTS)]
    pub endpoint: Vec<String>,
    /// The CA of the endpoints' TLS certificates.
    #[arg(long = "etcd-cafile", env = "LOCKSMITHCTL_ETCD_CAFILE")]
    pub etcd_cafile: Option<String>,
    /// A client certificate for TLS.
    #[arg(long = "etcd-certfile", env = "LOCKSMITHCTL_ETCD_CERTFILE")]
    pub etcd_certfile: Option<String>,
    /// The client certificate's key.
    #[arg(long = "etcd-keyfile", env = "LOCKSMITHCTL_ETCD_KEYFILE")]
    pub etcd_keyfile: Option<String>,
    /// A user for basic authentication.
    #[arg(long = "etcd-username", env = "LOCKSMITHCTL_ETCD_USERNAME")]
    pub etcd_username: Option<String>,
    /// That user's password.
    #[arg(
        long = "etcd-password",
        env = "LOCKSMITHCTL_ETCD_PASSWORD",
        hide_env_values = true
    )]
    pub etcd_password: Option<String>,
    /// The semaphore group (empty: the default group).
    #[arg(long, env = "LOCKSMITHCTL_GROUP", default_value = "")]
    pub group: String,
    /// Print debug information to stderr (accepted for locksmith's sake).
    #[arg(long, env = "LOCKSMITHCTL_DEBUG")]
    pub debug: bool,
    /// Print the version and exit.
    #[arg(long)]
    pub version: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Get the status of the cluster wide reboot lock.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Every group, the default one first.
        #[arg(long)]
        all: bool,
    },
    /// Lock this machine or a given machine-id for reboot.
    Lock {
        /// The holder (default: this host's /etc/machine-id).
        machine_id: Option<String>,
    },
    /// Unlock this machine or a given machine-id for reboot.
    Unlock {
        /// The holder (default: this host's /etc/machine-id).
        machine_id: Option<String>,
    },
    /// Set the maximum number of lock holders.
    SetMax {
        /// The new maximum.
        #[arg(allow_negative_numbers = true)]
        max: Option<String>,
    },
    /// Reboot this machine after taking a slot for it (must be root).
    Reboot,
    /// Send update_engine's need-reboot signal on the system bus (for testing locksmithd,
    /// which takes it only with LOCKSMITHD_ACCEPT_ANY_SENDER=true).
    SendNeedReboot,
    /// Remove holders that have held their slot longer than a maximum hold.
    Reap {
        /// The maximum hold, a Go duration such as 24h or 90m.
        #[arg(long = "max-hold")]
        max_hold: String,
        /// Why, recorded with each removal.
        #[arg(long, default_value = "held longer than the maximum hold")]
        reason: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion {
        /// The shell.
        shell: keel_cli::Shell,
    },
}
