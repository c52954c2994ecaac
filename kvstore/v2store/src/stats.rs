//! Operation counters for `/v2/stats/store`.
//!
//! Owns: the counters. They are atomics because gets count from `&self` while the store is
//! shared behind a read lock. They are local to one replica (gets differ between replicas), so
//! they are neither saved nor part of `content_hash`.

use crate::StoreStats;
use std::sync::atomic::{AtomicU64, Ordering};

/// One counter of etcd's `v2store/stats.go`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    GetsSuccess,
    GetsFail,
    SetsSuccess,
    SetsFail,
    DeleteSuccess,
    DeleteFail,
    UpdateSuccess,
    UpdateFail,
    CreateSuccess,
    CreateFail,
    CompareAndSwapSuccess,
    CompareAndSwapFail,
    CompareAndDeleteSuccess,
    CompareAndDeleteFail,
    ExpireCount,
}

const COUNTERS: usize = Counter::ExpireCount as usize + 1;

/// The counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    values: [AtomicU64; COUNTERS],
}

impl Counters {
    /// Count one occurrence. Relaxed: the counters order nothing, they are only read for stats.
    pub(crate) fn add(&self, counter: Counter) {
        self.values[counter as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Count an outcome as `success` or `fail`.
    pub(crate) fn outcome(&self, ok: bool, success: Counter, fail: Counter) {
        self.add(if ok { success } else { fail });
    }

    fn get(&self, counter: Counter) -> u64 {
        self.values[counter as usize].load(Ordering::Relaxed)
    }

    /// The counters as stats, with the live watcher count.
    pub(crate) fn snapshot(&self, watchers: u64) -> StoreStats {
        StoreStats {
            gets_success: self.get(Counter::GetsSuccess),
            gets_fail: self.get(Counter::GetsFail),
            sets_success: self.get(Counter::SetsSuccess),
            sets_fail: self.get(Counter::SetsFail),
            delete_success: self.get(Counter::DeleteSuccess),
            delete_fail: self.get(Counter::DeleteFail),
            update_success: self.get(Counter::UpdateSuccess),
            update_fail: self.get(Counter::UpdateFail),
            create_success: self.get(Counter::CreateSuccess),
            create_fail: self.get(Counter::CreateFail),
            compare_and_swap_success: self.get(Counter::CompareAndSwapSuccess),
            compare_and_swap_fail: self.get(Counter::CompareAndSwapFail),
            compare_and_delete_success: self.get(Counter::CompareAndDeleteSuccess),
            compare_and_delete_fail: self.get(Counter::CompareAndDeleteFail),
            expire_count: self.get(Counter::ExpireCount),
            watchers,
        }
    }
}
