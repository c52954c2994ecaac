//! Keel's store counters (`/v2/stats/store`, etcd's names) around a benchmark phase. Reads
//! are counted by the member that served them, so they are summed over the members; every
//! member applies every write, so writes are the largest member's count.
//!
//! Not counted: watch requests (long polls and their idle re-polls), which the store's
//! counters leave out.

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

/// Each member's counters, in member order.
///
/// # Errors
/// A member that does not answer, or answers something else than the counters.
pub async fn read(urls: &[String]) -> Result<Vec<Value>> {
    let urls = urls.to_vec();
    tokio::task::spawn_blocking(move || {
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
            .collect()
    })
    .await
    .context("the stats reader")?
}

fn sum(counters: &Value, names: &[&str]) -> u64 {
    names
        .iter()
        .map(|name| counters[*name].as_u64().unwrap_or(0))
        .sum()
}

/// Reads, writes and expirations between `before` and `after`.
#[must_use]
pub fn delta(before: &[Value], after: &[Value]) -> Value {
    let change = |names: &[&str]| -> Vec<u64> {
        before
            .iter()
            .zip(after)
            .map(|(b, a)| sum(a, names).saturating_sub(sum(b, names)))
            .collect()
    };
    let reads: u64 = change(&READS).iter().sum();
    let writes = change(&WRITES).into_iter().max().unwrap_or(0);
    let expires = change(&["expireCount"]).into_iter().max().unwrap_or(0);
    json!({"reads": reads, "writes": writes, "expires": expires})
}
