use super::*;

fn full(load_state: &str, active_state: &str, sub_state: &str) -> Reported {
    Reported {
        load_state: Some(load_state.into()),
        active_state: Some(active_state.into()),
        sub_state: Some(sub_state.into()),
    }
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

fn delivered(table: &mut Table<u64>) -> Vec<(String, String)> {
    std::iter::from_fn(|| table.next())
        .map(|item| {
            let change = item.expect("a change, not the failure");
            (change.name, change.state.active_state)
        })
        .collect()
}

// Goal: a reply that systemd sent before a signal never overwrites the signal's newer state,
// in whichever order the two tasks apply them. Method: positions out of order.
#[test]
fn an_older_message_never_overwrites_a_newer_one() {
    let mut table = Table::<u64>::default();
    assert_eq!(table.retain(&names(&["a.service"])), vec!["a.service"]);
    table.set_path("a.service", "/unit/a");
    table.apply_at_path("/unit/a", full("loaded", "active", "running"), 7);
    table.apply("a.service", full("loaded", "inactive", "dead"), 5);
    assert_eq!(
        delivered(&mut table),
        vec![("a.service".into(), "active".into())]
    );
}

// Goal: systemd's signals never carry `LoadState`, so when the first signals are applied
// before the older reply that read the unit, the reply still supplies it and the newest
// state is delivered (a subscription once stayed silent this way). Method: two signals
// without `LoadState` at 3 and 4, then the reply at 2.
#[test]
fn an_older_reply_still_supplies_what_newer_signals_lack() {
    let mut table = Table::<u64>::default();
    table.retain(&names(&["a.service"]));
    table.set_path("a.service", "/unit/a");
    let signal = |active: &str, sub: &str| Reported {
        active_state: Some(active.into()),
        sub_state: Some(sub.into()),
        ..Reported::default()
    };
    table.apply_at_path("/unit/a", signal("activating", "start"), 3);
    table.apply_at_path("/unit/a", signal("failed", "failed"), 4);
    assert!(table.next().is_none(), "no state without LoadState");
    table.apply("a.service", full("loaded", "inactive", "dead"), 2);
    let change = table.next().expect("a change").expect("not a failure");
    assert_eq!(
        (
            change.state.load_state.as_str(),
            change.state.active_state.as_str()
        ),
        ("loaded", "failed")
    );
    assert_eq!(change.state.sub_state, "failed");
}

// Goal: a slow reader sees each unit's latest state once, not every step, and not the same
// state twice. Method: three changes before one read, then a repeat of the delivered state.
#[test]
fn unread_changes_coalesce_and_repeats_are_not_delivered() {
    let mut table = Table::<u64>::default();
    table.retain(&names(&["a.service", "b.service"]));
    table.set_path("a.service", "/unit/a");
    table.apply("a.service", full("loaded", "inactive", "dead"), 1);
    table.apply_at_path("/unit/a", full("loaded", "activating", "start"), 2);
    table.apply_at_path("/unit/a", full("loaded", "active", "running"), 3);
    table.apply("b.service", full("loaded", "failed", "failed"), 4);
    assert_eq!(
        delivered(&mut table),
        vec![
            ("a.service".into(), "active".into()),
            ("b.service".into(), "failed".into())
        ]
    );
    table.apply_at_path("/unit/a", full("loaded", "active", "running"), 5);
    assert!(delivered(&mut table).is_empty());
}

// Goal: a partial PropertiesChanged merges into the known state; signals for paths not (or
// no longer) watched are ignored. Method: one property only, then an unwatch.
#[test]
fn partial_signals_merge_and_unwatched_paths_are_ignored() {
    let mut table = Table::<u64>::default();
    table.retain(&names(&["a.service"]));
    table.set_path("a.service", "/unit/a");
    table.apply("a.service", full("loaded", "inactive", "dead"), 1);
    let partial = Reported {
        active_state: Some("failed".into()),
        ..Reported::default()
    };
    table.apply_at_path("/unit/a", partial, 2);
    let change = table.next().expect("a change").expect("not a failure");
    assert_eq!(change.state.load_state, "loaded");
    assert_eq!(change.state.active_state, "failed");
    table.retain(&names(&[]));
    table.apply_at_path("/unit/a", full("loaded", "active", "running"), 3);
    table.apply_at_path("/unit/other", full("loaded", "active", "running"), 4);
    assert!(table.next().is_none());
}

// Goal: the failure is delivered after the changes already known, and a reload re-reads
// every watched unit whose path is known. Method: a failure with a pending change.
#[test]
fn failure_comes_after_pending_changes_and_reloads_reread_all() {
    let mut table = Table::<u64>::default();
    let added = table.retain(&names(&["a.service", "b.service"]));
    table.set_path("a.service", "/unit/a");
    assert_eq!(table.names_to_read(added), vec!["a.service"]);
    table.reread_all = true;
    table.set_path("b.service", "/unit/b");
    assert_eq!(
        table.names_to_read(Vec::new()),
        vec!["a.service", "b.service"]
    );
    table.apply("a.service", full("loaded", "active", "running"), 1);
    table.failure = Some(SystemdError::SubscriptionClosed);
    assert!(matches!(table.next(), Some(Ok(_))));
    assert!(matches!(
        table.next(),
        Some(Err(SystemdError::SubscriptionClosed))
    ));
    assert!(table.next().is_none());
}
