//! The keys API: one typed method per etcd v2 operation, each mapped to exactly the request
//! etcdctl v2 sends for it (spec §5). Reads go through the read retry policy, everything else
//! through the write policy (see `client.rs`).

use crate::client::Client;
use crate::decode;
use crate::error::ClientError;
use crate::options::{DeleteOptions, GetOptions, PrevConditions, SetOptions};
use crate::request::{self, PutBody, PutMode};
use crate::types::Response;
use std::time::Duration;
use tracing::instrument;

impl Client {
    /// Reads a key or lists a directory (`GET /v2/keys/<key>`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 100 when the key is missing ([`ClientError::is_key_not_found`]);
    /// [`ClientError::Unavailable`] or [`ClientError::Timeout`] when no endpoint answered in
    /// time (reads are retried on other endpoints first); `Http`, `Decode`, `ReplyTooLarge`.
    #[instrument(level = "debug", skip(self))]
    pub async fn get(&self, key: &str, options: GetOptions) -> Result<Response, ClientError> {
        self.execute(&request::get(key, options), decode::keys_response)
            .await
    }

    /// Creates or replaces a file (`PUT value=…`, action `set`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] (e.g. 102 when the key is a directory, 104 when a parent is a
    /// file); [`ClientError::Indeterminate`] when the write was sent and no definite answer
    /// came; [`ClientError::Unavailable`] when no endpoint could be connected to (not sent).
    #[instrument(level = "debug", skip(self, value))]
    pub async fn set(
        &self,
        key: &str,
        value: &str,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        self.put(key, PutBody::Value(value), &PutMode::Set, options)
            .await
    }

    /// Creates a file that must not exist yet (`prevExist=false`, action `create`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 105 when the key exists ([`ClientError::is_key_exists`]); otherwise
    /// as [`Client::set`].
    #[instrument(level = "debug", skip(self, value))]
    pub async fn create(
        &self,
        key: &str,
        value: &str,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        self.put(key, PutBody::Value(value), &PutMode::Create, options)
            .await
    }

    /// Replaces the value of an existing file (`prevExist=true`, action `update`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 100 when the key is missing; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self, value))]
    pub async fn update(
        &self,
        key: &str,
        value: &str,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        self.put(key, PutBody::Value(value), &PutMode::Update, options)
            .await
    }

    /// Replaces a file's value only if it matches `prev` (action `compareAndSwap`).
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] when `prev` is empty or its index is 0 (etcd would run a
    /// plain set); [`ClientError::Etcd`] 101 when the compare fails
    /// ([`ClientError::is_compare_failed`]), 100 when the key is missing, 201 for an empty
    /// `prev.value`; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self, value))]
    pub async fn compare_and_swap(
        &self,
        key: &str,
        value: &str,
        prev: &PrevConditions,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        self.put(key, PutBody::Value(value), &PutMode::Compare(prev), options)
            .await
    }

    /// Deletes a file only if it matches `prev` (action `compareAndDelete`).
    ///
    /// # Errors
    /// [`ClientError::InvalidRequest`] when `prev` is empty or its index is 0 (etcd would run a
    /// plain delete); [`ClientError::Etcd`] 101 when the compare fails, 100 when missing, 102
    /// on a directory; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self))]
    pub async fn compare_and_delete(
        &self,
        key: &str,
        prev: &PrevConditions,
    ) -> Result<Response, ClientError> {
        let spec = request::compare_and_delete(key, prev)?;
        self.execute(&spec, decode::keys_response).await
    }

    /// Deletes a file, or a directory with `dir` / `recursive` (action `delete`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 100 when missing, 102 for a directory without `dir`, 108 for a
    /// non-empty directory without `recursive`, 107 for the root; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self))]
    pub async fn delete(&self, key: &str, options: DeleteOptions) -> Result<Response, ClientError> {
        self.execute(&request::delete(key, options), decode::keys_response)
            .await
    }

    /// Creates a directory that must not exist yet (`dir=true prevExist=false`, as
    /// `etcdctl mkdir`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 105 when the key exists; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self))]
    pub async fn mkdir(&self, key: &str, options: SetOptions) -> Result<Response, ClientError> {
        self.put(key, PutBody::Dir, &PutMode::Create, options).await
    }

    /// Creates a directory, or replaces a file with an empty directory (`dir=true`, as
    /// `etcdctl setdir`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 102 when the key is already a directory; otherwise as
    /// [`Client::set`].
    #[instrument(level = "debug", skip(self))]
    pub async fn set_dir(&self, key: &str, options: SetOptions) -> Result<Response, ClientError> {
        self.put(key, PutBody::Dir, &PutMode::Set, options).await
    }

    /// Sets or clears an existing directory's TTL (`dir=true prevExist=true`, as
    /// `etcdctl updatedir`).
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 100 when missing; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self))]
    pub async fn update_dir(
        &self,
        key: &str,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        self.put(key, PutBody::Dir, &PutMode::Update, options).await
    }

    /// Creates a new file under `dir`, named after the new index as 20 zero-padded digits
    /// (`POST`, action `create`); `GET` with `sorted` lists them in creation order.
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 104 when `dir` is a file; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self, value))]
    pub async fn create_in_order(
        &self,
        dir: &str,
        value: &str,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        self.execute(&request::post(dir, value, options), decode::keys_response)
            .await
    }

    /// Resets a key's TTL without changing its value and without notifying watchers
    /// (`refresh=true`). With empty `prev` it is an `update` (the key must exist); otherwise a
    /// `compareAndSwap` that also checks `prev`.
    ///
    /// # Errors
    /// [`ClientError::Etcd`] 100 when missing, 101 when `prev` does not match;
    /// [`ClientError::InvalidRequest`] for a zero `prev.index`; otherwise as [`Client::set`].
    #[instrument(level = "debug", skip(self))]
    pub async fn refresh_ttl(
        &self,
        key: &str,
        ttl: Duration,
        prev: &PrevConditions,
    ) -> Result<Response, ClientError> {
        let mode = if prev.is_empty() {
            PutMode::Update
        } else {
            PutMode::Compare(prev)
        };
        let options = SetOptions { ttl: Some(ttl) };
        self.put(key, PutBody::Refresh, &mode, options).await
    }

    async fn put(
        &self,
        key: &str,
        body: PutBody<'_>,
        mode: &PutMode<'_>,
        options: SetOptions,
    ) -> Result<Response, ClientError> {
        let spec = request::put(key, body, mode, options)?;
        self.execute(&spec, decode::keys_response).await
    }
}
