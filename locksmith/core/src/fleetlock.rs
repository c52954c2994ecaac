//! The FleetLock protocol (Fedora CoreOS's Zincati; coreos.github.io/zincati, "FleetLock
//! protocol") as a pure mapping: a request's header and body to the operation and its
//! client, and each outcome to the HTTP status and the `{"kind","value"}` error body.
//!
//! `POST /v1/pre-reboot` takes a slot (recursive: a holder taking it again succeeds);
//! `POST /v1/steady-state` gives it back if held (succeeds when not held). Both need the
//! header `fleet-lock-protocol: true` and a body `{"client_params":{"id":..,"group":..}}`
//! with non-empty strings. FleetLock group `G` is locksmith group `G`, and FleetLock's
//! `default` (Zincati's default) is locksmith's default group, so both kinds of host share
//! the same slots.

use serde::{Deserialize, Serialize};

/// The header every request must carry.
pub const PROTOCOL_HEADER: &str = "fleet-lock-protocol";

/// FleetLock's name of locksmith's default group.
pub const DEFAULT_GROUP: &str = "default";

/// Who asks, and for which group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientParams {
    /// The node's id (Zincati sends the machine's app-specific id).
    pub id: String,
    /// The reboot group.
    pub group: String,
}

#[derive(Deserialize)]
struct Body {
    client_params: ClientParams,
}

impl ClientParams {
    /// The locksmith group the FleetLock group names (`default` → the default group).
    #[must_use]
    pub fn locksmith_group(&self) -> &str {
        if self.group == DEFAULT_GROUP {
            ""
        } else {
            &self.group
        }
    }
}

/// The error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// A short, stable class: see [`Refusal::kind`].
    pub kind: &'static str,
    /// What happened, for a person.
    pub value: String,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The protocol header is absent or not `true`.
    MissingHeader,
    /// The body is not the protocol's JSON.
    BadBody(String),
    /// No slot is free.
    NoSlot(String),
    /// The semaphore in Keel is not a semaphore document.
    BadSemaphore(String),
    /// Keel did not answer, or other writers kept winning.
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Refusal::MissingHeader | Refusal::BadBody(_) => 400,
            Refusal::NoSlot(_) => 409,
            Refusal::BadSemaphore(_) => 500,
            Refusal::Unavailable(_) => 503,
        }
    }

    /// The `kind` of the error body.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::MissingHeader => "missing_protocol_header",
            Refusal::BadBody(_) => "bad_request",
            Refusal::NoSlot(_) => "failed_lock",
            Refusal::BadSemaphore(_) => "bad_semaphore",
            Refusal::Unavailable(_) => "unavailable",
        }
    }

    /// The error body.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        let value = match self {
            Refusal::MissingHeader => format!("the header {PROTOCOL_HEADER}: true is required"),
            Refusal::BadBody(value)
            | Refusal::NoSlot(value)
            | Refusal::BadSemaphore(value)
            | Refusal::Unavailable(value) => value.clone(),
        };
        ErrorBody {
            kind: self.kind(),
            value,
        }
    }
}

/// Checks a request's protocol header and body.
///
/// # Errors
/// [`Refusal::MissingHeader`], or [`Refusal::BadBody`] naming what is wrong.
pub fn parse_request(header: Option<&str>, body: &[u8]) -> Result<ClientParams, Refusal> {
    if header.map(str::trim) != Some("true") {
        return Err(Refusal::MissingHeader);
    }
    let parsed: Body = serde_json::from_slice(body)
        .map_err(|error| Refusal::BadBody(format!("the body is not FleetLock's JSON: {error}")))?;
    let params = parsed.client_params;
    if params.id.is_empty() {
        return Err(Refusal::BadBody(
            "client_params.id must not be empty".to_owned(),
        ));
    }
    if params.group.is_empty() {
        return Err(Refusal::BadBody(
            "client_params.group must not be empty".to_owned(),
        ));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: requests are accepted exactly as the protocol writes them and refused with the
    // right status and kind otherwise; `default` is locksmith's default group. Method: tables.
    #[test]
    fn requests() {
        let good = br#"{"client_params":{"id":"node1","group":"workers"}}"#;
        let params = parse_request(Some("true"), good).expect("valid");
        assert_eq!(
            (params.id.as_str(), params.locksmith_group()),
            ("node1", "workers")
        );
        let default = parse_request(
            Some("true"),
            br#"{"client_params":{"id":"n","group":"default"},"extra":1}"#,
        )
        .expect("valid");
        assert_eq!(default.locksmith_group(), "");
        for (header, body, kind) in [
            (None, &good[..], "missing_protocol_header"),
            (Some("false"), &good[..], "missing_protocol_header"),
            (Some("true"), &b"not json"[..], "bad_request"),
            (Some("true"), &b"{}"[..], "bad_request"),
            (
                Some("true"),
                &br#"{"client_params":{"id":"n"}}"#[..],
                "bad_request",
            ),
            (
                Some("true"),
                &br#"{"client_params":{"id":"","group":"g"}}"#[..],
                "bad_request",
            ),
            (
                Some("true"),
                &br#"{"client_params":{"id":"n","group":""}}"#[..],
                "bad_request",
            ),
            (
                Some("true"),
                &br#"{"client_params":{"id":1,"group":"g"}}"#[..],
                "bad_request",
            ),
        ] {
            let refusal = parse_request(header, body).expect_err("refused");
            assert_eq!(
                (refusal.kind(), refusal.status()),
                (kind, 400),
                "{header:?} {body:?}"
            );
        }
        assert_eq!(Refusal::NoSlot("full".to_owned()).status(), 409);
        assert_eq!(
            serde_json::to_string(&Refusal::MissingHeader.body()).expect("json"),
            r#"{"kind":"missing_protocol_header","value":"the header fleet-lock-protocol: true is required"}"#
        );
    }
}
