//! `GET /machines` and `PATCH /machines`: the present machines with their merged metadata,
//! and changes to their dynamic metadata.
//!
//! A PATCH body is a JSON array of `{"op", "path", "value"}` operations: `op` is `add`,
//! `replace` or `remove`; `path` is `/<machineID>/metadata/<key>` with a key of
//! `[A-Za-z0-9_.-]`; `add` and `replace` need a non-empty value. fleet's server reads the
//! value as an object `{"value": "…"}` while its documentation shows a bare string: both are
//! accepted. Every operation is checked before the first is applied; then they are applied
//! in order, `remove` writing the empty string that hides a static key. Machines need not be
//! present (dynamic metadata outlives a machine's absence).
//!
//! Invariant: a machine ID or key of `.` or `..` is refused, so no operation can address a
//! registry key outside the machine's metadata directory.

use crate::api::error::ApiError;
use crate::api::request::{logged, read_body, QueryParams};
use crate::api::ApiState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use fleet_api::entities::{Machine, MachinePage};
use fleet_api::page;
use fleet_core::model::MachineId;
use serde::Deserialize;

/// `GET /machines`: one page of the present machines, by ID.
pub(crate) async fn list(
    State(state): State<ApiState>,
    query: QueryParams,
) -> Result<Json<MachinePage>, ApiError> {
    let token = query.page_token(state.token_limit())?;
    let machines = logged(state.registry().machines().await?, "machine record");
    let machines: Vec<Machine> = machines
        .into_values()
        .map(|object| Machine {
            id: object.id.as_str().to_owned(),
            primary_ip: object.public_ip,
            metadata: object.metadata,
        })
        .collect();
    let page = page::slice(machines, token, state.token_limit());
    Ok(Json(MachinePage {
        machines: page.items,
        next_page_token: page.next.map(|next| next.encode()).unwrap_or_default(),
    }))
}

/// A PATCH operation as sent.
#[derive(Debug, Deserialize)]
struct Operation {
    #[serde(default)]
    op: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    value: Option<OperationValue>,
}

/// Both forms of a value.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OperationValue {
    Bare(String),
    Wrapped {
        #[serde(default)]
        value: String,
    },
}

/// A checked operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetadataChange {
    pub machine: String,
    pub key: String,
    /// The value to set; empty for `remove`.
    pub value: String,
}

fn is_key_segment(text: &str) -> bool {
    !text.is_empty() && text != "." && text != ".."
}

fn parse_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (machine, literal, key) = (parts.next()?, parts.next()?, parts.next()?);
    let key_ok = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let valid = parts.next().is_none()
        && literal == "metadata"
        && is_key_segment(machine)
        && MachineId::parse(machine).is_ok_and(|id| id.as_str() == machine)
        && is_key_segment(key)
        && key_ok;
    valid.then(|| (machine.to_owned(), key.to_owned()))
}

/// Decodes and checks a PATCH body, with fleet's texts.
///
/// # Errors
/// 400 for a body that is not an array of operations, or the first bad operation.
pub(crate) fn parse_changes(body: &[u8]) -> Result<Vec<MetadataChange>, ApiError> {
    let operations: Option<Vec<Operation>> =
        serde_json::from_slice(body).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let mut changes = Vec::new();
    for operation in operations.unwrap_or_default() {
        let remove = match operation.op.as_str() {
            "add" | "replace" => false,
            "remove" => true,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid op: expect add, remove, or replace",
                ))
            }
        };
        let (machine, key) = parse_path(&operation.path)
            .ok_or_else(|| ApiError::bad_request("machine metadata path invalid"))?;
        let value = match operation.value {
            Some(OperationValue::Bare(value) | OperationValue::Wrapped { value }) => value,
            None => String::new(),
        };
        if !remove && value.is_empty() {
            return Err(ApiError::bad_request(
                "invalid value: add and replace require a value",
            ));
        }
        let value = if remove { String::new() } else { value };
        changes.push(MetadataChange {
            machine,
            key,
            value,
        });
    }
    Ok(changes)
}

/// `PATCH /machines`.
pub(crate) async fn patch(
    State(state): State<ApiState>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    let body = read_body(request.into_body()).await?;
    for change in parse_changes(&body)? {
        state
            .registry()
            .set_machine_metadata(&change.machine, &change.key, &change.value)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    //! PATCH bodies. Method: literal bodies through `parse_changes`.

    use super::*;

    fn message(body: &str) -> String {
        parse_changes(body.as_bytes())
            .map(|_| String::new())
            .unwrap_or_else(|error| error.message().to_owned())
    }

    #[test]
    fn both_value_forms_and_remove_are_read() {
        // Goal: the object form fleet's server reads, the bare string its docs show, and
        // remove writing the hiding empty string (any value ignored).
        // Method: one body with all three.
        let changes = parse_changes(
            br#"[{"op":"add","path":"/m1/metadata/region","value":{"value":"eu"}},
                {"op":"replace","path":"/m2/metadata/disk.type","value":"ssd"},
                {"op":"remove","path":"/m1/metadata/old","value":"x"}]"#,
        )
        .expect("valid");
        let triple = |c: &MetadataChange| (c.machine.clone(), c.key.clone(), c.value.clone());
        let got: Vec<_> = changes.iter().map(triple).collect();
        let want = [
            ("m1", "region", "eu"),
            ("m2", "disk.type", "ssd"),
            ("m1", "old", ""),
        ]
        .map(|(m, k, v)| (m.to_owned(), k.to_owned(), v.to_owned()));
        assert_eq!(got, want);
        assert_eq!(parse_changes(b"null").expect("no operations"), vec![]);
    }

    #[test]
    fn bad_operations_are_refused_with_fleets_texts() {
        // Goal: bad op, bad path (including segments that would leave the machine's
        // directory), missing value, and undecodable bodies are 400s.
        // Method: literal bodies.
        let op = "invalid op: expect add, remove, or replace";
        let path = "machine metadata path invalid";
        let value = "invalid value: add and replace require a value";
        assert_eq!(message(r#"[{"op":"move","path":"/m/metadata/k"}]"#), op);
        for bad in [
            "/m/metadata/",
            "m/metadata/k",
            "/m/meta/k",
            "/m/metadata/k/x",
            "/../metadata/k",
            "/m/metadata/..",
            "/m/metadata/a b",
        ] {
            let body = format!(r#"[{{"op":"add","path":"{bad}","value":"v"}}]"#);
            assert_eq!(message(&body), path, "{bad}");
        }
        assert_eq!(message(r#"[{"op":"add","path":"/m/metadata/k"}]"#), value);
        assert_eq!(
            message(r#"[{"op":"add","path":"/m/metadata/k","value":{"value":""}}]"#),
            value
        );
        assert!(!message(r#"{"op":"add"}"#).is_empty());
        assert!(!message(r#"[{"op":"add","path":"/m/metadata/k","value":5}]"#).is_empty());
    }
}
