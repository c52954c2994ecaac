//! The two error bodies and etcd's table of error code → message → HTTP status.
//!
//! The table copies etcd 3.4's `etcdserver/api/v2error/error.go`: `errors` (messages) and
//! `errorStatus` (statuses; every code missing from it answers 400).

use crate::Body;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// The etcd v2 error codes, named after etcd's `Ecode…` constants.
pub mod code {
    /// 100 `Key not found`.
    pub const KEY_NOT_FOUND: u16 = 100;
    /// 101 `Compare failed`.
    pub const TEST_FAILED: u16 = 101;
    /// 102 `Not a file`.
    pub const NOT_FILE: u16 = 102;
    /// 103 `Reached the max number of peers in the cluster` (never sent).
    pub const NO_MORE_PEER: u16 = 103;
    /// 104 `Not a directory`.
    pub const NOT_DIR: u16 = 104;
    /// 105 `Key already exists`.
    pub const NODE_EXIST: u16 = 105;
    /// 106 `The prefix of given key is a keyword in etcd` (never sent).
    pub const KEY_IS_PRESERVED: u16 = 106;
    /// 107 `Root is read only`.
    pub const ROOT_READ_ONLY: u16 = 107;
    /// 108 `Directory not empty`.
    pub const DIR_NOT_EMPTY: u16 = 108;
    /// 109 `Peer address has existed` (never sent).
    pub const EXISTING_PEER_ADDR: u16 = 109;
    /// 110 `The request requires user authentication`.
    pub const UNAUTHORIZED: u16 = 110;
    /// 200 `Value is Required in POST form` (never sent).
    pub const VALUE_REQUIRED: u16 = 200;
    /// 201 `PrevValue is Required in POST form`.
    pub const PREV_VALUE_REQUIRED: u16 = 201;
    /// 202 `The given TTL in POST form is not a number`.
    pub const TTL_NAN: u16 = 202;
    /// 203 `The given index in POST form is not a number`.
    pub const INDEX_NAN: u16 = 203;
    /// 204 `Value or TTL is required in POST form` (never sent).
    pub const VALUE_OR_TTL_REQUIRED: u16 = 204;
    /// 205 `The given timeout in POST form is not a number` (never sent).
    pub const TIMEOUT_NAN: u16 = 205;
    /// 206 `Name is required in POST form` (never sent).
    pub const NAME_REQUIRED: u16 = 206;
    /// 207 `Index or value is required` (never sent).
    pub const INDEX_OR_VALUE_REQUIRED: u16 = 207;
    /// 208 `Index and value cannot both be specified` (never sent).
    pub const INDEX_VALUE_MUTEX: u16 = 208;
    /// 209 `Invalid field`.
    pub const INVALID_FIELD: u16 = 209;
    /// 210 `Invalid POST form`.
    pub const INVALID_FORM: u16 = 210;
    /// 211 `Value provided on refresh`.
    pub const REFRESH_VALUE: u16 = 211;
    /// 212 `A TTL must be provided on refresh`.
    pub const REFRESH_TTL_REQUIRED: u16 = 212;
    /// 300 `Raft Internal Error`.
    pub const RAFT_INTERNAL: u16 = 300;
    /// 301 `During Leader Election` (never sent by 3.4).
    pub const LEADER_ELECT: u16 = 301;
    /// 400 `watcher is cleared due to etcd recovery` (never sent by 3.4).
    pub const WATCHER_CLEARED: u16 = 400;
    /// 401 `The event in requested index is outdated and cleared`.
    pub const EVENT_INDEX_CLEARED: u16 = 401;
    /// 402 `Standby Internal Error` (never sent).
    pub const STANDBY_INTERNAL: u16 = 402;
    /// 403 `Invalid active size` (never sent).
    pub const INVALID_ACTIVE_SIZE: u16 = 403;
    /// 404 `Standby remove delay` (never sent).
    pub const INVALID_REMOVE_DELAY: u16 = 404;
    /// 500 `Client Internal Error` (never sent).
    pub const CLIENT_INTERNAL: u16 = 500;
}

/// The fixed `message` etcd sends with an error code; `None` for a code etcd does not define.
#[must_use]
pub fn error_message(error_code: u16) -> Option<&'static str> {
    let message = match error_code {
        code::KEY_NOT_FOUND => "Key not found",
        code::TEST_FAILED => "Compare failed",
        code::NOT_FILE => "Not a file",
        code::NO_MORE_PEER => "Reached the max number of peers in the cluster",
        code::NOT_DIR => "Not a directory",
        code::NODE_EXIST => "Key already exists",
        code::KEY_IS_PRESERVED => "The prefix of given key is a keyword in etcd",
        code::ROOT_READ_ONLY => "Root is read only",
        code::DIR_NOT_EMPTY => "Directory not empty",
        code::EXISTING_PEER_ADDR => "Peer address has existed",
        code::UNAUTHORIZED => "The request requires user authentication",
        code::VALUE_REQUIRED => "Value is Required in POST form",
        code::PREV_VALUE_REQUIRED => "PrevValue is Required in POST form",
        code::TTL_NAN => "The given TTL in POST form is not a number",
        code::INDEX_NAN => "The given index in POST form is not a number",
        code::VALUE_OR_TTL_REQUIRED => "Value or TTL is required in POST form",
        code::TIMEOUT_NAN => "The given timeout in POST form is not a number",
        code::NAME_REQUIRED => "Name is required in POST form",
        code::INDEX_OR_VALUE_REQUIRED => "Index or value is required",
        code::INDEX_VALUE_MUTEX => "Index and value cannot both be specified",
        code::INVALID_FIELD => "Invalid field",
        code::INVALID_FORM => "Invalid POST form",
        code::REFRESH_VALUE => "Value provided on refresh",
        code::REFRESH_TTL_REQUIRED => "A TTL must be provided on refresh",
        code::RAFT_INTERNAL => "Raft Internal Error",
        code::LEADER_ELECT => "During Leader Election",
        code::WATCHER_CLEARED => "watcher is cleared due to etcd recovery",
        code::EVENT_INDEX_CLEARED => "The event in requested index is outdated and cleared",
        code::STANDBY_INTERNAL => "Standby Internal Error",
        code::INVALID_ACTIVE_SIZE => "Invalid active size",
        code::INVALID_REMOVE_DELAY => "Standby remove delay",
        code::CLIENT_INTERNAL => "Client Internal Error",
        _ => return None,
    };
    Some(message)
}

/// The HTTP status etcd answers an error code with: 100→404, 101→412, 102→403, 105→412,
/// 108→403, 110→401, 300→500, 301→500, and 400 for every other code, known or not (Go's
/// `StatusCode` falls back to 400).
#[must_use]
pub fn error_status(error_code: u16) -> u16 {
    match error_code {
        code::KEY_NOT_FOUND => 404,
        code::TEST_FAILED | code::NODE_EXIST => 412,
        code::NOT_FILE | code::DIR_NOT_EMPTY => 403,
        code::UNAUTHORIZED => 401,
        code::RAFT_INTERNAL | code::LEADER_ELECT => 500,
        _ => 400,
    }
}

/// The v2 error object: `{"errorCode":…,"message":…,"cause":…,"index":…}`.
///
/// `cause` is left out when empty (Go `omitempty`); `index` is always written, 0 for errors
/// found while parsing the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody<'a> {
    /// The etcd error code.
    #[serde(rename = "errorCode")]
    pub error_code: u16,
    /// The fixed text for the code ([`error_message`]).
    pub message: Cow<'a, str>,
    /// The detail, e.g. the missing path.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub cause: Cow<'a, str>,
    /// The store index when the error happened.
    pub index: u64,
}

impl Body for ErrorBody<'_> {
    /// etcd writes `toJsonString() + "\n"`.
    const TRAILING_NEWLINE: bool = true;
}

/// The short error form of the members and stats endpoints: `{"message":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody<'a> {
    /// What went wrong, e.g. `not current leader`.
    pub message: Cow<'a, str>,
}

impl Body for MessageBody<'_> {
    /// Seen on etcd 3.4.23: `DELETE /v2/members/zz` ends at `}`.
    const TRAILING_NEWLINE: bool = false;
}
