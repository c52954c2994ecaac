//! `status` output: locksmith's text (`Available:`, `Max:`, then a `MACHINE ID` table when
//! there are holders), with each holder's hold age and fencing token in further columns so
//! that the first column stays the id; and the same as JSON.

use locksmith_store::Read;
use serde::Serialize;

/// One group's status as JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupStatus {
    group: String,
    available: i64,
    max: i64,
    holders: Vec<HolderStatus>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HolderStatus {
    machine_id: String,
    token: Option<u64>,
    acquired_at: Option<String>,
    held_for_seconds: Option<u64>,
    inferred: bool,
}

/// locksmith's text for one group.
#[must_use]
pub fn text(read: &Read, now_ms: u64) -> String {
    let document = &read.semaphore;
    let mut out = format!("Available: {}\nMax: {}\n", document.semaphore, document.max);
    let holds = document.holds(read.index.0);
    if holds.is_empty() {
        return out;
    }
    let rows: Vec<[String; 3]> = holds
        .iter()
        .map(|hold| {
            let age = hold.acquired_at_ms.map_or_else(
                || "-".to_owned(),
                |at| {
                    let age = go_duration_ms(now_ms.saturating_sub(at));
                    if hold.inferred {
                        format!(">{age}")
                    } else {
                        age
                    }
                },
            );
            let token = hold
                .token
                .map_or_else(|| "-".to_owned(), |token| token.to_string());
            [hold.holder.clone(), age, token]
        })
        .collect();
    let header = [
        "MACHINE ID".to_owned(),
        "HELD FOR".to_owned(),
        "TOKEN".to_owned(),
    ];
    let widths: Vec<usize> = (0..2)
        .map(|column| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|row| row[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    out.push('\n');
    for row in std::iter::once(&header).chain(rows.iter()) {
        out.push_str(&format!(
            "{:<id$}  {:<age$}  {}\n",
            row[0],
            row[1],
            row[2],
            id = widths[0],
            age = widths[1]
        ));
    }
    out
}

/// Every group's text, each under a `Group:` line.
#[must_use]
pub fn text_all(reads: &[(String, Read)], now_ms: u64) -> String {
    reads
        .iter()
        .map(|(group, read)| format!("Group: {}\n{}", display_group(group), text(read, now_ms)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One group as a JSON object.
#[must_use]
pub fn json_one(group: &str, read: &Read, now_ms: u64) -> String {
    let mut text = serde_json::to_string_pretty(&group_status(group, read, now_ms))
        .expect("status always serialises");
    text.push('\n');
    text
}

/// Every group as a JSON array.
#[must_use]
pub fn json_all(reads: &[(String, Read)], now_ms: u64) -> String {
    let all: Vec<GroupStatus> = reads
        .iter()
        .map(|(group, read)| group_status(group, read, now_ms))
        .collect();
    let mut text = serde_json::to_string_pretty(&all).expect("status always serialises");
    text.push('\n');
    text
}

fn group_status(group: &str, read: &Read, now_ms: u64) -> GroupStatus {
    let holders = read
        .semaphore
        .holds(read.index.0)
        .into_iter()
        .map(|hold| HolderStatus {
            machine_id: hold.holder,
            token: hold.token.map(|token| token.0),
            acquired_at: hold.acquired_at_ms.and_then(rfc3339),
            held_for_seconds: hold
                .acquired_at_ms
                .map(|at| now_ms.saturating_sub(at) / 1000),
            inferred: hold.inferred,
        })
        .collect();
    GroupStatus {
        group: group.to_owned(),
        available: read.semaphore.semaphore,
        max: read.semaphore.max,
        holders,
    }
}

fn display_group(group: &str) -> &str {
    if group.is_empty() {
        "(default)"
    } else {
        group
    }
}

fn rfc3339(ms: u64) -> Option<String> {
    let ms = i64::try_from(ms).ok()?;
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .map(|at| at.round(jiff::Unit::Second).unwrap_or(at).to_string())
}

/// Milliseconds as Go prints a duration rounded to the second (`2h3m4s`, `5m0s`, `0s`).
#[must_use]
pub fn go_duration_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: ages print as Go prints durations. Method: a table.
    #[test]
    fn ages_print_as_go_durations() {
        for (ms, text) in [
            (0, "0s"),
            (999, "0s"),
            (59_000, "59s"),
            (60_000, "1m0s"),
            (3_723_000, "1h2m3s"),
            (90_000_000, "25h0m0s"),
        ] {
            assert_eq!(go_duration_ms(ms), text);
        }
    }
}
