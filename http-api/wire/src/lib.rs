//! Serde types for the etcd v2 JSON wire format, the header names and the error-code table.
//!
//! Owns: the exact shape of every JSON body Keel sends or a client reads (field names, field
//! order, omission rules), the table error code → message → HTTP status, and which bodies end
//! with `\n`. The contract is the etcd v2 API spec (etcd 3.4.23 with `--enable-v2`); field order
//! follows etcd's Go structs, because serde serialises fields in declaration order.
//!
//! Invariants: every type serialises to what etcd 3.4 sends, byte for byte, when serialised
//! compactly (the golden tests in `tests/golden.rs` pin this). Hot-path types ([`Envelope`],
//! [`Node`]) hold `Cow<str>` so the server can render straight from the store's strings without
//! copying them; deserialising them yields owned strings.
//!
//! Must not depend on: anything but serde (no serde_json, no HTTP crate, no workspace crate).
//! JSON encoding itself is the caller's choice.

mod cluster;
mod error;
mod keys;
mod stats;

pub use cluster::{Health, Member, MemberList, Version};
pub use error::{code, error_message, error_status, ErrorBody, MessageBody};
pub use keys::{Action, Envelope, Node};
pub use stats::{
    format_go_duration, CountsStats, FollowerStats, LatencyStats, LeaderInfo, LeaderStats,
    MemberState, SelfStats, StoreStats,
};

/// Header names etcd sets, lowercase so they work with `http::HeaderName::from_static`.
///
/// HTTP header names are case-insensitive; etcd (Go) sends them canonicalised
/// (`X-Etcd-Index`), and every client we know matches them case-insensitively.
pub mod header {
    /// `X-Etcd-Index`: the store index after the operation (or at watch registration).
    pub const ETCD_INDEX: &str = "x-etcd-index";
    /// `X-Raft-Index`: the raft committed index (informational).
    pub const RAFT_INDEX: &str = "x-raft-index";
    /// `X-Raft-Term`: the raft term (informational).
    pub const RAFT_TERM: &str = "x-raft-term";
    /// `X-Etcd-Cluster-Id`: the cluster id, lowercase hex without leading zeros.
    pub const ETCD_CLUSTER_ID: &str = "x-etcd-cluster-id";
}

/// `Content-Type` values etcd uses.
pub mod content_type {
    /// Every JSON body on the v2 API (keys, errors, members, stats, version).
    pub const JSON: &str = "application/json";
    /// Go's plain-text replies (404, 405, `/health`, `/v2/machines`).
    pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
    /// What a PUT or POST body must be for its parameters to be read.
    pub const FORM: &str = "application/x-www-form-urlencoded";
}

/// A top-level JSON body, and whether etcd ends it with a newline.
///
/// etcd writes some bodies with Go's `json.NewEncoder(w).Encode` (which appends `\n`) and
/// others with `w.Write(json.Marshal(..))` (which does not). Seen on etcd 3.4.23: keys events,
/// v2 errors and member bodies end with `\n`; the short `{"message":…}` errors, the three stats
/// bodies, `/version` and `/health` do not.
pub trait Body: serde::Serialize {
    /// True when etcd appends `\n` after the JSON.
    const TRAILING_NEWLINE: bool;
}

/// serde `skip_serializing_if` helpers shared by the modules.
mod skip {
    /// Go's `omitempty` on a bool.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
    pub(crate) fn is_false(value: &bool) -> bool {
        !*value
    }

    /// Go's `omitempty` on an unsigned integer.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
    pub(crate) fn is_zero(value: &u64) -> bool {
        *value == 0
    }

    /// Go's `omitempty` on a float.
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
    pub(crate) fn is_zero_float(value: &f64) -> bool {
        *value == 0.0
    }
}

/// Serialises an `f64` the way Go's `encoding/json` does for the values etcd reports.
///
/// Go writes an integral float without a fraction (`1`, not `1.0`). serde_json keeps the
/// `.0`, so integral values in the exactly representable range go out as integers. Other
/// values use the serializer's shortest round-trip form, which matches Go for the magnitudes
/// stats carry (Go switches to exponent form only below 1e-6 or from 1e21 up).
mod go_float {
    use serde::Serializer;

    /// Largest magnitude sent as an integer; well inside the range where f64 is exact.
    const INTEGRAL_MAX: f64 = 1e15;

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
    #[allow(clippy::cast_possible_truncation)] // checked: integral and |value| < 1e15
    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() && value.fract() == 0.0 && value.abs() < INTEGRAL_MAX {
            serializer.serialize_i64(*value as i64)
        } else {
            serializer.serialize_f64(*value)
        }
    }
}
