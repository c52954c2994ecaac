//! Reboot windows: when a host may reboot.
//!
//! locksmith's syntax is one window, a start `[Day ]H:M` (a three-letter English weekday,
//! any case; hours 0–23, minutes 0–59, `4:5` as good as `04:05`) and a length in Go's
//! duration syntax (`1h30m`, `90m`, `45s`), under 24 h for a daily window and 168 h for a
//! weekly one. Keel adds, opt-in, several windows with weekday sets, starts to the second
//! (`04:00:30`) and an explicit time zone: `Mon-Fri 04:00 1h; Sat,Sun 02:00 3h30m`
//! ([`Schedule::parse`]).
//!
//! A window is open from its start to its start plus its length, both included (as in
//! locksmith). Starts are civil times in the schedule's time zone: a start that falls in a
//! DST gap opens at the first instant after the gap, one in a fold at its first occurrence;
//! the length is elapsed time, so a window across a DST change is as long as it says.
//!
//! Invariants: a window's day set is never empty and its length is below its period; no
//! clock is read here (instants arrive as [`Timestamp`]s) and no time-zone database: the
//! caller resolves the zone ([`TimeZone`]).

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// One day's worth, for the length bounds.
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The weekdays in locksmith's order and spelling.
const WEEKDAYS: [(&str, Weekday); 7] = [
    ("sun", Weekday::Sunday),
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
];

/// A window or schedule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The start is not `[Day ]H:M`.
    #[error("reboot window start {start:?} is not [Day ]H:M: {reason}")]
    BadStart {
        /// The text given.
        start: String,
        /// What is wrong.
        reason: String,
    },
    /// The length is not a Go duration.
    #[error("reboot window length {length:?} is not a duration such as 1h30m")]
    BadLength {
        /// The text given.
        length: String,
    },
    /// The length is negative or not below the window's period.
    #[error("reboot window length {length:?} must be at least 0 and less than {period}")]
    LengthOutOfRange {
        /// The text given.
        length: String,
        /// `24h` or `168h`.
        period: &'static str,
    },
    /// Only one of start and length was given.
    #[error("reboot window start and length must be set together")]
    HalfWindow,
    /// A schedule entry is not `[DAYS] H:M LENGTH`.
    #[error("reboot window {entry:?} is not [DAYS] H:M LENGTH")]
    BadEntry {
        /// The entry.
        entry: String,
    },
}

/// One recurring window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The weekdays it opens on, indexed by `Weekday::to_sunday_zero_offset`; all seven for
    /// a daily window.
    days: [bool; 7],
    hour: i8,
    minute: i8,
    second: i8,
    length: Duration,
}

impl Window {
    /// locksmith's window from `LOCKSMITHD_REBOOT_WINDOW_START` and `_LENGTH`; neither set
    /// means no window.
    ///
    /// # Errors
    /// [`WindowError`] for a malformed start or length, a length out of range, or one of the
    /// two alone.
    pub fn from_locksmith(
        start: Option<&str>,
        length: Option<&str>,
    ) -> Result<Option<Window>, WindowError> {
        let (start, length) = match (start, length) {
            (None, None) => return Ok(None),
            (Some(start), Some(length)) => (start, length),
            _ => return Err(WindowError::HalfWindow),
        };
        let fields: Vec<&str> = start.split_whitespace().collect();
        let (days, clock) = match fields.as_slice() {
            [clock] => ([true; 7], *clock),
            [day, clock] => (day_set(day, start)?, *clock),
            _ => return Err(bad_start(start, "expected one or two fields")),
        };
        Window::new(days, parse_clock(clock, start, false)?, length).map(Some)
    }

    fn new(
        days: [bool; 7],
        (hour, minute, second): (i8, i8, i8),
        length: &str,
    ) -> Result<Window, WindowError> {
        let length_value = parse_go_duration(length)?;
        let daily = days.iter().all(|day| *day);
        let (limit, period) = if daily {
            (DAY, "24h")
        } else {
            (DAY * 7, "168h")
        };
        if length_value >= limit {
            return Err(WindowError::LengthOutOfRange {
                length: length.to_owned(),
                period,
            });
        }
        Ok(Window {
            days,
            hour,
            minute,
            second,
            length: length_value,
        })
    }

    /// The window's length.
    #[must_use]
    pub fn length(&self) -> Duration {
        self.length
    }

    /// The occurrence of this window that starts on `date` in `zone`, if it opens that day.
    fn occurrence(&self, date: Date, zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
        let day = usize::try_from(date.weekday().to_sunday_zero_offset()).ok()?;
        if !self.days[day] {
            return None;
        }
        let start = date
            .at(self.hour, self.minute, self.second, 0)
            .to_zoned(zone.clone())
            .ok()?
            .timestamp();
        let length = SignedDuration::try_from(self.length).ok()?;
        let end = start.checked_add(length).ok()?;
        Some((start, end))
    }

    /// The occurrences that start on the days from `before` days before `at`'s date to
    /// `after` days after it, in order.
    fn occurrences(
        &self,
        at: Timestamp,
        zone: &TimeZone,
        before: i64,
        after: i64,
    ) -> Vec<(Timestamp, Timestamp)> {
        let today = at.to_zoned(zone.clone()).date();
        (-before..=after)
            .filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok())
            .filter_map(|date| self.occurrence(date, zone))
            .collect()
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.days.iter().all(|day| *day) {
            let names: Vec<&str> = WEEKDAYS
                .iter()
                .enumerate()
                .filter(|(index, _)| self.days[*index])
                .map(|(_, (name, _))| *name)
                .collect();
            write!(f, "{} ", names.join(","))?;
        }
        let length = SignedDuration::try_from(self.length).unwrap_or(SignedDuration::ZERO);
        write!(f, "{:02}:{:02}", self.hour, self.minute)?;
        if self.second != 0 {
            write!(f, ":{:02}", self.second)?;
        }
        write!(f, " {length:#}")
    }
}

/// When a host may reboot: any of its windows open, in its time zone; no window means always.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    windows: Vec<Window>,
    zone: TimeZone,
}

impl Schedule {
    /// A schedule of `windows` in `zone` (none: always open).
    #[must_use]
    pub fn new(windows: Vec<Window>, zone: TimeZone) -> Schedule {
        Schedule { windows, zone }
    }

    /// Keel's syntax: entries `[DAYS] H:M[:S] LENGTH` separated by `;`, where DAYS is a weekday,
    /// a list (`Mon,Wed`) or a range (`Mon-Fri`, `Sat-Mon`), absent for every day.
    ///
    /// # Errors
    /// [`WindowError`] for the first malformed entry.
    pub fn parse(text: &str, zone: TimeZone) -> Result<Schedule, WindowError> {
        let windows = text
            .split(';')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_entry)
            .collect::<Result<Vec<Window>, WindowError>>()?;
        Ok(Schedule { windows, zone })
    }

    /// The windows.
    #[must_use]
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Whether a reboot may start at `at`.
    #[must_use]
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.open_until(at).is_some()
    }

    /// The end of the latest-ending window open at `at`; `None` when none is open. Without
    /// windows, the far future.
    #[must_use]
    pub fn open_until(&self, at: Timestamp) -> Option<Timestamp> {
        if self.windows.is_empty() {
            return Some(Timestamp::MAX);
        }
        self.windows
            .iter()
            .flat_map(|window| window.occurrences(at, &self.zone, 7, 0))
            .filter(|(start, end)| *start <= at && at <= *end)
            .map(|(_, end)| end)
            .max()
    }

    /// The first instant at or after `at` when a window is open: `at` itself when one is.
    #[must_use]
    pub fn next_open(&self, at: Timestamp) -> Timestamp {
        if self.is_open(at) {
            return at;
        }
        self.windows
            .iter()
            .flat_map(|window| window.occurrences(at, &self.zone, 0, 8))
            .map(|(start, _)| start)
            .filter(|start| *start > at)
            .min()
            .expect("a window opens at least once a week")
    }
}

fn bad_start(start: &str, reason: &str) -> WindowError {
    WindowError::BadStart {
        start: start.to_owned(),
        reason: reason.to_owned(),
    }
}

/// `H:M` as two integers around a colon, as locksmith reads it; with `seconds` (Keel's
/// schedules) also `H:M:S`.
fn parse_clock(clock: &str, start: &str, seconds: bool) -> Result<(i8, i8, i8), WindowError> {
    let (hour, rest) = clock
        .split_once(':')
        .ok_or_else(|| bad_start(start, "expected H:M"))?;
    let (minute, second) = match rest.split_once(':') {
        Some((minute, second)) if seconds => (minute, second),
        _ => (rest, "0"),
    };
    let second: i8 = second
        .parse()
        .map_err(|_| bad_start(start, "the second is not a number"))?;
    if !(0..=59).contains(&second) {
        return Err(bad_start(start, "the second must be 0-59"));
    }
    let hour: i8 = hour
        .parse()
        .map_err(|_| bad_start(start, "the hour is not a number"))?;
    let minute: i8 = minute
        .parse()
        .map_err(|_| bad_start(start, "the minute is not a number"))?;
    if !(0..=23).contains(&hour) {
        return Err(bad_start(start, "the hour must be 0-23"));
    }
    if !(0..=59).contains(&minute) {
        return Err(bad_start(start, "the minute must be 0-59"));
    }
    Ok((hour, minute, second))
}

/// A weekday name (three letters, any case) as its index.
fn weekday_index(name: &str) -> Option<usize> {
    WEEKDAYS
        .iter()
        .position(|(day, _)| day.eq_ignore_ascii_case(name))
}

/// `Mon`, `Mon,Wed,Fri`, `Mon-Fri` or `Sat-Mon` as a day set.
fn day_set(text: &str, start: &str) -> Result<[bool; 7], WindowError> {
    let mut days = [false; 7];
    for part in text.split(',') {
        let unknown = || bad_start(start, &format!("unknown weekday {part:?}"));
        match part.split_once('-') {
            Some((first, last)) => {
                let first = weekday_index(first).ok_or_else(unknown)?;
                let last = weekday_index(last).ok_or_else(unknown)?;
                let count = (last + 7 - first) % 7 + 1;
                for offset in 0..count {
                    days[(first + offset) % 7] = true;
                }
            }
            None => days[weekday_index(part).ok_or_else(unknown)?] = true,
        }
    }
    Ok(days)
}

/// One entry of Keel's schedule syntax.
fn parse_entry(entry: &str) -> Result<Window, WindowError> {
    let fields: Vec<&str> = entry.split_whitespace().collect();
    match fields.as_slice() {
        [clock, length] => Window::new([true; 7], parse_clock(clock, entry, true)?, length),
        [days, clock, length] => Window::new(
            day_set(days, entry)?,
            parse_clock(clock, entry, true)?,
            length,
        ),
        _ => Err(WindowError::BadEntry {
            entry: entry.to_owned(),
        }),
    }
}

/// A Go duration (`1h30m`, `90m`, `45s`, `0`), as window lengths and maximum holds are
/// written.
///
/// # Errors
/// [`WindowError::BadLength`] when it is not one; [`WindowError::LengthOutOfRange`] when it
/// is negative.
pub fn parse_go_duration(text: &str) -> Result<Duration, WindowError> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || WindowError::BadLength {
        length: text.to_owned(),
    };
    // Go's syntax has no spaces and no ISO 8601 form; jiff's friendly format accepts both, so
    // they are refused first.
    if text.is_empty() || text.contains(char::is_whitespace) || text.starts_with(['P', 'p']) {
        return Err(bad());
    }
    let signed: SignedDuration = text.parse().map_err(|_| bad())?;
    Duration::try_from(signed).map_err(|_| WindowError::LengthOutOfRange {
        length: text.to_owned(),
        period: "24h",
    })
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
