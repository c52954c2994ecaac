//! Progress of a run, on stderr only, so the report on stdout (text or `--json`) is unchanged.
//!
//! When stderr is a terminal an `indicatif` bar redraws at most [`BAR_PERIOD`]; otherwise
//! plain lines (`keel-bench: put 4210/10000 requests, 3.1 s, 1358 req/s, 0 errors`) come at
//! most every [`PLAIN_PERIOD`], plus one when the run ends, and carry no control characters.
//! The text of every line is a pure function of the run's counters (the `*_line` functions);
//! [`Progress`] only decides where it goes and when.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use keel_cli::progress::Throttle;

/// At most one plain line per this period (a log stays readable, a long run still shows life).
pub const PLAIN_PERIOD: Duration = Duration::from_secs(5);
/// At most one bar update per this period (a terminal redraw costs the load generator CPU).
pub const BAR_PERIOD: Duration = Duration::from_millis(250);
/// The bar's length: fractions are drawn in thousandths.
const BAR_STEPS: u64 = 1000;

/// Where a load run (`put`, `get`, `mixed`) stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadStatus<'a> {
    /// The workload's name.
    pub workload: &'a str,
    /// Requests answered so far (with success or not).
    pub done: u64,
    /// Of how many, when bounded by a count.
    pub total: Option<u64>,
    /// Requests that failed so far.
    pub errors: u64,
    /// Time since the first request.
    pub elapsed: Duration,
    /// The run's length, when bounded by time.
    pub duration: Option<Duration>,
}

/// How far a run bounded by a count, a time, or both (whichever ends first) has come, in 0..=1.
pub fn fraction(
    done: u64,
    total: Option<u64>,
    elapsed: Duration,
    duration: Option<Duration>,
) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    let by_count = total.map(|total| done as f64 / total.max(1) as f64);
    let by_time = duration.map(|d| elapsed.as_secs_f64() / d.as_secs_f64().max(1e-9));
    let fraction = match (by_count, by_time) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    fraction.map(|f| f.clamp(0.0, 1.0))
}

/// The line of a load run: `put 4210/10000 requests, 3.1 s, 1358 req/s, 0 errors`, or with
/// a time bound `get 4210 requests, 3.1 s of 10 s, ...`.
pub fn load_line(status: &LoadStatus<'_>) -> String {
    let seconds = status.elapsed.as_secs_f64();
    let count = match status.total {
        Some(total) => format!("{}/{total}", status.done),
        None => status.done.to_string(),
    };
    let time = match status.duration {
        Some(duration) => format!("{seconds:.1} s of {} s", duration.as_secs_f64()),
        None => format!("{seconds:.1} s"),
    };
    #[allow(clippy::cast_precision_loss)]
    let rate = status.done as f64 / seconds.max(1e-9);
    format!(
        "{} {count} requests, {time}, {rate:.0} req/s, {} errors",
        status.workload, status.errors
    )
}

/// The line of a watch-latency run: `watch-latency 40/100 PUTs, 0.4 s`.
pub fn watch_line(done: u64, puts: u64, elapsed: Duration) -> String {
    format!(
        "watch-latency {done}/{puts} PUTs, {:.1} s",
        elapsed.as_secs_f64()
    )
}

/// The line of an fsync probe: `fsync 1234 syncs, 2.0 s of 5 s`.
pub fn fsync_line(syncs: u64, elapsed: Duration, duration: Duration) -> String {
    format!(
        "fsync {syncs} syncs, {:.1} s of {} s",
        elapsed.as_secs_f64(),
        duration.as_secs_f64()
    )
}

/// A plain line: the binary's name, then `text` with any control character dropped.
pub fn plain(text: &str) -> String {
    keel_cli::progress::plain_line("keel-bench", text)
}

enum Sink {
    Bar(ProgressBar),
    Plain,
    Off,
}

/// Progress output of one run: a bar on a terminal, plain lines otherwise, or nothing.
pub struct Progress {
    sink: Sink,
    throttle: Throttle,
}

impl Progress {
    /// Progress on stderr (a bar when it is a terminal), or none when `enabled` is false.
    pub fn stderr(enabled: bool) -> Progress {
        let sink = match (enabled, std::io::stderr().is_terminal()) {
            (false, _) => Sink::Off,
            (true, false) => Sink::Plain,
            (true, true) => {
                let target = ProgressDrawTarget::stderr_with_hz(4);
                let bar = ProgressBar::with_draw_target(Some(BAR_STEPS), target);
                if let Ok(style) = ProgressStyle::with_template("[{bar:30}] {percent:>3}% {msg}") {
                    bar.set_style(style.progress_chars("#>-"));
                }
                Sink::Bar(bar)
            }
        };
        let period = match sink {
            Sink::Bar(_) => BAR_PERIOD,
            Sink::Plain | Sink::Off => PLAIN_PERIOD,
        };
        Progress {
            sink,
            throttle: Throttle::new(Instant::now(), period),
        }
    }

    /// No output at all.
    pub fn off() -> Progress {
        Progress::stderr(false)
    }

    /// Shows `status()` (a fraction done, when known, and the line's text) if an update is
    /// due; `status` is not called otherwise, so a tight loop may call this on every step.
    pub fn tick(&mut self, status: impl FnOnce() -> (Option<f64>, String)) {
        if matches!(self.sink, Sink::Off) || !self.throttle.due(Instant::now()) {
            return;
        }
        let (fraction, text) = status();
        match &self.sink {
            Sink::Bar(bar) => {
                // Message first: the position's redraw then shows both new.
                bar.set_message(text);
                if let Some(fraction) = fraction {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    bar.set_position((fraction * BAR_STEPS as f64) as u64);
                }
            }
            Sink::Plain => eprintln!("{}", plain(&text)),
            Sink::Off => {}
        }
    }

    /// Ends the output: the bar is cleared; a plain line with the final `text` is printed.
    pub fn finish(self, text: &str) {
        match self.sink {
            Sink::Bar(bar) => bar.finish_and_clear(),
            Sink::Plain => eprintln!("{}, done", plain(text)),
            Sink::Off => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a load line names the workload, the count against its bound, the time, the rate
    /// and the errors. Method: one run bounded by a count, one by a time.
    #[test]
    fn load_lines() {
        let mut status = LoadStatus {
            workload: "put",
            done: 4210,
            total: Some(10_000),
            errors: 2,
            elapsed: Duration::from_millis(3100),
            duration: None,
        };
        assert_eq!(
            load_line(&status),
            "put 4210/10000 requests, 3.1 s, 1358 req/s, 2 errors"
        );
        status.total = None;
        status.duration = Some(Duration::from_secs(10));
        status.workload = "get-quorum";
        assert_eq!(
            load_line(&status),
            "get-quorum 4210 requests, 3.1 s of 10 s, 1358 req/s, 2 errors"
        );
        assert_eq!(
            plain(&load_line(&status)),
            "keel-bench: get-quorum 4210 requests, 3.1 s of 10 s, 1358 req/s, 2 errors"
        );
    }

    /// Goal: the watch and fsync lines say how far they are. Method: one of each.
    #[test]
    fn watch_and_fsync_lines() {
        assert_eq!(
            watch_line(40, 100, Duration::from_millis(420)),
            "watch-latency 40/100 PUTs, 0.4 s"
        );
        assert_eq!(
            fsync_line(1234, Duration::from_secs(2), Duration::from_secs(5)),
            "fsync 1234 syncs, 2.0 s of 5 s"
        );
    }

    /// Goal: with both bounds, the one nearer its end sets the fraction, which stays in
    /// 0..=1; with neither there is none.
    #[test]
    fn fraction_takes_the_bound_that_ends_first() {
        let secs = Duration::from_secs;
        assert_eq!(fraction(50, Some(100), secs(1), Some(secs(10))), Some(0.5));
        assert_eq!(fraction(10, Some(100), secs(5), Some(secs(10))), Some(0.5));
        assert_eq!(fraction(300, Some(100), secs(0), None), Some(1.0));
        assert_eq!(fraction(0, Some(0), secs(0), None), Some(0.0));
        assert_eq!(fraction(7, None, secs(1), None), None);
    }

    /// Goal: a plain line never carries control characters, whatever its text holds.
    #[test]
    fn plain_lines_drop_control_characters() {
        let line = plain("put\r\x1b[2K 3 requests\n");
        assert_eq!(line, "keel-bench: put[2K 3 requests");
        assert!(!line.chars().any(char::is_control));
    }
}
