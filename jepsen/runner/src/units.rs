//! The `units` workload: fleet on real hosts, units that must never run on two machines at
//! once (`[X-Fleet] WhenCutOff=stop`), under the nemesis's faults.
//!
//! Every lab node is also a test host running `fleetd` against the lab's Keel members. The
//! workload submits [`UNITS`] such units; each run of one appends beats to a file per unit and
//! machine: its systemd invocation ID and the kernel's uptime, one clock for every host, ten
//! times a second. The kill family crashes a node's host with its Keel member (fleetd,
//! systemd and the units end at once) and boots it again on heal; partitions cut hosts and
//! members alike. After the final heal the workload waits until every unit runs on exactly
//! one machine and beats there again, then the checker reads every beat: any two runs of a
//! unit whose beat intervals overlap are an anomaly (`unit-overlap`), and so is a unit that
//! does not run again after the heal (`unit-not-running`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use testkit::fleet::{Fleet, FleetConfig};
use testkit::lab::Lab;

/// Units the workload runs.
pub const UNITS: usize = 3;

/// fleetd's presence TTL on the hosts: short, so that a lost host's units move within a
/// fault's time.
pub const AGENT_TTL: &str = "3s";

/// How long the units may take to run after submission, and again after the final heal.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(60);

/// One run of a unit on one machine: the first and last beat it wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub unit: String,
    pub machine: String,
    pub invocation: String,
    pub first: f64,
    pub last: f64,
    pub beats: usize,
}

/// An anomaly the checker found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: String,
    pub unit: String,
    pub detail: String,
}

/// The workload's unit names.
pub fn unit_names() -> Vec<String> {
    (1..=UNITS).map(|n| format!("fenced{n}.service")).collect()
}

/// Starts a host with fleetd on every node of `lab`.
///
/// # Errors
/// When real hosts cannot run here, or one does not come up.
pub fn start_fleet(lab: &Lab, fleetd: Option<&Path>, dir: &Path) -> Result<Fleet, String> {
    let fleetd = fleetd.ok_or(
        "the units workload needs fleetd: build it with `cargo build --bin fleetd` \
         or pass --fleetd",
    )?;
    if !fleetd.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --bin fleetd`",
            fleetd.display()
        ));
    }
    testkit::host::available()?;
    let config = FleetConfig {
        prefix: format!("{}u", lab.config().prefix),
        fleetd: fleetd.to_owned(),
        dir: dir.join("hosts"),
        agent_ttl: AGENT_TTL.to_owned(),
    };
    Fleet::start(config, lab, lab.nodes())
}

/// The unit entity of one workload unit, whose beats go to `<beats>/<unit>.<machine ID>`,
/// with `WhenCutOff=<policy>`.
pub fn unit_body(beats: &Path, policy: &str) -> serde_json::Value {
    // `$$` is a literal `$` for systemd; the shell expands the variables.
    let exec = format!(
        "/bin/sh -c 'while :; do read up idle < /proc/uptime; echo \"$$INVOCATION_ID $$up\" >> {}/%n.%m; sleep 0.1; done'",
        beats.display()
    );
    json!({"desiredState": "launched", "options": [
        {"section": "Service", "name": "ExecStart", "value": exec},
        {"section": "X-Fleet", "name": "WhenCutOff", "value": policy},
    ]})
}

/// Submits the workload's units (`WhenCutOff=<policy>`) through the first API that takes
/// them.
///
/// # Errors
/// When no fleetd accepts a unit.
pub fn submit(fleet: &Fleet, beats: &Path, policy: &str) -> Result<Vec<String>, String> {
    let body = unit_body(beats, policy);
    let units = unit_names();
    for unit in &units {
        let path = format!("/fleet/v1/units/{unit}");
        let status = (0..fleet.hosts().len())
            .map(|i| fleet.put_json(i, &path, &body))
            .find(|status| *status == 201 || *status == 204);
        if status.is_none() {
            return Err(format!("no fleetd accepted {unit}\n{}", fleet.logs()));
        }
    }
    Ok(units)
}

/// The kernel's uptime in seconds: the clock of every beat.
///
/// # Errors
/// When `/proc/uptime` cannot be read.
pub fn uptime() -> Result<f64, String> {
    let text = std::fs::read_to_string("/proc/uptime").map_err(|e| e.to_string())?;
    text.split_whitespace()
        .next()
        .and_then(|up| up.parse().ok())
        .ok_or_else(|| format!("unreadable /proc/uptime: {text:?}"))
}

/// Waits until every unit is reported active on exactly one machine and has beaten there
/// after `since` (uptime seconds); the units that did not, with what was seen last.
pub fn wait_settled(
    fleet: &Fleet,
    units: &[String],
    beats: &Path,
    since: f64,
    deadline: Duration,
) -> BTreeMap<String, String> {
    let start = Instant::now();
    loop {
        let mut waiting = BTreeMap::new();
        for unit in units {
            if let Some(why) = unsettled(fleet, unit, beats, since) {
                waiting.insert(unit.clone(), why);
            }
        }
        if waiting.is_empty() || start.elapsed() > deadline || crate::run::interrupted() {
            return waiting;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Why `unit` is not settled yet, or `None` when it is.
fn unsettled(fleet: &Fleet, unit: &str, beats: &Path, since: f64) -> Option<String> {
    let Some(machines) = fleet.active_on(unit) else {
        return Some("no fleet API answered".to_owned());
    };
    let [machine] = machines.as_slice() else {
        let reports = fleet.reports_of(unit).unwrap_or_default();
        return Some(format!(
            "reported active on {machines:?}; its reports: {reports:?}"
        ));
    };
    let last = read_beats(&beats.join(format!("{unit}.{machine}")))
        .last()
        .map(|(_, up)| *up);
    match last {
        Some(up) if up > since => None,
        _ => Some(format!("active on {machine}, no beat there since the heal")),
    }
}

/// The beats of one file: (invocation ID, uptime) per well-formed line.
pub fn read_beats(path: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    parse_beats(&text)
}

/// Parses beat lines; a line cut short by a crash is skipped.
pub fn parse_beats(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|line| {
            let (invocation, up) = line.split_once(' ')?;
            let up: f64 = up.trim().parse().ok()?;
            (!invocation.is_empty()).then(|| (invocation.to_owned(), up))
        })
        .collect()
}

/// Every run in the beat directory, from files named `<unit>.<machine ID>`.
pub fn read_runs(beats: &Path) -> Vec<Run> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(beats)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut runs = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((unit, machine)) = name.rsplit_once('.') else {
            continue;
        };
        runs.extend(runs_of(unit, machine, &read_beats(&file)));
    }
    runs
}

/// Groups one file's beats into runs by invocation ID.
pub fn runs_of(unit: &str, machine: &str, beats: &[(String, f64)]) -> Vec<Run> {
    let mut by_invocation: BTreeMap<&str, Run> = BTreeMap::new();
    for (invocation, up) in beats {
        let run = by_invocation.entry(invocation).or_insert_with(|| Run {
            unit: unit.to_owned(),
            machine: machine.to_owned(),
            invocation: invocation.clone(),
            first: *up,
            last: *up,
            beats: 0,
        });
        run.first = run.first.min(*up);
        run.last = run.last.max(*up);
        run.beats += 1;
    }
    by_invocation.into_values().collect()
}

/// Any two runs of one unit whose beat intervals overlap.
pub fn overlaps(runs: &[Run]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            if a.unit == b.unit && a.first <= b.last && b.first <= a.last {
                findings.push(Finding {
                    kind: "unit-overlap".to_owned(),
                    unit: a.unit.clone(),
                    detail: format!(
                        "ran on {} ({:.1}–{:.1} s uptime) and on {} ({:.1}–{:.1} s) at once",
                        a.machine, a.first, a.last, b.machine, b.first, b.last
                    ),
                });
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(machine: &str, invocation: &str, first: f64, last: f64) -> Run {
        Run {
            unit: "u.service".into(),
            machine: machine.into(),
            invocation: invocation.into(),
            first,
            last,
            beats: 2,
        }
    }

    /// Goal: beat lines parse into runs by invocation, torn lines are skipped.
    /// Method: a file with two invocations and a line cut short by a crash.
    #[test]
    fn beats_group_into_runs() {
        let beats = parse_beats("aa 10.00\naa 10.10\naa 10.2\nbb 20.5\nbb 2");
        let beats: Vec<_> = beats.into_iter().filter(|(_, up)| *up > 5.0).collect();
        let runs = runs_of("u.service", "m1", &beats);
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].first, runs[0].last, runs[0].beats),
            (10.0, 10.2, 3)
        );
        assert_eq!((runs[1].first, runs[1].last), (20.5, 20.5));
        assert!(parse_beats("aa\n 3.0\naa x\n").is_empty());
    }

    /// Goal: the checker flags two runs of a unit that overlap, and only those.
    /// Method: runs that follow each other, that overlap, and of another unit.
    #[test]
    fn overlapping_runs_are_found() {
        let apart = [run("m1", "a", 1.0, 5.0), run("m2", "b", 5.1, 9.0)];
        assert!(overlaps(&apart).is_empty());
        let mut other = run("m2", "c", 2.0, 3.0);
        other.unit = "v.service".into();
        assert!(overlaps(&[run("m1", "a", 1.0, 5.0), other]).is_empty());
        let both = [
            run("m1", "a", 1.0, 5.0),
            run("m2", "b", 4.9, 9.0),
            run("m3", "c", 10.0, 11.0),
        ];
        let found = overlaps(&both);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.contains("m1") && found[0].detail.contains("m2"));
    }
}
