//! Memoized answers: the encoded records of each answer the index gave, kept per question
//! (name without regard to case, type, class), so a question asked again skips the core and
//! the encoding and is answered from records already in hickory's form.
//!
//! Invariants: an entry is used only with the very index and live settings it was built from
//! (a new index, that is any change in Keel, or a reload empties the memo) and only before
//! the instant the core said its answer changes by time alone
//! ([`discovery_core::answer::resolve_steady`]: the first TTL counted from a key's remaining
//! time to tick, or the SOA serial's next hour), so a kept answer is exactly what the core
//! would answer now. Signed answers are kept within their wall-clock second only. Answers
//! that needed an upstream lookup are never kept. At most [`MEMO_MAX`] entries: when full,
//! the ones past their instant are swept (at most once a second) and, if it is still full,
//! answers are computed and not kept.

use crate::handler::Live;
use crate::metrics::System;
use discovery_core::index::Index;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Record, RecordType};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Entries kept, at most (a bound on memory whatever names are asked).
pub const MEMO_MAX: usize = 10_000;

/// A full memo is swept of entries past their instant at most this often.
const SWEEP_EVERY_MS: i64 = 1_000;

/// An answer in hickory's records.
#[derive(Debug)]
pub struct Sections {
    /// The response code.
    pub rcode: ResponseCode,
    /// The AA bit.
    pub authoritative: bool,
    /// The answer section, in the core's order (round robin rotates it when sent).
    pub answers: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section.
    pub additional: Vec<Record>,
    /// Signed for a client that set DO (the reply gets AD and DO).
    pub signed: bool,
}

/// What an answer is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    /// The name; equal and hashed without regard to case, as the core lower-cases it.
    pub name: LowerName,
    /// The type asked.
    pub qtype: RecordType,
    /// The class asked.
    pub class: DNSClass,
    /// The client set DO and the zone is signed: the answer carries signatures.
    pub dnssec_ok: bool,
}

/// A kept answer and the metrics system it counts under.
pub type Kept = (Arc<Sections>, System);

/// The memo; shared by every request.
#[derive(Debug, Default)]
pub struct Memo {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    index: Option<Arc<Index>>,
    live: Option<Arc<Live>>,
    /// When (Unix milliseconds) the request that moved the memo to this index was asked.
    since_ms: i64,
    /// When the memo was last swept.
    swept_ms: i64,
    /// Each answer, with the instant it stops being exact.
    entries: HashMap<Question, (Kept, i64)>,
}

impl State {
    fn is_for(&self, index: &Arc<Index>, live: &Arc<Live>) -> bool {
        self.index
            .as_ref()
            .is_some_and(|kept| Arc::ptr_eq(kept, index))
            && self
                .live
                .as_ref()
                .is_some_and(|kept| Arc::ptr_eq(kept, live))
    }
}

impl Memo {
    /// The answer kept for `question` under `index` and `live` that is still exact at
    /// `now_ms`, if any.
    pub fn get(
        &self,
        index: &Arc<Index>,
        live: &Arc<Live>,
        now_ms: i64,
        question: &Question,
    ) -> Option<Kept> {
        let state = match self.state.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !state.is_for(index, live) {
            return None;
        }
        match state.entries.get(question) {
            Some((kept, until_ms)) if *until_ms > now_ms => Some(kept.clone()),
            _ => None,
        }
    }

    /// Keeps `kept` for `question` until `until_ms`, the answer of a request asked at
    /// `asked_ms`; first empties the memo if it was for another index or other settings.
    pub fn put(
        &self,
        index: &Arc<Index>,
        live: &Arc<Live>,
        asked_ms: i64,
        question: Question,
        (kept, until_ms): (Kept, i64),
    ) {
        if until_ms <= asked_ms {
            return;
        }
        let mut state = match self.state.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !state.is_for(index, live) {
            if state.since_ms > asked_ms {
                return; // a request that started before the memo moved on
            }
            state.entries.clear();
            state.index = Some(Arc::clone(index));
            state.live = Some(Arc::clone(live));
            state.since_ms = asked_ms;
        }
        if state.entries.len() >= MEMO_MAX && asked_ms >= state.swept_ms + SWEEP_EVERY_MS {
            state.swept_ms = asked_ms;
            state.entries.retain(|_, (_, until)| *until > asked_ms);
        }
        if state.entries.len() < MEMO_MAX {
            state.entries.insert(question, (kept, until_ms));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{go_style, Args};
    use clap::Parser;
    use hickory_proto::rr::Name;
    use std::str::FromStr;

    fn live() -> Arc<Live> {
        let args =
            Args::try_parse_from(go_style(["discoveryd"].map(std::ffi::OsString::from))).unwrap();
        Arc::new(crate::run::live(&args.settings("").unwrap()).unwrap())
    }

    fn index() -> Arc<Index> {
        Arc::new(Index::build(std::iter::empty()).0)
    }

    fn question(name: &str) -> Question {
        Question {
            name: LowerName::new(&Name::from_str(name).unwrap()),
            qtype: RecordType::A,
            class: DNSClass::IN,
            dnssec_ok: false,
        }
    }

    fn kept() -> Kept {
        let sections = Sections {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            signed: false,
        };
        (Arc::new(sections), System::auth)
    }

    // Goal: a kept answer is found again, whatever the case of the name, only with the same
    // index and the same settings, and only before the instant it stops being exact.
    // Method: keep one answer until 1,500 ms; ask with other case, at and past that instant,
    // with a rebuilt index and with reloaded settings.
    #[test]
    fn answers_are_kept_for_one_index_one_setting_until_they_change() {
        let (memo, index, live) = (Memo::default(), index(), live());
        let name = question("svc.skydns.local.");
        memo.put(&index, &live, 100, name.clone(), (kept(), 1_500));
        let again = memo.get(&index, &live, 1_499, &question("SVC.SkyDNS.local."));
        assert!(again.is_some_and(|(_, system)| system == System::auth));
        assert!(memo.get(&index, &live, 1_500, &name).is_none());
        assert!(memo.get(&self::index(), &live, 200, &name).is_none());
        assert!(memo.get(&index, &self::live(), 200, &name).is_none());
        memo.put(
            &self::index(),
            &live,
            300,
            question("other.skydns.local."),
            (kept(), 900),
        );
        assert!(memo.get(&index, &live, 400, &name).is_none());
        memo.put(&index, &live, 400, name.clone(), (kept(), 400));
        assert!(
            memo.get(&index, &live, 400, &name).is_none(),
            "already past"
        );
    }

    // Goal: the memo stays bounded, a full one makes room by dropping answers past their
    // instant, and an answer of a request older than the memo's index cannot replace it.
    // Method: fill past MEMO_MAX with half the entries ending at 50; put later; put with an
    // earlier request time and another index.
    #[test]
    fn the_memo_is_bounded_and_never_goes_back_in_time() {
        let (memo, index, live) = (Memo::default(), index(), live());
        for n in 0..=MEMO_MAX {
            let until = if n % 2 == 0 { 50 } else { 5_000 };
            let name = question(&format!("s{n}.skydns.local."));
            memo.put(&index, &live, 7, name, (kept(), until));
        }
        let last = question(&format!("s{MEMO_MAX}.skydns.local."));
        assert!(memo.get(&index, &live, 8, &last).is_none());
        assert!(memo
            .get(&index, &live, 8, &question("s0.skydns.local."))
            .is_some());
        memo.put(&index, &live, 2_000, last.clone(), (kept(), 5_000));
        assert!(
            memo.get(&index, &live, 2_001, &last).is_some(),
            "room was made"
        );
        assert!(memo
            .get(&index, &live, 2_001, &question("s1.skydns.local."))
            .is_some());
        memo.put(
            &self::index(),
            &live,
            6,
            question("late.skydns.local."),
            (kept(), 5_000),
        );
        assert!(memo
            .get(&index, &live, 2_001, &question("s1.skydns.local."))
            .is_some());
    }
}
