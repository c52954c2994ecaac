//! Progress of `jepsen run`, on stderr only, so stdout keeps its one job (the artifact
//! directory as the last line).
//!
//! When stderr is a terminal, each phase's load draws an `indicatif` bar of its time, redrawn
//! at most every [`BAR_PERIOD`], and other lines print above it. Otherwise every line is plain
//! text with a `jepsen: ` prefix and no control characters, and while load runs a status line
//! comes at most every [`PLAIN_PERIOD`] (`jepsen: phase 1/2 register, 12.0 s of 30 s, 1834
//! ops, 1800 ok, 3 failed, 31 info, fault partition`). The text is a pure function
//! ([`load_line`]); [`Progress`] only decides where it goes and when.

use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keel_cli::progress::Throttle;

use crate::report::OpCounts;

/// At most one plain status line per this period (a CI log stays readable).
pub const PLAIN_PERIOD: Duration = Duration::from_secs(5);
/// At most one bar update per this period.
pub const BAR_PERIOD: Duration = Duration::from_millis(250);

/// Where a phase's load stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadStatus<'a> {
    /// The phase, from 1.
    pub phase: usize,
    /// Phases in the run (one per workload).
    pub phases: usize,
    /// The workload's name.
    pub workload: &'a str,
    /// Time since the load started.
    pub elapsed: Duration,
    /// The load's length.
    pub total: Duration,
    /// Client operations so far, for workloads whose clients are recorded.
    pub ops: Option<OpCounts>,
    /// The fault in effect, if any.
    pub fault: Option<&'a str>,
}

/// `phase 1/2 register`: how lines of a phase start.
pub fn phase_label(phase: usize, phases: usize, workload: &str) -> String {
    format!("phase {phase}/{phases} {workload}")
}

/// The status line of a phase's load: `phase 1/2 register, 12.0 s of 30 s, 1834 ops, 1800
/// ok, 3 failed, 31 info, fault partition` (`no fault` when calm; no counts for the units
/// workload, whose load is the units themselves).
pub fn load_line(status: &LoadStatus<'_>) -> String {
    let mut text = format!(
        "{}, {:.1} s of {:.0} s",
        phase_label(status.phase, status.phases, status.workload),
        status.elapsed.as_secs_f64(),
        status.total.as_secs_f64()
    );
    if let Some(ops) = status.ops {
        text.push_str(&format!(
            ", {} ops, {} ok, {} failed, {} info",
            ops.invoked, ops.ok, ops.fail, ops.info
        ));
    }
    match status.fault {
        Some(fault) => text.push_str(&format!(", fault {fault}")),
        None => text.push_str(", no fault"),
    }
    text
}

/// A plain line: the binary's name, then `text` with any control character dropped.
pub fn plain(text: &str) -> String {
    keel_cli::progress::plain_line("jepsen", text)
}

struct State {
    bar: Option<ProgressBar>,
    throttle: Throttle,
}

/// The run's progress output, shared by `&` between the run and its ticker task.
pub struct Progress {
    terminal: bool,
    state: Mutex<State>,
}

impl Progress {
    /// Progress on stderr: bars when it is a terminal, plain lines otherwise.
    pub fn stderr() -> Progress {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new(State {
                bar: None,
                throttle: Throttle::new(Instant::now(), PLAIN_PERIOD),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A line that stays: above the bar on a terminal, a plain line otherwise.
    pub fn line(&self, text: &str) {
        let state = self.lock();
        match &state.bar {
            Some(bar) => bar.println(plain(text)),
            None => eprintln!("{}", plain(text)),
        }
    }

    /// A phase's load of `total` starts: on a terminal its bar appears.
    pub fn start_load(&self, total: Duration) {
        let mut state = self.lock();
        let now = Instant::now();
        if self.terminal {
            let length = u64::try_from(total.as_millis()).unwrap_or(u64::MAX);
            let target = ProgressDrawTarget::stderr_with_hz(4);
            let bar = ProgressBar::with_draw_target(Some(length.max(1)), target);
            if let Ok(style) = ProgressStyle::with_template("[{bar:30}] {msg}") {
                bar.set_style(style.progress_chars("#>-"));
            }
            state.bar = Some(bar);
            state.throttle = Throttle::new(now, BAR_PERIOD);
        } else {
            state.throttle = Throttle::new(now, PLAIN_PERIOD);
        }
    }

    /// Shows `status()` if an update is due (`status` is not called otherwise).
    pub fn update(&self, status: impl FnOnce() -> (Duration, String)) {
        let mut state = self.lock();
        if !state.throttle.due(Instant::now()) {
            return;
        }
        let (elapsed, text) = status();
        match &state.bar {
            Some(bar) => {
                // Message first: the position's redraw then shows both new.
                bar.set_message(text);
                bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
            }
            None => eprintln!("{}", plain(&text)),
        }
    }

    /// The load ended: the bar goes.
    pub fn end_load(&self) {
        if let Some(bar) = self.lock().bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> OpCounts {
        OpCounts {
            invoked: 1834,
            ok: 1800,
            fail: 3,
            info: 31,
        }
    }

    /// Goal: the status line gives the phase of the total, the workload, the time against the
    /// phase's length, the operations by outcome and the fault in effect.
    /// Method: one status under a partition, one calm, one of the units workload (no ops).
    #[test]
    fn load_lines() {
        let mut status = LoadStatus {
            phase: 1,
            phases: 2,
            workload: "register",
            elapsed: Duration::from_millis(12_040),
            total: Duration::from_secs(30),
            ops: Some(counts()),
            fault: Some("partition"),
        };
        assert_eq!(
            load_line(&status),
            "phase 1/2 register, 12.0 s of 30 s, 1834 ops, 1800 ok, 3 failed, 31 info, \
             fault partition"
        );
        status.fault = None;
        assert!(load_line(&status).ends_with("31 info, no fault"));
        status.workload = "units";
        status.ops = None;
        status.fault = Some("kill");
        assert_eq!(
            plain(&load_line(&status)),
            "jepsen: phase 1/2 units, 12.0 s of 30 s, fault kill"
        );
    }

    /// Goal: a plain line never carries a control character, whatever its text holds (a
    /// fault name or an error text from outside).
    #[test]
    fn plain_lines_drop_control_characters() {
        let text = plain("watch: \x1b[2Kreset\r by peer\n");
        assert_eq!(text, "jepsen: watch: [2Kreset by peer");
        assert!(!text.chars().any(char::is_control));
    }
}
