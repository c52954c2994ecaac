//! `/v2/stats/self`, `/v2/stats/leader` and `/v2/stats/store` bodies, plus Go's duration
//! format used by `leaderInfo.uptime`.
//!
//! Field order copies etcd 3.4's `v2stats` structs (`serverStats`, `leaderStats`,
//! `FollowerStats`, `LatencyStats`, `CountsStats`, and the store's `Stats`).

use crate::skip::is_zero_float;
use crate::Body;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The raft role as etcd's `raft.StateType` marshals it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MemberState {
    /// `StateFollower`
    #[serde(rename = "StateFollower")]
    Follower,
    /// `StateCandidate`
    #[serde(rename = "StateCandidate")]
    Candidate,
    /// `StateLeader`
    #[serde(rename = "StateLeader")]
    Leader,
    /// `StatePreCandidate`
    #[serde(rename = "StatePreCandidate")]
    PreCandidate,
}

/// `GET /v2/stats/self`.
///
/// The four rate fields are left out when zero (Go `omitempty`); a single-member cluster shows
/// none of them. Order seen on etcd 3.4.23 and in its `serverStats` struct: the receive
/// counter and rates come before the send counter and rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfStats {
    /// The member's name.
    pub name: String,
    /// The member id, lowercase hex.
    pub id: String,
    /// The member's raft role.
    pub state: MemberState,
    /// When the member started, RFC 3339.
    #[serde(rename = "startTime")]
    pub start_time: String,
    /// What this member knows of the leader.
    #[serde(rename = "leaderInfo")]
    pub leader_info: LeaderInfo,
    /// Append requests received.
    #[serde(rename = "recvAppendRequestCnt")]
    pub received_append_request_count: u64,
    /// Append requests received per second.
    #[serde(
        rename = "recvPkgRate",
        default,
        skip_serializing_if = "is_zero_float",
        serialize_with = "crate::go_float::serialize"
    )]
    pub received_package_rate: f64,
    /// Bytes received per second.
    #[serde(
        rename = "recvBandwidthRate",
        default,
        skip_serializing_if = "is_zero_float",
        serialize_with = "crate::go_float::serialize"
    )]
    pub received_bandwidth_rate: f64,
    /// Append requests sent.
    #[serde(rename = "sendAppendRequestCnt")]
    pub sent_append_request_count: u64,
    /// Append requests sent per second.
    #[serde(
        rename = "sendPkgRate",
        default,
        skip_serializing_if = "is_zero_float",
        serialize_with = "crate::go_float::serialize"
    )]
    pub sent_package_rate: f64,
    /// Bytes sent per second.
    #[serde(
        rename = "sendBandwidthRate",
        default,
        skip_serializing_if = "is_zero_float",
        serialize_with = "crate::go_float::serialize"
    )]
    pub sent_bandwidth_rate: f64,
}

impl Body for SelfStats {
    /// Seen on etcd 3.4.23: no newline.
    const TRAILING_NEWLINE: bool = false;
}

/// `leaderInfo` inside [`SelfStats`]. python-etcd finds the leader through `leader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderInfo {
    /// The leader's member id, lowercase hex.
    pub leader: String,
    /// How long that leader has led, in Go's duration format ([`format_go_duration`]).
    pub uptime: String,
    /// When this member first saw that leader, RFC 3339.
    #[serde(rename = "startTime")]
    pub start_time: String,
}

/// `GET /v2/stats/leader` on the leader (other members answer 403 `not current leader`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderStats {
    /// The leader's member id, lowercase hex.
    pub leader: String,
    /// Per follower id (lowercase hex). Go marshals a map with sorted keys, as a `BTreeMap`
    /// does; a single-member cluster has `{}`.
    pub followers: BTreeMap<String, FollowerStats>,
}

impl Body for LeaderStats {
    /// Seen on etcd 3.4.23: no newline.
    const TRAILING_NEWLINE: bool = false;
}

/// One follower in [`LeaderStats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowerStats {
    /// Round-trip latencies in milliseconds.
    pub latency: LatencyStats,
    /// Append outcomes.
    pub counts: CountsStats,
}

/// Latencies of one follower, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LatencyStats {
    /// The last sample.
    #[serde(serialize_with = "crate::go_float::serialize")]
    pub current: f64,
    /// The mean.
    #[serde(serialize_with = "crate::go_float::serialize")]
    pub average: f64,
    /// The standard deviation.
    #[serde(
        rename = "standardDeviation",
        serialize_with = "crate::go_float::serialize"
    )]
    pub standard_deviation: f64,
    /// The smallest sample.
    #[serde(serialize_with = "crate::go_float::serialize")]
    pub minimum: f64,
    /// The largest sample.
    #[serde(serialize_with = "crate::go_float::serialize")]
    pub maximum: f64,
}

/// Append outcomes of one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CountsStats {
    /// Failed appends.
    pub fail: u64,
    /// Successful appends.
    pub success: u64,
}

/// `GET /v2/stats/store`: the store's operation counters, in etcd's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Successful gets.
    pub gets_success: u64,
    /// Failed gets.
    pub gets_fail: u64,
    /// Successful sets.
    pub sets_success: u64,
    /// Failed sets.
    pub sets_fail: u64,
    /// Successful deletes.
    pub delete_success: u64,
    /// Failed deletes.
    pub delete_fail: u64,
    /// Successful updates.
    pub update_success: u64,
    /// Failed updates.
    pub update_fail: u64,
    /// Successful creates.
    pub create_success: u64,
    /// Failed creates.
    pub create_fail: u64,
    /// Successful compare-and-swaps.
    pub compare_and_swap_success: u64,
    /// Failed compare-and-swaps.
    pub compare_and_swap_fail: u64,
    /// Successful compare-and-deletes.
    pub compare_and_delete_success: u64,
    /// Failed compare-and-deletes.
    pub compare_and_delete_fail: u64,
    /// Nodes removed by expiry.
    pub expire_count: u64,
    /// Watchers registered now.
    pub watchers: u64,
}

impl Body for StoreStats {
    /// Seen on etcd 3.4.23: no newline.
    const TRAILING_NEWLINE: bool = false;
}

/// Formats a duration as Go's `time.Duration.String` does, e.g. `11m44.25s`, `1h0m0s`,
/// `1.5ms`, `0s`. etcd uses it for `leaderInfo.uptime`.
#[must_use]
pub fn format_go_duration(duration: Duration) -> String {
    const NANOS_PER_SECOND: u128 = 1_000_000_000;
    let nanos = duration.as_nanos();
    let mut out = String::new();
    if nanos == 0 {
        out.push_str("0s");
    } else if nanos < 1_000 {
        let _ = write!(out, "{nanos}ns");
    } else if nanos < 1_000_000 {
        write_decimal(&mut out, nanos, 3);
        out.push_str("µs");
    } else if nanos < NANOS_PER_SECOND {
        write_decimal(&mut out, nanos, 6);
        out.push_str("ms");
    } else {
        let seconds = nanos / NANOS_PER_SECOND;
        let (hours, minutes) = (seconds / 3600, seconds / 60 % 60);
        if hours > 0 {
            let _ = write!(out, "{hours}h{minutes}m");
        } else if minutes > 0 {
            let _ = write!(out, "{minutes}m");
        }
        write_decimal(&mut out, nanos % (60 * NANOS_PER_SECOND), 9);
        out.push('s');
    }
    out
}

/// Writes `value / 10^digits` with the fraction's trailing zeros (and a bare point) dropped,
/// as Go's `fmtFrac` + `fmtInt` do.
fn write_decimal(out: &mut String, value: u128, digits: u32) {
    let scale = 10_u128.pow(digits);
    let _ = write!(out, "{}", value / scale);
    let fraction = value % scale;
    if fraction != 0 {
        let text = format!("{fraction:0width$}", width = digits as usize);
        out.push('.');
        out.push_str(text.trim_end_matches('0'));
    }
}
