//! The deepest tree the HTTP layer lets in: `KEY_SEGMENTS_MAX` segments plus one in-order
//! child. Several walks recurse once per level (listing views, forgetting a removed subtree's
//! expiries, dropping nodes), so they must fit a tokio worker's default stack.

use super::*;
use crate::limits::KEY_SEGMENTS_MAX;

/// tokio's default worker thread stack (`thread_stack_size`), where reads run; the raft thread
/// that applies has at least as much.
const WORKER_STACK_BYTES: usize = 2 << 20;

// Goal: every operation that walks the tree's depth works on the deepest allowed tree without
// exhausting a 2 MiB stack. Method: on a thread with that stack, build a directory with a TTL
// `KEY_SEGMENTS_MAX` segments deep, add an in-order child below it, list the whole tree, save
// and recover it, replay a watch, then expire the top directory (one event, whole subtree
// removed and dropped).
#[test]
fn deepest_allowed_tree_fits_a_worker_stack() {
    let run = || {
        let deep = "/d".repeat(KEY_SEGMENTS_MAX);
        let mut store = store_with(&[
            mkdir_until("/d", NOW.plus_seconds(1)),
            set_until(&format!("{deep}/leaf"), "x", NOW.plus_seconds(5)),
        ]);
        apply_ok(&mut store, &post(&deep, "job"));
        let listing = store.get("/", true, true, NOW).expect("the root lists");
        let mut depth = 0;
        let mut node = &listing.node;
        while let Some(children) = &node.nodes {
            depth += 1;
            node = &children[0];
        }
        assert_eq!(depth, KEY_SEGMENTS_MAX + 1, "every level is listed");
        let recovered = Store::recover(&store.save()).expect("the deep tree recovers");
        assert_eq!(recovered.content_hash(), store.content_hash());
        let events = store.expire(NOW.plus_seconds(1));
        assert_eq!(events.len(), 1, "one expire event for the directory");
        assert_eq!(events[0].node.key.as_deref(), Some("/d"));
        assert!(
            store.next_expiry().is_none(),
            "the subtree's expiries are gone"
        );
    };
    std::thread::Builder::new()
        .stack_size(WORKER_STACK_BYTES)
        .spawn(run)
        .expect("a test thread starts")
        .join()
        .expect("the deep-tree thread finishes (a stack overflow aborts the test binary)");
}
