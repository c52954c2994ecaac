//! Component tests: the real client (hyper pool, retry loop, watch stream) against in-process
//! fake servers on 127.0.0.1 that script every reply, including faults.
//!
//! Fake servers signal what they saw through a channel (`wait_for_requests`); no test sleeps.

// Integration tests are test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod batch;
mod discovery;
mod failover;
mod fake;
mod keys;
mod watch;

use kv_client::ClientConfig;
use std::time::Duration;

/// Short timeouts so fault tests finish quickly; a fixed jitter seed so runs repeat.
fn config(endpoints: &[&str]) -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        watch_poll_timeout: Duration::from_secs(5),
        jitter_seed: Some(7),
        ..ClientConfig::new(
            endpoints
                .iter()
                .map(|endpoint| (*endpoint).to_owned())
                .collect(),
        )
    }
}
