//! The v1 API's JSON entities: units, their options,
//! state reports, machines, the pages of each, and the error envelope.
//!
//! As fleet's: every field is left out when it is empty or zero, inside options too (an
//! option with an empty value comes back without `"value"`), and readers default a missing
//! string to `""`; an empty page is `{}`. Field names are fleet's (`desiredState`,
//! `primaryIP`, `nextPageToken`...).
//!
//! Invariants: encoding is deterministic (metadata maps are ordered); decoding accepts what
//! fleet's clients send (missing fields, unknown fields).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

fn is_empty(text: &str) -> bool {
    text.is_empty()
}

/// One `(section, name, value)` option of a unit file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitOption {
    /// `[Section]`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub section: String,
    /// `Key`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub name: String,
    /// `Value`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub value: String,
}

/// A unit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Unit {
    /// Its name.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub name: String,
    /// Its unit file, option by option.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<UnitOption>,
    /// `inactive`, `loaded` or `launched`, as stored (validated where it is set).
    #[serde(rename = "desiredState", default, skip_serializing_if = "is_empty")]
    pub desired_state: String,
    /// Derived current state.
    #[serde(rename = "currentState", default, skip_serializing_if = "is_empty")]
    pub current_state: String,
    /// The machine it is placed on.
    #[serde(rename = "machineID", default, skip_serializing_if = "is_empty")]
    pub machine_id: String,
}

/// A unit's state in systemd on one machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitState {
    /// The unit.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub name: String,
    /// Its unit file's hash (40 hex).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub hash: String,
    /// The reporting machine.
    #[serde(rename = "machineID", default, skip_serializing_if = "is_empty")]
    pub machine_id: String,
    /// systemd's `LoadState`.
    #[serde(rename = "systemdLoadState", default, skip_serializing_if = "is_empty")]
    pub load_state: String,
    /// systemd's `ActiveState`.
    #[serde(
        rename = "systemdActiveState",
        default,
        skip_serializing_if = "is_empty"
    )]
    pub active_state: String,
    /// systemd's `SubState`.
    #[serde(rename = "systemdSubState", default, skip_serializing_if = "is_empty")]
    pub sub_state: String,
}

/// A live machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Machine {
    /// Its ID.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub id: String,
    /// Its public IP.
    #[serde(rename = "primaryIP", default, skip_serializing_if = "is_empty")]
    pub primary_ip: String,
    /// Its merged metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// A page of units.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitPage {
    /// The units, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<Unit>,
    /// The next page's token, when there may be one.
    #[serde(rename = "nextPageToken", default, skip_serializing_if = "is_empty")]
    pub next_page_token: String,
}

/// A page of state reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitStatePage {
    /// The reports, by (unit, machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<UnitState>,
    /// The next page's token, when there may be one.
    #[serde(rename = "nextPageToken", default, skip_serializing_if = "is_empty")]
    pub next_page_token: String,
}

/// A page of machines.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MachinePage {
    /// The machines, by ID.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub machines: Vec<Machine>,
    /// The next page's token, when there may be one.
    #[serde(rename = "nextPageToken", default, skip_serializing_if = "is_empty")]
    pub next_page_token: String,
}

/// The error envelope of every 4xx and 5xx: `{"error":{"code":N,"message":"…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The inside of [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The HTTP status, repeated.
    pub code: u16,
    /// What went wrong; empty for internal errors, as fleet.
    pub message: String,
}

impl ErrorEnvelope {
    /// The envelope for `status` with `message`.
    #[must_use]
    pub fn new(status: u16, message: impl Into<String>) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ErrorBody {
                code: status,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    //! fleet's JSON shapes, with omission of empty fields. Method: literal JSON compared
    //! with serde_json's output, and fleet-client bodies decoded.

    use super::*;

    fn json<T: Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("entities encode")
    }

    #[test]
    fn empty_fields_are_left_out() {
        // Goal: fleet's omission of empty fields, inside options too; an empty page is `{}`.
        let unit = Unit {
            name: "a.service".into(),
            options: vec![
                UnitOption {
                    section: "Service".into(),
                    name: "ExecStart".into(),
                    value: "/bin/true".into(),
                },
                UnitOption {
                    section: "Service".into(),
                    name: "Environment".into(),
                    value: String::new(),
                },
            ],
            desired_state: "launched".into(),
            ..Unit::default()
        };
        assert_eq!(
            json(&unit),
            r#"{"name":"a.service","options":[{"section":"Service","name":"ExecStart","value":"/bin/true"},{"section":"Service","name":"Environment"}],"desiredState":"launched"}"#
        );
        assert_eq!(json(&UnitPage::default()), "{}");
        assert_eq!(json(&MachinePage::default()), "{}");
        assert_eq!(json(&UnitStatePage::default()), "{}");
    }

    #[test]
    fn states_machines_and_errors_use_fleets_names() {
        // Goal: the field names fleet's clients read.
        let state = UnitState {
            name: "a.service".into(),
            hash: "ab".into(),
            machine_id: "m1".into(),
            load_state: "loaded".into(),
            active_state: "active".into(),
            sub_state: "running".into(),
        };
        assert_eq!(
            json(&state),
            r#"{"name":"a.service","hash":"ab","machineID":"m1","systemdLoadState":"loaded","systemdActiveState":"active","systemdSubState":"running"}"#
        );
        let machine = Machine {
            id: "m1".into(),
            primary_ip: "10.0.0.1".into(),
            metadata: [
                ("z".to_owned(), "1".to_owned()),
                ("a".to_owned(), "2".to_owned()),
            ]
            .into(),
        };
        assert_eq!(
            json(&MachinePage {
                machines: vec![machine],
                next_page_token: "ZAACAA==".into(),
            }),
            r#"{"machines":[{"id":"m1","primaryIP":"10.0.0.1","metadata":{"a":"2","z":"1"}}],"nextPageToken":"ZAACAA=="}"#
        );
        assert_eq!(
            json(&ErrorEnvelope::new(404, "unit does not exist")),
            r#"{"error":{"code":404,"message":"unit does not exist"}}"#
        );
    }

    #[test]
    fn client_bodies_decode_with_missing_and_unknown_fields() {
        // Goal: what the python client and fleetctl send: a state change alone, or a
        // create with options lacking empty values, plus fields this server ignores.
        let change: Unit =
            serde_json::from_str(r#"{"desiredState":"loaded"}"#).expect("a state change");
        assert_eq!(change.desired_state, "loaded");
        assert!(change.options.is_empty());
        let create: Unit = serde_json::from_str(
            r#"{"name":"a.service","desiredState":"launched","options":[{"section":"Service","name":"X"}],"extra":1}"#,
        )
        .expect("a create");
        assert_eq!(create.options[0].value, "");
    }
}
