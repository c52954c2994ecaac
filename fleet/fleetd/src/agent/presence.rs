//! This machine's presence in Keel: `machines/<id>/object` written with `agent_ttl` and kept
//! alive by refreshing it every half TTL (a refresh wakes no watcher). When the key has
//! expired meanwhile (Keel unreachable for longer than the TTL) it is written again, which
//! the engine sees as the machine joining.
//!
//! It also tells when its last successful write was sent (`fresh`): a key written then
//! lives at least `agent_ttl` from that moment, which the agent's cut-off rule counts from
//! (`agent::cut_off`).
//!
//! Invariant: the first write happens before [`run`] reports ready, so the API answers only
//! once the machine is registered, as fleet's does.

use fleet_registry::wire::MachineObject;
use fleet_registry::{Registry, Written};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Pause after a failed write before the next attempt.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Keeps `machine` present with `ttl` until `shutdown`; sends `true` on `registered` after
/// the first successful write, `false` while Keel cannot be written, and on `fresh` when
/// each successful write was sent.
pub async fn run(
    registry: Registry,
    machine: MachineObject,
    ttl: Duration,
    registered: watch::Sender<bool>,
    fresh: watch::Sender<Option<Instant>>,
    shutdown: CancellationToken,
) {
    let mut announced = false;
    while !shutdown.is_cancelled() {
        let sent = Instant::now();
        let (pause, present) = if announced {
            match registry.refresh_presence(&machine.id, ttl).await {
                Ok(Written::Done) => (ttl / 2, true),
                Ok(Written::Lost) => {
                    tracing::warn!("presence expired; announcing this machine again");
                    announced = false;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot refresh this machine's presence");
                    (RETRY_PAUSE, false)
                }
            }
        } else {
            match registry.announce(&machine, ttl).await {
                Ok(()) => {
                    tracing::info!(machine = %machine.id, "machine registered");
                    announced = true;
                    (ttl / 2, true)
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot register this machine");
                    (RETRY_PAUSE, false)
                }
            }
        };
        if present {
            fresh.send_replace(Some(sent));
        }
        registered.send_if_modified(|current| std::mem::replace(current, present) != present);
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
