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

/// Largest [`crate::ReflectorOptions::keys_max`] accepted. A reflector holds its whole prefix in
/// memory and copies the map's spine on each publish (see `reflector`); a prefix with millions
/// of keys is not a cache a service should keep.
pub const REFLECTOR_KEYS_MAX_LIMIT: usize = 1 << 22;

/// Most keys named in one [`crate::Changes::Keys`]; a publish that changed more reports
/// [`crate::Changes::All`]. Beyond a few thousand keys a consumer's full pass costs about as much
/// as a per-key one, and the set kept with each cache stays small.
pub const REFLECTOR_CHANGED_KEYS_MAX: usize = 4096;

/// Most watch events a reflector applies before it publishes: events already received are
/// applied together (a burst coalesces), but a stream that never pauses still publishes.
/// Equal to etcd's event history, the most a watch can replay in one catch-up.
pub const REFLECTOR_EVENTS_PER_PUBLISH_MAX: usize = 1000;

/// Largest [`crate::ReflectorOptions::retry_pause_max`] accepted: a cache that is stale must
/// be retried at least this often, or a recovered store goes unnoticed for too long.
pub const REFLECTOR_RETRY_PAUSE_MAX_LIMIT: Duration = Duration::from_secs(60);

// An error excerpt is cut from a reply that was already read within the reply bound.
const _: () = assert!(ERROR_BODY_EXCERPT_MAX <= RESPONSE_BYTES_MIN);
const _: () = assert!(ENDPOINTS_MAX > 0);
// Naming more changed keys than a cache can hold would cost more than a re-list.
const _: () = assert!(REFLECTOR_CHANGED_KEYS_MAX <= REFLECTOR_KEYS_MAX_LIMIT);
const _: () = assert!(REFLECTOR_EVENTS_PER_PUBLISH_MAX > 0);
