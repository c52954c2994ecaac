//! Telling systemd when this member serves, for `Type=notify` units (etcd's unit is one):
//! `READY=1` once the client listeners are bound and the member knows a leader (as etcd,
//! which notifies once it can serve requests, not merely once it listens), `STOPPING=1` when
//! it begins to shut down. Outside systemd (no `NOTIFY_SOCKET`) nothing is sent.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the member's leader is looked at until there is one.
const LEADER_POLL: Duration = Duration::from_millis(50);

/// Sends `READY=1` once `node` knows a leader; returns without sending on `shutdown`.
pub async fn ready_once_led(node: kvstore::NodeHandle, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(LEADER_POLL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Some(leader) = node.progress().leader() {
            send(sd_notify::NotifyState::Ready);
            tracing::debug!(%leader, "told the service manager this member is ready");
            return;
        }
    }
}

/// Sends `STOPPING=1`.
pub fn stopping() {
    send(sd_notify::NotifyState::Stopping);
}

fn send(state: sd_notify::NotifyState<'_>) {
    // The variable stays set: READY and STOPPING go to the same socket.
    if let Err(error) = sd_notify::notify(false, &[state]) {
        tracing::warn!(%error, "cannot notify the service manager");
    }
}
