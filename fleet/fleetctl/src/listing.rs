//! The three tables: `list-machines`, `list-units` and `list-unit-files`, with fleet's fields,
//! cells, headers and errors, laid out by [`crate::table::render`].
//!
//! Owns the field sets and the cell rules. Invariants: fields are checked before anything is
//! sent (an empty `--fields` and an unknown field are errors, exit 1); a missing machine, IP,
//! metadata, current state or description is `-`; a global unit's STATE is `-` and its
//! TARGET is `global`; hashes are 7 characters (40 with `--full`). Keel's STATEs: a scaled
//! template's `R/N running`, a finished batch job's `completed` or `failed (…)`, and
//! `pending` for a unit the engine could not place.

use crate::cli::{ListMachinesArgs, ListUnitFilesArgs, ListUnitsArgs};
use crate::session::{machine_full_legend, machine_id_legend, Session};
use crate::table::render;
use crate::units::{is_global, unit_file};
use fleet_api::entities::{Machine, Unit, UnitState};
use std::collections::BTreeMap;

const MACHINE_FIELDS: [&str; 3] = ["machine", "ip", "metadata"];
const UNIT_FIELDS: [&str; 6] = ["unit", "machine", "active", "sub", "load", "hash"];
const UNIT_FILE_FIELDS: [&str; 8] = [
    "unit", "hash", "dstate", "state", "target", "tmachine", "desc", "global",
];

/// The chosen columns, or fleet's error line.
fn columns<'f>(fields: &'f str, known: &[&str]) -> Result<Vec<&'f str>, String> {
    if fields.is_empty() {
        return Err("Must define output format".to_owned());
    }
    let columns: Vec<&str> = fields.split(',').collect();
    if let Some(unknown) = columns.iter().find(|column| !known.contains(*column)) {
        return Err(format!("Invalid key in output format: {unknown:?}"));
    }
    Ok(columns)
}

fn header(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|column| column.to_uppercase()).collect()
}

fn dash_if_empty(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

/// The legend of machine `id`: known machines with their IP, unknown ones by ID alone.
async fn legend(session: &mut Session<'_>, id: &str, full: bool) -> String {
    if id.is_empty() {
        return "-".to_owned();
    }
    match session.machine(id).await {
        Some(machine) => machine_full_legend(&machine, full),
        None => machine_id_legend(id, full),
    }
}

/// `list-machines`.
pub async fn list_machines(session: &mut Session<'_>, args: &ListMachinesArgs) -> i32 {
    let columns = match columns(&args.fields, &MACHINE_FIELDS) {
        Ok(columns) => columns,
        Err(line) => {
            session.console.err_line(&line);
            return 1;
        }
    };
    let machines = match session.client.machines().await {
        Ok(machines) => machines,
        Err(error) => {
            session.console.err_line(&format!(
                "Error retrieving list of active machines: {error}"
            ));
            return 1;
        }
    };
    let mut rows = Vec::new();
    if !args.no_legend {
        rows.push(header(&columns));
    }
    for machine in &machines {
        rows.push(
            columns
                .iter()
                .map(|column| machine_cell(machine, column, args.full))
                .collect(),
        );
    }
    session.console.out_text(&render(&rows));
    0
}

fn machine_cell(machine: &Machine, column: &str, full: bool) -> String {
    match column {
        "machine" => machine_id_legend(&machine.id, full),
        "ip" => dash_if_empty(&machine.primary_ip),
        _ => {
            // `metadata`: sorted by key (the map is ordered), `k=v` joined by `,`.
            let pairs: Vec<String> = machine
                .metadata
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            dash_if_empty(&pairs.join(","))
        }
    }
}

/// `list-units`: one row per systemd state report.
pub async fn list_units(session: &mut Session<'_>, args: &ListUnitsArgs) -> i32 {
    let columns = match columns(&args.fields, &UNIT_FIELDS) {
        Ok(columns) => columns,
        Err(line) => {
            session.console.err_line(&line);
            return 1;
        }
    };
    let states = match session.client.unit_states().await {
        Ok(states) => states,
        Err(error) => {
            session.console.err_line(&format!(
                "Error retrieving list of units from repository: {error}"
            ));
            return 1;
        }
    };
    let mut rows = Vec::new();
    if !args.no_legend {
        rows.push(header(&columns));
    }
    for state in &states {
        let mut row = Vec::with_capacity(columns.len());
        for column in &columns {
            row.push(state_cell(session, state, column, args.full).await);
        }
        rows.push(row);
    }
    session.console.out_text(&render(&rows));
    0
}

async fn state_cell(
    session: &mut Session<'_>,
    state: &UnitState,
    column: &str,
    full: bool,
) -> String {
    match column {
        "unit" => state.name.clone(),
        "machine" => legend(session, &state.machine_id, full).await,
        "active" => state.active_state.clone(),
        "sub" => state.sub_state.clone(),
        "load" => state.load_state.clone(),
        _ => hash_cell(&state.hash, full),
    }
}

fn hash_cell(hash: &str, full: bool) -> String {
    if hash.is_empty() {
        "-".to_owned()
    } else if full {
        hash.to_owned()
    } else {
        hash.chars().take(7).collect()
    }
}

/// `list-unit-files`: every stored unit, templates included.
pub async fn list_unit_files(session: &mut Session<'_>, args: &ListUnitFilesArgs) -> i32 {
    let columns = match columns(&args.fields, &UNIT_FILE_FIELDS) {
        Ok(columns) => columns,
        Err(line) => {
            session.console.err_line(&line);
            return 1;
        }
    };
    let units = match session.client.units().await {
        Ok(units) => units,
        Err(error) => {
            session.console.err_line(&format!(
                "Error retrieving list of units from repository: {error}"
            ));
            return 1;
        }
    };
    // A scaled template's STATE is its running and wanted counts; a fleetd without replica
    // sets (or an error) leaves every template as fleet shows it.
    let replicas: BTreeMap<String, (u32, u32)> = session
        .client
        .replicas()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|set| (set.template, (set.running, set.count)))
        .collect();
    // A finished batch job's STATE is how it ended (`completed`, `failed (…)`).
    let finished: BTreeMap<String, String> = session
        .client
        .completions()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|completion| (completion.unit, completion.summary))
        .collect();
    let mut rows = Vec::new();
    if !args.no_legend {
        rows.push(header(&columns));
    }
    for unit in &units {
        let keel_state = match (replicas.get(&unit.name), finished.get(&unit.name)) {
            (Some((running, count)), _) => Some(format!("{running}/{count} running")),
            (None, summary) => summary.cloned(),
        };
        let mut row = Vec::with_capacity(columns.len());
        for column in &columns {
            let cell = match &keel_state {
                Some(state) if *column == "state" => state.clone(),
                _ => unit_cell(session, unit, column, args.full).await,
            };
            row.push(cell);
        }
        rows.push(row);
    }
    session.console.out_text(&render(&rows));
    0
}

async fn unit_cell(session: &mut Session<'_>, unit: &Unit, column: &str, full: bool) -> String {
    let global = is_global(unit);
    match column {
        "unit" => unit.name.clone(),
        "global" => global.to_string(),
        "dstate" => unit.desired_state.clone(),
        "state" if global => "-".to_owned(),
        "state" if unit.machine_id.is_empty() && unit.desired_state != "inactive" => {
            pending_state(session, unit, full).await
        }
        "state" => dash_if_empty(&unit.current_state),
        "target" | "tmachine" if global => "global".to_owned(),
        "target" | "tmachine" => legend(session, &unit.machine_id, full).await,
        "hash" => match unit_file(unit) {
            Ok(file) => hash_cell(&file.hash().to_hex(), full),
            Err(_) => "-".to_owned(),
        },
        _ => match unit_file(unit) {
            Ok(file) => dash_if_empty(file.description().unwrap_or_default()),
            Err(_) => "-".to_owned(),
        },
    }
}

/// The state of a unit that should run but has no machine: `pending` when the engine stored
/// why (with the reason under `--full`), else fleet's current state.
async fn pending_state(session: &mut Session<'_>, unit: &Unit, full: bool) -> String {
    match session.client.pending(&unit.name).await {
        Ok(Some(pending)) if full && !pending.reason.is_empty() => {
            format!("pending: {}", pending.reason)
        }
        Ok(Some(_)) => "pending".to_owned(),
        Ok(None) | Err(_) => dash_if_empty(&unit.current_state),
    }
}

#[cfg(test)]
mod tests {
    //! Field checks and cells. Method: literal fields and entities (the tables themselves are
    //! golden-tested end to end in `tests/`).

    use super::*;

    #[test]
    fn fields_are_checked_as_fleet() {
        // Goal: empty and unknown fields give fleet's lines; known ones keep their order.
        assert_eq!(
            columns("", &MACHINE_FIELDS),
            Err("Must define output format".to_owned())
        );
        assert_eq!(
            columns("ip,bogus", &MACHINE_FIELDS),
            Err("Invalid key in output format: \"bogus\"".to_owned())
        );
        assert_eq!(
            columns("ip,machine", &MACHINE_FIELDS),
            Ok(vec!["ip", "machine"])
        );
    }

    #[test]
    fn machine_cells_dash_what_is_missing() {
        // Goal: `-` for a missing IP and for no metadata; metadata sorted by key.
        let bare = Machine {
            id: "0123456789".into(),
            ..Machine::default()
        };
        assert_eq!(machine_cell(&bare, "ip", false), "-");
        assert_eq!(machine_cell(&bare, "metadata", false), "-");
        assert_eq!(machine_cell(&bare, "machine", false), "01234567...");
        let tagged = Machine {
            metadata: [("z".into(), "1".into()), ("a".into(), "2".into())].into(),
            ..bare
        };
        assert_eq!(machine_cell(&tagged, "metadata", false), "a=2,z=1");
    }
}
