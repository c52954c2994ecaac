//! Every bound of the API server, in one place: request bodies, the output kept of
//! `systemctl status`, journal requests, and the time allowed to each step of a forward.

use std::time::Duration;

/// Connections served at once per listener; further clients wait in the listen backlog
/// (fleetctl and scripts open one or two each).
pub(crate) const API_CONNECTIONS_MAX: usize = 1024;

/// Largest PUT or PATCH body read. A unit file is a few kilobytes; fleet's lines are under
/// 2048 bytes each.
pub(crate) const REQUEST_BODY_BYTES_MAX: usize = 1024 * 1024;

/// Output of `systemctl status` kept, stdout and stderr each; the rest is cut.
pub(crate) const STATUS_OUTPUT_BYTES_MAX: usize = 256 * 1024;

/// Time `systemctl status` may take before it is killed.
pub(crate) const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest `lines` of a journal request.
pub(crate) const JOURNAL_LINES_MAX: u32 = 1_000_000;

/// Lines of a journal request without `lines` (journalctl's and fleetctl's default).
pub(crate) const JOURNAL_LINES_DEFAULT: u32 = 10;

/// Bytes read from `journalctl` per chunk of the response body.
pub(crate) const JOURNAL_CHUNK_BYTES: usize = 16 * 1024;

/// Time to open the connection to the unit's host.
pub(crate) const FORWARD_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Time for the unit's host to send its response head: above [`STATUS_TIMEOUT`], so a slow
/// `systemctl` there is reported by that host, not cut here.
pub(crate) const FORWARD_HEAD_TIMEOUT: Duration = Duration::from_secs(20);

const _: () = assert!(FORWARD_HEAD_TIMEOUT.as_secs() > STATUS_TIMEOUT.as_secs());
const _: () = assert!(JOURNAL_LINES_DEFAULT <= JOURNAL_LINES_MAX);
