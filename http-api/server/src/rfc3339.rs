//! RFC 3339 text of a store [`Time`], as etcd writes a node's `expiration`.
//!
//! etcd marshals a Go `time.Time` with `RFC3339Nano`: UTC as `Z`, up to nine fraction digits
//! with trailing zeros trimmed, and no fraction at all when it is zero
//! (`2026-11-22T02:59:00.23399129Z`). The calendar conversion is Howard Hinnant's
//! `civil_from_days` (proleptic Gregorian), written out here so no date crate is needed.
//!
//! Invariants: total over every `i64` (years 1677–2262); never panics.

use std::fmt::Write as _;
use v2store::Time;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Formats `time` (Unix nanoseconds, UTC) as RFC 3339 with trimmed nanoseconds.
pub(crate) fn format(time: Time) -> String {
    let seconds = time.0.div_euclid(NANOS_PER_SECOND);
    let nanos = time.0.rem_euclid(NANOS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let mut text = String::with_capacity(30);
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// The (year, month 1–12, day 1–31) of a day count since 1970-01-01.
///
/// Works in 400-year eras of 146 097 days, with years starting on March 1 so the leap day is
/// the last day of the year (<https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, format};
    use v2store::Time;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn formats_like_go_rfc3339_nano() {
        // Goal: Go's RFC3339Nano output. Method: known instants; the first is the spec's
        // example, the second an expiration captured from etcd 3.4.23.
        let cases = [
            (
                1_795_316_340 * SECOND + 233_991_290,
                "2026-11-22T02:59:00.23399129Z",
            ),
            (
                1_795_322_549 * SECOND + 911_414_414,
                "2026-11-22T04:42:29.911414414Z",
            ),
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:00.000000001Z"),
            (SECOND / 2, "1970-01-01T00:00:00.5Z"),
            (1_795_316_340 * SECOND, "2026-11-22T02:59:00Z"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format(Time(nanos)), text);
        }
    }

    #[test]
    fn leap_years_and_century_rules() {
        // Goal: Gregorian leap rules (every 4th year, not every 100th, but every 400th).
        // Method: day counts since 1970-01-01 computed with Python's `datetime.date`.
        let cases = [
            (11_016, (2000, 2, 29)),
            (19_782, (2024, 2, 29)),
            (47_540, (2100, 2, 28)),
            (47_541, (2100, 3, 1)),
            (157_113, (2400, 2, 29)),
            (157_114, (2400, 3, 1)),
            (-1, (1969, 12, 31)),
            (-719_162, (1, 1, 1)),
        ];
        for (days, date) in cases {
            assert_eq!(civil_from_days(days), date, "day {days}");
        }
        assert_eq!(
            format(Time(11_016 * 86_400 * SECOND)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            format(Time(47_540 * 86_400 * SECOND + 86_399 * SECOND)),
            "2100-02-28T23:59:59Z"
        );
    }

    #[test]
    fn extremes_and_pre_epoch_do_not_panic() {
        // Goal: total over i64, including negative times. Method: the ends of the range, whose
        // Go renderings are `time.Unix(0, math.MinInt64/MaxInt64).UTC()`.
        assert_eq!(format(Time(-1)), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format(Time(i64::MIN)), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(format(Time(i64::MAX)), "2262-04-11T23:47:16.854775807Z");
    }
}
