//! Lazy creation, shared by `submit`, `load` and `start` (fleet's `lazyCreateUnits`): a unit
//! unknown to the cluster is read from the local file named by the argument, or copied from
//! its template (in the registry, else a local `prefix@.suffix` file next to the argument),
//! validated, sent, and waited for until it reports `inactive`.
//!
//! Owns [`Verb`] and [`lazy_create`]. Invariants: the name and the `[X-Fleet]` combination
//! are checked before the unit is sent, so a refused unit reaches no server; an existing
//! unit is only overwritten with `--replace`, when its desired state allows it for the verb
//! (submit: inactive; load: inactive or loaded; start: any), and when the local file differs.
//! Reading local files is this module's job and no other's.

use crate::session::{Blocking, Session};
use crate::units::{api_options, unit_file};
use crate::wait::{wait, Goal};
use fleet_api::entities::Unit;
use fleet_core::name::{mangle, UnitName};
use fleet_core::options::parse_x_fleet;
use fleet_core::unit_file::UnitFile;
use std::path::{Path, PathBuf};

/// The command creating units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `submit`.
    Submit,
    /// `load`.
    Load,
    /// `start`.
    Start,
}

impl Verb {
    /// Desired states that `--replace` may overwrite for this verb.
    fn replaceable(self) -> &'static [&'static str] {
        match self {
            Verb::Submit => &["inactive"],
            Verb::Load => &["inactive", "loaded"],
            Verb::Start => &["inactive", "loaded", "launched"],
        }
    }
}

/// The argument as a file path: with `.service` appended when mangling would append it
/// (fleet's `maybeAppendDefaultUnitType`), so `start web` reads `web.service`.
fn file_argument(argument: &str) -> String {
    let name = mangle(argument);
    let base = argument
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(argument);
    if name == base {
        argument.to_owned()
    } else {
        format!("{argument}.service")
    }
}

/// Creates the units of `arguments` that the cluster does not know, then (unless
/// `--no-block`) waits for each to report `inactive`, printing `Unit <name> inactive`.
///
/// # Errors
/// The text that follows `Error creating units: ` (the first failure; earlier units stay
/// created).
pub async fn lazy_create(
    session: &mut Session<'_>,
    arguments: &[String],
    verb: Verb,
    replace: bool,
    blocking: Blocking,
) -> Result<(), String> {
    let mut created = Vec::new();
    for argument in arguments {
        let path = file_argument(argument);
        let name = UnitName::parse(&mangle(argument)).map_err(|error| error.to_string())?;
        let existing = session
            .client
            .unit(name.as_str())
            .await
            .map_err(|error| format!("error retrieving Unit({name}) from Registry: {error}"))?;
        if let Some(existing) = existing {
            if !should_replace(session, &path, &existing, verb, replace)? {
                continue;
            }
        }
        let file = local_or_template(session, &path, &name).await?;
        create(session, &name, &file).await?;
        created.push(name.to_string());
    }
    if blocking == Blocking::NoBlock {
        return Ok(());
    }
    let goal = Goal::State {
        state: "inactive",
        explain_pending: false,
    };
    let errors = wait(session, &created, goal, "submit", blocking).await;
    for error in &errors {
        session
            .console
            .err_line(&format!("Error waiting on unit creation: {error}"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err("One or more errors creating units".to_owned())
    }
}

/// Validates and sends one unit.
pub(crate) async fn create(
    session: &mut Session<'_>,
    name: &UnitName,
    file: &UnitFile,
) -> Result<(), String> {
    let options = parse_x_fleet(name, file).map_err(|error| error.to_string())?;
    for key in &options.unknown_keys {
        session.console.err_line(&format!(
            "WARNING: Unit {name}: unrecognized requirement in [X-Fleet] section: {key:?}"
        ));
    }
    let unit = Unit {
        name: name.to_string(),
        options: api_options(file),
        ..Unit::default()
    };
    session
        .client
        .create_unit(&unit)
        .await
        .map_err(|error| format!("failed creating unit {name}: {error}"))
}

/// For a unit already in the cluster: whether to overwrite it (fleet's
/// `checkUnitCreation`). Warns when the local file differs and `--replace` is absent.
fn should_replace(
    session: &mut Session<'_>,
    path: &str,
    existing: &Unit,
    verb: Verb,
    replace: bool,
) -> Result<bool, String> {
    let differs = local_differs(path, existing);
    if !replace {
        if let Ok(Some(what)) = differs {
            session.console.err_line(&format!(
                "WARNING: Unit {} in registry differs from local {what} {path}. Add --replace to override.",
                existing.name
            ));
        }
        return Ok(false);
    }
    if differs?.is_none() {
        session.console.out_line(&format!(
            "Found same Unit({}) in Registry, nothing to do",
            existing.name
        ));
        return Ok(false);
    }
    if verb
        .replaceable()
        .contains(&existing.desired_state.as_str())
    {
        return Ok(true);
    }
    session.console.err_line(&format!(
        "Warning: can not replace Unit({}) in state '{}', use the appropriate command",
        existing.name, existing.desired_state
    ));
    Ok(false)
}

/// Compares the stored unit with the local file (or, for an instance without one, the local
/// template): `Some("unit file" | "template unit file")` when they differ.
fn local_differs(path: &str, existing: &Unit) -> Result<Option<&'static str>, String> {
    let stored = unit_file(existing).ok().map(|file| file.hash());
    let (file, what) = match read_unit_file(Path::new(path)) {
        Ok(file) => (file, "unit file"),
        Err(local_error) => {
            let template = UnitName::parse(&existing.name)
                .ok()
                .filter(UnitName::is_instance)
                .and_then(|name| name.template())
                .ok_or_else(|| format!("unable to find local unit file {path}: {local_error}"))?;
            let template_path = sibling(path, template.as_str());
            let file = read_unit_file(&template_path).map_err(|error| {
                format!(
                    "unable to find local unit template file {}: {error}",
                    template_path.display()
                )
            })?;
            (file, "template unit file")
        }
    };
    Ok((Some(file.hash()) != stored).then_some(what))
}

/// The unit name and local file an argument names (`replace`), checked as a create checks
/// it: a valid name, a file that parses, an `[X-Fleet]` section fleet accepts.
///
/// # Errors
/// What is wrong, in fleet's words where fleet has them.
pub(crate) fn local_unit(argument: &str) -> Result<(UnitName, UnitFile), String> {
    let path = file_argument(argument);
    let name = UnitName::parse(&mangle(argument)).map_err(|error| error.to_string())?;
    let file = read_unit_file(Path::new(&path))
        .map_err(|error| format!("failed getting Unit({path}) from file: {error}"))?;
    parse_x_fleet(&name, &file).map_err(|error| error.to_string())?;
    Ok((name, file))
}

/// The unit file of a unit the cluster does not know (fleet's `getUnitFile`).
async fn local_or_template(
    session: &mut Session<'_>,
    path: &str,
    name: &UnitName,
) -> Result<UnitFile, String> {
    if Path::new(path).exists() {
        return read_unit_file(Path::new(path))
            .map_err(|error| format!("failed getting Unit({path}) from file: {error}"));
    }
    let Some(template) = name.template().filter(|_| name.is_instance()) else {
        return Err(format!(
            "unable to find Unit({name}) in Registry or on filesystem"
        ));
    };
    let from_template =
        |error: String| format!("failed getting Unit({path}) from template: {error}");
    let stored = session
        .client
        .unit(template.as_str())
        .await
        .map_err(|error| {
            from_template(format!(
                "error retrieving template Unit({template}) from Registry: {error}"
            ))
        })?;
    if let Some(stored) = stored {
        return unit_file(&stored).map_err(|error| from_template(error.to_string()));
    }
    let template_path = sibling(path, template.as_str());
    if !template_path.exists() {
        return Err(from_template(format!(
            "unable to find template Unit({template}) in Registry or on filesystem"
        )));
    }
    read_unit_file(&template_path).map_err(|error| {
        from_template(format!(
            "unable to load template Unit({template}) from file: {error}"
        ))
    })
}

/// `file_name` in the directory of `path`.
fn sibling(path: &str, file_name: &str) -> PathBuf {
    Path::new(path).parent().map_or_else(
        || PathBuf::from(file_name),
        |directory| directory.join(file_name),
    )
}

fn read_unit_file(path: &Path) -> Result<UnitFile, String> {
    let text = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    UnitFile::parse(&text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    //! Argument-to-path rules. Method: literal arguments.

    use super::*;

    #[test]
    fn arguments_become_file_paths_as_fleet() {
        // Goal: `.service` appended exactly when mangling appends it; directories kept.
        assert_eq!(file_argument("web"), "web.service");
        assert_eq!(file_argument("units/web.service"), "units/web.service");
        assert_eq!(file_argument("units/app.socket"), "units/app.socket");
        assert_eq!(file_argument("x.target"), "x.target.service");
        assert_eq!(
            sibling("units/web@1.service", "web@.service"),
            PathBuf::from("units/web@.service")
        );
        assert_eq!(
            sibling("web@1.service", "web@.service"),
            PathBuf::from("web@.service")
        );
    }
}
