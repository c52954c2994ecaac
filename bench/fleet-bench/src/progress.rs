//! Progress of a benchmark's phases, on stderr only, so the JSON line on stdout is unchanged.
//!
//! When stderr is a terminal an `indicatif` live line (spinner, phase, count, elapsed time)
//! redraws at most four times a second; otherwise plain lines, one when each phase starts and
//! at most one per [`PLAIN_PERIOD`] while it counts (`fleet-bench: phase 5/8 units running,
//! 834/10000 units, 12.0 s`), and a last one when the run ends, with no control characters.
//! The text is a pure function ([`line`]); [`Progress`] only decides where it goes and when.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keel_cli::progress::Throttle;

/// At most one plain line per this period within a phase (a log stays readable).
pub const PLAIN_PERIOD: Duration = Duration::from_secs(5);
/// At most one live-line update per this period (the spinner redraws on its own).
pub const LIVE_PERIOD: Duration = Duration::from_millis(250);

/// How far a phase has counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Done so far.
    pub done: u64,
    /// Of how many.
    pub of: u64,
    /// What is counted (`units`, `records`, `s`).
    pub what: &'static str,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status<'a> {
    /// The phase, from 1.
    pub phase: usize,
    /// Phases in the run.
    pub phases: usize,
    /// The phase's name.
    pub name: &'a str,
    /// The phase's count, if it counts something.
    pub count: Option<Count>,
    /// Time in the phase, when shown in the text.
    pub elapsed: Option<Duration>,
}

/// The text of a status: `phase 5/8 units running, 834/10000 units, 12.0 s`.
pub fn line(status: &Status<'_>) -> String {
    let mut text = format!("phase {}/{} {}", status.phase, status.phases, status.name);
    if let Some(count) = status.count {
        text.push_str(&format!(", {}/{} {}", count.done, count.of, count.what));
    }
    if let Some(elapsed) = status.elapsed {
        text.push_str(&format!(", {:.1} s", elapsed.as_secs_f64()));
    }
    text
}

/// A plain line: the binary's name, then `text` with any control character dropped.
pub fn plain(text: &str) -> String {
    keel_cli::progress::plain_line("fleet-bench", text)
}

enum Sink {
    Live(ProgressBar),
    Plain,
}

struct State {
    sink: Sink,
    phase: usize,
    name: String,
    phase_started: Instant,
    throttle: Throttle,
}

/// The progress output of one run of `phases` phases; shared by `&` between the tasks that
/// count.
pub struct Progress {
    phases: usize,
    started: Instant,
    state: Mutex<State>,
}

impl Progress {
    /// Progress on stderr: a live line when it is a terminal, plain lines otherwise.
    pub fn stderr(phases: usize) -> Progress {
        let sink = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(LIVE_PERIOD);
            Sink::Live(bar)
        } else {
            Sink::Plain
        };
        let now = Instant::now();
        Progress {
            phases,
            started: now,
            state: Mutex::new(State {
                sink,
                phase: 0,
                name: String::new(),
                phase_started: now,
                throttle: Throttle::new(now, PLAIN_PERIOD),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the next phase, called `name`; a plain line says so at once.
    pub fn phase(&self, name: &str) {
        let mut state = self.lock();
        let now = Instant::now();
        state.phase += 1;
        state.name = name.to_owned();
        state.phase_started = now;
        let period = match state.sink {
            Sink::Live(_) => LIVE_PERIOD,
            Sink::Plain => PLAIN_PERIOD,
        };
        state.throttle = Throttle::new(now, period);
        let status = Status {
            phase: state.phase,
            phases: self.phases,
            name,
            count: None,
            elapsed: None,
        };
        match &state.sink {
            Sink::Live(bar) => {
                bar.reset_elapsed();
                bar.set_message(line(&status));
            }
            Sink::Plain => eprintln!("{}", plain(&line(&status))),
        }
    }

    /// The current phase has counted `count`; shown if an update is due.
    pub fn count(&self, count: Count) {
        let mut state = self.lock();
        let now = Instant::now();
        if !state.throttle.due(now) {
            return;
        }
        let status = Status {
            phase: state.phase,
            phases: self.phases,
            name: &state.name,
            count: Some(count),
            elapsed: None,
        };
        match &state.sink {
            Sink::Live(bar) => bar.set_message(line(&status)),
            Sink::Plain => eprintln!(
                "{}",
                plain(&line(&Status {
                    elapsed: Some(now - state.phase_started),
                    ..status
                }))
            ),
        }
    }

    /// A counter of `of` things (`what`) in the current phase, shown as it goes up.
    pub fn counter(&self, of: u64, what: &'static str) -> Counter<'_> {
        Counter {
            progress: self,
            done: AtomicU64::new(0),
            of,
            what,
        }
    }

    /// Ends the output: the live line is cleared; a plain line gives the run's time.
    pub fn finish(&self) {
        match &self.lock().sink {
            Sink::Live(bar) => bar.finish_and_clear(),
            Sink::Plain => eprintln!(
                "{}",
                plain(&format!(
                    "done, {} phases in {:.1} s",
                    self.phases,
                    self.started.elapsed().as_secs_f64()
                ))
            ),
        }
    }
}

impl Progress {
    /// Ends the output of a run that failed: the live line is cleared, no plain line added.
    pub fn clear(&self) {
        if let Sink::Live(bar) = &self.lock().sink {
            bar.finish_and_clear();
        }
    }
}

/// Counts things done by many concurrent tasks of one phase.
pub struct Counter<'a> {
    progress: &'a Progress,
    done: AtomicU64,
    of: u64,
    what: &'static str,
}

impl Counter<'_> {
    /// One more done.
    pub fn add_one(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.progress.count(Count {
            done,
            of: self.of,
            what: self.what,
        });
    }
}

#[cfg(test)]
mod tests {
    //! The lines a log gets, and how often.

    use super::*;

    #[test]
    fn a_line_names_the_phase_its_count_and_its_time() {
        // Goal: the phase number of the total, its name, the count and the time, each
        // shown only when known.
        // Method: one status with everything, one with the name alone.
        let status = Status {
            phase: 5,
            phases: 8,
            name: "units running",
            count: Some(Count {
                done: 834,
                of: 10_000,
                what: "units",
            }),
            elapsed: Some(Duration::from_millis(12_040)),
        };
        assert_eq!(
            line(&status),
            "phase 5/8 units running, 834/10000 units, 12.0 s"
        );
        let start = Status {
            phase: 1,
            phases: 3,
            name: "generate the cluster",
            count: None,
            elapsed: None,
        };
        assert_eq!(line(&start), "phase 1/3 generate the cluster");
        assert_eq!(
            plain(&line(&start)),
            "fleet-bench: phase 1/3 generate the cluster"
        );
    }

    #[test]
    fn plain_lines_drop_control_characters() {
        // Goal: a plain line never carries a control character, whatever its text holds.
        let text = plain("phase 1/2 \x1b[2Kstart\r\n");
        assert_eq!(text, "fleet-bench: phase 1/2 [2Kstart");
        assert!(!text.chars().any(char::is_control));
    }
}
