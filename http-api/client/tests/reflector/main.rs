//! Component tests of the reflector (`Client::reflect`) against real servers: a single-member
//! `keel` from `testkit` (list, live changes, recursive delete, TTL expiry, error 401 and
//! re-list, the member killed and restarted, cancellation), the reference etcd 3.4 with
//! `--enable-v2` when installed, and an unreachable store under paused time.
//!
//! Needs the `keel` binary (`cargo build --bin keel`; `scripts/test.sh` builds it first). No
//! test sleeps to wait: each waits on a published cache with a deadline.

// A test crate: a failed unwrap is a failed check.
#![allow(clippy::unwrap_used)]

mod etcd;
mod keel;
mod support;
mod unreachable;
