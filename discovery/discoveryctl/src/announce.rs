//! `announce`: keeps this instance's record in the store while its health check passes,
//! refreshing the key's TTL well before it runs out, withdrawing the record when the check
//! fails and on exit (SIGINT, SIGTERM).
//!
//! Invariants: the record is written only after a passing check; exiting deletes it if it
//! may have been written (a failed write may still have landed); a store that cannot be
//! reached is retried at the next refresh, never fatal (the key TTL withdraws the record if
//! the outage outlasts it).

use crate::cli::Announce;
use crate::health::Check;
use anyhow::Context as _;
use discovery_core::announce::{host_port, step, Announcement, Step};
use discovery_core::service::Service;
use discovery_core::zone::Zone;
use kv_client::{Client, DeleteOptions, SetOptions};
use rand::Rng as _;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs the announcer until `stop`.
///
/// # Errors
/// When the flags do not make an announcement (bad name, address, TTL, health check).
pub async fn run(
    client: &Client,
    zone: &Zone,
    args: &Announce,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let (host, port) = host_port(&args.address)?;
    let service = Service {
        host,
        port,
        priority: args.priority,
        weight: args.weight,
        text: args.text.clone(),
        ttl: args.record_ttl.unwrap_or(0),
        group: args.group.clone(),
        ..Service::default()
    };
    let instance = match &args.instance {
        Some(instance) => instance.clone(),
        None => host_label().context("no --instance given and this host's name is unreadable")?,
    };
    let announcement = Announcement::new(zone, &args.name, &instance, service, args.ttl)?;
    let check = Check::new(args.health_url.as_deref(), args.health_cmd.as_deref())?;
    let timeout = humantime::parse_duration(&args.health_timeout)
        .with_context(|| format!("--health-timeout {:?}", args.health_timeout))?;
    let key = announcement.key(zone)?;
    let value = announcement.service.to_json();
    tracing::info!(name = %announcement.name, %key, ttl = args.ttl, "announcing");
    let mut written = false;
    let mut published = false;
    loop {
        let health = check.run(timeout).await;
        match step(health.is_ok(), published) {
            Step::Write => {
                written = true;
                published = write(client, &key, &value, announcement.key_ttl).await || published;
            }
            Step::Withdraw => {
                tracing::warn!(reason = %health.err().unwrap_or_default(), "unhealthy: withdrawing");
                published = !withdraw(client, &key).await;
            }
            Step::Wait => {
                tracing::debug!(reason = %health.err().unwrap_or_default(), "still unhealthy")
            }
        }
        let pause = announcement.refresh_interval(rand::thread_rng().gen::<f64>());
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    if written {
        withdraw(client, &key).await;
    }
    tracing::info!(%key, "stopped announcing");
    Ok(())
}

/// Writes the record with its key TTL; whether it was written.
async fn write(client: &Client, key: &str, value: &str, key_ttl: u64) -> bool {
    let options = SetOptions {
        ttl: Some(Duration::from_secs(key_ttl)),
    };
    match client.set(key, value, options).await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(%error, key, "the record was not written; retrying at the next refresh");
            false
        }
    }
}

/// Deletes the record; whether it is gone (deleted or not there).
async fn withdraw(client: &Client, key: &str) -> bool {
    match client.delete(key, DeleteOptions::default()).await {
        Ok(_) => true,
        Err(error) if error.code() == Some(kv_client::code::KEY_NOT_FOUND) => true,
        Err(error) => {
            tracing::warn!(%error, key, "the record was not removed");
            false
        }
    }
}

/// This host's name, its first label, as an instance label.
fn host_label() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let label = name.trim().split('.').next()?.to_lowercase();
    (!label.is_empty()).then_some(label)
}
