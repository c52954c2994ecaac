//! The simulated network: per-message drop, delay and duplication, and partitions.

use super::rng::Rng;
use super::SimConfig;
use raft::eraftpb::Message;
use std::collections::{BTreeMap, BTreeSet};

pub struct Network {
    /// Delivery tick → messages, in send order (BTreeMap: deterministic).
    in_flight: BTreeMap<u64, Vec<Message>>,
    /// Members cut off from everyone else.
    isolated: BTreeSet<u64>,
}

impl Network {
    pub fn new(_members: u64) -> Network {
        Network {
            in_flight: BTreeMap::new(),
            isolated: BTreeSet::new(),
        }
    }

    pub fn heal(&mut self) {
        self.isolated.clear();
    }

    pub fn isolate(&mut self, member_index: u64) {
        self.isolated.clear();
        self.isolated.insert(member_index + 1);
    }

    /// Drop messages to or from a crashed member (its sockets are gone).
    pub fn forget(&mut self, id: u64) {
        for messages in self.in_flight.values_mut() {
            messages.retain(|m| m.to != id && m.from != id);
        }
    }

    fn cut(&self, from: u64, to: u64) -> bool {
        self.isolated.contains(&from) != self.isolated.contains(&to)
    }

    pub fn send(&mut self, message: Message, now: u64, rng: &mut Rng, config: &SimConfig) {
        if self.cut(message.from, message.to) || rng.percent(config.drop_percent) {
            return;
        }
        let copies = if rng.percent(config.duplicate_percent) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = 1 + rng.below(config.delay_ticks_max + 1);
            self.in_flight
                .entry(now + delay)
                .or_default()
                .push(message.clone());
        }
    }

    /// Messages due by `now`, still subject to the current partition.
    pub fn due(&mut self, now: u64) -> Vec<Message> {
        let later = self.in_flight.split_off(&(now + 1));
        let due = std::mem::replace(&mut self.in_flight, later);
        due.into_values()
            .flatten()
            .filter(|m| !self.cut(m.from, m.to))
            .collect()
    }
}
