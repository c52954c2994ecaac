//! `PUT /units/{name}`: create, replace, or change a unit's desired state, by fleet's decision
//! table.
//!
//! Checks, in fleet's order, each answered before anything is read or written: exactly one
//! `Content-Type` of media type `application/json` (415); a body that decodes (400); a body
//! `name` equal to the URL's (400); a valid unit name (400). Keel adds, before any write: the
//! desired state is one of fleet's three words wherever it is given (fleet stored any text
//! on a state change, which made the unit unreadable, and answered 500 on a create), the
//! options are checked on every path that stores them (fleet skipped the check when
//! replacing), and a template is never given a state other than `inactive` (fleet checked
//! only state changes). Then, on the unit as stored:
//!
//! | stored | options given | answer |
//! |---|---|---|
//! | no | no | 409 "unit does not exist and options field empty" |
//! | no | yes | create, desired state absent → `inactive`: 201 |
//! | yes | yes, another hash | replace file and desired state (absent → `inactive`): 201 |
//! | yes | none, or the same hash | no desired state → 409; else set it: 204 |

use crate::api::error::ApiError;
use crate::api::request::{read_body, ItemName};
use crate::api::ApiState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use fleet_api::entities::Unit;
use fleet_core::model::DesiredState;
use fleet_core::name::UnitName;
use fleet_core::options::parse_x_fleet;
use fleet_core::unit_file::{UnitFile, UnitOption};
use fleet_registry::{Registry, Written};

/// A PUT that passed every check that needs no registry read.
#[derive(Debug)]
struct Checked {
    name: UnitName,
    file: Option<UnitFile>,
    desired: Option<DesiredState>,
}

/// `PUT /units/{name}`.
pub(crate) async fn put(
    State(state): State<ApiState>,
    item: ItemName,
    request: Request,
) -> Result<StatusCode, ApiError> {
    check_content_type(request.headers())?;
    let body = read_body(request.into_body()).await?;
    let checked = check(&item.0, &body)?;
    decide(state.registry(), &checked).await
}

/// fleet's rule: exactly one `Content-Type`, whose media type (before any `;`) is
/// `application/json`.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let values: Vec<_> = headers.get_all(header::CONTENT_TYPE).iter().collect();
    let [value] = values.as_slice() else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("expected 1 Content-Type, got {}", values.len()),
        ));
    };
    let text = value.to_str().unwrap_or_default();
    let media_type = text.split(';').next().unwrap_or_default().trim();
    if media_type == "application/json" {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "only acceptable Content-Type is application/json",
        ))
    }
}

fn check(item: &str, body: &[u8]) -> Result<Checked, ApiError> {
    let unit: Unit = serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request(format!("unable to decode body: {error}")))?;
    let body_name = if unit.name.is_empty() {
        item
    } else {
        unit.name.as_str()
    };
    if body_name != item {
        return Err(ApiError::bad_request(format!(
            "name in URL {item:?} differs from unit name in request body {body_name:?}"
        )));
    }
    let name = UnitName::parse(item).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let desired = if unit.desired_state.is_empty() {
        None
    } else {
        let parsed = unit.desired_state.parse::<DesiredState>();
        Some(parsed.map_err(|error| ApiError::bad_request(error.to_string()))?)
    };
    let file = if unit.options.is_empty() {
        None
    } else {
        Some(unit_file(&name, unit.options)?)
    };
    Ok(Checked {
        name,
        file,
        desired,
    })
}

/// The unit file the options make, refused as fleet refuses it: options that do not survive
/// the canonical text, and fleet's refused `[X-Fleet]` combinations.
pub(crate) fn unit_file(
    name: &UnitName,
    options: Vec<fleet_api::entities::UnitOption>,
) -> Result<UnitFile, ApiError> {
    let options = options
        .into_iter()
        .map(|option| UnitOption {
            section: option.section,
            name: option.name,
            value: option.value,
        })
        .collect();
    let file = UnitFile::from_options(options)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    parse_x_fleet(name, &file).map_err(|error| ApiError::bad_request(error.to_string()))?;
    Ok(file)
}

/// fleet's refusal to activate a template.
fn refuse_template(name: &UnitName, desired: DesiredState) -> Result<(), ApiError> {
    if name.is_template() && desired != DesiredState::Inactive {
        Err(ApiError::bad_request(format!(
            "cannot activate template {:?}",
            name.as_str()
        )))
    } else {
        Ok(())
    }
}

/// The decision table. A create that loses the race with another create is decided again
/// on the unit that won, once.
async fn decide(registry: &Registry, put: &Checked) -> Result<StatusCode, ApiError> {
    let name = put.name.as_str();
    for _ in 0..2 {
        let stored = registry.unit(name).await?;
        match (stored, &put.file) {
            (None, None) => {
                return Err(ApiError::conflict(
                    "unit does not exist and options field empty",
                ))
            }
            (None, Some(file)) => {
                let desired = put.desired.unwrap_or_default();
                refuse_template(&put.name, desired)?;
                if registry.create_unit(name, file, desired).await? == Written::Done {
                    return Ok(StatusCode::CREATED);
                }
            }
            (Some(stored), Some(file)) if stored.hash != file.hash() => {
                let desired = put.desired.unwrap_or_default();
                refuse_template(&put.name, desired)?;
                registry.replace_unit(name, file, desired).await?;
                return Ok(StatusCode::CREATED);
            }
            (Some(_), _) => {
                let desired = put.desired.ok_or_else(|| {
                    ApiError::conflict("must provide DesiredState to update existing unit")
                })?;
                refuse_template(&put.name, desired)?;
                registry.set_desired_state(name, desired).await?;
                return Ok(StatusCode::NO_CONTENT);
            }
        }
    }
    Err(ApiError::conflict(
        "unit was created and destroyed concurrently; try again",
    ))
}

#[cfg(test)]
mod tests {
    //! The checks that need no registry. Method: literal bodies and headers.

    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn content_type_must_be_one_json_header() {
        // Goal: fleet's 415 rule: one header, media type application/json, parameters
        // allowed.
        // Method: header maps with none, two, another type, and JSON with a charset.
        let mut headers = HeaderMap::new();
        let status = |headers: &HeaderMap| check_content_type(headers).map_err(|e| e.status());
        assert_eq!(status(&headers), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(status(&headers), Ok(()));
        headers.append(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(status(&headers), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let error = check_content_type(&headers).expect_err("text/plain");
        assert_eq!(
            error.message(),
            "only acceptable Content-Type is application/json"
        );
    }

    #[test]
    fn bodies_are_checked_before_any_read() {
        // Goal: the 400s with fleet's texts, and Keel's desired-state check.
        // Method: `check` on literal bodies.
        let message = |item: &str, body: &str| {
            check(item, body.as_bytes())
                .map(|_| String::new())
                .unwrap_or_else(|error| error.message().to_owned())
        };
        assert!(message("a.service", "{").starts_with("unable to decode body: "));
        assert_eq!(
            message("a.service", r#"{"name":"b.service"}"#),
            r#"name in URL "a.service" differs from unit name in request body "b.service""#
        );
        assert_eq!(message("a.txt", "{}"), r#"invalid unit type: "txt""#);
        assert_eq!(
            message("a.service", r#"{"desiredState":"running"}"#),
            r#"invalid desired state "running": expected inactive, loaded or launched"#
        );
        assert_eq!(
            message(
                "a.service",
                r#"{"options":[{"section":"X-Fleet","name":"MachineID","value":"m"},{"section":"X-Fleet","name":"Global","value":"true"}]}"#
            ),
            "MachineID cannot be used with Global"
        );
        let checked = check("a.service", br#"{"desiredState":"loaded"}"#).expect("valid");
        assert_eq!(checked.desired, Some(DesiredState::Loaded));
        assert!(checked.file.is_none());
    }
}
