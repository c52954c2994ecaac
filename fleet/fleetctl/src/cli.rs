//! fleetctl's command line: fleet's global flags (each also read from `FLEETCTL_<FLAG>`,
//! dashes as underscores, when the flag is absent), its commands (unique prefixes accepted)
//! and their flags, and help laid out in fleet's blocks (NAME, USAGE, VERSION, COMMANDS,
//! DESCRIPTION, OPTIONS, GLOBAL OPTIONS).
//!
//! Owns the clap parser ([`Cli`], [`Command`] and the per-command argument structs). Boolean
//! flags take Go's forms: `--replace`, `--replace=true`, `--replace=false`. Positional
//! arguments are collected loosely and checked by each command, so a missing unit prints
//! fleet's `No units given`, not a usage error. The environment is read here and only here.

use crate::endpoint::DEFAULT_ENDPOINT;
use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

const GLOBAL: &str = "GLOBAL OPTIONS";
const OPTIONS: &str = "OPTIONS";

const TOP_TEMPLATE: &str = "\
NAME:
{tab}fleetctl - {about}

USAGE:
{tab}fleetctl [global options] <command> [command options] [arguments...]

VERSION:
{tab}{version}

COMMANDS:
{subcommands}

DESCRIPTION:
{tab}fleetctl talks to fleetd's HTTP API (--endpoint, FLEETCTL_ENDPOINT).

GLOBAL OPTIONS:
{options}

Run \"fleetctl help <command>\" for more details on a specific command.
";

/// The help layout of one command, named `$name`.
macro_rules! command_template {
    ($name:literal) => {
        concat!(
            "NAME:\n{tab}fleetctl ",
            $name,
            " - {about}\n\nUSAGE:\n{tab}{usage}\n\nDESCRIPTION:\n{before-help}{all-args}\n"
        )
    };
}

/// fleetctl is a command-line interface to fleet, the cluster-wide init system.
#[derive(Debug, Parser)]
#[command(
    name = "fleetctl",
    version,
    disable_version_flag = true,
    infer_subcommands = true,
    help_template = TOP_TEMPLATE,
    disable_help_flag = true
)]
pub struct Cli {
    /// Location of the fleet API: unix:///path/to/socket or http://host:port. Only the first
    /// of a comma-separated list is used.
    #[arg(long, env = "FLEETCTL_ENDPOINT", default_value = DEFAULT_ENDPOINT, global = true, help_heading = GLOBAL)]
    pub endpoint: String,
    /// Amount of time in seconds to allow a single request before considering it failed.
    #[arg(long, env = "FLEETCTL_REQUEST_TIMEOUT", default_value_t = 3.0, global = true, help_heading = GLOBAL)]
    pub request_timeout: f64,
    /// Print out more debug information to stderr.
    #[arg(long, env = "FLEETCTL_DEBUG", num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new(), global = true, help_heading = GLOBAL)]
    pub debug: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long, help_heading = GLOBAL)]
    pub version: bool,
    /// Adapter used to execute fleetctl commands. Only API is supported by this fleetctl.
    #[arg(long, env = "FLEETCTL_DRIVER", default_value = "API", global = true, help_heading = GLOBAL)]
    pub driver: String,
    /// Establish an SSH tunnel through the provided address. Not supported by this fleetctl.
    #[arg(long, env = "FLEETCTL_TUNNEL", default_value = "", global = true, help_heading = GLOBAL)]
    pub tunnel: String,
    /// Path to a CA file for TLS. Not supported by this fleetctl.
    #[arg(long, env = "FLEETCTL_CA_FILE", default_value = "", global = true, help_heading = GLOBAL)]
    pub ca_file: String,
    /// Path to a certificate file for TLS. Not supported by this fleetctl.
    #[arg(long, env = "FLEETCTL_CERT_FILE", default_value = "", global = true, help_heading = GLOBAL)]
    pub cert_file: String,
    /// Path to a key file for TLS. Not supported by this fleetctl.
    #[arg(long, env = "FLEETCTL_KEY_FILE", default_value = "", global = true, help_heading = GLOBAL)]
    pub key_file: String,
    /// Keyspace for fleet data in etcd (etcd driver only; accepted and ignored).
    #[arg(long, env = "FLEETCTL_ETCD_KEY_PREFIX", default_value = "/_coreos.com/fleet/", global = true, help_heading = GLOBAL)]
    pub etcd_key_prefix: String,
    /// Username to use when connecting to CoreOS instance (tunnel only; accepted and ignored).
    #[arg(long, env = "FLEETCTL_SSH_USERNAME", default_value = "core", global = true, help_heading = GLOBAL)]
    pub ssh_username: String,
    /// Amount of time in seconds to allow for SSH connection initialization (accepted and
    /// ignored).
    #[arg(long, env = "FLEETCTL_SSH_TIMEOUT", default_value_t = 10.0, global = true, help_heading = GLOBAL)]
    pub ssh_timeout: f64,
    /// Verify host keys presented by remote machines (accepted and ignored).
    #[arg(long, env = "FLEETCTL_STRICT_HOST_KEY_CHECKING", num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true", value_parser = BoolishValueParser::new(), global = true, help_heading = GLOBAL)]
    pub strict_host_key_checking: bool,
    /// File used to store remote machine fingerprints (accepted and ignored).
    #[arg(long, env = "FLEETCTL_KNOWN_HOSTS_FILE", default_value = "~/.fleetctl/known_hosts", global = true, help_heading = GLOBAL)]
    pub known_hosts_file: String,
    /// Show help.
    #[arg(short = 'h', long, action = clap::ArgAction::Help, global = true, help_heading = GLOBAL)]
    pub help: Option<bool>,
    /// The command to run; without one, the help is printed.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands, in fleet's names.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Output the contents of a submitted unit
    #[command(help_template = command_template!("cat"), before_help = "    Outputs the unit file of a unit in the cluster, in fleet's canonical form.\n\n    fleetctl cat foo.service")]
    Cat(UnitsArgs),
    /// Destroy one or more units in the cluster
    #[command(help_template = command_template!("destroy"), before_help = "    Completely remove one or more running or submitted units from the cluster.\n    Instructs systemd on the host machine to stop the unit, deferring to systemd\n    completely for any custom stop directives (i.e. ExecStop option in the unit file).\n\n    fleetctl destroy foo.service")]
    Destroy(BlockArgs),
    /// Proxy stdin and stdout to a unix domain socket (not supported by this fleetctl)
    #[command(name = "fd-forward", help_template = command_template!("fd-forward"), before_help = "    Used by fleet's SSH tunnel, which this fleetctl does not support.")]
    FdForward(PassThroughArgs),
    /// Print the journal of a unit in the cluster to stdout
    #[command(help_template = command_template!("journal"), before_help = "    Outputs the journal of the unit from the host it runs on, through fleetd.\n\n    fleetctl journal --lines 20 -f foo.service")]
    Journal(JournalArgs),
    /// Enumerate the current hosts in the cluster
    #[command(name = "list-machines", help_template = command_template!("list-machines"), before_help = "    Lists all active machines within the cluster.\n\n    Fields: machine, ip, metadata.")]
    ListMachines(ListMachinesArgs),
    /// List the units that exist in the cluster.
    #[command(name = "list-unit-files", help_template = command_template!("list-unit-files"), before_help = "    Lists all unit files that exist in the cluster (whether or not they are loaded onto a machine).\n\n    Fields: unit, hash, dstate, state, target, desc, global (tmachine: an old name of target).")]
    ListUnitFiles(ListUnitFilesArgs),
    /// List the current state of units in the cluster
    #[command(name = "list-units", help_template = command_template!("list-units"), before_help = "    Lists the state of all units in the cluster loaded onto a machine, one line per\n    machine reporting it.\n\n    Fields: unit, machine, active, sub, load, hash.")]
    ListUnits(ListUnitsArgs),
    /// Schedule one or more units in the cluster, first submitting them if necessary.
    #[command(help_template = command_template!("load"), before_help = "    Schedules one or more units in the cluster, submitting them from local files or\n    templates first when they are unknown, and waits until they are loaded.\n\n    fleetctl load foo.service bar@1.service")]
    Load(ScheduleArgs),
    /// Instruct systemd to rolling restart one or more units in the cluster.
    #[command(help_template = command_template!("restart"), before_help = "    Stops (when launched) and starts each unit again, waiting for each step.\n\n    fleetctl restart foo.service")]
    Restart(RestartArgs),
    /// Open interactive shell on a machine in the cluster (not supported by this fleetctl)
    #[command(help_template = command_template!("ssh"), before_help = "    This fleetctl does not use SSH; status and journal go through fleetd.")]
    Ssh(PassThroughArgs),
    /// Instruct systemd to start one or more units in the cluster, first submitting and loading if necessary.
    #[command(help_template = command_template!("start"), before_help = "    Starts one or more units in the cluster, submitting them from local files or\n    templates first when they are unknown, and waits until they are launched and\n    systemd reports them active. While a unit cannot be placed, fleetctl says why.\n\n    fleetctl start foo.service bar@1.service")]
    Start(ScheduleArgs),
    /// Output the status of one or more units in the cluster
    #[command(help_template = command_template!("status"), before_help = "    Outputs `systemctl status -l` of each unit, run on the unit's host by fleetd.\n\n    fleetctl status foo.service bar.service")]
    Status(StatusArgs),
    /// Instruct systemd to stop one or more units in the cluster.
    #[command(help_template = command_template!("stop"), before_help = "    Stops one or more units; they stay loaded on their machines.\n\n    fleetctl stop foo.service")]
    Stop(BlockArgs),
    /// Upload one or more units to the cluster without starting them
    #[command(help_template = command_template!("submit"), before_help = "    Submits units from local files (or templates) without scheduling them.\n\n    fleetctl submit foo.service bar@.service")]
    Submit(SubmitArgs),
    /// Unschedule one or more units in the cluster.
    #[command(help_template = command_template!("unload"), before_help = "    Unloads units from their machines; they stay known to the cluster.\n\n    fleetctl unload foo.service")]
    Unload(BlockArgs),
    /// DEPRECATED - No longer works
    #[command(help_template = command_template!("verify"), before_help = "    The signed/verified units feature is deprecated.")]
    Verify(UnitsArgs),
    /// Print the version and exit
    #[command(help_template = command_template!("version"), before_help = "    Prints fleetctl's version.")]
    Version,
    /// Stop scheduling on a machine and move its units away
    #[command(help_template = command_template!("drain"), before_help = "    Drains a machine: the engine places nothing more there and moves its units to\n    other machines (global units stay). Waits until none is left unless --no-block.\n    The machine stays drained, also across restarts, until uncordon.\n\n    fleetctl drain 113f16a7")]
    Drain(DrainArgs),
    /// Run a command as a unit in the cluster, without writing a unit file
    #[command(help_template = command_template!("run"), before_help = "    Makes NAME.service (or, with --replicas, the template NAME@.service and that many\n    instances) from a command line and starts it, like kubectl run. --cpu and\n    --memory become the unit's requests.\n\n    fleetctl run --memory 256M --replicas 3 web -- /usr/bin/python3 -m http.server 8080")]
    Run(RunArgs),
    /// Let the engine schedule on a drained machine again
    #[command(help_template = command_template!("uncordon"), before_help = "    Undoes drain: the machine takes units again (nothing moves back by itself).\n\n    fleetctl uncordon 113f16a7")]
    Uncordon(DrainArgs),
    /// Keep a number of instances of a template placed and running
    #[command(help_template = command_template!("scale"), before_help = "    Keeps COUNT numbered instances (NAME@1 ... NAME@COUNT) of a template placed and\n    running, spread over the machines; scaling down destroys the highest-numbered\n    instances first. The template is submitted from a local file when the cluster\n    does not know it. Waits until COUNT instances run unless --no-block.\n\n    fleetctl scale web@.service 5")]
    Scale(ScaleArgs),
    /// Roll a new version of units out over the cluster, a few at a time
    #[command(help_template = command_template!("replace"), before_help = "    Replaces units already in the cluster with their local files without taking them\n    all down: a unit, every instance of a template (replace web@.service) or every\n    machine of a global unit, at most --max-parallel at a time. Each must stay active\n    for --min-healthy-time (within --healthy-deadline) before the next is replaced;\n    the first failure stops the rollout and says which instance failed. fleetd drives\n    it, so it goes on if fleetctl exits; --status shows where rollouts stand.\n\n    fleetctl replace --max-parallel 2 --min-healthy-time 30s web@.service")]
    Replace(ReplaceArgs),
    /// Explain where a unit may run: every machine's verdict on it
    #[command(help_template = command_template!("why"), before_help = "    For every machine in the cluster, the rule that keeps the unit off it, or the\n    score it gets there; for a pending unit, the reason the engine stored.\n\n    fleetctl why foo.service")]
    Why(WhyArgs),
    /// Print a shell completion script
    #[command(help_template = command_template!("completion"), before_help = "    Prints a completion script for bash, zsh, fish, elvish or powershell.\n\n    fleetctl completion bash > /usr/share/bash-completion/completions/fleetctl")]
    Completion(CompletionArgs),
}

/// Arguments of `completion`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: keel_cli::Shell,
}

/// Arguments of `cat` and `verify`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct UnitsArgs {
    /// The units.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `drain` and `uncordon`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct DrainArgs {
    /// Do not wait until the machine is empty before exiting (drain only).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_block: bool,
    /// Wait for up to N attempts before giving up. A value of 0 indicates no limit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// The machine: its ID or a unique prefix of it.
    #[arg(value_name = "MACHINE")]
    pub machine: String,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct RunArgs {
    /// CPU requested, in cores (0.5) or millicores (500m).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory requested (256M, 1G).
    #[arg(long)]
    pub memory: Option<String>,
    /// Run this many instances of a template NAME@.service instead of one NAME.service.
    #[arg(long)]
    pub replicas: Option<u32>,
    /// Do not wait until the unit runs before exiting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_block: bool,
    /// Wait for up to N attempts before giving up. A value of 0 indicates no limit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// The unit's name, without `.service`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of `scale`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct ScaleArgs {
    /// Do not wait until the instances run before exiting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_block: bool,
    /// Wait for up to N attempts before giving up. A value of 0 indicates no limit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// The template (NAME@.service), in the cluster or a local file.
    #[arg(value_name = "TEMPLATE")]
    pub template: String,
    /// How many instances to keep.
    #[arg(value_name = "COUNT")]
    pub count: u32,
}

/// Arguments of `replace`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct ReplaceArgs {
    /// At most this many units (instances, machines) replaced and not yet healthy at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub max_parallel: u32,
    /// How long a replaced unit must stay active to count as healthy (10s, 1m30s).
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub min_healthy_time: String,
    /// A replaced unit not healthy this long after it was replaced fails the rollout.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub healthy_deadline: String,
    /// Show where rollouts stand (of the units given, or all) and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub status: bool,
    /// Do not follow the rollout before exiting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_block: bool,
    /// Follow for up to N attempts before giving up. A value of 0 indicates no limit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// The units: local files of units, templates or global units in the cluster.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `why`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct WhyArgs {
    /// The unit.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
    /// Do not ellipsize fields on output.
    #[arg(short = 'l', long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub full: bool,
    /// Do not print a legend (column headers).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_legend: bool,
}

/// Arguments of `ssh` and `fd-forward`: anything, since they only refuse.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct PassThroughArgs {
    /// Whatever fleet's command would take.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// Arguments of `submit`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct SubmitArgs {
    /// Replace the already submitted units in the cluster with new versions.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub replace: bool,
    /// DEPRECATED - this option cannot be used (accepted and ignored).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub sign: bool,
    /// The units: local files, or instances of templates.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `load` and `start`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct ScheduleArgs {
    /// Do not wait until the units have been scheduled or started before exiting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_block: bool,
    /// Wait until the units reach their state, performing up to N attempts before giving
    /// up. A value of 0 indicates no limit. Does not apply to global units.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// Replace the already submitted units in the cluster with new versions.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub replace: bool,
    /// DEPRECATED - this option cannot be used (accepted and ignored).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub sign: bool,
    /// The units: names in the cluster, local files, or instances of templates.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `stop`, `unload` and `destroy`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct BlockArgs {
    /// Do not wait until the units have reached their state before exiting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_block: bool,
    /// Wait until the units reach their state, performing up to N attempts before giving
    /// up. A value of 0 indicates no limit. Does not apply to global units.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// The units.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `restart`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct RestartArgs {
    /// Wait until the units reach each state, performing up to N attempts before giving
    /// up. A value of 0 indicates no limit.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub block_attempts: u32,
    /// The units.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct StatusArgs {
    /// SSH port of fleet's remote status (accepted and ignored: fleetd runs systemctl).
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// The units.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `journal`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct JournalArgs {
    /// Number of recent log lines to return.
    #[arg(long, default_value_t = 10)]
    pub lines: u32,
    /// Continuously print new entries as they are appended to the journal.
    #[arg(short = 'f', long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub follow: bool,
    /// Output mode, passed to journalctl --output.
    #[arg(long, default_value = "short")]
    pub output: String,
    /// Privilege escalation of fleet's remote journalctl (accepted and ignored).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub sudo: bool,
    /// SSH port of fleet's remote journal (accepted and ignored: fleetd runs journalctl).
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
    /// The unit.
    #[arg(value_name = "UNIT")]
    pub units: Vec<String>,
}

/// Arguments of `list-machines`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct ListMachinesArgs {
    /// Columns to print for each Machine. Valid fields are "machine,ip,metadata".
    #[arg(long, default_value = "machine,ip,metadata")]
    pub fields: String,
    /// Do not ellipsize fields on output.
    #[arg(short = 'l', long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub full: bool,
    /// Do not print a legend (column headers).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_legend: bool,
}

/// Arguments of `list-units`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct ListUnitsArgs {
    /// Columns to print for each Unit. Valid fields are "active,hash,load,machine,sub,unit".
    #[arg(long, default_value = "unit,machine,active,sub")]
    pub fields: String,
    /// Do not ellipsize fields on output.
    #[arg(short = 'l', long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub full: bool,
    /// Do not print a legend (column headers).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_legend: bool,
}

/// Arguments of `list-unit-files`.
#[derive(Debug, Args)]
#[command(next_help_heading = OPTIONS)]
pub struct ListUnitFilesArgs {
    /// Columns to print for each Unit file. Valid fields are
    /// "desc,dstate,global,hash,state,target,tmachine,unit".
    #[arg(long, default_value = "unit,hash,dstate,state,target")]
    pub fields: String,
    /// Do not ellipsize fields on output.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub full: bool,
    /// Do not print a legend (column headers).
    #[arg(long, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = BoolishValueParser::new())]
    pub no_legend: bool,
}
