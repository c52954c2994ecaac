//! Save and recover: round trip, golden bytes, damaged input, and the content hash.

use super::*;
use crate::{StoreError, WatchRequest, WatchStart};

/// A store with files, directories, hidden keys, TTLs, deletes, expiries and a refresh.
fn busy_store() -> Store {
    let mut store = store_with(&[
        set("/a", "1"),
        set("/d/b", "2"),
        set("/d/_hidden", "h"),
        mkdir("/empty"),
        set_until("/t", "ttl", NOW.plus_seconds(30)),
        mkdir_until("/gone", NOW.plus_seconds(1)),
        set("/gone/x", "x"),
        post("/queue", "job"),
        set("/a", "1b"),
        delete("/d/b", false, false),
        Mutation::Update {
            path: "/t".into(),
            value: String::new(),
            expire_at: Some(NOW.plus_seconds(60)),
            refresh: true,
        },
    ]);
    store.expire(NOW.plus_seconds(1));
    store
}

fn replayed_event(store: &Store, path: &str, since: u64) -> Option<Event> {
    let request = WatchRequest {
        path: path.into(),
        recursive: true,
        stream: false,
        since: Some(StoreIndex(since)),
    };
    match store.watch(&request, Recorder::new().boxed()).unwrap() {
        WatchStart::Done { event, .. } => Some((*event).clone()),
        WatchStart::Registered { .. } => None,
    }
}

fn invalid(bytes: &[u8]) -> String {
    match Store::recover(bytes) {
        Err(StoreError::InvalidSaveData { reason }) => reason,
        other => panic!("expected InvalidSaveData, got {other:?}"),
    }
}

// Goal: recover(save(s)) has the same hash, index, reads, expiries, history answers and bytes.
#[test]
fn round_trip_preserves_everything() {
    let store = busy_store();
    let bytes = store.save();
    let recovered = Store::recover(&bytes).unwrap();
    assert_eq!(recovered.content_hash(), store.content_hash());
    assert_eq!(recovered.index(), store.index());
    assert_eq!(recovered.next_expiry(), store.next_expiry());
    assert_eq!(recovered.save(), bytes);
    for path in ["/", "/d", "/d/_hidden", "/t", "/gone", "/missing"] {
        assert_eq!(
            recovered.get(path, true, true, NOW),
            store.get(path, true, true, NOW),
            "{path}"
        );
    }
    for since in 1..=store.index().0 + 1 {
        assert_eq!(
            replayed_event(&recovered, "/", since),
            replayed_event(&store, "/", since)
        );
    }
}

// Goal: a recovered store keeps evolving exactly like the original.
#[test]
fn recovered_store_continues_identically() {
    let mut original = busy_store();
    let mut recovered = Store::recover(&original.save()).unwrap();
    let next = [
        set("/n", "1"),
        post("/queue", "2"),
        delete("/d", true, true),
    ];
    for mutation in &next {
        assert_eq!(
            recovered.apply(mutation, NOW),
            original.apply(mutation, NOW)
        );
    }
    assert_eq!(
        recovered.expire(NOW.plus_seconds(60)),
        original.expire(NOW.plus_seconds(60))
    );
    assert_eq!(recovered.content_hash(), original.content_hash());
}

// Goal: the format is pinned: a tiny store saves to exactly these bytes (version byte first,
// then postcard varints), so an accidental encoding change fails here.
#[test]
fn golden_bytes() {
    let mut store = Store::new();
    store.apply(&set("/a", "x"), Time(0)).unwrap();
    store.apply(&mkdir_until("/d", Time(300)), Time(0)).unwrap();
    #[rustfmt::skip]
    let expected: Vec<u8> = vec![
        1, // format version
        2, // store index
        2, // nodes
        2, b'/', b'a', 1, 1, b'x', 0, 1, 1, // "/a": value "x", no expiry, created 1, modified 1
        2, b'/', b'd', 0, 1, 0xd8, 0x04, 2, 2, // "/d": directory, expiry 300 (zigzag), 2, 2
        2, // history events
        // set "/a": key, value, dir, expiration, ttl, modified, created, prevNode, refresh
        1, 1, 2, b'/', b'a', 1, 1, b'x', 0, 0, 0, 1, 1, 0, 0,
        // set "/d": no value, dir, expiration 300, ttl 1 (zigzag 2)
        1, 1, 2, b'/', b'd', 0, 1, 1, 0xd8, 0x04, 1, 2, 2, 2, 0, 0,
    ];
    assert_eq!(store.save(), expected);
    let recovered = Store::recover(&expected).unwrap();
    assert_eq!(recovered.content_hash(), store.content_hash());
}

// Goal: unknown versions, empty input, trailing bytes and every truncation are refused with
// InvalidSaveData, never a panic.
#[test]
fn damaged_input_is_refused() {
    assert_eq!(invalid(&[]), "empty input");
    let bytes = busy_store().save();
    let mut future = bytes.clone();
    future[0] = 2;
    assert_eq!(invalid(&future), "unknown save format version 2");
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(invalid(&trailing), "1 trailing bytes");
    for length in 1..bytes.len() {
        invalid(&bytes[..length]);
    }
}

// Goal: random garbage and single-byte corruptions never panic: recover either refuses the
// bytes or yields a store whose own save round-trips.
#[test]
fn garbage_never_panics() {
    let bytes = busy_store().save();
    let mut random = model::XorShift::new(0x5eed_cafe);
    for position in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[position] ^= 1 << (random.next() % 8);
        if let Ok(store) = Store::recover(&damaged) {
            let again = Store::recover(&store.save()).unwrap();
            assert_eq!(again.content_hash(), store.content_hash());
        }
    }
    for _ in 0..2_000 {
        let length = (random.next() % 64) as usize;
        let mut garbage: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
        if let Some(first) = garbage.first_mut() {
            *first = 1;
        }
        let _ = Store::recover(&garbage);
    }
}

// Goal: recover refuses structurally broken trees: a node before its parent, a child of a
// file, an unclean path, an index ahead of the store.
#[test]
fn broken_structure_is_refused() {
    let node = |path: &str, value: Option<&str>, created: u8| -> Vec<u8> {
        let mut encoded = vec![path.len() as u8];
        encoded.extend_from_slice(path.as_bytes());
        match value {
            Some(value) => {
                encoded.extend_from_slice(&[1, value.len() as u8]);
                encoded.extend_from_slice(value.as_bytes());
            }
            None => encoded.push(0),
        }
        encoded.extend_from_slice(&[0, created, created]);
        encoded
    };
    let save = |index: u8, nodes: &[Vec<u8>]| -> Vec<u8> {
        let mut bytes = vec![1, index, nodes.len() as u8];
        for encoded in nodes {
            bytes.extend_from_slice(encoded);
        }
        bytes.push(0);
        bytes
    };
    let good = save(2, &[node("/d", None, 1), node("/d/f", Some("v"), 2)]);
    assert!(Store::recover(&good).is_ok());
    let orphan = save(2, &[node("/d/f", Some("v"), 2)]);
    assert_eq!(
        invalid(&orphan),
        "node /d/f has no parent directory before it"
    );
    let under_file = save(2, &[node("/f", Some("v"), 1), node("/f/g", Some("v"), 2)]);
    assert_eq!(
        invalid(&under_file),
        "node /f/g has no parent directory before it"
    );
    let twice = save(2, &[node("/f", Some("v"), 1), node("/f", Some("v"), 2)]);
    assert_eq!(invalid(&twice), "node /f appears twice");
    let unclean = save(2, &[node("/a//b", Some("v"), 1)]);
    assert_eq!(invalid(&unclean), "invalid node path \"/a//b\"");
    let root = save(2, &[node("/", None, 1)]);
    assert_eq!(invalid(&root), "invalid node path \"/\"");
    let ahead = save(1, &[node("/f", Some("v"), 2)]);
    assert_eq!(invalid(&ahead), "node /f is newer than the store index");
}

// Goal: the content hash is deterministic across stores built alike, and differs when a
// value, an index or an expiry differs.
#[test]
fn content_hash_tracks_content() {
    let base = [set("/a", "1"), set("/d/b", "2")];
    let one = store_with(&base);
    let two = store_with(&base);
    assert_eq!(one.content_hash(), two.content_hash());
    let other_value = store_with(&[set("/a", "1"), set("/d/b", "3")]);
    assert_ne!(one.content_hash(), other_value.content_hash());
    let other_index = store_with(&[set("/a", "0"), set("/a", "1"), set("/d/b", "2")]);
    assert_ne!(one.content_hash(), other_index.content_hash());
    let other_expiry = store_with(&[set("/a", "1"), set_until("/d/b", "2", NOW)]);
    assert_ne!(one.content_hash(), other_expiry.content_hash());
    assert_ne!(Store::new().content_hash(), one.content_hash());
}
