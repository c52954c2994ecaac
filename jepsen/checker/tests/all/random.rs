//! Seeded randomized histories from a simulated linearizable register store:
//! every one must pass, and corrupting one read must make it fail.

use std::collections::HashMap;

use checker::{check_events, CheckOptions, EventKind, Op, Verdict};

use crate::support::*;

/// xorshift64*: tiny, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

enum Phase {
    Idle,
    /// Invoked, not yet applied.
    Pending(Op),
    /// Applied atomically (its linearization point); completion not yet recorded.
    Applied(EventKind, Op),
}

const KEYS: [&str; 2] = ["k0", "k1"];

/// Runs `processes` clients against one atomic register map, applying each op
/// at a random instant between its invoke and completion. Some ops end in
/// `info` (applied or not) and retire their process.
fn simulate(seed: u64, processes: usize, ops_total: usize) -> History {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut store: HashMap<String, String> = HashMap::new();
    let mut slots: Vec<(u64, Phase)> = (0..processes as u64).map(|p| (p, Phase::Idle)).collect();
    let mut next_process = processes as u64;
    let (mut invoked, mut values) = (0, 0_u64);
    let mut h = History::new();
    while invoked < ops_total || slots.iter().any(|(_, phase)| !matches!(phase, Phase::Idle)) {
        let slot = rng.below(processes as u64) as usize;
        let process = slots[slot].0;
        let phase = std::mem::replace(&mut slots[slot].1, Phase::Idle);
        slots[slot].1 = match phase {
            Phase::Idle if invoked < ops_total => {
                invoked += 1;
                let key = KEYS[rng.below(2) as usize];
                let op = random_op(&mut rng, key, &store, &mut values);
                h.invoke(process, op.clone());
                Phase::Pending(op)
            }
            Phase::Idle => Phase::Idle,
            Phase::Pending(op) if rng.below(10) == 0 => {
                h.info(process, op);
                slots[slot].0 = next_process;
                next_process += 1;
                Phase::Idle
            }
            Phase::Pending(op) => {
                let (kind, completion) = apply(&mut store, op);
                Phase::Applied(kind, completion)
            }
            Phase::Applied(kind, op) => {
                if kind == EventKind::Ok && !op.is_read() && rng.below(10) == 0 {
                    h.info(process, op);
                    slots[slot].0 = next_process;
                    next_process += 1;
                } else if kind == EventKind::Ok {
                    h.ok(process, op);
                } else {
                    h.fail(process, op);
                }
                Phase::Idle
            }
        };
    }
    h
}

fn random_op(rng: &mut Rng, key: &str, store: &HashMap<String, String>, values: &mut u64) -> Op {
    match rng.below(10) {
        0..=3 => read(key),
        4..=6 => {
            *values += 1;
            write(key, &format!("v{values}"))
        }
        _ => {
            let from = match store.get(key) {
                Some(current) if rng.below(3) != 0 => current.clone(),
                _ => format!("v{}", rng.below(*values + 1)),
            };
            *values += 1;
            cas(key, &from, &format!("v{values}"))
        }
    }
}

fn apply(store: &mut HashMap<String, String>, op: Op) -> (EventKind, Op) {
    match op {
        Op::Read { key, .. } => {
            let value = store.get(&key).cloned();
            (EventKind::Ok, Op::Read { key, value })
        }
        Op::Write { ref key, ref value } => {
            store.insert(key.clone(), value.clone());
            (EventKind::Ok, op)
        }
        Op::Cas {
            ref key,
            ref from,
            ref to,
        } => {
            if store.get(key) == Some(from) {
                store.insert(key.clone(), to.clone());
                (EventKind::Ok, op)
            } else {
                (EventKind::Fail, op)
            }
        }
        other => (EventKind::Fail, other),
    }
}

/// Indexes of ok read completions.
fn ok_reads(h: &History) -> Vec<usize> {
    (0..h.events.len())
        .filter(|&i| h.events[i].kind == EventKind::Ok && matches!(h.events[i].op, Op::Read { .. }))
        .collect()
}

const SEEDS: std::ops::Range<u64> = 1..41;

#[test]
fn simulated_linearizable_histories_pass() {
    // Goal: no false alarms: histories from a linearizable simulation, with
    // random concurrency, fails and infos, are accepted for 40 fixed seeds.
    for seed in SEEDS {
        let h = simulate(seed, 2 + (seed % 5) as usize, 80);
        let verdict = check(&h);
        assert_eq!(verdict, Verdict::Linearizable, "seed {seed}:\n{verdict}");
    }
}

#[test]
fn corrupting_one_read_to_an_unwritten_value_fails() {
    // Goal: the checker can fail: one read changed to a value never written
    // is caught, on that read's key, for every seed.
    for seed in SEEDS {
        let mut h = simulate(seed, 2 + (seed % 5) as usize, 80);
        let reads = ok_reads(&h);
        let mut rng = Rng(seed);
        let target = reads[rng.below(reads.len() as u64) as usize];
        let Op::Read { key, value } = &mut h.events[target].op else {
            unreachable!()
        };
        *value = Some("corrupt".to_owned());
        let key = key.clone();
        assert_violation(&h, &key);
    }
}

#[test]
fn corrupting_one_read_to_missing_after_a_write_fails() {
    // Goal: a read changed to "missing" after some write to its key completed
    // (a lost write; nothing ever deletes) is caught for every seed.
    let mut corrupted = 0;
    for seed in SEEDS {
        let mut h = simulate(seed, 2 + (seed % 5) as usize, 80);
        let target = ok_reads(&h).into_iter().rev().find(|&i| {
            let key = h.events[i].op.key();
            let process = h.events[i].process;
            let invoke = (0..i)
                .rev()
                .find(|&j| h.events[j].process == process)
                .unwrap_or(0);
            (0..invoke).any(|j| {
                let e = &h.events[j];
                e.kind == EventKind::Ok && !e.op.is_read() && e.op.key() == key
            })
        });
        let Some(target) = target else { continue };
        let Op::Read { key, value } = &mut h.events[target].op else {
            unreachable!()
        };
        *value = None;
        let key = key.clone();
        assert_violation(&h, &key);
        corrupted += 1;
    }
    assert!(
        corrupted >= 30,
        "only {corrupted} seeds had a read to corrupt"
    );
}

#[test]
fn info_rewritten_to_fail_is_caught_when_visible() {
    // Goal: jepsen.md D.5 item 3: rewriting info writes to fail must be
    // rejected whenever such a write was later read (and accepted otherwise).
    let mut rejected = 0;
    for seed in SEEDS {
        let mut h = simulate(seed, 5, 80);
        let infos: Vec<usize> = (0..h.events.len())
            .filter(|&i| h.events[i].kind == EventKind::Info && !h.events[i].op.is_read())
            .collect();
        let mut visible = false;
        for &i in &infos {
            let written = match &h.events[i].op {
                Op::Write { value, .. } | Op::Cas { to: value, .. } => value.clone(),
                _ => continue,
            };
            visible |= h.events[i..].iter().any(|e| {
                e.kind == EventKind::Ok
                    && matches!(&e.op, Op::Read { value: Some(v), .. } if *v == written)
            });
            h.events[i].kind = EventKind::Fail;
        }
        let verdict = check_events(&h.events, &CheckOptions::default()).expect("well formed");
        if visible {
            rejected += 1;
            assert!(!verdict.is_linearizable(), "seed {seed}");
        }
    }
    assert!(rejected > 0, "no seed made an info write visible");
}
