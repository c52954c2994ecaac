//! `ls` and `rm`: the records at or below a name, read and removed through kv-client.
//!
//! Invariants: only keys under the zone's prefix are read or removed; a value that is not
//! service JSON is listed with the reason, never hidden; `/<prefix>/config` is not a record.

use crate::cli::{Ls, Rm};
use anyhow::{bail, Context as _};
use discovery_core::announce::name_in_zone;
use discovery_core::path;
use discovery_core::service::Service;
use discovery_core::zone::Zone;
use kv_client::code::{KEY_NOT_FOUND, NOT_FILE};
use kv_client::{Client, DeleteOptions, GetOptions, Node};

/// One stored record.
struct Listed {
    name: String,
    key: String,
    service: Result<Service, String>,
    key_ttl: Option<i64>,
}

/// Lists the records at or below the name (or the whole zone) on stdout.
///
/// # Errors
/// When the name is not in the zone, nothing is stored there, or Keel fails.
pub async fn ls(client: &Client, zone: &Zone, args: &Ls) -> anyhow::Result<()> {
    let (name, key) = match &args.name {
        Some(name) => {
            let name = name_in_zone(zone, name)?;
            let key = path::key_for_name(&zone.prefix, &name)?;
            (name, key)
        }
        None => (zone.domain.clone(), zone.prefix_key()),
    };
    let options = GetOptions {
        recursive: true,
        sorted: true,
        ..GetOptions::default()
    };
    let response = match client.get(&key, options).await {
        Err(error) if error.code() == Some(KEY_NOT_FOUND) => bail!("no records at {name}"),
        other => other.with_context(|| format!("reading {key}"))?,
    };
    let mut listed = Vec::new();
    collect(&zone.prefix, &response.node, &mut listed);
    if args.json {
        for record in &listed {
            println!("{}", json_line(record));
        }
    } else {
        print!("{}", table(&listed));
    }
    Ok(())
}

fn collect(prefix: &str, node: &Node, out: &mut Vec<Listed>) {
    if node.dir {
        for child in &node.nodes {
            collect(prefix, child, out);
        }
        return;
    }
    if node.key == format!("/{prefix}/config") {
        return;
    }
    let Some(name) = path::name_for_key(prefix, &node.key) else {
        return;
    };
    let value = node.value.as_deref().unwrap_or_default();
    out.push(Listed {
        name,
        key: node.key.clone(),
        service: Service::parse(value).map_err(|error| error.to_string()),
        key_ttl: node.ttl,
    });
}

fn json_line(record: &Listed) -> serde_json::Value {
    let mut line =
        serde_json::json!({"name": record.name, "key": record.key, "key_ttl": record.key_ttl});
    match &record.service {
        Ok(service) => {
            line["service"] = serde_json::from_str(&service.to_json()).unwrap_or_default();
        }
        Err(reason) => line["error"] = reason.as_str().into(),
    }
    line
}

/// The records as an aligned table with a header; an invalid record's reason follows its
/// name, outside the columns.
fn table(records: &[Listed]) -> String {
    let header = [
        "NAME", "HOST", "PORT", "PRIORITY", "WEIGHT", "TTL", "KEY TTL", "TEXT",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.map(String::from).to_vec()];
    for record in records {
        let key_ttl = record
            .key_ttl
            .map_or_else(|| "-".to_owned(), |ttl| ttl.to_string());
        let row = match &record.service {
            Ok(service) => vec![
                record.name.clone(),
                service.host.clone(),
                service.port.to_string(),
                service.priority.to_string(),
                service.weight.to_string(),
                service.ttl.to_string(),
                key_ttl,
                service.text.clone(),
            ],
            Err(reason) => vec![record.name.clone(), format!("(invalid: {reason})")],
        };
        rows.push(row);
    }
    let full = |row: &&Vec<String>| row.len() == header.len();
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            let cells = rows.iter().filter(|row| full(row) || column == 0);
            cells
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| format!("{cell:<width$}", width = widths[column]))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// Removes the record at the name (or the instance below it; everything below with
/// `--recursive`).
///
/// # Errors
/// When the name is not in the zone, nothing is stored there, it is a directory and
/// `--recursive` was not given, or Keel fails.
pub async fn rm(client: &Client, zone: &Zone, args: &Rm) -> anyhow::Result<()> {
    let name = name_in_zone(zone, &args.name)?;
    let mut key = path::key_for_name(&zone.prefix, &name)?;
    if let Some(instance) = &args.instance {
        key = format!("{key}/{}", instance.to_lowercase());
    }
    if key == zone.prefix_key() && !args.recursive {
        bail!("{name} is the whole zone: give --recursive to remove every record");
    }
    let options = DeleteOptions {
        dir: args.recursive,
        recursive: args.recursive,
    };
    match client.delete(&key, options).await {
        Ok(_) => {
            println!("removed {key}");
            Ok(())
        }
        Err(error) if error.code() == Some(KEY_NOT_FOUND) => bail!("no record at {key}"),
        Err(error) if error.code() == Some(NOT_FILE) => {
            bail!("{key} holds several records: give --recursive to remove them all")
        }
        Err(error) => Err(error).with_context(|| format!("removing {key}")),
    }
}
