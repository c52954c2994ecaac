//! `jepsen`: run a fault-injection test against a real Keel cluster, or re-check a history.
//!
//! Exit status: 0 when the history is valid and no acknowledged write was lost (or when the
//! machine cannot build a lab: the run is skipped with a notice), 1 when an anomaly was found,
//! 2 when the harness failed or the checker could not decide. The artifact directory is printed
//! as the last line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use jepsen::nemesis::Family;
use jepsen::run::{parse_duration, run, RunConfig, RunOutcome, Workload};
use jepsen::workload::ReadMode;
use testkit::lab::LabConfig;

#[derive(Parser)]
#[command(
    name = "jepsen",
    version,
    about = "Fault-injection tests of a real Keel cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum WhenCutOff {
    /// Stop the unit when cut off: never two copies at once.
    Stop,
    /// fleet's behaviour: keep running when cut off.
    Keep,
}

#[derive(Clone, Copy, ValueEnum)]
enum Reads {
    /// `quorum=true`: linearizable reads.
    Quorum,
    /// Plain reads from any member's replica (expected to be flagged: a negative control).
    Plain,
}

// Parsed once at start; the size of the enum does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Start a cluster in network namespaces, run workloads under faults, check the history.
    Run {
        /// Workloads, comma-separated, run one after another: register, set, watch, semaphore
        /// (locksmith's reboot semaphore), all (those four), units (fleet on real hosts; needs
        /// `fleetd`).
        #[arg(long, default_value = "register")]
        workload: String,
        /// Fault families, comma-separated: partition, kill, pause, loss, slow, clock, delay,
        /// snapshot, member, all, none.
        #[arg(long, default_value = "partition,kill")]
        nemesis: String,
        /// Load time over all workloads (like 60s, 2m); healing and checking come on top.
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        time_limit: std::time::Duration,
        /// Cluster members (1 to 9).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=9))]
        nodes: u16,
        /// Concurrent client workers for register and set (spread over all members).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=500))]
        concurrency: u16,
        /// Seed of every random choice; a random one when not given (it is printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Target total rate in operations per second.
        #[arg(long, default_value_t = 40.0)]
        rate: f64,
        /// How long each fault lasts.
        #[arg(long, default_value = "4s", value_parser = parse_duration)]
        fault_duration: std::time::Duration,
        /// How long each calm phase between faults lasts.
        #[arg(long, default_value = "4s", value_parser = parse_duration)]
        heal_duration: std::time::Duration,
        /// How register and set reads are served.
        #[arg(long, value_enum, default_value = "quorum")]
        reads: Reads,
        /// Operations per key before workers move on to a fresh key.
        #[arg(long, default_value_t = 100)]
        ops_per_key: u64,
        /// Client timeout of one request.
        #[arg(long, default_value = "1500ms", value_parser = parse_duration)]
        client_timeout: std::time::Duration,
        /// Checker search steps per key before it answers "unknown".
        #[arg(long, default_value_t = 20_000_000)]
        step_budget: u64,
        /// Members' `--snapshot-count`; small values make lagging and restarted members catch
        /// up by snapshot (snapshot stress). Keel's default when not given, or 100 with the
        /// snapshot nemesis.
        #[arg(long)]
        snapshot_count: Option<u64>,
        /// Parent directory of the run's artifact directory.
        #[arg(long, default_value = "target/jepsen")]
        artifacts: PathBuf,
        /// First three octets of the private /24 the lab uses.
        #[arg(long, default_value = "10.77.0")]
        net: String,
        /// Network namespace name prefix.
        #[arg(long, default_value = "jl")]
        netns_prefix: String,
        /// Lab bridge name.
        #[arg(long, default_value = "jlbr0")]
        bridge: String,
        /// The `fleetd` binary of the units workload; by default the one beside this binary.
        #[arg(long)]
        fleetd: Option<PathBuf>,
        /// The units workload's `[X-Fleet] WhenCutOff=` (`keep` is a negative control: a
        /// cut-off machine keeps its copy, so partitions are expected to show overlaps).
        #[arg(long, value_enum, default_value = "stop")]
        when_cut_off: WhenCutOff,
    },
    /// Hold the packets of one NFQUEUE for a delay (run by the delay nemesis inside a node's
    /// network namespace).
    #[command(hide = true)]
    DelayHolder {
        /// The queue number.
        #[arg(long)]
        queue: u16,
        /// Delay per packet, milliseconds.
        #[arg(long)]
        delay_ms: u64,
        /// Uniform jitter either side of the delay, milliseconds.
        #[arg(long, default_value_t = 0)]
        jitter_ms: u64,
        /// Seed of the jitter.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Check a recorded history file (history.jsonl) with the linearizability checker.
    Check {
        /// The history.
        history: PathBuf,
        /// Negative control: treat every indeterminate (`info`) write as failed. A history in
        /// which such a write later became visible must then be rejected.
        #[arg(long)]
        info_as_fail: bool,
        /// Checker search steps per key before it answers "unknown".
        #[arg(long, default_value_t = 20_000_000)]
        step_budget: u64,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion {
        /// The shell.
        shell: keel_cli::Shell,
    },
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    #[allow(clippy::cast_possible_truncation)]
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    mixed % 1_000_000_000
}

/// On SIGINT or SIGTERM the run stops its load, heals, tears the lab down and reports; a
/// second signal exits at once (the next run removes what is left of the lab).
fn watch_signals() {
    std::thread::spawn(|| {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            for round in 0..2 {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                if round == 0 {
                    // On a terminal, off the progress bar's line first.
                    let lead = if std::io::stderr().is_terminal() {
                        "\n"
                    } else {
                        ""
                    };
                    eprintln!("{lead}jepsen: interrupted; healing and tearing the lab down");
                    jepsen::run::INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
                } else {
                    std::process::exit(2);
                }
            }
        });
    });
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("jepsen: harness failure: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> anyhow::Result<u8> {
    match Cli::parse().command {
        Command::Completion { shell } => {
            keel_cli::write_completion::<Cli>(shell, "jepsen", &mut std::io::stdout());
            Ok(0)
        }
        Command::DelayHolder {
            queue,
            delay_ms,
            jitter_ms,
            seed,
        } => {
            jepsen::delay::hold(
                queue,
                std::time::Duration::from_millis(delay_ms),
                std::time::Duration::from_millis(jitter_ms),
                seed,
            )
            .with_context(|| format!("holding packets of NFQUEUE {queue}"))?;
            Ok(0)
        }
        Command::Check {
            history,
            info_as_fail,
            step_budget,
        } => {
            let options = checker::CheckOptions {
                step_budget,
                ..checker::CheckOptions::default()
            };
            let file = std::fs::File::open(&history)
                .with_context(|| format!("opening {}", history.display()))?;
            let mut events = checker::history::read_jsonl(std::io::BufReader::new(file))
                .with_context(|| format!("reading {}", history.display()))?;
            if info_as_fail {
                for event in &mut events {
                    if event.kind == checker::EventKind::Info && !event.op.is_read() {
                        event.kind = checker::EventKind::Fail;
                    }
                }
            }
            let verdict = checker::check_events(&events, &options)
                .with_context(|| format!("checking {}", history.display()))?;
            print!("{verdict}");
            Ok(match verdict {
                checker::Verdict::Linearizable => 0,
                checker::Verdict::NotLinearizable { .. } => 1,
                checker::Verdict::Unknown { .. } => 2,
            })
        }
        Command::Run {
            workload,
            nemesis,
            time_limit,
            nodes,
            concurrency,
            seed,
            rate,
            fault_duration,
            heal_duration,
            reads,
            ops_per_key,
            client_timeout,
            step_budget,
            snapshot_count,
            artifacts,
            net,
            netns_prefix,
            bridge,
            fleetd,
            when_cut_off,
        } => {
            let workloads = Workload::parse_list(&workload).map_err(anyhow::Error::msg)?;
            let families = Family::parse_list(&nemesis).map_err(anyhow::Error::msg)?;
            anyhow::ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
            anyhow::ensure!(ops_per_key > 0, "--ops-per-key must be positive");
            let seed = seed.unwrap_or_else(random_seed);
            let reads_name = match reads {
                Reads::Quorum => "quorum",
                Reads::Plain => "plain",
            };
            let command = format!(
                "jepsen run --workload {workload} --nemesis {nemesis} --time-limit {}s --nodes \
                 {nodes} --concurrency {concurrency} --rate {rate} --fault-duration {}ms \
                 --heal-duration {}ms --reads {reads_name} --ops-per-key {ops_per_key}{}{} --seed {seed}",
                time_limit.as_secs(),
                fault_duration.as_millis(),
                heal_duration.as_millis(),
                snapshot_count.map_or_else(String::new, |n| format!(" --snapshot-count {n}")),
                if matches!(when_cut_off, WhenCutOff::Keep) {
                    " --when-cut-off keep"
                } else {
                    ""
                },
            );
            let config = RunConfig {
                workloads,
                families,
                time_limit,
                nodes: usize::from(nodes),
                concurrency: usize::from(concurrency),
                seed,
                rate,
                fault: fault_duration,
                heal: heal_duration,
                read_mode: match reads {
                    Reads::Quorum => ReadMode::Quorum,
                    Reads::Plain => ReadMode::Plain,
                },
                ops_per_key,
                client_timeout,
                artifacts,
                lab: LabConfig {
                    nodes: usize::from(nodes),
                    net,
                    prefix: netns_prefix,
                    bridge,
                },
                step_budget,
                command: command.clone(),
                holder: std::env::current_exe().ok(),
                units_keep_when_cut_off: matches!(when_cut_off, WhenCutOff::Keep),
                fleetd: fleetd.or_else(|| {
                    std::env::current_exe()
                        .ok()
                        .map(|exe| exe.with_file_name("fleetd"))
                }),
                snapshot_count,
            };
            watch_signals();
            let outcome = run(&config).context("creating the artifact directory")?;
            match &outcome {
                RunOutcome::Skipped(why) => println!("{why}"),
                RunOutcome::Finished { dir, results } => {
                    eprintln!(
                        "verdict: {} · ops invoked {} ok {} fail {} info {} · faults {} · \
                         anomalies {} · lost writes {}",
                        results.verdict,
                        results.ops.invoked,
                        results.ops.ok,
                        results.ops.fail,
                        results.ops.info,
                        results.faults.values().sum::<u64>(),
                        results.anomalies.len(),
                        results.lost_writes
                    );
                    if let Some(error) = &results.harness_error {
                        eprintln!("harness failure: {error}");
                    }
                    for anomaly in results.anomalies.iter().take(5) {
                        eprintln!(
                            "anomaly {} on {}:\n{}",
                            anomaly.kind, anomaly.subject, anomaly.detail
                        );
                    }
                    if results.verdict != "valid" {
                        eprintln!("replay: {command}");
                    }
                    println!("{}", dir.display());
                }
            }
            Ok(u8::try_from(outcome.exit_code()).unwrap_or(2))
        }
    }
}
