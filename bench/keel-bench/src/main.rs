//! `keel-bench`: the etcd benchmark tool's workloads on the v2 API, against Keel or etcd.
//!
//! Prints a human summary, or JSON with `--json`, on stdout; progress goes to stderr (a bar on
//! a terminal, a plain line every few seconds otherwise: `keel_bench::progress`).

use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use keel_bench::http::Connection;
use keel_bench::watch::WatchConfig;
use keel_bench::{BenchConfig, Workload};

#[derive(Parser)]
#[command(
    name = "keel-bench",
    version,
    about = "Load and latency for the etcd v2 API"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    workload: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    /// Spread connections over every endpoint.
    All,
    /// Send everything to the leader (found through /v2/stats/self).
    Leader,
}

#[derive(Args)]
struct Common {
    /// Client URLs, comma-separated.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:2379",
        value_delimiter = ','
    )]
    endpoints: Vec<String>,
    /// Which endpoints get the load.
    #[arg(long, global = true, value_enum, default_value = "all")]
    target: Target,
    /// Concurrent closed-loop clients.
    #[arg(long, global = true, default_value_t = 1)]
    clients: usize,
    /// HTTP connections the clients share (default: one per client).
    #[arg(long, global = true)]
    conns: Option<usize>,
    /// Total requests (default 10000 unless --duration is given).
    #[arg(long, global = true)]
    total: Option<u64>,
    /// Run for this many seconds instead of (or as well as) --total.
    #[arg(long, global = true)]
    duration: Option<f64>,
    /// Requests per second over all clients (default: as fast as answered).
    #[arg(long, global = true)]
    rate: Option<f64>,
    /// Keys are drawn from this many.
    #[arg(long, global = true, default_value_t = 100_000)]
    key_space: u64,
    /// Key length in characters.
    #[arg(long, global = true, default_value_t = 8)]
    key_size: usize,
    /// Value length in bytes.
    #[arg(long, global = true, default_value_t = 256)]
    val_size: usize,
    /// Keys in order instead of uniformly at random.
    #[arg(long, global = true)]
    sequential_keys: bool,
    /// Directory the keys live under.
    #[arg(long, global = true, default_value = "bench")]
    prefix: String,
    /// Seed of the key choice.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Print the result as JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// PUT values.
    Put,
    /// GET keys (plain, or linearizable with --quorum).
    Get {
        /// Read with quorum=true.
        #[arg(long)]
        quorum: bool,
    },
    /// Reads and writes mixed.
    Mixed {
        /// Percent of requests that are reads.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(0..=100))]
        read_percent: u8,
        /// Read with quorum=true.
        #[arg(long)]
        quorum: bool,
    },
    /// Time from a PUT's acknowledgement to each of N watchers receiving its event.
    WatchLatency {
        /// Watchers.
        #[arg(long, default_value_t = 1)]
        watchers: usize,
        /// PUTs (one at a time).
        #[arg(long, default_value_t = 100)]
        puts: u64,
        /// Milliseconds between PUTs.
        #[arg(long, default_value_t = 10)]
        interval_ms: u64,
    },
    /// The disk's floor for a durable write: 4 KiB overwrite + fdatasync, timed.
    Fsync {
        /// Directory for the probe file (put it on the data directories' disk).
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
        /// Size of the probe file in MiB; writes wrap around inside it.
        #[arg(long, default_value_t = 64)]
        file_mib: u64,
    },
}

async fn leader_of(endpoints: &[String]) -> anyhow::Result<String> {
    for endpoint in endpoints {
        let mut connection = Connection::new(endpoint).map_err(anyhow::Error::msg)?;
        let Ok(answer) = connection
            .send(hyper::Method::GET, "/v2/stats/self", None)
            .await
        else {
            continue;
        };
        let stats: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if stats["state"] == "StateLeader" {
            return Ok(endpoint.clone());
        }
    }
    bail!("no endpoint says it is the leader (GET /v2/stats/self)")
}

/// Prints a report: JSON with `--json`, else its human rendering.
fn print_report<T: serde::Serialize>(
    json: bool,
    report: &T,
    render: fn(&T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", render(report));
    }
    Ok(())
}

/// The fsync probe: `--duration` seconds (default 5) or `--total` syncs.
fn fsync(common: &Common, dir: &std::path::Path, file_mib: u64) -> anyhow::Result<()> {
    let duration = Duration::from_secs_f64(common.duration.unwrap_or(5.0));
    let report = keel_bench::fsync::probe(
        dir,
        file_mib.saturating_mul(1 << 20),
        duration,
        common.total.unwrap_or(u64::MAX),
        keel_bench::progress::Progress::stderr(true),
    )
    .map_err(anyhow::Error::msg)?;
    print_report(common.json, &report, keel_bench::fsync::render)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let common = cli.common;
        let endpoints = match common.target {
            Target::All => common.endpoints.clone(),
            Target::Leader => vec![leader_of(&common.endpoints).await?],
        };
        let workload = match cli.workload {
            Command::Put => Workload::Put,
            Command::Get { quorum } => Workload::Get { quorum },
            Command::Mixed {
                read_percent,
                quorum,
            } => Workload::Mixed {
                read_percent,
                quorum,
            },
            Command::Fsync { dir, file_mib } => return fsync(&common, &dir, file_mib),
            Command::WatchLatency {
                watchers,
                puts,
                interval_ms,
            } => {
                let config = WatchConfig {
                    put_endpoint: endpoints[0].clone(),
                    watch_endpoints: endpoints.clone(),
                    watchers,
                    puts,
                    value_size: common.val_size,
                    key: format!("{}/watched", common.prefix),
                    interval: Duration::from_millis(interval_ms),
                    deadline: Duration::from_secs(30),
                    progress: true,
                };
                let report = keel_bench::watch::run(config)
                    .await
                    .map_err(anyhow::Error::msg)?;
                return print_report(common.json, &report, keel_bench::watch::render);
            }
        };
        let duration = common.duration.map(Duration::from_secs_f64);
        let total = common
            .total
            .or_else(|| duration.is_none().then_some(10_000));
        let report = keel_bench::run(BenchConfig {
            endpoints,
            clients: common.clients,
            conns: common.conns.unwrap_or(common.clients),
            total,
            duration,
            rate: common.rate,
            workload,
            key_space: common.key_space,
            key_size: common.key_size,
            value_size: common.val_size,
            sequential: common.sequential_keys,
            prefix: common.prefix,
            seed: common.seed,
            progress: true,
        })
        .await
        .map_err(anyhow::Error::msg)?;
        print_report(common.json, &report, keel_bench::render)
    })
}
