//! Keel's store counters (`/v2/stats/store`, etcd's names) around a benchmark phase. Reads
//! are counted by the member that served them, so they are summed over the members; every
//! member applies every write, so writes are the largest member's count.
//!
//! The benchmark's own reads (its polls of the state reports and machines) are left out:
//! each sample notes how many it had made. Not counted: watch requests (long polls and
//! their idle re-polls), which the store's counters leave out.

use anyhow::{Context, Result};
use serde_json::{json, Value};

const READS: [&str; 2] = ["getsSuccess", "getsFail"];
const WRITES: [&str; 12] = [
    "setsSuccess",
    "setsFail",
    "deleteSuccess",
    "deleteFail",
    "updateSuccess",
    "updateFail",
    "createSuccess",
    "createFail",
    "compareAndSwapSuccess",
    "compareAndSwapFail",
    "compareAndDeleteSuccess",
    "compareAndDeleteFail",
];

/// Every member's counters at one moment, and how many reads the benchmark had made.
pub struct Sample {
    members: Vec<Value>,
    own_reads: u64,
}

/// Each member's counters, in member order, with `own_reads`, the benchmark's reads so far.
///
/// # Errors
/// A member that does not answer, or answers something else than the counters.
pub async fn read(urls: &[String], own_reads: u64) -> Result<Sample> {
    let urls = urls.to_vec();
    let members = tokio::task::spawn_blocking(move || {
        urls.iter()
            .map(|url| {
                let address = format!("{url}/v2/stats/store");
                let body = ureq::get(&address)
                    .call()
                    .with_context(|| address.clone())?
                    .into_string()
                    .with_context(|| address.clone())?;
                serde_json::from_str(&body).with_context(|| address.clone())
            })
            .collect::<Result<Vec<Value>>>()
    })
    .await
    .context("the stats reader")??;
    Ok(Sample { members, own_reads })
}

fn sum(counters: &Value, names: &[&str]) -> u64 {
    names
        .iter()
        .map(|name| counters[*name].as_u64().unwrap_or(0))
        .sum()
}

/// Reads (but the benchmark's own), writes and expirations between `before` and `after`.
#[must_use]
pub fn delta(before: &Sample, after: &Sample) -> Value {
    let change = |names: &[&str]| -> Vec<u64> {
        before
            .members
            .iter()
            .zip(&after.members)
            .map(|(b, a)| sum(a, names).saturating_sub(sum(b, names)))
            .collect()
    };
    let own = after.own_reads.saturating_sub(before.own_reads);
    let reads = change(&READS).iter().sum::<u64>().saturating_sub(own);
    let writes = change(&WRITES).into_iter().max().unwrap_or(0);
    let expires = change(&["expireCount"]).into_iter().max().unwrap_or(0);
    json!({"reads": reads, "writes": writes, "expires": expires})
}
