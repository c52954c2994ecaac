//! Property-style test: seeded random mutation sequences applied to the store and to a tiny
//! independent model (files as a `BTreeMap<String, (value, modifiedIndex)>` plus whether the
//! one directory `/x` exists) must agree on every outcome, value and index. A failure names
//! the seed and step; rerun that seed alone by editing `SEEDS`.

use super::*;
use crate::StoreError;
use std::collections::BTreeMap;

/// xorshift64 (Marsaglia 2003), so sequences replay from a seed with no external crate.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const SEEDS: [u64; 12] = [
    1, 2, 3, 42, 77, 1234, 9_999, 31_337, 65_537, 271_828, 314_159, 8_675_309,
];
const STEPS: usize = 600;
const KEYS: [&str; 6] = ["/a", "/b", "/c", "/x/a", "/x/b", "/x/_h"];
const VALUES: [&str; 3] = ["0", "1", "2"];

/// The model: what etcd's rules say, written independently of the store's code.
#[derive(Default)]
struct Model {
    files: BTreeMap<String, (String, u64)>,
    x_exists: bool,
    index: u64,
}

impl Model {
    /// The code a key-level operation fails with when `key` is absent.
    fn missing(&self, key: &str) -> Result<(), u16> {
        if self.files.contains_key(key) {
            Ok(())
        } else {
            Err(100)
        }
    }

    fn write(&mut self, key: &str, value: &str) {
        self.index += 1;
        self.files
            .insert(key.to_owned(), (value.to_owned(), self.index));
        if key.starts_with("/x/") {
            self.x_exists = true;
        }
    }

    fn remove(&mut self, key: &str) {
        self.index += 1;
        self.files.remove(key);
    }

    fn condition_holds(
        &self,
        key: &str,
        prev_value: Option<&str>,
        prev_index: Option<u64>,
    ) -> bool {
        let (value, modified) = &self.files[key];
        prev_value.is_none_or(|expected| expected == value)
            && prev_index.is_none_or(|expected| expected == *modified)
    }

    /// Apply to the model; the predicted outcome as `Ok` or the etcd error code.
    fn apply(&mut self, step: &Step) -> Result<(), u16> {
        match step {
            Step::Set(key, value) => self.write(key, value),
            Step::Create(key, value) => {
                if self.files.contains_key(*key) {
                    return Err(105);
                }
                self.write(key, value);
            }
            Step::Update(key, value) => {
                self.missing(key)?;
                self.write(key, value);
            }
            Step::Cas(key, value, prev_value, prev_index) => {
                self.missing(key)?;
                if !self.condition_holds(key, *prev_value, *prev_index) {
                    return Err(101);
                }
                self.write(key, value);
            }
            Step::Delete(key) => {
                self.missing(key)?;
                self.remove(key);
            }
            Step::Cad(key, prev_value) => {
                self.missing(key)?;
                if !self.condition_holds(key, Some(prev_value), None) {
                    return Err(101);
                }
                self.remove(key);
            }
            Step::DeleteX { recursive } => return self.delete_x(*recursive),
        }
        Ok(())
    }

    fn delete_x(&mut self, recursive: bool) -> Result<(), u16> {
        if !self.x_exists {
            return Err(100);
        }
        let inside: Vec<String> = self
            .files
            .keys()
            .filter(|key| key.starts_with("/x/"))
            .cloned()
            .collect();
        if !inside.is_empty() && !recursive {
            return Err(108);
        }
        for key in inside {
            self.files.remove(&key);
        }
        self.x_exists = false;
        self.index += 1;
        Ok(())
    }
}

#[derive(Debug)]
enum Step {
    Set(&'static str, &'static str),
    Create(&'static str, &'static str),
    Update(&'static str, &'static str),
    Cas(
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<u64>,
    ),
    Delete(&'static str),
    Cad(&'static str, &'static str),
    DeleteX {
        recursive: bool,
    },
}

impl Step {
    fn random(random: &mut XorShift, index: u64) -> Step {
        let key = random.pick(&KEYS);
        let value = random.pick(&VALUES);
        match random.next() % 8 {
            0 | 1 => Step::Set(key, value),
            2 => Step::Create(key, value),
            3 => Step::Update(key, value),
            4 => {
                let prev_value = random
                    .next()
                    .is_multiple_of(2)
                    .then(|| random.pick(&VALUES));
                let prev_index = random
                    .next()
                    .is_multiple_of(3)
                    .then(|| index.saturating_sub(random.next() % 4).max(1));
                Step::Cas(
                    key,
                    value,
                    prev_value,
                    prev_index.or(prev_value.is_none().then_some(index.max(1))),
                )
            }
            5 => Step::Delete(key),
            6 => Step::Cad(key, value),
            _ => Step::DeleteX {
                recursive: random.next().is_multiple_of(2),
            },
        }
    }

    fn mutation(&self) -> Mutation {
        match self {
            Step::Set(key, value) => set(key, value),
            Step::Create(key, value) => create(key, value),
            Step::Update(key, value) => update(key, value),
            Step::Cas(key, value, prev_value, prev_index) => {
                cas(key, value, *prev_value, *prev_index)
            }
            Step::Delete(key) => delete(key, false, false),
            Step::Cad(key, prev_value) => cad(key, Some(prev_value), None),
            Step::DeleteX { recursive } => delete("/x", true, *recursive),
        }
    }
}

/// Every key's value and modifiedIndex in the store equals the model's.
fn assert_agree(store: &Store, model: &Model, context: &str) {
    assert_eq!(store.index().0, model.index, "{context}: index");
    for key in KEYS {
        let stored = store.get(key, false, false, NOW).ok().map(|event| {
            (
                event.node.value.unwrap_or_default(),
                event.node.modified_index.0,
            )
        });
        assert_eq!(stored.as_ref(), model.files.get(key), "{context}: {key}");
    }
    assert_eq!(
        store.get("/x", false, false, NOW).is_ok(),
        model.x_exists,
        "{context}: /x"
    );
}

// Goal: random mutation sequences agree with an independent model on every outcome, every
// value and the index count; periodic save/recover does not change the course.
#[test]
fn store_agrees_with_model() {
    let mut outcomes: BTreeMap<Option<u16>, usize> = BTreeMap::new();
    for seed in SEEDS {
        let mut random = XorShift::new(seed);
        let mut store = Store::new();
        let mut model = Model::default();
        for step_number in 0..STEPS {
            let step = Step::random(&mut random, model.index);
            let context = format!("seed {seed} step {step_number} {step:?}");
            let expected = model.apply(&step);
            let actual = store.apply(&step.mutation(), NOW);
            *outcomes
                .entry(actual.as_ref().err().and_then(StoreError::code))
                .or_default() += 1;
            match (&expected, &actual) {
                (Ok(()), Ok(event)) => assert_eq!(event.index().0, model.index, "{context}"),
                (Err(code), Err(error)) => assert_eq!(error.code(), Some(*code), "{context}"),
                _ => panic!("{context}: model {expected:?}, store {actual:?}"),
            }
            assert_agree(&store, &model, &context);
            if step_number % 97 == 0 {
                let recovered = Store::recover(&store.save()).expect("own save recovers");
                assert_eq!(recovered.content_hash(), store.content_hash(), "{context}");
                store = recovered;
            }
        }
    }
    let codes: Vec<Option<u16>> = outcomes.keys().copied().collect();
    assert_eq!(
        codes,
        vec![None, Some(100), Some(101), Some(105), Some(108)],
        "{outcomes:?}"
    );
}
