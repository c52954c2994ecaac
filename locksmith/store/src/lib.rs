//! `locksmith-store`: locksmith's reboot semaphores in Keel, over `kv-client` only.
//!
//! Owns the round trips of every semaphore operation: read the group's document (creating it
//! with `prevExist=false` when absent, as every locksmith client does), run the pure operation
//! of `locksmith_core::semaphore` on that read, and write its answer with compare-and-swap on
//! the read's `modifiedIndex`. A lost swap or a document deleted meanwhile is read again and
//! retried after a pause with full jitter, at most [`ATTEMPTS_MAX`] times; an indeterminate
//! write is settled by running the operation again on a fresh read (the operations are
//! idempotent per holder, so one that took effect answers "nothing to write").
//!
//! Invariants: nothing is ever written but the answer of an operation on the document it
//! read, and never without `prevIndex`; a malformed document is reported, never overwritten.
//! Must not depend on the store's crates: Keel is reached through `kv-client` alone.

#![warn(missing_docs)]

use kv_client::{Backoff, Client, ClientError, GetOptions, PrevConditions, SetOptions, StoreIndex};
use locksmith_core::semaphore::{
    self, Change, DocumentError, FencingToken, Lock, Reaping, Semaphore, SemaphoreError,
};
use std::time::Duration;

/// Attempts of one operation against concurrent writers, the first included.
pub const ATTEMPTS_MAX: u32 = 8;

/// The first retry pause's bound; it doubles per attempt up to [`RETRY_PAUSE_MAX`].
const RETRY_PAUSE_MIN: Duration = Duration::from_millis(20);

/// The largest retry pause bound: eight attempts then span about two seconds.
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(640);

/// A semaphore operation that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Keel gave no usable answer.
    #[error("{key}: {source}")]
    Store {
        /// The semaphore's key.
        key: String,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// The stored value is not a semaphore document; it is left as it is.
    #[error("{key}: {source}")]
    Malformed {
        /// The semaphore's key.
        key: String,
        /// What is wrong with it.
        #[source]
        source: DocumentError,
    },
    /// The key is a directory.
    #[error("{key}: not a semaphore but a directory")]
    Directory {
        /// The semaphore's key.
        key: String,
    },
    /// The operation is refused by the document (full, bad maximum).
    #[error(transparent)]
    Refused(#[from] SemaphoreError),
    /// Other writers won every compare-and-swap.
    #[error("{key}: still contended after {attempts} attempts")]
    Contended {
        /// The semaphore's key.
        key: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl StoreError {
    /// Whether trying again later may succeed (Keel unreachable or busy, contention, a
    /// full semaphore); a malformed document or a refused maximum needs an operator.
    #[must_use]
    pub fn is_retriable(&self) -> bool {
        match self {
            StoreError::Store { source, .. } => source.is_retriable() || source.is_indeterminate(),
            StoreError::Contended { .. } | StoreError::Refused(SemaphoreError::Full { .. }) => true,
            _ => false,
        }
    }
}

/// A read of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The document.
    pub semaphore: Semaphore,
    /// The `modifiedIndex` it was read at.
    pub index: StoreIndex,
}

/// The semaphore of one group.
#[derive(Debug, Clone)]
pub struct SemaphoreStore {
    client: Client,
    key: String,
}

impl SemaphoreStore {
    /// The semaphore of `group` (`""`: locksmith's default group).
    #[must_use]
    pub fn new(client: Client, group: &str) -> SemaphoreStore {
        SemaphoreStore {
            client,
            key: semaphore::key_for_group(group),
        }
    }

    /// The semaphore's key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Creates the document with one slot if it is absent (`prevExist=false`); present is
    /// success.
    ///
    /// # Errors
    /// [`StoreError::Store`] when Keel does not answer or refuses.
    pub async fn init(&self) -> Result<(), StoreError> {
        let text = Semaphore::initial().to_json();
        match self
            .client
            .create(&self.key, &text, SetOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.is_key_exists() => Ok(()),
            Err(source) => Err(self.store_error(source)),
        }
    }

    /// Reads the document, creating it first if absent.
    ///
    /// # Errors
    /// [`StoreError::Store`], [`StoreError::Malformed`], [`StoreError::Directory`].
    pub async fn read(&self) -> Result<Read, StoreError> {
        match self.read_once().await {
            Err(StoreError::Store { source, .. }) if source.is_key_not_found() => {
                self.init().await?;
                self.read_once().await
            }
            other => other,
        }
    }

    /// Takes a slot for `holder`, or finds it already held; its fencing token.
    ///
    /// # Errors
    /// [`StoreError::Refused`] with `Full` when no slot is free; as [`SemaphoreStore::read`];
    /// [`StoreError::Contended`].
    #[tracing::instrument(skip(self), fields(key = %self.key))]
    pub async fn lock(&self, holder: &str, now_ms: u64) -> Result<FencingToken, StoreError> {
        let modified = self
            .modify(|read| {
                match read.semaphore.lock(read.index.0, holder, now_ms)? {
                    Lock::Held(token) => Ok((None, token)),
                    // The token is the index of this write, known once it is done.
                    Lock::Write(next) => Ok((Some(next), FencingToken(0))),
                }
            })
            .await?;
        Ok(modified
            .written_at
            .map_or(modified.value, |index| FencingToken(index.0)))
    }

    /// Gives `holder`'s slot back; whether it held one.
    ///
    /// # Errors
    /// As [`SemaphoreStore::read`]; [`StoreError::Contended`].
    #[tracing::instrument(skip(self), fields(key = %self.key))]
    pub async fn unlock(&self, holder: &str, now_ms: u64) -> Result<bool, StoreError> {
        let modified = self
            .modify(|read| {
                Ok((
                    written(read.semaphore.unlock(read.index.0, holder, now_ms)),
                    (),
                ))
            })
            .await?;
        Ok(modified.written_at.is_some())
    }

    /// Sets the number of slots; the maximum before the change and the document after.
    ///
    /// # Errors
    /// [`StoreError::Refused`] with `NegativeMax`; as [`SemaphoreStore::read`];
    /// [`StoreError::Contended`].
    #[tracing::instrument(skip(self), fields(key = %self.key))]
    pub async fn set_max(&self, max: i64, now_ms: u64) -> Result<(i64, Semaphore), StoreError> {
        let modified = self
            .modify(|read| {
                let change = read.semaphore.set_max(read.index.0, max, now_ms)?;
                Ok((written(change), read.semaphore.max))
            })
            .await?;
        Ok((modified.value, modified.document))
    }

    /// Removes the holders that have held a slot for longer than `max_hold`, recording
    /// `by` and `reason`; the reapings made.
    ///
    /// # Errors
    /// As [`SemaphoreStore::read`]; [`StoreError::Contended`].
    #[tracing::instrument(skip(self), fields(key = %self.key))]
    pub async fn reap(
        &self,
        max_hold: Duration,
        by: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Vec<Reaping>, StoreError> {
        let max_hold_ms = u64::try_from(max_hold.as_millis()).unwrap_or(u64::MAX);
        let modified = self
            .modify(|read| {
                let change = read
                    .semaphore
                    .reap(read.index.0, now_ms, max_hold_ms, by, reason);
                let next = written(change);
                let made = next
                    .as_ref()
                    .map(|next| new_reapings(&read.semaphore, next));
                Ok((next, made.unwrap_or_default()))
            })
            .await?;
        Ok(modified.value)
    }

    async fn read_once(&self) -> Result<Read, StoreError> {
        let response = self
            .client
            .get(&self.key, GetOptions::default())
            .await
            .map_err(|source| self.store_error(source))?;
        let node = response.node;
        let Some(value) = node.value.filter(|_| !node.dir) else {
            return Err(StoreError::Directory {
                key: self.key.clone(),
            });
        };
        let semaphore = Semaphore::parse(&value).map_err(|source| StoreError::Malformed {
            key: self.key.clone(),
            source,
        })?;
        Ok(Read {
            semaphore,
            index: node.modified_index,
        })
    }

    /// Runs `operation` on reads until its answer is written or there is nothing to write.
    async fn modify<T, F>(&self, operation: F) -> Result<Modified<T>, StoreError>
    where
        F: Fn(&Read) -> Result<(Option<Semaphore>, T), SemaphoreError>,
    {
        let backoff = Backoff::new(RETRY_PAUSE_MIN, RETRY_PAUSE_MAX, None);
        for attempt in 1..=ATTEMPTS_MAX {
            let read = self.read().await?;
            let (next, value) = operation(&read)?;
            let Some(next) = next else {
                return Ok(Modified {
                    value,
                    document: read.semaphore,
                    written_at: None,
                });
            };
            let prev = PrevConditions::index(read.index);
            let text = next.to_json();
            match self
                .client
                .compare_and_swap(&self.key, &text, &prev, SetOptions::default())
                .await
            {
                Ok(response) => {
                    return Ok(Modified {
                        value,
                        document: next,
                        written_at: Some(response.node.modified_index),
                    })
                }
                Err(error) if lost_race(&error) => {
                    tracing::debug!(attempt, %error, "semaphore changed under us; reading again");
                    // Full jitter, the bound doubling from RETRY_PAUSE_MIN · 2.
                    tokio::time::sleep(backoff.pause(attempt + 1)).await;
                }
                Err(error) if error.is_indeterminate() => {
                    tracing::debug!(attempt, %error, "write outcome unknown; reading again");
                }
                Err(source) => return Err(self.store_error(source)),
            }
        }
        Err(StoreError::Contended {
            key: self.key.clone(),
            attempts: ATTEMPTS_MAX,
        })
    }

    fn store_error(&self, source: ClientError) -> StoreError {
        StoreError::Store {
            key: self.key.clone(),
            source,
        }
    }
}

/// The named groups that have a semaphore (under locksmith's groups directory), sorted; none
/// when the directory is absent.
///
/// # Errors
/// [`StoreError::Store`] when Keel does not answer.
pub async fn groups(client: &Client) -> Result<Vec<String>, StoreError> {
    let options = GetOptions {
        sorted: true,
        ..GetOptions::default()
    };
    let response = match client.get(semaphore::GROUPS_DIR, options).await {
        Ok(response) => response,
        Err(error) if error.is_key_not_found() => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Store {
                key: semaphore::GROUPS_DIR.to_owned(),
                source,
            })
        }
    };
    Ok(response
        .node
        .nodes
        .iter()
        .filter(|node| node.dir)
        .filter_map(|node| node.key.rsplit('/').next())
        .filter_map(semaphore::group_from_escaped)
        .collect())
}

/// What [`SemaphoreStore::modify`] did.
struct Modified<T> {
    /// The operation's own answer, from the last read.
    value: T,
    /// The document now: the one written, or the one read when nothing was written.
    document: Semaphore,
    /// The index of the write, when one was made.
    written_at: Option<StoreIndex>,
}

/// The reapings recorded in `next` that `read` did not have.
fn new_reapings(read: &Semaphore, next: &Semaphore) -> Vec<Reaping> {
    let reapings = |document: &Semaphore| {
        document
            .keel
            .as_ref()
            .map(|book| book.reaped.clone())
            .unwrap_or_default()
    };
    let old = reapings(read);
    reapings(next)
        .into_iter()
        .filter(|reaping| !old.contains(reaping))
        .collect()
}

fn written(change: Change) -> Option<Semaphore> {
    match change {
        Change::Unchanged => None,
        Change::Write(next) => Some(next),
    }
}

/// Another writer changed (or deleted) the document since it was read.
fn lost_race(error: &ClientError) -> bool {
    error.is_compare_failed() || error.is_key_not_found()
}

/// Now by this host's clock, in milliseconds since the Unix epoch: the time callers write into
/// hold records (`now_ms` of every operation).
#[must_use]
pub fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
