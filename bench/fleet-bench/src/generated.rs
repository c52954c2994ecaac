//! The cluster both engine benchmarks place: machines with capacities, zones and
//! multi-valued metadata, and units given as unit files, so the pure pass and the pass
//! through Keel read the same requirements (the pure pass parses each file's `[X-Fleet]`
//! section as the engine does).
//!
//! Owns [`Generated`]. Depends on `fleet-core`'s model and option parsing and on
//! `fleet-registry`'s machine record.

use anyhow::{Context, Result};
use fleet_core::model::{ClusterSnapshot, DesiredState, MachineId, MachineView, UnitView};
use fleet_core::name::UnitName;
use fleet_core::options::parse_x_fleet;
use fleet_core::resources::Resources;
use fleet_core::unit_file::UnitFile;
use fleet_registry::wire::MachineObject;
use std::collections::BTreeMap;

/// A generated cluster: machine records and unit files, nothing placed.
pub struct Generated {
    /// The machines, as their presence records.
    pub machines: Vec<MachineObject>,
    /// The units, by name, with their files.
    pub units: Vec<(String, UnitFile)>,
}

impl Generated {
    /// Machines `m000000`…: 4–16 cores, 8–64 GiB, three zones, a disk type (a quarter with
    /// two disk values), a numeric `cores` key. Units: a third plain services, a third
    /// instances of 20 templates spread by zone, a third with two metadata expressions;
    /// every unit requests CPU and memory; every tenth conflicts with another.
    ///
    /// # Errors
    /// A generated name or file that does not parse (a defect of the generator).
    pub fn new(machines: usize, units: usize) -> Result<Generated> {
        let machines = (0..machines).map(machine).collect::<Result<Vec<_>>>()?;
        let units = (0..units).map(unit).collect::<Result<Vec<_>>>()?;
        Ok(Generated { machines, units })
    }

    /// The engine's view of the cluster: every unit desired `launched`, its requirements
    /// parsed from its file.
    ///
    /// # Errors
    /// A unit file whose `[X-Fleet]` section does not parse.
    pub fn snapshot(&self) -> Result<ClusterSnapshot> {
        let mut snapshot = ClusterSnapshot::default();
        for machine in &self.machines {
            let view = MachineView {
                id: machine.id.clone(),
                metadata: machine.metadata.clone(),
                capacity: machine.capacity,
                cordoned: false,
                lost: false,
            };
            snapshot.machines.insert(machine.id.clone(), view);
        }
        for (name, file) in &self.units {
            let parsed = UnitName::parse(name).with_context(|| name.clone())?;
            let options = parse_x_fleet(&parsed, file).with_context(|| name.clone())?;
            let view = UnitView {
                name: name.clone(),
                requirements: options.requirements,
                desired: DesiredState::Launched,
                target: None,
            };
            snapshot.units.insert(name.clone(), view);
        }
        Ok(snapshot)
    }
}

fn machine(n: usize) -> Result<MachineObject> {
    let id = MachineId::parse(&format!("m{n:06}")).context("machine ID")?;
    let disks = match n % 4 {
        0 => "ssd,nvme",
        1 => "ssd",
        _ => "hdd",
    };
    let metadata = BTreeMap::from([
        ("zone".to_owned(), format!("z{}", n % 3)),
        ("disk".to_owned(), disks.to_owned()),
        ("cores".to_owned(), (4 * (1 + n % 4)).to_string()),
    ]);
    Ok(MachineObject {
        id,
        public_ip: format!("10.{}.{}.{}", n / 65_536 % 256, n / 256 % 256, n % 256),
        metadata,
        engine_disabled: true,
        version: "bench".to_owned(),
        api_url: None,
        capacity: Some(Resources {
            cpu_millis: 4000 * (1 + (n % 4) as u64),
            memory_bytes: (8u64 << 30) * (1 + (n % 8) as u64),
        }),
        cordoned: false,
    })
}

fn unit(n: usize) -> Result<(String, UnitFile)> {
    let (name, placement) = match n % 3 {
        0 => (format!("svc{n:06}.service"), String::new()),
        1 => (
            format!("web{}@{n}.service", n % 20),
            "SpreadBy=zone\n".to_owned(),
        ),
        _ => (
            format!("db{n:06}.service"),
            "MachineMetadata=\"disk in (ssd,nvme)\" \"cores>=8\"\n".to_owned(),
        ),
    };
    let conflicts = if n.is_multiple_of(10) {
        format!("Conflicts=svc{:06}.service\n", n + 3)
    } else {
        String::new()
    };
    let text = format!(
        "[Service]\nExecStart=/bin/sleep 100000\n[X-Fleet]\n{placement}{conflicts}\
         Cpu={}m\nMemory={}M\n",
        100 * (1 + n % 5),
        256 * (1 + n % 4),
    );
    let file = UnitFile::parse(&text).with_context(|| format!("{name}: {text}"))?;
    Ok((name, file))
}

#[cfg(test)]
mod tests {
    //! The generated files say what the generator means.

    use super::*;

    #[test]
    fn every_kind_of_unit_parses_to_its_requirements() {
        // Goal: the files carry the requests, the spread key, the expressions and the
        // conflicts (a quoting slip would silently drop a filter from the benchmark).
        // Method: generate 30 units and look at four of them in the snapshot.
        let snapshot = Generated::new(4, 30)
            .and_then(|generated| generated.snapshot())
            .expect("the generated cluster parses");
        let plain = &snapshot.units["svc000000.service"].requirements;
        assert_eq!(plain.requests.cpu_millis, 100);
        assert_eq!(plain.requests.memory_bytes, 256 << 20);
        assert_eq!(plain.conflicts, ["svc000003.service"]);
        let instance = &snapshot.units["web1@1.service"].requirements;
        assert_eq!(instance.spread_by.as_deref(), Some("zone"));
        assert!(instance.conflicts.is_empty());
        let selective = &snapshot.units["db000002.service"].requirements;
        assert_eq!(selective.selectors.len(), 2);
        assert_eq!(
            snapshot.units["db000029.service"]
                .requirements
                .requests
                .cpu_millis,
            500
        );
        assert_eq!(snapshot.machines.len(), 4);
    }
}
