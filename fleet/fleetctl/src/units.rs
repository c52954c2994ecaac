//! Reading the API's units as fleet's fleetctl does: whether a unit is global, its unit file
//! and hash, the conversion between the API's options and `fleet-core`'s, and finding the
//! units named on the command line (fleet's `findUnits`).
//!
//! Owns no state. Invariants: a unit is global exactly when its last `[X-Fleet]` `Global`
//! value is truthy (fleet's `IsGlobal`); names on the command line are mangled
//! ([`fleet_core::name::mangle`]) before they are compared.

use crate::client::{Client, ClientError};
use fleet_api::entities::{Unit, UnitOption as ApiOption};
use fleet_core::name::mangle;
use fleet_core::options::{is_truthy, SECTION};
use fleet_core::unit_file::{UnitFile, UnitFileError, UnitOption};
use std::collections::BTreeSet;

/// Whether `unit` is a global unit.
#[must_use]
pub fn is_global(unit: &Unit) -> bool {
    unit.options
        .iter()
        .rev()
        .find(|option| option.section == SECTION && option.name == "Global")
        .is_some_and(|option| is_truthy(&option.value))
}

/// The unit file behind the API's options.
///
/// # Errors
/// [`UnitFileError::OptionNotRepresentable`] for options that no unit file text can hold.
pub fn unit_file(unit: &Unit) -> Result<UnitFile, UnitFileError> {
    let options = unit
        .options
        .iter()
        .map(|option| UnitOption {
            section: option.section.clone(),
            name: option.name.clone(),
            value: option.value.clone(),
        })
        .collect();
    UnitFile::from_options(options)
}

/// The API's options of a unit file, in canonical order.
#[must_use]
pub fn api_options(file: &UnitFile) -> Vec<ApiOption> {
    file.options()
        .iter()
        .map(|option| ApiOption {
            section: option.section.clone(),
            name: option.name.clone(),
            value: option.value.clone(),
        })
        .collect()
}

/// The stored units named by `arguments` (mangled), in the API's order (by name); names
/// that match no unit are left out.
///
/// # Errors
/// [`ClientError`] when the unit list cannot be read.
pub async fn find_units(client: &Client, arguments: &[String]) -> Result<Vec<Unit>, ClientError> {
    let wanted: BTreeSet<String> = arguments.iter().map(|argument| mangle(argument)).collect();
    let units = client.units().await?;
    Ok(units
        .into_iter()
        .filter(|unit| wanted.contains(&unit.name))
        .collect())
}

/// Go's `%v` of a list of names: `[a.service b.service]`.
#[must_use]
pub fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

#[cfg(test)]
mod tests {
    //! Global detection and list formatting. Method: literal units.

    use super::*;

    fn option(section: &str, name: &str, value: &str) -> ApiOption {
        ApiOption {
            section: section.into(),
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_last_global_value_decides() {
        // Goal: fleet's `IsGlobal`: last value, truthy words in any case, other sections
        // ignored.
        let mut unit = Unit {
            options: vec![
                option("X-Fleet", "Global", "true"),
                option("Service", "Global", "false"),
            ],
            ..Unit::default()
        };
        assert!(is_global(&unit));
        unit.options.push(option("X-Fleet", "Global", "no"));
        assert!(!is_global(&unit));
        unit.options.push(option("X-Fleet", "Global", "YES"));
        assert!(is_global(&unit));
        assert!(!is_global(&Unit::default()));
    }

    #[test]
    fn lists_print_as_go_slices() {
        // Goal: `[a b]`, and `[]` for none.
        assert_eq!(go_list(&["a".into(), "b".into()]), "[a b]");
        assert_eq!(go_list(&[]), "[]");
    }
}
