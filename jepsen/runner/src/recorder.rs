//! The history as it happens: one JSON line per event, written and flushed before the next
//! one, with one monotonic clock and one index sequence for clients and the nemesis alike
//! (`docs/jepsen.md`, "History"). The file is what the checker reads; the in-memory copy feeds
//! the report.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use checker::{Event, EventKind, Op};
use serde::Serialize;
use serde_json::Value;

use crate::report::OpCounts;

/// What else a completion tells, beyond the checker's fields (kept in the history for people).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Meta {
    /// The member the request went to (`n1`, `n2`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// etcd error code of a refused request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    /// `modifiedIndex` of the node read or written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_index: Option<u64>,
    /// `X-Etcd-Index`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd_index: Option<u64>,
    /// `X-Raft-Index`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_index: Option<u64>,
    /// `X-Raft-Term`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_term: Option<u64>,
    /// The client error, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Whether a nemesis event's `f` starts a fault (the others end one).
pub fn starts_fault(f: &str) -> bool {
    f.starts_with("start-") || matches!(f, "kill" | "pause" | "remove-member")
}

/// A nemesis event as kept for the report.
#[derive(Debug, Clone, Serialize)]
pub struct NemesisEvent {
    /// History index.
    pub index: usize,
    /// Monotonic time since the run began.
    pub time_ns: u64,
    /// `start-partition`, `stop-kill`, ...
    pub f: String,
    /// The fault kind (`partition-leader`, `kill`, ...).
    pub kind: String,
    /// What exactly was done.
    pub value: Value,
}

/// A client event as kept for the report: the checker's event plus its node.
#[derive(Debug, Clone)]
pub struct ClientEvent {
    /// The event as the checker reads it.
    pub event: Event,
    /// The member it went to.
    pub node: Option<String>,
}

#[derive(Debug)]
struct Inner {
    writer: BufWriter<File>,
    next_index: usize,
    last_ns: u64,
    clients: Vec<ClientEvent>,
    /// Running tallies of `clients`, so progress reports need no copy of the history.
    counts: OpCounts,
    nemesis: Vec<NemesisEvent>,
    failed: Option<String>,
}

/// The shared history writer.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    /// A recorder writing to `path` (created or truncated).
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(path: &Path) -> std::io::Result<Recorder> {
        Ok(Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                writer: BufWriter::new(File::create(path)?),
                next_index: 0,
                last_ns: 0,
                clients: Vec::new(),
                counts: OpCounts::default(),
                nemesis: Vec::new(),
                failed: None,
            }),
        })
    }

    /// Nanoseconds since the recorder was created.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stamps and writes one line; the index and time are taken under the lock, so both only
    /// grow in file order.
    fn write(&self, inner: &mut Inner, mut line: serde_json::Map<String, Value>) -> (usize, u64) {
        let index = inner.next_index;
        inner.next_index += 1;
        let time_ns = self.now_ns().max(inner.last_ns);
        inner.last_ns = time_ns;
        line.insert("index".into(), index.into());
        line.insert("time_ns".into(), time_ns.into());
        let text = Value::Object(line).to_string();
        if let Err(e) = writeln!(inner.writer, "{text}").and_then(|()| inner.writer.flush()) {
            inner
                .failed
                .get_or_insert_with(|| format!("writing the history: {e}"));
        }
        (index, time_ns)
    }

    /// Records a client event.
    pub fn client(&self, process: u64, kind: EventKind, op: Op, meta: &Meta) {
        let event = Event {
            index: 0,
            time_ns: 0,
            process,
            kind,
            op,
        };
        let mut line = match serde_json::to_value(&event) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        if let Ok(Value::Object(extra)) = serde_json::to_value(meta) {
            line.extend(extra);
        }
        let mut inner = self.lock();
        let (index, time_ns) = self.write(&mut inner, line);
        inner.counts.add(kind);
        inner.clients.push(ClientEvent {
            event: Event {
                index,
                time_ns,
                ..event
            },
            node: meta.node.clone(),
        });
    }

    /// Records a nemesis event (`process: "nemesis"`, `type: "info"`).
    pub fn nemesis(&self, f: &str, kind: &str, value: Value) {
        let mut line = serde_json::Map::new();
        line.insert("process".into(), "nemesis".into());
        line.insert("type".into(), "info".into());
        line.insert("f".into(), f.into());
        line.insert("kind".into(), kind.into());
        line.insert("value".into(), value.clone());
        let mut inner = self.lock();
        let (index, time_ns) = self.write(&mut inner, line);
        inner.nemesis.push(NemesisEvent {
            index,
            time_ns,
            f: f.into(),
            kind: kind.into(),
            value,
        });
    }

    /// Every client event so far, in order.
    pub fn client_events(&self) -> Vec<ClientEvent> {
        self.lock().clients.clone()
    }

    /// Operation counts so far (as `report::count_ops` of every client event).
    pub fn op_counts(&self) -> OpCounts {
        self.lock().counts.settled()
    }

    /// Number of client events so far.
    pub fn client_event_count(&self) -> usize {
        self.lock().clients.len()
    }

    /// The kind of the fault in effect, if the last nemesis event started one.
    pub fn current_fault(&self) -> Option<String> {
        self.lock()
            .nemesis
            .last()
            .filter(|e| starts_fault(&e.f))
            .map(|e| e.kind.clone())
    }

    /// Every nemesis event so far, in order.
    pub fn nemesis_events(&self) -> Vec<NemesisEvent> {
        self.lock().nemesis.clone()
    }

    /// The first write error, if any: a history that could not be written is a harness
    /// failure.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the file the recorder writes is a history the checker accepts as is, extra fields
    /// and nemesis lines included, with increasing indexes. Method: record a small history,
    /// read it back with the checker's reader and check it.
    #[test]
    fn written_history_reads_back_and_checks() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("history.jsonl");
        let recorder = Recorder::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let write = Op::Write {
            key: "/k".into(),
            value: "1".into(),
        };
        recorder.client(0, EventKind::Invoke, write.clone(), &Meta::default());
        recorder.nemesis(
            "start-partition",
            "partition-one",
            serde_json::json!({"n1": []}),
        );
        let meta = Meta {
            node: Some("n1".into()),
            modified_index: Some(7),
            ..Meta::default()
        };
        recorder.client(0, EventKind::Ok, write, &meta);
        let read = Op::Read {
            key: "/k".into(),
            value: None,
        };
        recorder.client(1, EventKind::Invoke, read, &Meta::default());
        let seen = Op::Read {
            key: "/k".into(),
            value: Some("1".into()),
        };
        recorder.client(1, EventKind::Ok, seen, &meta);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let events = checker::history::read_jsonl(std::io::BufReader::new(file))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(events.len(), 4);
        assert_eq!(
            events.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![0, 2, 3, 4]
        );
        let verdict = checker::check_events(&events, &checker::CheckOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(verdict.is_linearizable(), "{verdict}");
        assert_eq!(recorder.client_events().len(), 4);
        assert_eq!(recorder.client_event_count(), 4);
        assert_eq!(
            recorder.op_counts(),
            crate::report::count_ops(&recorder.client_events())
        );
        assert_eq!(recorder.nemesis_events().len(), 1);
        assert!(recorder.failure().is_none());
    }
}
