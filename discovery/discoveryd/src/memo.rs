//! Memoized answers: the encoded records of each answer the index gave, kept per question
//! (name without regard to case, type, class), so a question asked again skips the core and
//! the encoding and is answered from records already in hickory's form.
//!
//! Invariants: an entry is used only with the very index and live settings it was built from
//! and only within the wall-clock second it was built in: a new index (any change in Keel), a
//! reload or the next second empties the memo. TTLs taken from a key's remaining time are so
//! exact to the second (as in any cache), and the SOA serial, which changes on the hour,
//! never goes stale. Answers that needed an upstream lookup are never kept. At most
//! [`MEMO_MAX`] entries per second: past that, answers are computed and not kept.

use crate::handler::Live;
use crate::metrics::System;
use discovery_core::index::Index;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Record, RecordType};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Entries kept within one second, at most (a bound on memory whatever names are asked).
pub const MEMO_MAX: usize = 10_000;

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
    second: i64,
    entries: HashMap<Question, Kept>,
}

impl State {
    fn is_for(&self, index: &Arc<Index>, live: &Arc<Live>, second: i64) -> bool {
        self.second == second
            && self
                .index
                .as_ref()
                .is_some_and(|kept| Arc::ptr_eq(kept, index))
            && self
                .live
                .as_ref()
                .is_some_and(|kept| Arc::ptr_eq(kept, live))
    }
}

impl Memo {
    /// The answer kept for `question` under `index` and `live` in `second`, if any.
    pub fn get(
        &self,
        index: &Arc<Index>,
        live: &Arc<Live>,
        second: i64,
        question: &Question,
    ) -> Option<Kept> {
        let state = match self.state.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !state.is_for(index, live, second) {
            return None;
        }
        state.entries.get(question).cloned()
    }

    /// Keeps `kept` for `question`, first emptying the memo if it was for another index,
    /// other settings or another second.
    pub fn put(
        &self,
        index: &Arc<Index>,
        live: &Arc<Live>,
        second: i64,
        question: Question,
        kept: Kept,
    ) {
        let mut state = match self.state.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !state.is_for(index, live, second) {
            if state.second > second {
                return; // a request that started before the memo moved on
            }
            state.entries.clear();
            state.index = Some(Arc::clone(index));
            state.live = Some(Arc::clone(live));
            state.second = second;
        }
        if state.entries.len() < MEMO_MAX {
            state.entries.insert(question, kept);
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
    // index, the same settings and within the same second.
    // Method: keep one answer; ask with other case, another second, a rebuilt index and
    // reloaded settings.
    #[test]
    fn answers_are_kept_for_one_index_one_setting_and_one_second() {
        let (memo, index, live) = (Memo::default(), index(), live());
        memo.put(&index, &live, 100, question("svc.skydns.local."), kept());
        let again = memo.get(&index, &live, 100, &question("SVC.SkyDNS.local."));
        assert!(again.is_some_and(|(_, system)| system == System::auth));
        assert!(memo
            .get(&index, &live, 101, &question("svc.skydns.local."))
            .is_none());
        assert!(memo
            .get(&self::index(), &live, 100, &question("svc.skydns.local."))
            .is_none());
        assert!(memo
            .get(&index, &self::live(), 100, &question("svc.skydns.local."))
            .is_none());
        memo.put(&index, &live, 101, question("other.skydns.local."), kept());
        assert!(memo
            .get(&index, &live, 101, &question("svc.skydns.local."))
            .is_none());
    }

    // Goal: the memo stays bounded and an answer from an older second cannot replace it.
    // Method: fill past MEMO_MAX; put with an earlier second.
    #[test]
    fn the_memo_is_bounded_and_never_goes_back_in_time() {
        let (memo, index, live) = (Memo::default(), index(), live());
        for n in 0..=MEMO_MAX {
            memo.put(
                &index,
                &live,
                7,
                question(&format!("s{n}.skydns.local.")),
                kept(),
            );
        }
        let last = question(&format!("s{MEMO_MAX}.skydns.local."));
        assert!(memo.get(&index, &live, 7, &last).is_none());
        assert!(memo
            .get(&index, &live, 7, &question("s0.skydns.local."))
            .is_some());
        memo.put(&index, &live, 6, question("late.skydns.local."), kept());
        assert!(memo
            .get(&index, &live, 7, &question("s1.skydns.local."))
            .is_some());
        assert!(memo
            .get(&index, &live, 6, &question("late.skydns.local."))
            .is_none());
    }
}
