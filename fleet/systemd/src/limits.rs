//! Every bound of the adapter, with the reason for its value.
//!
//! Invariants: checked against each other at compile time below. Depends on nothing.

/// Units one adapter watches at most. fleet hosts were reported with ~500 units each
/// (coreos/fleet#1163); eight times that leaves room while bounding the per-subscription
/// table (a few hundred bytes per unit).
pub const WATCHED_UNITS_MAX: usize = 4096;

/// Names per `ListUnitsByNames` call. A row is ten short fields, so a reply stays far below
/// dbus-daemon's 32 MiB message limit (`max_message_size`), and one call never holds the
/// manager's event loop for long.
pub const LIST_UNITS_BATCH_MAX: usize = 256;

/// Messages zbus queues for one signal match rule before it stops reading the socket (zbus'
/// overflow policy is to wait, never to drop). The subscription's signal task only drains
/// and never awaits a method call, so the queue empties as fast as signals are parsed; this
/// absorbs a daemon-reload's burst.
pub const SIGNAL_QUEUE_MAX: usize = 512;

const _: () = assert!(LIST_UNITS_BATCH_MAX <= WATCHED_UNITS_MAX);
const _: () = assert!(LIST_UNITS_BATCH_MAX > 0);
