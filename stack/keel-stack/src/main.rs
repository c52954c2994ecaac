//! `keel-stack`: the whole stack on one machine (see the library's documentation). Flags
//! name what each service listens on; every default is the stack's embedded default.

use anyhow::Context as _;
use clap::Parser;
use keel_stack::manager::{Choice, HostsRequest};
use keel_stack::plan::Flags;
use keel_stack::run::Options;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Keel, fleetd, discoveryd and locksmithd on this machine, in one command.
#[derive(Parser)]
#[command(name = "keel-stack", version)]
struct Args {
    /// Where the stack keeps its data between runs (Keel's, logs, the private manager's
    /// files, the environment file).
    #[arg(
        long,
        env = "KEEL_STACK_DATA_DIR",
        default_value = "default.keel-stack"
    )]
    data_dir: PathBuf,
    /// Keel's client URL (the etcd v2 API).
    #[arg(long, default_value = "http://127.0.0.1:2379")]
    keel_client_url: String,
    /// Keel's peer URL.
    #[arg(long, default_value = "http://127.0.0.1:2380")]
    keel_peer_url: String,
    /// fleet's API over TCP on 127.0.0.1, beside its unix socket (its /metrics too).
    #[arg(long, default_value_t = 49153)]
    fleet_api_port: u16,
    /// discoveryd's DNS address (UDP and TCP).
    #[arg(long, default_value = "127.0.0.1:1053")]
    dns_addr: SocketAddr,
    /// discoveryd's metrics, /ready and /health port, on the DNS address's IP.
    #[arg(long, default_value_t = 9153)]
    dns_metrics_port: u16,
    /// The DNS zone discoveryd serves and fleet publishes `[X-Discovery]` units in.
    #[arg(long, default_value = "skydns.local")]
    domain: String,
    /// The IP fleet publishes in DNS for this machine's `[X-Discovery]` units.
    #[arg(long, default_value = "127.0.0.1")]
    public_ip: std::net::IpAddr,
    /// locksmithd's reboot strategy (`off`, `reboot`, `etcd-lock`).
    #[arg(long, env = "REBOOT_STRATEGY", default_value = "off")]
    reboot_strategy: String,
    /// locksmithd's metrics port on 127.0.0.1 (served unless the strategy is `off`).
    #[arg(long, default_value_t = 9154)]
    locksmith_metrics_port: u16,
    /// Where the dashboard is served.
    #[arg(long, default_value = "127.0.0.1:8080")]
    dashboard_addr: SocketAddr,
    /// The systemd manager fleetd drives.
    #[arg(long, value_enum, default_value_t = Choice::Auto)]
    manager: Choice,
    /// Run N test hosts instead (root): each a private systemd --user in a network
    /// namespace of its own with one fleetd, for a multi-machine demo on one machine.
    #[arg(long, value_name = "N")]
    hosts: Option<usize>,
    /// The /24 of the test hosts' bridge, as three octets: the machine is .1, host hN
    /// is .(10+N). It must not be routed here already.
    #[arg(long, default_value = "10.90.0", requires = "hosts")]
    hosts_net: String,
    /// Also reach fleet's API at this path, a symbolic link made when the path is free
    /// (fleetctl's default endpoint); `none`: no link.
    #[arg(long, default_value = "/var/run/fleet.sock")]
    fleet_link: String,
    /// Where the other binaries are (default: beside keel-stack).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Log format of the stack and of every service it starts: text or json (one object
    /// per line).
    #[arg(long, env = "KEEL_STACK_LOG_FORMAT", value_enum, default_value_t)]
    log_format: keel_cli::LogFormat,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    completion: Option<keel_cli::Shell>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(shell) = args.completion {
        keel_cli::write_completion::<Args>(shell, "keel-stack", &mut std::io::stdout());
        return Ok(());
    }
    keel_cli::init_logs(args.log_format, "info");
    let here = std::env::current_dir().context("cannot read the working directory")?;
    let bin_dir = match args.bin_dir {
        Some(dir) => here.join(dir),
        None => std::env::current_exe()
            .context("cannot find keel-stack's own executable")?
            .parent()
            .context("keel-stack's executable has no directory")?
            .to_owned(),
    };
    let flags = Flags {
        bin_dir,
        data_dir: here.join(args.data_dir),
        keel_client_url: args.keel_client_url,
        keel_peer_url: args.keel_peer_url,
        fleet_api_port: args.fleet_api_port,
        dns_addr: args.dns_addr,
        dns_metrics_port: args.dns_metrics_port,
        domain: args.domain,
        public_ip: args.public_ip,
        reboot_strategy: args.reboot_strategy,
        locksmith_metrics_port: args.locksmith_metrics_port,
        dashboard_addr: args.dashboard_addr,
        log_format: args.log_format,
    };
    let options = Options {
        flags,
        manager: args.manager,
        hosts: args.hosts.map(|count| HostsRequest {
            count,
            net: args.hosts_net,
        }),
        fleet_link: (args.fleet_link != "none").then(|| PathBuf::from(args.fleet_link)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime
        .block_on(keel_stack::run::run(options))
        .context("keel-stack")
}
