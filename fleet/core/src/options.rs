//! The `[X-Fleet]` section: from a unit's options to its [`Requirements`], and the
//! combinations fleet refuses (fleet `unit/unit.go`, `job/job.go`,
//! `api/units.go`).
//!
//! Owns [`parse_x_fleet`], [`XFleetOptions`], [`OptionsError`], and the value rules
//! [`split_value`] and [`is_truthy`].
//!
//! Invariants:
//! - only the section named exactly `X-Fleet` is read; keys are case-sensitive;
//! - each raw value is split by [`split_value`] before anything else, then specifiers are
//!   replaced using the unit's own name, then `Conflicts` values are split on whitespace;
//! - the refusals are checked on the values *before* specifier substitution, because fleet
//!   validates a unit with an empty name (`api.ValidateOptions` and fleetctl build a job with
//!   no name, so its `requirements()` substitutes nothing); the returned requirements are
//!   the substituted ones, which fleet's engine schedules by.
//!
//! Depends on `std` and this crate only.

use crate::glob::glob_match;
use crate::model::Requirements;
use crate::name::{go_quote, UnitName};
use crate::resources::{parse_cpu, parse_memory, QuantityError, Resources};
use crate::selector::{parse_item, MetadataItem, Selector, SelectorError};
use crate::unit_file::UnitFile;
use std::collections::{BTreeMap, BTreeSet};

/// The section fleet reads.
pub const SECTION: &str = "X-Fleet";

const MACHINE_ID: &str = "MachineID";
const MACHINE_ID_ALIAS: &str = "X-ConditionMachineID";
const MACHINE_BOOT_ID_ALIAS: &str = "X-ConditionMachineBootID";
const MACHINE_OF: &str = "MachineOf";
const MACHINE_OF_ALIAS: &str = "X-ConditionMachineOf";
const MACHINE_METADATA: &str = "MachineMetadata";
const MACHINE_METADATA_ALIAS: &str = "X-ConditionMachineMetadata";
const CONFLICTS: &str = "Conflicts";
const CONFLICTS_ALIAS: &str = "X-Conflicts";
const REPLACES: &str = "Replaces";
const GLOBAL: &str = "Global";
const CPU: &str = "Cpu";
const MEMORY: &str = "Memory";
const SPREAD_BY: &str = "SpreadBy";
const KIND: &str = "Kind";
const RETRIES: &str = "Retries";
const WHEN_CUT_OFF: &str = "WhenCutOff";

/// The most retries a batch job may ask for (`Retries=`).
pub const RETRIES_MAX: u32 = 100;

/// Every key fleet knows (`validRequirements` in fleet's `job/job.go`), then Keel's. `Global`
/// and `Replaces` have no alias, and a bare `MachineBootID` is not a key.
const KNOWN_KEYS: [&str; 17] = [
    MACHINE_ID,
    MACHINE_ID_ALIAS,
    MACHINE_BOOT_ID_ALIAS,
    MACHINE_OF,
    MACHINE_OF_ALIAS,
    MACHINE_METADATA,
    MACHINE_METADATA_ALIAS,
    CONFLICTS,
    CONFLICTS_ALIAS,
    REPLACES,
    GLOBAL,
    CPU,
    MEMORY,
    SPREAD_BY,
    KIND,
    RETRIES,
    WHEN_CUT_OFF,
];

/// What a unit's `[X-Fleet]` section says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XFleetOptions {
    /// What the unit asks of its machine, specifiers substituted.
    pub requirements: Requirements,
    /// Keys of the section fleet does not know, each once, in order of first appearance.
    /// fleetctl warns about them (`unrecognized requirement in [X-Fleet] section: %q`); the
    /// API ignores them.
    pub unknown_keys: Vec<String>,
}

/// A combination of `[X-Fleet]` options fleet refuses, checked in this order. The
/// texts are fleet's own, copied as a fact from `api.ValidateOptions` so that fleetctl and
/// the API print what fleet printed (hence "Peers", fleet's internal word for `MachineOf`,
/// and the capitals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// A `MachineOf` unit is matched by one of the unit's own `Conflicts` patterns.
    #[error(
        "unresolvable requirements: peer {} matches conflict {}",
        go_quote(.machine_of),
        go_quote(.pattern)
    )]
    MachineOfMatchesConflicts {
        /// The `MachineOf` value.
        machine_of: String,
        /// The `Conflicts` pattern matching it.
        pattern: String,
    },
    /// A `MachineOf` unit is matched by one of the unit's own `Replaces` patterns.
    #[error(
        "unresolvable requirements: peer {} matches replace {}",
        go_quote(.machine_of),
        go_quote(.pattern)
    )]
    MachineOfMatchesReplaces {
        /// The `MachineOf` value.
        machine_of: String,
        /// The `Replaces` pattern matching it.
        pattern: String,
    },
    /// `MachineID` together with `MachineOf`.
    #[error("MachineID cannot be used with Peers")]
    MachineIdWithMachineOf,
    /// `MachineID` together with `Conflicts`.
    #[error("MachineID cannot be used with Conflicts")]
    MachineIdWithConflicts,
    /// `MachineID` together with a true `Global`.
    #[error("MachineID cannot be used with Global")]
    MachineIdWithGlobal,
    /// `MachineID` together with `Replaces`.
    #[error("MachineID cannot be used with Replaces")]
    MachineIdWithReplaces,
    /// A true `Global` together with `MachineOf`.
    #[error("Global cannot be used with Peers")]
    GlobalWithMachineOf,
    /// A true `Global` together with `Replaces`.
    #[error("Global cannot be used with Replaces")]
    GlobalWithReplaces,
    /// `Conflicts` together with `Replaces`.
    #[error("Conflicts cannot be used with Replaces")]
    ConflictsWithReplaces,
    /// A `MachineMetadata` item that is no expression (Keel's; fleet ignored it).
    #[error(transparent)]
    Metadata(#[from] SelectorError),
    /// A `Cpu` or `Memory` value that is no amount (Keel's).
    #[error(transparent)]
    Quantity(#[from] QuantityError),
    /// A `SpreadBy` value that is not one metadata key (Keel's).
    #[error("invalid SpreadBy value {0:?}: expected one metadata key")]
    SpreadBy(String),
    /// A `Kind` value other than `batch` or `service` (Keel's).
    #[error("invalid Kind value {0:?}: expected batch or service")]
    Kind(String),
    /// `Kind=batch` together with a true `Global` (Keel's).
    #[error("Kind=batch cannot be used with Global")]
    BatchWithGlobal,
    /// `Kind=batch` on a unit that is not a service (Keel's).
    #[error("Kind=batch needs a .service unit, not a .{0} unit")]
    BatchNotService(String),
    /// A `Retries` value that is no count from 0 to [`RETRIES_MAX`] (Keel's).
    #[error("invalid Retries value {0:?}: expected a number from 0 to 100")]
    Retries(String),
    /// `Retries` above 0 on a unit that is not a batch job (Keel's).
    #[error("Retries needs a batch job (Kind=batch, or a Type=oneshot service)")]
    RetriesNotBatch,
    /// A `WhenCutOff` value other than `keep` or `stop` (Keel's).
    #[error("invalid WhenCutOff value {0:?}: expected keep or stop")]
    WhenCutOff(String),
    /// `WhenCutOff=stop` together with a true `Global` (Keel's).
    #[error("WhenCutOff=stop cannot be used with Global")]
    StopWhenCutOffWithGlobal,
}

/// Reads the `[X-Fleet]` section of `file`, the unit file of the unit `name`.
///
/// Aliases are folded in: `X-ConditionMachineID` and `X-ConditionMachineBootID` count for
/// `MachineID` (only when `MachineID` has no value, then in that order; the first value
/// counts), `X-ConditionMachineOf` values come before `MachineOf` ones, `X-Conflicts` before
/// `Conflicts`, `X-ConditionMachineMetadata` joins `MachineMetadata`. A `MachineMetadata`
/// item is `key=value` or one of the expressions of `selector.rs`. `Global` is its last
/// value read by [`is_truthy`]; `Cpu`, `Memory`, `SpreadBy`, `Kind`, `Retries` and
/// `WhenCutOff` are their last values (an empty one clears); a batch job is recognised as
/// `is_batch` says.
/// Specifiers `%n` (full name), `%N` (name without suffix), `%p` (prefix) and `%i`
/// (instance, empty if none) are replaced in that order, one after the other, as fleet's
/// `unitPrintf`; no unescaping is done.
///
/// # Errors
/// The first [`OptionsError`] that applies, in the order of its variants, judged on the
/// values before specifier substitution (see the module docs).
pub fn parse_x_fleet(name: &UnitName, file: &UnitFile) -> Result<XFleetOptions, OptionsError> {
    let section = SectionValues::read(file);
    check_combinations(&section.requirements(None)?)?;
    let mut requirements = section.requirements(Some(name))?;
    requirements.triggers = timer_unit(name, file);
    requirements.batch = is_batch(name, file, &section, requirements.global)?;
    requirements.retries = retries(name, &section, requirements.batch)?;
    requirements.stop_when_cut_off = when_cut_off(name, &section, requirements.global)?;
    Ok(XFleetOptions {
        requirements,
        unknown_keys: section.unknown_keys,
    })
}

/// The unit a `.timer` starts: its last non-empty `[Timer] Unit=`, else systemd's default,
/// the same name with `.service`. `None` for any other unit type.
fn timer_unit(name: &UnitName, file: &UnitFile) -> Option<String> {
    if name.suffix() != "timer" {
        return None;
    }
    let named = file
        .last_value("Timer", "Unit")
        .filter(|value| !value.is_empty());
    Some(named.map_or_else(
        || format!("{}.service", name.without_suffix()),
        str::to_owned,
    ))
}

/// Whether the unit is a batch job: `Kind=batch` (the last value; `Kind=service` says
/// no), else a service whose `[Service] Type=oneshot` has no true `RemainAfterExit=`. A
/// global unit or a unit other than a service never is one by its type, and may not say
/// `Kind=batch`.
fn is_batch(
    name: &UnitName,
    file: &UnitFile,
    section: &SectionValues,
    global: bool,
) -> Result<bool, OptionsError> {
    let service = name.suffix() == "service";
    match section.last(KIND, Some(name)).as_deref() {
        Some("batch") if global => Err(OptionsError::BatchWithGlobal),
        Some("batch") if !service => Err(OptionsError::BatchNotService(name.suffix().to_owned())),
        Some("batch") => Ok(true),
        Some("service") => Ok(false),
        Some(other) => Err(OptionsError::Kind(other.to_owned())),
        None => {
            let oneshot = file.last_value("Service", "Type") == Some("oneshot");
            let remains = file
                .last_value("Service", "RemainAfterExit")
                .is_some_and(is_truthy);
            Ok(service && !global && oneshot && !remains)
        }
    }
}

/// `Retries=`: the last value, a count from 0 to [`RETRIES_MAX`]; above 0 only for a
/// batch job.
fn retries(name: &UnitName, section: &SectionValues, batch: bool) -> Result<u32, OptionsError> {
    let Some(value) = section.last(RETRIES, Some(name)) else {
        return Ok(0);
    };
    let count = value
        .parse::<u32>()
        .ok()
        .filter(|count| *count <= RETRIES_MAX)
        .ok_or(OptionsError::Retries(value))?;
    if count > 0 && !batch {
        return Err(OptionsError::RetriesNotBatch);
    }
    Ok(count)
}

/// `WhenCutOff=`: `stop` (the last value) for a unit that must never run on two machines
/// at once, `keep` (the default, fleet's behaviour) for one that keeps running on a machine
/// cut off from the store.
fn when_cut_off(
    name: &UnitName,
    section: &SectionValues,
    global: bool,
) -> Result<bool, OptionsError> {
    match section.last(WHEN_CUT_OFF, Some(name)).as_deref() {
        None | Some("keep") => Ok(false),
        Some("stop") if global => Err(OptionsError::StopWhenCutOffWithGlobal),
        Some("stop") => Ok(true),
        Some(other) => Err(OptionsError::WhenCutOff(other.to_owned())),
    }
}

/// fleet's `parseMultivalueLine`: a raw value that both starts and ends with `"` is split at
/// every space outside quotes, and every `"` is dropped (so `"a" "b"` gives `a` and `b`, and
/// two spaces give an empty value between them); any other value is kept whole.
#[must_use]
pub fn split_value(raw: &str) -> Vec<String> {
    if !(raw.starts_with('"') && raw.ends_with('"')) {
        return vec![raw.to_owned()];
    }
    let mut values = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for character in raw.chars() {
        match character {
            '"' => in_quotes = !in_quotes,
            ' ' if !in_quotes => values.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    values.push(current);
    values
}

/// fleet's `isTruthyValue`: `true`, `yes`, `1`, `on` or `t`, in any case.
#[must_use]
pub fn is_truthy(value: &str) -> bool {
    ["true", "yes", "1", "on", "t"]
        .iter()
        .any(|truthy| value.eq_ignore_ascii_case(truthy))
}

/// The section's values by key, each raw value already split by [`split_value`].
struct SectionValues {
    by_key: BTreeMap<String, Vec<String>>,
    unknown_keys: Vec<String>,
}

impl SectionValues {
    fn read(file: &UnitFile) -> SectionValues {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut unknown_keys: Vec<String> = Vec::new();
        for option in file
            .options()
            .iter()
            .filter(|option| option.section == SECTION)
        {
            let known = KNOWN_KEYS.contains(&option.name.as_str());
            if !known && !unknown_keys.contains(&option.name) {
                unknown_keys.push(option.name.clone());
            }
            by_key
                .entry(option.name.clone())
                .or_default()
                .extend(split_value(&option.value));
        }
        SectionValues {
            by_key,
            unknown_keys,
        }
    }

    /// The values of `keys`, in that key order, specifiers replaced when `name` is given.
    fn values(&self, keys: &[&str], name: Option<&UnitName>) -> Vec<String> {
        keys.iter()
            .filter_map(|key| self.by_key.get(*key))
            .flatten()
            .map(|value| name.map_or_else(|| value.clone(), |name| substitute(value, name)))
            .collect()
    }

    fn requirements(&self, name: Option<&UnitName>) -> Result<Requirements, OptionsError> {
        let machine_id = [MACHINE_ID, MACHINE_ID_ALIAS, MACHINE_BOOT_ID_ALIAS]
            .iter()
            .find_map(|key| self.values(&[key], name).into_iter().next());
        let conflicts = self
            .values(&[CONFLICTS_ALIAS, CONFLICTS], name)
            .iter()
            .flat_map(|value| value.split_whitespace())
            .map(str::to_owned)
            .collect();
        let global = self
            .values(&[GLOBAL], name)
            .last()
            .is_some_and(|value| is_truthy(value));
        let (metadata, selectors) =
            metadata(&self.values(&[MACHINE_METADATA_ALIAS, MACHINE_METADATA], name))?;
        Ok(Requirements {
            machine_id,
            machine_of: self.values(&[MACHINE_OF_ALIAS, MACHINE_OF], name),
            metadata,
            selectors,
            conflicts,
            replaces: self.values(&[REPLACES], name),
            global,
            requests: self.requests(name)?,
            spread_by: self.spread_by(name)?,
            triggers: None,
            batch: false,
            retries: 0,
            stop_when_cut_off: false,
        })
    }

    /// The last value of `key`, when there is one and it is not empty.
    fn last(&self, key: &str, name: Option<&UnitName>) -> Option<String> {
        self.values(&[key], name)
            .pop()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    fn requests(&self, name: Option<&UnitName>) -> Result<Resources, OptionsError> {
        let cpu_millis = self.last(CPU, name).map_or(Ok(0), |v| parse_cpu(&v))?;
        let memory_bytes = self
            .last(MEMORY, name)
            .map_or(Ok(0), |v| parse_memory(&v))?;
        Ok(Resources {
            cpu_millis,
            memory_bytes,
        })
    }

    fn spread_by(&self, name: Option<&UnitName>) -> Result<Option<String>, OptionsError> {
        let Some(key) = self.last(SPREAD_BY, name) else {
            return Ok(None);
        };
        match parse_item(&key) {
            Ok(MetadataItem::Expression(Selector::Present { .. })) => Ok(Some(key)),
            _ => Err(OptionsError::SpreadBy(key)),
        }
    }
}

/// `MachineMetadata` items into equality (key → accepted values) and the other expressions.
fn metadata(items: &[String]) -> Result<Equalities, SelectorError> {
    let mut equal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut selectors = Vec::new();
    for item in items {
        match parse_item(item)? {
            MetadataItem::Equal { key, value } => {
                equal.entry(key).or_default().insert(value);
            }
            MetadataItem::Expression(selector) => selectors.push(selector),
        }
    }
    Ok((equal, selectors))
}

type Equalities = (BTreeMap<String, BTreeSet<String>>, Vec<Selector>);

/// fleet's `unitPrintf`: four replacements one after the other, so a replacement's text can
/// complete a specifier that a later step then replaces (`%%p` for the prefix `i` becomes
/// `%i`, then the instance).
pub fn substitute(value: &str, name: &UnitName) -> String {
    value
        .replace("%n", name.as_str())
        .replace("%N", name.without_suffix())
        .replace("%p", name.prefix())
        .replace("%i", name.instance().unwrap_or(""))
}

/// fleet's `api.ValidateOptions` after its parse check: first every `MachineOf` value
/// against the unit's own patterns, then the pairs, in fleet's order.
fn check_combinations(raw: &Requirements) -> Result<(), OptionsError> {
    for machine_of in &raw.machine_of {
        if let Some(pattern) = raw
            .conflicts
            .iter()
            .find(|pattern| glob_match(pattern, machine_of))
        {
            return Err(OptionsError::MachineOfMatchesConflicts {
                machine_of: machine_of.clone(),
                pattern: pattern.clone(),
            });
        }
        if let Some(pattern) = raw
            .replaces
            .iter()
            .find(|pattern| glob_match(pattern, machine_of))
        {
            return Err(OptionsError::MachineOfMatchesReplaces {
                machine_of: machine_of.clone(),
                pattern: pattern.clone(),
            });
        }
    }
    let has_machine_id = raw.machine_id.is_some();
    let has_machine_of = !raw.machine_of.is_empty();
    let has_conflicts = !raw.conflicts.is_empty();
    let has_replaces = !raw.replaces.is_empty();
    let refusal = if has_machine_id && has_machine_of {
        Some(OptionsError::MachineIdWithMachineOf)
    } else if has_machine_id && has_conflicts {
        Some(OptionsError::MachineIdWithConflicts)
    } else if has_machine_id && raw.global {
        Some(OptionsError::MachineIdWithGlobal)
    } else if has_machine_id && has_replaces {
        Some(OptionsError::MachineIdWithReplaces)
    } else if raw.global && has_machine_of {
        Some(OptionsError::GlobalWithMachineOf)
    } else if raw.global && has_replaces {
        Some(OptionsError::GlobalWithReplaces)
    } else if has_conflicts && has_replaces {
        Some(OptionsError::ConflictsWithReplaces)
    } else {
        None
    };
    refusal.map_or(Ok(()), Err)
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
