//! `fleet-bench`: measures Keel's fleet scheduler.
//!
//! `fleet-bench engine --machines 1000 --units 10000` builds a cluster (machines with
//! capacities, zones and multi-valued metadata; units with CPU and memory requests, metadata
//! expressions, template instances spread over zones, some `Conflicts`) and times the
//! engine's pure placement pass (`fleet_core::schedule::plan`) from nothing placed: every
//! filter and every score part runs for every unit on every machine. Prints one JSON line:
//! placements, unplaceable units, seconds and placements per second, the best of `--runs`.
//!
//! `fleet-bench agents --machines 1000 --units 10000` runs simulated machines against a real
//! Keel cluster ([`agents`]).
//!
//! Benchmarks, never tests: nothing is asserted.

mod agents;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand};
use fleet_core::model::{
    ClusterSnapshot, DesiredState, MachineId, MachineView, Requirements, UnitView,
};
use fleet_core::resources::Resources;
use fleet_core::schedule::{plan, Decision};
use fleet_core::selector::{parse_item, MetadataItem};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Benchmarks of Keel's fleet scheduler")]
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
        /// Passes to time; the best is reported.
        #[arg(long, default_value_t = 3)]
        runs: u32,
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
        /// Units submitted at once (each is a read and two writes, one after another).
        #[arg(long, default_value_t = 32)]
        submit_parallel: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Engine {
            machines,
            units,
            runs,
        } => engine(machines, units, runs),
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
    let cluster = cluster(machines, units)?;
    let mut best = Duration::MAX;
    let mut placed = 0;
    let mut unplaceable = 0;
    for _ in 0..runs.max(1) {
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

/// Machines `m0000`…: 4–16 cores, 8–64 GiB, three zones, a disk type, some with two disk
/// values; units: a third plain services with requests, a third instances of 20 templates
/// spread by zone, a third with expressions, every tenth conflicting with its neighbours.
fn cluster(machines: usize, units: usize) -> Result<ClusterSnapshot> {
    let mut snapshot = ClusterSnapshot::default();
    for n in 0..machines {
        let id = MachineId::parse(&format!("m{n:06}"))?;
        let disks = match n % 4 {
            0 => "ssd,nvme",
            1 => "ssd",
            _ => "hdd",
        };
        let metadata = [
            ("zone".to_owned(), format!("z{}", n % 3)),
            ("disk".to_owned(), disks.to_owned()),
            ("cores".to_owned(), (4 * (1 + n % 4)).to_string()),
        ]
        .into();
        let capacity = Resources {
            cpu_millis: 4000 * (1 + (n % 4) as u64),
            memory_bytes: (8u64 << 30) * (1 + (n % 8) as u64),
        };
        snapshot.machines.insert(
            id.clone(),
            MachineView {
                id,
                metadata,
                capacity: Some(capacity),
                cordoned: false,
                lost: false,
            },
        );
    }
    let expressions = [
        parse_selector("disk in (ssd,nvme)")?,
        parse_selector("cores>=8")?,
    ];
    for n in 0..units {
        let (name, requirements) = match n % 3 {
            0 => (format!("svc{n:06}.service"), Requirements::default()),
            1 => (
                format!("web{}@{n}.service", n % 20),
                Requirements {
                    spread_by: Some("zone".to_owned()),
                    ..Requirements::default()
                },
            ),
            _ => (
                format!("db{n:06}.service"),
                Requirements {
                    selectors: expressions.to_vec(),
                    ..Requirements::default()
                },
            ),
        };
        let mut requirements = requirements;
        requirements.requests = Resources {
            cpu_millis: 100 * (1 + (n % 5) as u64),
            memory_bytes: (256u64 << 20) * (1 + (n % 4) as u64),
        };
        if n % 10 == 0 {
            requirements.conflicts = vec![format!("svc{:06}.service", n + 3)];
        }
        snapshot.units.insert(
            name.clone(),
            UnitView {
                name,
                requirements,
                desired: DesiredState::Launched,
                target: None,
            },
        );
    }
    Ok(snapshot)
}

fn parse_selector(item: &str) -> Result<fleet_core::selector::Selector> {
    match parse_item(item)? {
        MetadataItem::Expression(selector) => Ok(selector),
        MetadataItem::Equal { .. } => anyhow::bail!("{item} is an equality, not an expression"),
    }
}
