//! What fleetd shows of itself: on SIGUSR1 the agent's cache (what the index asks for, what
//! systemd said, what was published) and the engine's state, as one JSON document on stdout,
//! fleet's state dump; and its Prometheus metrics ([`crate::metrics`]).
//!
//! Each component writes its own part after it changes; the dump reads them all. The parts
//! are small (one entry per unit on this machine) and written under a std mutex that is
//! never held across an await.

use crate::metrics::Metrics;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, PoisonError};

/// The parts of the dump and the metrics, shared by the components, the signal handler and
/// the API.
#[derive(Debug, Clone, Default)]
pub struct Status {
    parts: Arc<Mutex<Map<String, Value>>>,
    metrics: Arc<Metrics>,
}

impl Status {
    /// Replaces the part named `part` (`"agent"`, `"engine"`).
    pub fn set(&self, part: &str, value: Value) {
        let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
        parts.insert(part.to_owned(), value);
    }

    /// The daemon's metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every part, as one pretty-printed JSON object.
    #[must_use]
    pub fn to_json(&self) -> String {
        let parts = self
            .parts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        serde_json::to_string_pretty(&Value::Object(parts))
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    //! The dump collects the parts as last set.

    use super::*;

    #[test]
    fn the_dump_holds_every_part_as_last_set() {
        // Goal: parts are replaced, not merged, and all appear in the document.
        // Method: set two parts, one twice; parse the dump.
        let status = Status::default();
        status.set("agent", serde_json::json!({"units": 1}));
        status.set("engine", serde_json::json!({"leading": false}));
        status.set("agent", serde_json::json!({"units": 2}));
        let dump: Value = serde_json::from_str(&status.to_json()).expect("valid JSON");
        assert_eq!(dump["agent"]["units"], 2);
        assert_eq!(dump["engine"]["leading"], false);
    }
}
