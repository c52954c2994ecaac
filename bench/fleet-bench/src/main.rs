//! `fleet-bench`: measures Keel's fleet scheduler.
//!
//! `fleet-bench engine --machines 1000 --units 10000` builds a cluster (machines with
//! capacities, zones and multi-valued metadata; units with CPU and memory requests, metadata
//! expressions, template instances spread over zones, some `Conflicts`) and times the
//! engine's pure placement pass (`fleet_core::schedule::plan`) from nothing placed: every
//! filter and every score part runs for every unit on every machine. Prints one JSON line:
//! placements, unplaceable units, seconds and placements per second, the best of `--runs`.
//! With `--members N` the same pass runs in fleetd's engine against a real Keel cluster of
//! N members, its registry reads and writes included ([`writes`]).
//!
//! `fleet-bench agents --machines 1000 --units 10000` runs simulated machines against a real
//! Keel cluster ([`agents`]).
//!
//! Progress goes to stderr ([`progress`]): a live line on a terminal, plain lines otherwise.
//!
//! Benchmarks, never tests: nothing is asserted.

mod agents;
mod generated;
mod keel;
mod progress;
mod running;
mod stats;
mod writes;

/// mimalloc, as Keel's server uses: one process here runs a thousand agents and their
/// clients, and glibc malloc took a tenth of its CPU in profiles of `agents`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use fleet_core::schedule::{plan, Decision};
use generated::Generated;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about = "Benchmarks of Keel's fleet scheduler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Time the engine's placement pass on a generated cluster.
    Engine {
        /// Machines in the cluster.
        #[arg(long, default_value_t = 1000)]
        machines: usize,
        /// Units to place.
        #[arg(long, default_value_t = 10_000)]
        units: usize,
        /// Passes to time; the best is reported (without `--members`).
        #[arg(long, default_value_t = 3)]
        runs: u32,
        /// Run the pass in fleetd's engine against a Keel cluster of this many members
        /// (started from `KEEL_BIN` or the workspace's build), its registry writes included;
        /// 0: the pure pass alone.
        #[arg(long, default_value_t = 0)]
        members: usize,
        /// Records written at once while setting the cluster up (with `--members`).
        #[arg(long, default_value_t = 256)]
        setup_parallel: usize,
        /// The bound of each phase, in seconds (with `--members`).
        #[arg(long, default_value_t = 600)]
        deadline: u64,
    },
    /// Run simulated machines (fleetd's agent on a modelled systemd) against real Keel.
    Agents {
        /// Simulated machines.
        #[arg(long, default_value_t = 1000)]
        machines: usize,
        /// Units to submit.
        #[arg(long, default_value_t = 10_000)]
        units: usize,
        /// Keel members (started from `KEEL_BIN` or the workspace's build).
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// The agents' presence TTL, in seconds.
        #[arg(long, default_value_t = 30)]
        agent_ttl: u64,
        /// The window with nothing changing, in seconds.
        #[arg(long, default_value_t = 60)]
        steady: u64,
        /// The bound of each phase, in seconds.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// Units submitted at once (each is a read and two writes, one after another), as by
        /// that many clients.
        #[arg(long, default_value_t = 256)]
        submit_parallel: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Engine {
            machines,
            units,
            members: 0,
            runs,
            ..
        } => engine(machines, units, runs),
        Command::Engine {
            machines,
            units,
            members,
            setup_parallel,
            deadline,
            ..
        } => writes::run(&writes::Settings {
            machines,
            units,
            members,
            setup_parallel: setup_parallel.max(1),
            deadline: Duration::from_secs(deadline),
        }),
        Command::Agents {
            machines,
            units,
            members,
            agent_ttl,
            steady,
            deadline,
            submit_parallel,
        } => agents::run(&agents::Settings {
            machines,
            units,
            members,
            agent_ttl: Duration::from_secs(agent_ttl),
            steady: Duration::from_secs(steady),
            deadline: Duration::from_secs(deadline),
            submit_parallel: submit_parallel.max(1),
        }),
    }
}

fn engine(machines: usize, units: usize, runs: u32) -> Result<()> {
    let progress = progress::Progress::stderr(1 + runs.max(1) as usize);
    progress.phase("generate the cluster");
    let cluster = Generated::new(machines, units)?.snapshot()?;
    let mut best = Duration::MAX;
    let mut placed = 0;
    let mut unplaceable = 0;
    for run in 1..=runs.max(1) {
        progress.phase(&format!("placement pass {run}"));
        let start = Instant::now();
        let planned = plan(&cluster);
        let elapsed = start.elapsed();
        best = best.min(elapsed);
        placed = planned
            .decisions
            .iter()
            .filter(|d| matches!(d, Decision::Place { .. }))
            .count();
        unplaceable = planned.decisions.len() - placed;
    }
    progress.finish();
    let seconds = best.as_secs_f64();
    let line = serde_json::json!({
        "benchmark": "engine",
        "machines": machines,
        "units": units,
        "placed": placed,
        "unplaceable": unplaceable,
        "seconds": seconds,
        "placementsPerSecond": (placed as f64 / seconds).round(),
    });
    println!("{line}");
    Ok(())
}
