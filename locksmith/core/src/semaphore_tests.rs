use super::*;

fn doc(text: &str) -> Semaphore {
    Semaphore::parse(text).expect("a valid document")
}

fn written(change: Change) -> Semaphore {
    match change {
        Change::Write(next) => next,
        Change::Unchanged => panic!("expected a write"),
    }
}

fn locked(result: Result<Lock, SemaphoreError>) -> Semaphore {
    match result.expect("the lock is allowed") {
        Lock::Write(next) => next,
        Lock::Held(token) => panic!("expected a write, already held under {token}"),
    }
}

// Goal: the keys are locksmith's, named groups query-escaped as Go's url.QueryEscape does.
// Method: a table of groups and their keys, and the escaped name decoded back.
#[test]
fn keys_are_locksmiths() {
    assert_eq!(
        key_for_group(""),
        "coreos.com/updateengine/rebootlock/semaphore"
    );
    for (group, escaped) in [
        ("lb", "lb"),
        ("web servers", "web+servers"),
        ("a/b", "a%2Fb"),
        ("x~y-z_.w", "x~y-z_.w"),
        ("50%+*", "50%25%2B%2A"),
    ] {
        assert_eq!(
            key_for_group(group),
            format!("coreos.com/updateengine/rebootlock/groups/{escaped}/semaphore")
        );
        assert_eq!(group_from_escaped(escaped).as_deref(), Some(group));
    }
}

// Goal: every document locksmith writes reads, and what Keel writes is locksmith's shape
// with its book in one extra field. Method: golden texts: `null`, `[]` and absent holders,
// unknown fields; the initial document and a locked one, byte for byte.
#[test]
fn documents_read_and_write_as_locksmiths() {
    for text in [
        r#"{"semaphore":1,"max":1,"holders":null}"#,
        r#"{"semaphore":1,"max":1,"holders":[]}"#,
        r#"{"semaphore":1,"max":1}"#,
        r#"{"semaphore":1,"max":1,"holders":[],"other":{"x":1}}"#,
    ] {
        assert_eq!(doc(text), Semaphore::initial(), "{text}");
    }
    assert_eq!(
        Semaphore::initial().to_json(),
        r#"{"semaphore":1,"max":1,"holders":[]}"#
    );
    let next = locked(Semaphore::initial().lock(7, "m1", 1_000));
    assert_eq!(
        next.to_json(),
        r#"{"semaphore":0,"max":1,"holders":["m1"],"keel":{"version":1,"holds":{"m1":{"token":0,"acquiredAtMs":1000}}}}"#
    );
    assert_eq!(doc(&next.to_json()), next);
}

// Goal: a document that is not a semaphore is refused, never guessed at. Method: a table of
// malformed texts, each an error naming the document.
#[test]
fn malformed_documents_are_errors() {
    for text in [
        "",
        "not json",
        "[]",
        r#"{"max":1,"holders":[]}"#,
        r#"{"semaphore":"1","max":1}"#,
        r#"{"semaphore":1.5,"max":1}"#,
        r#"{"semaphore":1,"max":1,"holders":[1]}"#,
        r#"{"semaphore":1,"max":1,"holders":"m1"}"#,
        r#"{"semaphore":1,"max":1,"keel":{"holds":{}}}"#,
    ] {
        let error = Semaphore::parse(text).expect_err(text);
        assert!(
            error
                .to_string()
                .starts_with("malformed semaphore document"),
            "{text}: {error}"
        );
    }
}

// Goal: lock takes a free slot, keeps holders sorted, and refuses a full semaphore with
// locksmith's text; a holder locking again gets its token back without a write, even when
// the semaphore is full (coreos/locksmith#58). Method: lock three ids into max 2.
#[test]
fn lock_takes_slots_until_full_and_is_idempotent() {
    let two = written(Semaphore::initial().set_max(1, 2, 0).expect("set_max"));
    let one = locked(two.lock(2, "m2", 10));
    let none = locked(one.lock(3, "m1", 20));
    assert_eq!(none.holders, ["m1", "m2"]);
    assert_eq!((none.semaphore, none.max), (0, 2));
    assert_eq!(
        none.lock(4, "m3", 30),
        Err(SemaphoreError::Full { semaphore: 0 })
    );
    assert_eq!(
        SemaphoreError::Full { semaphore: 0 }.to_string(),
        "semaphore is at 0"
    );
    // m1 was added by the write read at 4; m2 by the one before, settled to 3.
    assert_eq!(none.lock(4, "m1", 40), Ok(Lock::Held(FencingToken(4))));
    assert_eq!(none.lock(4, "m2", 40), Ok(Lock::Held(FencingToken(3))));
}

// Goal: fencing tokens are the index of the write that added the holder, and grow with each
// new holder. Method: a chain of writes, each read back at the index the store gave it.
#[test]
fn tokens_are_the_adding_writes_index() {
    let a = locked(written(Semaphore::initial().set_max(5, 3, 0).expect("max")).lock(6, "a", 1));
    // Stored at index 9 (other keys wrote in between).
    let b = locked(a.lock(9, "b", 2));
    // Stored at 12.
    let holds = b.holds(12);
    let tokens: Vec<_> = holds
        .iter()
        .map(|hold| (hold.holder.as_str(), hold.token))
        .collect();
    assert_eq!(
        tokens,
        [("a", Some(FencingToken(9))), ("b", Some(FencingToken(12)))]
    );
    let after = written(b.unlock(12, "a", 3));
    assert_eq!(after.holds(15)[0].token, Some(FencingToken(12)));
}

// Goal: unlock gives the slot back once; unlocking a non-holder writes nothing; a list left
// unsorted by a foreign writer is still searched and written sorted. Method: table.
#[test]
fn unlock_is_idempotent_and_searches_linearly() {
    let foreign = doc(r#"{"semaphore":-1,"max":2,"holders":["z","a","m","a"]}"#);
    let next = written(foreign.unlock(4, "a", 5));
    assert_eq!(next.holders, ["m", "z"]);
    assert_eq!(next.semaphore, 0);
    assert_eq!(next.unlock(5, "a", 6), Change::Unchanged);
    assert_eq!(Semaphore::initial().unlock(1, "a", 0), Change::Unchanged);
}

// Goal: set-max moves the free count as locksmith does, never evicts, refuses negatives,
// and is a no-op when unchanged. Method: lower max below the holder count and back.
#[test]
fn set_max_moves_the_free_count() {
    let held = locked(written(Semaphore::initial().set_max(1, 3, 0).expect("max")).lock(2, "a", 0));
    let held = locked(held.lock(3, "b", 0));
    let low = written(held.set_max(4, 1, 0).expect("max"));
    assert_eq!((low.semaphore, low.max, low.holders.len()), (-1, 1, 2));
    assert_eq!(low.set_max(5, 1, 0), Ok(Change::Unchanged));
    assert_eq!(
        low.set_max(5, -1, 0),
        Err(SemaphoreError::NegativeMax { max: -1 })
    );
    let zero = written(low.set_max(5, 0, 0).expect("max"));
    assert_eq!((zero.semaphore, zero.max), (-2, 0));
}

// Goal: holders an older client wrote get an inferred record from the first Keel write that
// sees them, and the book never names a non-holder. Method: a legacy document with a stale
// book entry, locked by a new holder.
#[test]
fn legacy_holders_are_inferred() {
    let legacy = doc(
        r#"{"semaphore":1,"max":2,"holders":["old"],"keel":{"version":1,"holds":{"gone":{"token":3,"acquiredAtMs":1}}}}"#,
    );
    let next = locked(legacy.lock(8, "new", 500));
    let book = next.keel.as_ref().expect("a book");
    assert_eq!(book.holds.keys().collect::<Vec<_>>(), ["new", "old"]);
    let old = &book.holds["old"];
    assert_eq!(
        (old.token, old.acquired_at_ms, old.inferred),
        (FencingToken(8), 500, true)
    );
    assert!(next
        .to_json()
        .contains(r#""old":{"token":8,"acquiredAtMs":500,"inferred":true}"#));
}

// Goal: reaping removes exactly the holders over the maximum hold, frees their slots and
// records who reaped what and why, keeping the last few records. Method: two holders of
// different ages; then many reapings to overflow the record list.
#[test]
fn reap_removes_stale_holders_with_a_record() {
    let max3 = written(Semaphore::initial().set_max(1, 3, 0).expect("max"));
    let one = locked(max3.lock(2, "early", 1_000));
    let two = locked(one.lock(3, "late", 9_000));
    assert_eq!(
        two.reap(4, 10_000, 9_000, "m9", "held too long"),
        Change::Unchanged
    );
    let reaped = written(two.reap(4, 10_001, 9_000, "m9", "held too long"));
    assert_eq!(reaped.holders, ["late"]);
    assert_eq!(reaped.semaphore, 2);
    let record = &reaped.keel.as_ref().expect("book").reaped[0];
    assert_eq!(
        (
            record.holder.as_str(),
            record.token,
            record.reaped_at_ms,
            record.by.as_str()
        ),
        ("early", FencingToken(3), 10_001, "m9")
    );
    let mut current = reaped;
    for round in 0..20_u64 {
        let index = 10 + round * 2;
        let name = format!("h{round:02}");
        current = locked(current.lock(index, &name, 0));
        current = written(current.reap(index + 1, 10_000_000, 1, "ctl", "test"));
    }
    let book = current.keel.as_ref().expect("book");
    assert_eq!(book.reaped.len(), REAPINGS_KEPT_MAX);
    assert_eq!(book.reaped.last().map(|r| r.holder.as_str()), Some("h19"));
}
