//! The Keel cluster a benchmark runs against: started from `KEEL_BIN` (or the workspace's
//! build) by `testkit`, stopped when the benchmark ends, and a registry client per
//! simulated component, each with its own connection.

use crate::progress::{Counter, Progress};
use anyhow::{Context, Result};
use fleet_core::model::DesiredState;
use fleet_core::unit_file::UnitFile;
use fleet_registry::{Keys, Registry};
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use kv_client::{Client, ClientConfig};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Starts `members` Keel members (the first phase of `progress`), runs `bench` with their
/// client URLs on a multi-threaded runtime and prints the JSON it returns on one line.
///
/// # Errors
/// The runtime, or what `bench` returns.
pub fn run<F, Fut>(members: usize, progress: &Progress, bench: F) -> Result<()>
where
    F: FnOnce(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    let plural = if members == 1 { "" } else { "s" };
    progress.phase(&format!("start {members} Keel member{plural}"));
    let cluster = testkit::Cluster::start(members, &[]);
    let urls: Vec<String> = (0..members).map(|i| cluster.url(i).to_owned()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(bench(urls));
    match report {
        Ok(_) => progress.finish(),
        Err(_) => progress.clear(),
    }
    println!("{}", report?);
    Ok(())
}

/// A registry client of its own on the cluster at `urls`, under fleet's default prefix.
///
/// # Errors
/// URLs the client refuses.
pub fn registry(urls: &[String]) -> Result<Registry> {
    let client = Client::new(ClientConfig::new(urls.to_vec())).context("client")?;
    Ok(Registry::new(
        client,
        Keys::new(fleet_registry::DEFAULT_PREFIX),
    ))
}

/// Cancels `shutdown` and waits up to 30 s for `tasks` to end; names `what` when they do not.
pub async fn stop(shutdown: &CancellationToken, tasks: &TaskTracker, what: &str) {
    shutdown.cancel();
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(30), tasks.wait())
        .await
        .is_err()
    {
        eprintln!("{what} did not stop within 30 s");
    }
}

/// Creates every unit of `units` through the registry (a read of its file, then the file if
/// new, the record and its desired state), desired `launched`, `parallel` at a time, as by
/// that many clients; each one created counts on `created`.
///
/// # Errors
/// The first creation Keel refuses.
pub async fn create_units<'a>(
    registry: &Registry,
    units: impl Iterator<Item = (String, &'a UnitFile)>,
    parallel: usize,
    created: &Counter<'_>,
) -> Result<()> {
    stream::iter(units)
        .map(|(name, file)| async move {
            registry
                .create_unit(&name, file, DesiredState::Launched)
                .await
                .with_context(|| format!("create {name}"))?;
            created.add_one();
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}
