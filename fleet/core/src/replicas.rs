//! Replicas: how many numbered instances of a template the engine keeps (`fleetctl scale
//! web@.service 5`, Marathon's `instances`, a Kubernetes ReplicaSet), as a pure decision from
//! the count and the units that exist.
//!
//! Owns [`scale`], [`ScaleStep`] and [`instance_number`]. Numbered instances are `<prefix>@<n>.<suffix>` with `n`
//! a decimal number without leading zeros; other instances of the template (`web@blue`) are
//! the user's and neither counted nor removed.
//!
//! Invariants: after the step is written there are exactly `count` numbered instances; a
//! step never both creates and removes; creations take the lowest free numbers from 1 up,
//! removals the highest numbers first; both lists are in ascending number order. Depends on
//! `std` and this crate only.

use crate::name::UnitName;

/// The largest count `scale` accepts: a guard against a typo creating a million units.
pub const REPLICAS_MAX: u32 = 10_000;

/// What to write so that the template has its count of numbered instances.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScaleStep {
    /// Instances to create (desired `launched`, the template's file).
    pub create: Vec<String>,
    /// Instances to destroy.
    pub remove: Vec<String>,
}

/// The step that brings `template`'s numbered instances among `units` to `count`.
#[must_use]
pub fn scale<'a>(
    template: &UnitName,
    count: u32,
    units: impl IntoIterator<Item = &'a str>,
) -> ScaleStep {
    let mut numbers: Vec<u64> = units
        .into_iter()
        .filter_map(|name| instance_number(template, name))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let wanted = usize::try_from(count).unwrap_or(usize::MAX);
    let name = |number: u64| format!("{}@{number}.{}", template.prefix(), template.suffix());
    let mut step = ScaleStep::default();
    if numbers.len() > wanted {
        step.remove = numbers[wanted..].iter().map(|n| name(*n)).collect();
        return step;
    }
    let mut next = 1u64;
    let mut existing = numbers.iter().peekable();
    while numbers.len() + step.create.len() < wanted {
        while existing.next_if(|n| **n < next).is_some() {}
        if existing.next_if_eq(&&next).is_none() {
            step.create.push(name(next));
        }
        next += 1;
    }
    step
}

/// `n` when `name` is a numbered instance of `template`: `<prefix>@<n>.<suffix>`.
#[must_use]
pub fn instance_number(template: &UnitName, name: &str) -> Option<u64> {
    let rest = name
        .strip_prefix(template.prefix())?
        .strip_prefix('@')?
        .strip_suffix(template.suffix())?
        .strip_suffix('.')?;
    let canonical = !rest.is_empty()
        && rest.bytes().all(|byte| byte.is_ascii_digit())
        && (rest == "0" || !rest.starts_with('0'));
    canonical.then(|| rest.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> UnitName {
        UnitName::parse("web@.service").expect("a template")
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    // Goal: scaling up fills the lowest free numbers, scaling down removes the highest, a
    // settled set needs nothing, and other units are ignored. Method: tables of unit lists.
    #[test]
    fn scale_fills_from_one_and_removes_from_the_top() {
        let up = scale(
            &template(),
            3,
            ["web@2.service", "db@1.service", "web@blue.service"],
        );
        assert_eq!(up.create, names(&["web@1.service", "web@3.service"]));
        assert!(up.remove.is_empty());
        let down = scale(
            &template(),
            1,
            [
                "web@1.service",
                "web@10.service",
                "web@9.service",
                "web@blue.service",
            ],
        );
        assert_eq!(down.remove, names(&["web@9.service", "web@10.service"]));
        assert!(down.create.is_empty());
        assert_eq!(
            scale(&template(), 2, ["web@1.service", "web@2.service"]),
            ScaleStep::default()
        );
        let zero = scale(&template(), 0, ["web@1.service"]);
        assert_eq!(zero.remove, names(&["web@1.service"]));
    }

    // Goal: only canonical numbers of this template count. Method: look-alike names.
    #[test]
    fn only_canonical_numbered_instances_count() {
        let step = scale(
            &template(),
            1,
            [
                "web@01.service",
                "web@1.socket",
                "webx@1.service",
                "web@.service",
            ],
        );
        assert_eq!(step.create, names(&["web@1.service"]));
        assert_eq!(instance_number(&template(), "web@0.service"), Some(0));
    }
}
