//! The fleet v1 HTTP API. Built so far: the JSON entities and
//! error envelope ([`entities`]) and page tokens ([`page`]). The router and handlers follow
//! (`docs/fleet.md`, "Status").

pub mod entities;
pub mod page;
