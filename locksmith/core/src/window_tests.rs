use super::*;

/// Central European time with its DST rules, without a tz database.
fn berlin() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("a POSIX TZ string")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 instant")
}

fn locksmith(start: &str, length: &str, zone: TimeZone) -> Schedule {
    let window = Window::from_locksmith(Some(start), Some(length))
        .expect("a valid window")
        .expect("a window");
    Schedule::new(vec![window], zone)
}

// Goal: locksmith's start and length syntax is accepted as locksmith accepts it and refused
// with a clear error otherwise. Method: tables of good and bad texts.
#[test]
fn locksmith_syntax() {
    for (start, length) in [
        ("4:00", "1h"),
        ("04:00", "90m"),
        ("4:5", "1h30m"),
        ("thu 23:00", "1h30m"),
        ("SUN 0:0", "167h"),
        ("23:59", "0"),
        ("12:00", "45s"),
    ] {
        assert!(
            Window::from_locksmith(Some(start), Some(length)).is_ok(),
            "{start} {length}"
        );
    }
    for (start, length) in [
        ("24:00", "1h"),
        ("4:60", "1h"),
        ("4", "1h"),
        ("Mon 4:00 x", "1h"),
        ("Fun 4:00", "1h"),
        ("a:b", "1h"),
        ("4:00", "1 hour"),
        ("4:00", "PT1H"),
        ("4:00", "-1h"),
        ("4:00", "24h"),
        ("Mon 4:00", "168h"),
        ("4:00", ""),
    ] {
        assert!(
            Window::from_locksmith(Some(start), Some(length)).is_err(),
            "{start} {length}"
        );
    }
    assert_eq!(Window::from_locksmith(None, None), Ok(None));
    assert_eq!(
        Window::from_locksmith(Some("4:00"), None),
        Err(WindowError::HalfWindow)
    );
}

// Goal: a daily window is open from its start to its end, both included, and crosses
// midnight. Method: instants around a 23:00 + 1h30m window in UTC.
#[test]
fn daily_window_across_midnight() {
    let schedule = locksmith("23:00", "1h30m", TimeZone::UTC);
    for (instant, open) in [
        ("2026-03-10T22:59:59Z", false),
        ("2026-03-10T23:00:00Z", true),
        ("2026-03-11T00:29:59Z", true),
        ("2026-03-11T00:30:00Z", true),
        ("2026-03-11T00:30:01Z", false),
        ("2026-03-11T12:00:00Z", false),
    ] {
        assert_eq!(schedule.is_open(at(instant)), open, "{instant}");
    }
    assert_eq!(
        schedule.next_open(at("2026-03-11T12:00:00Z")),
        at("2026-03-11T23:00:00Z")
    );
    assert_eq!(
        schedule.open_until(at("2026-03-11T00:10:00Z")),
        Some(at("2026-03-11T00:30:00Z"))
    );
}

// Goal: a weekly window opens on its day only and crosses the week's end (Saturday to
// Sunday). Method: `Sat 23:00` + 2h; 2026-03-14 is a Saturday.
#[test]
fn weekly_window_across_the_week_boundary() {
    let schedule = locksmith("Sat 23:00", "2h", TimeZone::UTC);
    assert!(schedule.is_open(at("2026-03-15T00:59:00Z")));
    assert!(!schedule.is_open(at("2026-03-15T01:01:00Z")));
    assert!(!schedule.is_open(at("2026-03-13T23:30:00Z")));
    assert_eq!(
        schedule.next_open(at("2026-03-15T02:00:00Z")),
        at("2026-03-21T23:00:00Z")
    );
}

// Goal: windows are civil times of their time zone, and DST changes neither skip nor double
// a window: a start in the spring gap opens after the gap, a start in the autumn fold opens
// at its first occurrence, and the length is elapsed time. Method: Berlin rules; DST starts
// 2026-03-29 02:00 (to 03:00) and ends 2026-10-25 03:00 (back to 02:00).
#[test]
fn windows_follow_the_time_zone_through_dst() {
    let four = locksmith("4:00", "1h", berlin());
    // 04:00 CET is 03:00Z in winter, 04:00 CEST is 02:00Z in summer.
    assert!(four.is_open(at("2026-03-28T03:30:00Z")));
    assert!(four.is_open(at("2026-03-29T02:30:00Z")));
    assert!(!four.is_open(at("2026-03-29T03:30:00Z")));
    let gap = locksmith("2:30", "1h", berlin());
    // 02:30 does not exist on 2026-03-29: the window opens at 03:30 CEST (01:30Z).
    assert_eq!(
        gap.next_open(at("2026-03-29T00:00:00Z")),
        at("2026-03-29T01:30:00Z")
    );
    let fold = locksmith("2:30", "1h", berlin());
    // 02:30 happens twice on 2026-10-25: the first, CEST, is 00:30Z.
    assert_eq!(
        fold.next_open(at("2026-10-24T23:00:00Z")),
        at("2026-10-25T00:30:00Z")
    );
    assert!(!fold.is_open(at("2026-10-25T01:31:00Z")));
    let utc = locksmith("4:00", "1h", TimeZone::UTC);
    assert!(!utc.is_open(at("2026-03-29T02:30:00Z")));
}

// Goal: Keel's schedule syntax: several windows, weekday lists and ranges (wrapping over
// Sunday), any of them open opens the schedule; an empty schedule is always open. Method:
// a weekday morning window and a weekend night window.
#[test]
fn schedules_of_several_windows() {
    let schedule =
        Schedule::parse("Mon-Fri 04:00 1h; Sat,Sun 22:00 3h", TimeZone::UTC).expect("a schedule");
    assert_eq!(schedule.windows().len(), 2);
    // 2026-03-16 is a Monday.
    assert!(schedule.is_open(at("2026-03-16T04:30:00Z")));
    assert!(!schedule.is_open(at("2026-03-16T22:30:00Z")));
    assert!(schedule.is_open(at("2026-03-15T22:30:00Z")));
    assert!(
        schedule.is_open(at("2026-03-16T00:30:00Z")),
        "Sunday's night runs into Monday"
    );
    assert!(!schedule.is_open(at("2026-03-14T04:30:00Z")));
    assert_eq!(
        schedule.next_open(at("2026-03-20T06:00:00Z")),
        at("2026-03-21T22:00:00Z")
    );
    let wrap = Schedule::parse("Fri-Mon 12:00 1h", TimeZone::UTC).expect("a schedule");
    assert!(wrap.is_open(at("2026-03-15T12:30:00Z")));
    assert!(!wrap.is_open(at("2026-03-18T12:30:00Z")));
    let always = Schedule::parse("", TimeZone::UTC).expect("empty");
    assert!(always.is_open(at("2026-03-18T12:30:00Z")));
    for bad in [
        "Mon-Fri 04:00",
        "Mon-Fry 04:00 1h",
        "04:00 1h extra words",
        "Mon 25:00 1h",
    ] {
        assert!(Schedule::parse(bad, TimeZone::UTC).is_err(), "{bad}");
    }
}

// Goal: a window reads back as the syntax that made it (for the daemon's start-up log).
// Method: two windows printed.
#[test]
fn windows_display_as_written() {
    let schedule =
        Schedule::parse("mon,wed 4:05 1h30m; 23:00 45m", TimeZone::UTC).expect("a schedule");
    let shown: Vec<String> = schedule.windows().iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["mon,wed 04:05 1h 30m", "23:00 45m"]);
}
