//! The `/v2/keys` endpoint family.

pub mod handler;
pub mod render;
pub mod request;
mod watch;
