//! The ledger's conditions after each outcome, on hand-made sequences of writes.

use super::*;
use fleet_core::model::MachineId;
use fleet_core::unit_file::UnitHash;

const UNIT: &str = "web.service";

fn report(active: &str) -> StateReport {
    StateReport {
        load_state: "loaded".into(),
        active_state: active.into(),
        sub_state: "running".into(),
        machine: MachineId::parse("1111111111111111111111111111111a").expect("valid"),
        hash: UnitHash::of_text("[Service]\nExecStart=/bin/true\n"),
        launched: true,
    }
}

fn wanted(active: &str) -> BTreeMap<String, StateReport> {
    [(UNIT.to_owned(), report(active))].into()
}

fn keep(units: &[&str]) -> BTreeSet<String> {
    units.iter().map(|unit| (*unit).to_owned()).collect()
}

#[test]
fn a_written_report_is_replaced_and_removed_at_its_index_only() {
    // Goal: a key never touched is created; a written one is replaced at the index its
    // write got, and not rewritten while unchanged; it is removed once its unit is not kept.
    // Method: create, rewrite with a changed state, then drop the unit from `keep`.
    let mut ledger = Ledger::default();
    assert_eq!(ledger.guard(UNIT), Some(Held::Absent));
    assert_eq!(ledger.to_write(&wanted("active")).len(), 1);
    ledger.wrote(UNIT, report("active"), StoreIndex(7));
    assert!(ledger.to_write(&wanted("active")).is_empty());
    assert_eq!(ledger.to_write(&wanted("failed")).len(), 1);
    assert_eq!(ledger.guard(UNIT), Some(Held::At(StoreIndex(7))));
    assert!(ledger.to_remove(&keep(&[UNIT])).is_empty());
    assert_eq!(ledger.to_remove(&keep(&[])), [UNIT]);
    ledger.removed(UNIT);
    assert_eq!(ledger.guard(UNIT), Some(Held::Absent));
    assert!(ledger.to_remove(&keep(&[])).is_empty());
}

#[test]
fn after_a_write_without_answer_the_key_is_read_and_the_late_copy_cannot_match() {
    // Goal: the failure found under a paused member. A report write that got no answer
    // (and lands later) must not be able to undo the newer report written after it.
    // Method: write `active` at 7; send `inactive` under At(7) without answer; the key must
    // be read first; the read shows the late copy applied (at 9) or not (still 7); either
    // way the next write's condition is the index read, and once it is written (at 12) the
    // late copy's condition At(7) no longer matches anything the ledger will send under.
    let mut ledger = Ledger::default();
    let t0 = Instant::now();
    ledger.wrote(UNIT, report("active"), StoreIndex(7));
    ledger.unanswered(UNIT, Held::At(StoreIndex(7)), t0);
    assert_eq!(ledger.guard(UNIT), None, "read before writing");
    assert_eq!(
        ledger.to_write(&wanted("active")).len(),
        1,
        "an unsure key is written again even if the wanted report did not change"
    );
    assert_eq!(ledger.to_remove(&keep(&[])), [UNIT]);
    let found = ReportAt {
        index: StoreIndex(9),
        report: Some(report("inactive")),
    };
    ledger.read(UNIT, Some(found), t0);
    assert_eq!(ledger.guard(UNIT), Some(Held::At(StoreIndex(9))));
    assert_eq!(ledger.to_write(&wanted("active")).len(), 1);
    ledger.wrote(UNIT, report("active"), StoreIndex(12));
    assert_ne!(ledger.guard(UNIT), Some(Held::At(StoreIndex(7))));
    // A lost condition also sends the agent back to reading.
    ledger.lost(UNIT);
    assert_eq!(ledger.guard(UNIT), None);
}

#[test]
fn a_create_without_answer_is_read_again_while_it_may_still_land() {
    // Goal: a create that got no answer and then read as absent is checked again at each
    // round while its unit is not kept, for LATE_WRITE_HORIZON, and removed if it lands.
    // Method: unanswered create at t0; reads at t0+1 s (absent), t0+2 s (landed); a second
    // sequence reads absent until past the horizon.
    let mut ledger = Ledger::default();
    let t0 = Instant::now();
    ledger.unanswered(UNIT, Held::Absent, t0);
    assert_eq!(ledger.guard(UNIT), None);
    ledger.read(UNIT, None, t0 + Duration::from_secs(1));
    assert_eq!(ledger.guard(UNIT), Some(Held::Absent));
    assert!(
        ledger.to_remove(&keep(&[])).is_empty(),
        "nothing to remove yet"
    );
    assert!(
        ledger.to_recheck(&keep(&[UNIT]), t0).is_empty(),
        "a kept unit is written anyway"
    );
    assert_eq!(
        ledger.to_recheck(&keep(&[]), t0 + Duration::from_secs(2)),
        [UNIT]
    );
    let landed = ReportAt {
        index: StoreIndex(30),
        report: Some(report("activating")),
    };
    ledger.read(UNIT, Some(landed), t0 + Duration::from_secs(2));
    assert_eq!(ledger.to_remove(&keep(&[])), [UNIT]);

    let mut ledger = Ledger::default();
    ledger.unanswered(UNIT, Held::Absent, t0);
    ledger.read(UNIT, None, t0 + Duration::from_secs(1));
    let past = t0 + LATE_WRITE_HORIZON;
    assert!(
        ledger.to_recheck(&keep(&[]), past).is_empty(),
        "forgotten past the horizon"
    );
    assert_eq!(ledger.guard(UNIT), Some(Held::Absent));
    ledger.unanswered(UNIT, Held::Absent, t0);
    ledger.read(UNIT, None, past);
    assert!(ledger.to_recheck(&keep(&[]), past).is_empty());
}

#[test]
fn reports_from_before_a_start_are_adopted_but_never_over_newer_knowledge() {
    // Goal: a report listed at start (a crash left it) becomes removable or replaceable at
    // its index; a key the agent wrote since keeps the agent's own index.
    // Method: adopt two keys, one of which was written first.
    let mut ledger = Ledger::default();
    ledger.wrote("mine.service", report("active"), StoreIndex(40));
    let old = ReportAt {
        index: StoreIndex(3),
        report: Some(report("active")),
    };
    ledger.adopt("mine.service", old.clone());
    ledger.adopt(UNIT, old);
    assert_eq!(ledger.guard("mine.service"), Some(Held::At(StoreIndex(40))));
    assert_eq!(ledger.guard(UNIT), Some(Held::At(StoreIndex(3))));
    assert_eq!(ledger.to_remove(&keep(&["mine.service"])), [UNIT]);
    assert_eq!(ledger.held().count(), 2);
    assert!(
        ledger.to_write(&wanted("active")).is_empty(),
        "an adopted report equal to the wanted one is not rewritten"
    );
}
