//! `GET /discovery`: the API described in Google's API Discovery format, which the python
//! `fleet` client feeds to google-api-python-client's `build_from_document` to make its
//! bindings.
//!
//! Invariants: the document (`discovery.json`, served verbatim) declares every resource,
//! method and parameter that client passes (the generator refuses undeclared keyword
//! arguments), declares no OAuth scopes (the library would look for credentials), and keeps
//! `rootUrl` as the literal `$ENDPOINT/`, which the client replaces with its endpoint (a real
//! URL would break its unix-socket use). PATCH is not described, as in fleet's.

use crate::api::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The document.
pub(crate) const DOCUMENT: &str = include_str!("discovery.json");

/// `GET /discovery`.
pub(crate) async fn get() -> Response {
    let content_type = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, content_type)], DOCUMENT).into_response()
}

/// Any other method: fleet's server answers 400 here, not 405.
pub(crate) async fn other_method() -> ApiError {
    ApiError::bad_request("only HTTP GET supported against this resource")
}

#[cfg(test)]
mod tests {
    //! The document's shape as the python client's generator reads it. Method: parse it and
    //! walk the fields the generator and the client use.

    use super::*;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("the discovery document is JSON")
    }

    #[test]
    fn service_fields_are_the_clients() {
        // Goal: id, the `$ENDPOINT` placeholder, the paths, no OAuth scopes, every schema.
        let doc = document();
        assert_eq!(doc["id"], "fleet:v1");
        assert_eq!(doc["rootUrl"], "$ENDPOINT/");
        assert_eq!(doc["servicePath"], "fleet/v1/");
        assert_eq!(doc["basePath"], "/fleet/v1/");
        assert_eq!(doc["auth"], serde_json::json!({}));
        for schema in [
            "Machine",
            "MachinePage",
            "UnitOption",
            "Unit",
            "UnitPage",
            "UnitState",
            "UnitStatePage",
        ] {
            assert_eq!(doc["schemas"][schema]["id"], schema);
        }
    }

    #[test]
    fn methods_declare_every_parameter_the_client_passes() {
        // Goal: each method's HTTP method, path and parameters (with their locations), and
        // that path parameters are required and ordered.
        // Method: a table of (resource, method, http method, path, parameters).
        let doc = document();
        type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);
        let table: [Row; 7] = [
            (
                "Machines",
                "List",
                "GET",
                "machines",
                &[("nextPageToken", "query")],
            ),
            (
                "Units",
                "List",
                "GET",
                "units",
                &[("nextPageToken", "query")],
            ),
            (
                "Units",
                "Get",
                "GET",
                "units/{unitName}",
                &[("unitName", "path")],
            ),
            (
                "Units",
                "Delete",
                "DELETE",
                "units/{unitName}",
                &[("unitName", "path")],
            ),
            (
                "Units",
                "Set",
                "PUT",
                "units/{unitName}",
                &[("unitName", "path")],
            ),
            (
                "UnitState",
                "Get",
                "GET",
                "state/{unitName}",
                &[("unitName", "path")],
            ),
            (
                "UnitState",
                "List",
                "GET",
                "state",
                &[
                    ("nextPageToken", "query"),
                    ("unitName", "query"),
                    ("machineID", "query"),
                ],
            ),
        ];
        for (resource, name, http, path, parameters) in table {
            let method = &doc["resources"][resource]["methods"][name];
            assert_eq!(method["httpMethod"], http, "{resource}.{name}");
            assert_eq!(method["path"], path, "{resource}.{name}");
            let declared = method["parameters"].as_object().expect("parameters");
            assert_eq!(declared.len(), parameters.len(), "{resource}.{name}");
            for (parameter, location) in parameters {
                assert_eq!(declared[*parameter]["location"], *location);
                if *location == "path" {
                    assert_eq!(declared[*parameter]["required"], true);
                    assert_eq!(method["parameterOrder"], serde_json::json!([parameter]));
                }
            }
        }
        assert_eq!(
            doc["resources"]["Units"]["methods"]["Set"]["request"]["$ref"],
            "Unit"
        );
    }
}
