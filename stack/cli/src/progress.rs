//! What the progress output of long work (benchmarks, Jepsen runs) shares: when the next
//! update is due, and plain lines safe for a log (no control characters), for when stderr is
//! not a terminal. Each program draws its own bar on a terminal.

use std::time::{Duration, Instant};

/// A plain progress line: `program: text`, any control character of `text` dropped (a
/// carriage return or an escape sequence would garble a CI log).
pub fn plain_line(program: &str, text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    format!("{program}: {clean}")
}

/// Decides when the next update is due: every `period`, the first one `period` after the
/// start.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    period: Duration,
    next: Instant,
}

impl Throttle {
    /// A throttle started at `start`.
    pub fn new(start: Instant, period: Duration) -> Throttle {
        Throttle {
            period,
            next: start + period,
        }
    }

    /// Whether an update is due at `now`; if so the next one is a period later.
    pub fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.period;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a plain line never carries control characters, whatever its text holds.
    // Method: a text with a carriage return, an escape sequence and a newline.
    #[test]
    fn plain_lines_drop_control_characters() {
        let line = plain_line("keel-bench", "put\r\x1b[2K 3 requests\n");
        assert_eq!(line, "keel-bench: put[2K 3 requests");
        assert!(!line.chars().any(char::is_control));
    }

    // Goal: updates come at most once per period, the first a period after the start.
    // Method: a throttle asked at made-up instants.
    #[test]
    fn throttle_caps_the_rate() {
        let start = Instant::now();
        let mut throttle = Throttle::new(start, Duration::from_secs(5));
        let at = |ms| start + Duration::from_millis(ms);
        assert!(!throttle.due(at(0)));
        assert!(!throttle.due(at(4999)));
        assert!(throttle.due(at(5000)));
        assert!(!throttle.due(at(9000)));
        assert!(throttle.due(at(12_000)));
        assert!(!throttle.due(at(16_999)));
        assert!(throttle.due(at(17_000)));
    }
}
