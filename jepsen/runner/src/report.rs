//! What a run leaves behind: `results.json` for machines and `report.html` for people. The
//! HTML page is self-contained (inline SVG, no scripts): the verdict on top, then a timeline
//! of operations per member, latencies and throughput over time, each with the fault windows
//! shaded and named, then the anomalies and the fault log.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use checker::{EventKind, Op};
use serde::Serialize;
use serde_json::Value;

use crate::recorder::{ClientEvent, NemesisEvent};

/// Operation counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OpCounts {
    /// Invocations.
    pub invoked: u64,
    /// `ok` completions.
    pub ok: u64,
    /// `fail` completions.
    pub fail: u64,
    /// `info` completions (and invocations never completed).
    pub info: u64,
}

/// One anomaly found by any checker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// `not-linearizable`, `lost-write`, `watch-missing`, ...
    pub kind: String,
    /// The key or member concerned.
    pub subject: String,
    /// What was wrong.
    pub detail: String,
}

/// One workload phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PhaseResult {
    /// The workload.
    pub workload: String,
    /// Seconds of load under faults.
    pub load_s: f64,
    /// Time from the final heal to every member answering quorum reads.
    pub recovery_ms: Option<u64>,
    /// Keys (or watchers) the phase used.
    pub keys: usize,
}

/// `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// `valid`, `invalid`, `unknown` or `harness-failure`.
    pub verdict: String,
    /// The seed.
    pub seed: u64,
    /// The command that replays this run.
    pub command: String,
    /// Members in the cluster.
    pub nodes: usize,
    /// Operation counts over the whole history.
    pub ops: OpCounts,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Everything the checkers found.
    pub anomalies: Vec<Anomaly>,
    /// Acknowledged writes missing at the end (set and watch checks).
    pub lost_writes: u64,
    /// Phases in order.
    pub phases: Vec<PhaseResult>,
    /// Fault families asked for but not injectable here, and why.
    pub skipped: Vec<String>,
    /// The linearizability checker's verdict, as JSON.
    pub linearizability: Value,
    /// What stopped the harness, when it failed.
    pub harness_error: Option<String>,
    /// Each member's `/debug/raft` at the end: indexes, log extent, snapshots.
    pub members: Vec<Value>,
}

impl OpCounts {
    /// Counts one event.
    pub fn add(&mut self, kind: EventKind) {
        match kind {
            EventKind::Invoke => self.invoked += 1,
            EventKind::Ok => self.ok += 1,
            EventKind::Fail => self.fail += 1,
            EventKind::Info => self.info += 1,
        }
    }

    /// The counts as reported: an invocation never completed counts as info.
    #[must_use]
    pub fn settled(mut self) -> OpCounts {
        let completed = self.ok + self.fail + self.info;
        self.info += self.invoked.saturating_sub(completed);
        self
    }
}

/// Counts invocations and completions by class; an invocation never completed counts as info.
pub fn count_ops(events: &[ClientEvent]) -> OpCounts {
    let mut counts = OpCounts::default();
    for event in events {
        counts.add(event.event.kind);
    }
    counts.settled()
}

/// An operation for drawing: when it ran, where, and how it ended.
#[derive(Debug, Clone, PartialEq)]
struct Drawn {
    start_s: f64,
    end_s: Option<f64>,
    kind: EventKind,
    node: usize,
    process: u64,
    text: String,
}

#[allow(clippy::cast_precision_loss)]
fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn describe(op: &Op) -> String {
    match op {
        Op::Read { key, value } => format!("read {key} -> {value:?}"),
        Op::Write { key, value } => format!("write {key} {value:?}"),
        Op::Cas { key, from, to } => format!("cas {key} {from:?}->{to:?}"),
        Op::Add { key, element } => format!("add {key} {element}"),
        Op::ReadSet { key, elements } => format!(
            "read_set {key} -> {} elements",
            elements.as_ref().map_or(0, std::collections::BTreeSet::len)
        ),
    }
}

fn pair_for_drawing(events: &[ClientEvent]) -> Vec<Drawn> {
    let mut open: BTreeMap<u64, Drawn> = BTreeMap::new();
    let mut done = Vec::new();
    for event in events {
        let e = &event.event;
        let node = event
            .node
            .as_deref()
            .and_then(|n| n.trim_start_matches('n').parse::<usize>().ok())
            .map_or(0, |n| n.saturating_sub(1));
        if e.kind == EventKind::Invoke {
            open.insert(
                e.process,
                Drawn {
                    start_s: seconds(e.time_ns),
                    end_s: None,
                    kind: EventKind::Info,
                    node,
                    process: e.process,
                    text: describe(&e.op),
                },
            );
        } else if let Some(mut drawn) = open.remove(&e.process) {
            drawn.end_s = Some(seconds(e.time_ns));
            drawn.kind = e.kind;
            if e.kind == EventKind::Ok {
                drawn.text = describe(&e.op);
            }
            done.push(drawn);
        }
    }
    done.extend(open.into_values());
    done.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    done
}

/// Fault windows: (start, end, kind).
fn windows(nemesis: &[NemesisEvent], end_s: f64) -> Vec<(f64, f64, String)> {
    let mut open: Vec<(f64, String)> = Vec::new();
    let mut out = Vec::new();
    for event in nemesis {
        let t = seconds(event.time_ns);
        if crate::recorder::starts_fault(&event.f) {
            open.push((t, event.kind.clone()));
        } else if let Some(position) = open.iter().position(|(_, k)| *k == event.kind) {
            let (start, kind) = open.remove(position);
            out.push((start, t, kind));
        }
    }
    out.extend(open.into_iter().map(|(s, k)| (s, end_s, k)));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Ok => "#2e7d32",
        EventKind::Fail => "#c62828",
        EventKind::Info | EventKind::Invoke => "#ef8f00",
    }
}

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 60.0;
/// Operations drawn at most; longer runs are sampled evenly (counts stay exact).
const DRAWN_MAX: usize = 40_000;

struct Frame {
    end_s: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        LEFT + (t / self.end_s.max(1e-9)) * (WIDTH - LEFT - 10.0)
    }
}

fn fault_bands(svg: &mut String, frame: &Frame, windows: &[(f64, f64, String)], height: f64) {
    for (start, end, kind) in windows {
        let x0 = frame.x(*start);
        let x1 = frame.x(*end).max(x0 + 1.0);
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"0\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"#7e57c2\" \
             fill-opacity=\"0.13\"><title>{} {start:.1}s–{end:.1}s</title></rect>\
             <text x=\"{:.1}\" y=\"10\" font-size=\"9\" fill=\"#5e35b1\">{}</text>",
            x1 - x0,
            escape(kind),
            x0 + 2.0,
            escape(kind)
        );
    }
}

fn time_axis(svg: &mut String, frame: &Frame, y: f64) {
    let step = (frame.end_s / 10.0).max(1.0).ceil();
    let mut t = 0.0;
    while t <= frame.end_s {
        let x = frame.x(t);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{t:.0}s</text>",
            y + 4.0,
            y + 15.0
        );
        t += step;
    }
}

fn timeline(ops: &[Drawn], nodes: usize, frame: &Frame, windows: &[(f64, f64, String)]) -> String {
    const LANES: u64 = 12;
    let lane_h = 3.0;
    let node_h = lane_h * LANES as f64 + 8.0;
    #[allow(clippy::cast_precision_loss)]
    let height = 16.0 + node_h * nodes as f64;
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{:.0}\" xmlns=\"http://www.w3.org/2000/svg\">",
        height + 20.0
    );
    fault_bands(&mut svg, frame, windows, height);
    for node in 0..nodes {
        #[allow(clippy::cast_precision_loss)]
        let y = 16.0 + node_h * node as f64;
        let _ = write!(
            svg,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">n{}</text>\
             <line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{WIDTH}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
            y + node_h / 2.0,
            node + 1,
            y + node_h - 2.0,
            y + node_h - 2.0
        );
    }
    for op in ops {
        #[allow(clippy::cast_precision_loss)]
        let y = 16.0 + node_h * op.node as f64 + lane_h * (op.process % LANES) as f64;
        let x0 = frame.x(op.start_s);
        let x1 = frame.x(op.end_s.unwrap_or(frame.end_s)).max(x0 + 1.0);
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
             <title>op p{} {}</title></rect>",
            x1 - x0,
            lane_h - 0.6,
            color(op.kind),
            op.process,
            escape(&op.text)
        );
    }
    time_axis(&mut svg, frame, height);
    svg.push_str("</svg>");
    svg
}

fn latency_plot(ops: &[Drawn], frame: &Frame, windows: &[(f64, f64, String)]) -> String {
    let height = 220.0;
    let (min_ms, max_ms): (f64, f64) = (0.1, 10_000.0);
    let y = |ms: f64| {
        let v = ms.clamp(min_ms, max_ms).log10();
        height - (v - min_ms.log10()) / (max_ms.log10() - min_ms.log10()) * (height - 20.0)
    };
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{:.0}\" xmlns=\"http://www.w3.org/2000/svg\">",
        height + 20.0
    );
    fault_bands(&mut svg, frame, windows, height);
    for ms in [1.0, 10.0, 100.0, 1000.0, 10_000.0] {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{WIDTH}\" y2=\"{0:.1}\" stroke=\"#eee\"/>\
             <text x=\"4\" y=\"{0:.1}\" font-size=\"10\">{ms} ms</text>",
            y(ms)
        );
    }
    for op in ops {
        let end = op.end_s.unwrap_or(frame.end_s);
        let ms = (end - op.start_s) * 1000.0;
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.6\" fill=\"{}\" fill-opacity=\"0.6\"/>",
            frame.x(op.start_s),
            y(ms),
            color(op.kind)
        );
    }
    time_axis(&mut svg, frame, height);
    svg.push_str("</svg>");
    svg
}

fn throughput_plot(ops: &[Drawn], frame: &Frame, windows: &[(f64, f64, String)]) -> String {
    let height = 140.0;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let buckets = frame.end_s.ceil().max(1.0) as usize;
    let mut counts = vec![[0u32; 3]; buckets + 1];
    for op in ops {
        if let Some(end) = op.end_s {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let b = (end.floor() as usize).min(buckets);
            let slot = match op.kind {
                EventKind::Ok => 0,
                EventKind::Fail => 1,
                _ => 2,
            };
            counts[b][slot] += 1;
        }
    }
    let peak = counts
        .iter()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{:.0}\" xmlns=\"http://www.w3.org/2000/svg\">",
        height + 20.0
    );
    fault_bands(&mut svg, frame, windows, height);
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"20\" font-size=\"10\">{peak}/s</text>"
    );
    for (second, c) in counts.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = frame.x(second as f64);
        #[allow(clippy::cast_precision_loss)]
        let width = (frame.x(second as f64 + 1.0) - x0 - 0.5).max(0.5);
        let mut base = height;
        for (slot, kind) in [EventKind::Ok, EventKind::Fail, EventKind::Info]
            .into_iter()
            .enumerate()
        {
            let h = f64::from(c[slot]) / f64::from(peak) * (height - 20.0);
            base -= h;
            let _ = write!(
                svg,
                "<rect x=\"{x0:.1}\" y=\"{base:.1}\" width=\"{width:.1}\" height=\"{h:.1}\" \
                 fill=\"{}\"/>",
                color(kind)
            );
        }
    }
    time_axis(&mut svg, frame, height);
    svg.push_str("</svg>");
    svg
}

/// The HTML report.
pub fn html(results: &Results, events: &[ClientEvent], nemesis: &[NemesisEvent]) -> String {
    let mut ops = pair_for_drawing(events);
    let end_s = events
        .last()
        .map(|e| seconds(e.event.time_ns))
        .into_iter()
        .chain(nemesis.last().map(|n| seconds(n.time_ns)))
        .fold(1.0_f64, f64::max);
    if ops.len() > DRAWN_MAX {
        let step = ops.len().div_ceil(DRAWN_MAX);
        ops = ops.into_iter().step_by(step).collect();
    }
    let frame = Frame { end_s };
    let windows = windows(nemesis, end_s);
    let verdict_color = if results.verdict == "valid" {
        "#2e7d32"
    } else {
        "#c62828"
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>jepsen: {verdict}</title>\
         <style>body{{font-family:sans-serif;margin:20px;max-width:1140px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;\
         font-size:13px;text-align:left}}code{{font-size:12px}}.legend span{{margin-right:14px}}\
         </style></head><body>\
         <h1 style=\"color:{verdict_color}\">{verdict}</h1>\
         <p>seed {seed} · {nodes} members · replay: <code>{command}</code></p>\
         <table><tr><th>invoked</th><th>ok</th><th>fail</th><th>info</th>\
         <th>faults</th><th>anomalies</th><th>lost writes</th></tr>\
         <tr><td>{invoked}</td><td>{ok}</td><td>{fail}</td><td>{info}</td><td>{faults}</td>\
         <td>{anomalies}</td><td>{lost}</td></tr></table>\
         <p class=\"legend\"><span style=\"color:#2e7d32\">■ ok</span>\
         <span style=\"color:#c62828\">■ fail</span><span style=\"color:#ef8f00\">■ info \
         (indeterminate)</span><span style=\"color:#7e57c2\">■ fault window</span>\
         {sampled}</p>",
        verdict = escape(&results.verdict),
        seed = results.seed,
        nodes = results.nodes,
        command = escape(&results.command),
        invoked = results.ops.invoked,
        ok = results.ops.ok,
        fail = results.ops.fail,
        info = results.ops.info,
        faults = results.faults.values().sum::<u64>(),
        anomalies = results.anomalies.len(),
        lost = results.lost_writes,
        sampled = if ops.len() < events.len() / 2 {
            "(long run: operations sampled evenly for drawing)"
        } else {
            ""
        },
    );
    if let Some(error) = &results.harness_error {
        let _ = write!(page, "<p><b>harness failure:</b> {}</p>", escape(error));
    }
    let _ = write!(
        page,
        "<h2>Operations per member</h2><p>One row per process lane; hover for the operation.\
         </p>{}<h2>Latency (log scale)</h2>{}<h2>Completions per second</h2>{}",
        timeline(&ops, results.nodes, &frame, &windows),
        latency_plot(&ops, &frame, &windows),
        throughput_plot(&ops, &frame, &windows)
    );
    page.push_str("<h2>Anomalies</h2>");
    if results.anomalies.is_empty() {
        page.push_str("<p>None.</p>");
    } else {
        page.push_str("<table><tr><th>kind</th><th>subject</th><th>detail</th></tr>");
        for anomaly in &results.anomalies {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
                escape(&anomaly.kind),
                escape(&anomaly.subject),
                escape(&anomaly.detail)
            );
        }
        page.push_str("</table>");
    }
    page.push_str("<h2>Phases</h2><table><tr><th>workload</th><th>load</th><th>recovery</th></tr>");
    for phase in &results.phases {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{:.0} s</td><td>{}</td></tr>",
            escape(&phase.workload),
            phase.load_s,
            phase
                .recovery_ms
                .map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))
        );
    }
    page.push_str("</table><h2>Faults</h2><table><tr><th>kind</th><th>count</th></tr>");
    for (kind, count) in &results.faults {
        let _ = write!(page, "<tr><td>{}</td><td>{count}</td></tr>", escape(kind));
    }
    page.push_str("</table>");
    for notice in &results.skipped {
        let _ = write!(page, "<p>{}</p>", escape(notice));
    }
    page.push_str(
        "<h2>Fault log</h2><table><tr><th>time</th><th>event</th><th>kind</th><th>value</th></tr>",
    );
    for event in nemesis {
        let _ = write!(
            page,
            "<tr><td>{:.2} s</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            seconds(event.time_ns),
            escape(&event.f),
            escape(&event.kind),
            escape(&event.value.to_string())
        );
    }
    page.push_str("</table></body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::Event;

    fn client(index: usize, time_ns: u64, process: u64, kind: EventKind) -> ClientEvent {
        ClientEvent {
            event: Event {
                index,
                time_ns,
                process,
                kind,
                op: Op::Write {
                    key: "/k".into(),
                    value: "1".into(),
                },
            },
            node: Some("n2".into()),
        }
    }

    /// Goal: counts are exact (an invocation never completed counts as info) and the report
    /// draws every operation and every fault window. Method: a small hand-made history.
    #[test]
    fn counts_and_report() {
        let events = vec![
            client(0, 1_000_000, 0, EventKind::Invoke),
            client(1, 2_000_000, 1, EventKind::Invoke),
            client(2, 3_000_000, 0, EventKind::Ok),
            client(4, 5_000_000, 1, EventKind::Fail),
            client(5, 6_000_000, 2, EventKind::Invoke),
        ];
        let counts = count_ops(&events);
        assert_eq!(
            counts,
            OpCounts {
                invoked: 3,
                ok: 1,
                fail: 1,
                info: 1
            }
        );
        let nemesis = vec![
            NemesisEvent {
                index: 3,
                time_ns: 2_500_000,
                f: "start-partition".into(),
                kind: "partition-one".into(),
                value: Value::Null,
            },
            NemesisEvent {
                index: 6,
                time_ns: 7_000_000,
                f: "stop-partition".into(),
                kind: "partition-one".into(),
                value: Value::Null,
            },
        ];
        let results = Results {
            verdict: "valid".into(),
            seed: 5,
            command: "jepsen run --seed 5".into(),
            nodes: 3,
            ops: counts,
            faults: BTreeMap::from([("partition-one".to_owned(), 1)]),
            anomalies: vec![],
            lost_writes: 0,
            phases: vec![],
            skipped: vec!["delay: skipped <x>".into()],
            linearizability: Value::Null,
            harness_error: None,
            members: vec![],
        };
        let page = html(&results, &events, &nemesis);
        assert_eq!(
            page.matches("<title>op p").count(),
            3,
            "three operations drawn"
        );
        assert!(page.contains("partition-one 0.0s–0.0s"));
        assert!(
            page.contains("delay: skipped &lt;x&gt;"),
            "notices are escaped"
        );
        assert!(page.contains("jepsen run --seed 5"));
        assert_eq!(windows(&nemesis, 1.0).len(), 1);
    }
}
