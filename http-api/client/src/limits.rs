//! Fixed bounds of the client, in one place so their relationships can be checked at compile
//! time. Configurable bounds (attempts, timeouts, reply size) live in [`crate::ClientConfig`] and
//! are checked against these in `ClientConfig::validate`.

use std::time::Duration;

/// Most endpoints the client keeps, configured and discovered together. Endpoints past the
/// bound are ignored (discovery logs it); a cluster this large is not a v2 deployment.
pub const ENDPOINTS_MAX: usize = 64;

/// Most attempts one call may be configured to make.
pub const ATTEMPTS_MAX_LIMIT: u32 = 100;

/// Smallest `response_bytes_max` accepted: every single-key reply and error fits easily.
pub const RESPONSE_BYTES_MIN: usize = 64 * 1024;

/// Bytes of a non-v2 error body kept in [`crate::ClientError::Http`]; the rest is cut.
pub const ERROR_BODY_EXCERPT_MAX: usize = 1024;

/// Shortest time between two endpoint discoveries triggered by failovers, so a cluster that is
/// down does not receive a `/v2/members` request per failed call.
pub const DISCOVERY_INTERVAL_MIN: Duration = Duration::from_secs(1);

/// Shortest `watch_poll_timeout` accepted: each idle re-poll is one request, so a tiny value
/// would turn an idle watch into a busy loop.
pub const WATCH_POLL_TIMEOUT_MIN: Duration = Duration::from_millis(100);

// An error excerpt is cut from a reply that was already read within the reply bound.
const _: () = assert!(ERROR_BODY_EXCERPT_MAX <= RESPONSE_BYTES_MIN);
const _: () = assert!(ENDPOINTS_MAX > 0);
