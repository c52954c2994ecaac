//! This host's facts that fleetd publishes in its machine record: the capacity it offers to
//! units' `Cpu=`/`Memory=` requests.
//!
//! Invariants: a configured value always beats a detected one; detection never fails the
//! daemon (a fact that cannot be read counts as zero, with a warning, so requests are refused
//! here rather than overcommitted). Reads `/proc/meminfo` and the online CPU count only.

use crate::config::Config;
use fleet_core::resources::Resources;

/// The capacity to publish: `capacity_cpu`/`capacity_memory` from the configuration, else
/// one core per CPU this process may run on and the host's `MemTotal`.
#[must_use]
pub fn capacity(config: &Config) -> Resources {
    let cpu_millis = config.capacity_cpu.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or_else(
            |error| {
                tracing::warn!(%error, "cannot count CPUs; offering no CPU to requests");
                0
            },
            |count| {
                u64::try_from(count.get())
                    .unwrap_or(u64::MAX)
                    .saturating_mul(1000)
            },
        )
    });
    let memory_bytes = config.capacity_memory.unwrap_or_else(|| {
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| mem_total(&text));
        total.unwrap_or_else(|| {
            tracing::warn!("cannot read MemTotal from /proc/meminfo; offering no memory");
            0
        })
    });
    Resources {
        cpu_millis,
        memory_bytes,
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kibibytes: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kibibytes.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: MemTotal is read in kB and returned in bytes; other shapes give nothing.
    // Method: hand-made meminfo texts.
    #[test]
    fn mem_total_reads_the_kernel_line() {
        let text = "MemFree:  100 kB\nMemTotal:       16318480 kB\n";
        assert_eq!(mem_total(text), Some(16_318_480 * 1024));
        assert_eq!(mem_total("MemTotal: 12 MB\n"), None);
        assert_eq!(mem_total(""), None);
    }

    // Goal: configured values beat detection. Method: a config with both overrides.
    #[test]
    fn configured_capacity_wins() {
        let environment = [
            ("FLEET_CAPACITY_CPU".to_owned(), "2".to_owned()),
            ("FLEET_CAPACITY_MEMORY".to_owned(), "1G".to_owned()),
        ]
        .into();
        let config = Config::from_sources(None, &environment).expect("valid");
        assert_eq!(
            capacity(&config),
            Resources {
                cpu_millis: 2000,
                memory_bytes: 1 << 30
            }
        );
    }
}
