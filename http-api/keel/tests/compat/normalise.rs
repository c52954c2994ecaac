//! Rewriting etcdctl output so that two clusters running the same script print the same text,
//! while every real difference survives. Only what must differ between two clusters is touched:
//!
//! * **etcd indexes**, only where etcdctl prints an index (JSON `modifiedIndex`/`createdIndex`,
//!   extended `Created-Index:`/`Modified-Index:`/`Index:` (the `X-Etcd-Index`), the `[N]` of an
//!   error line and the numbers of an index compare, `ETCD_WATCH_MODIFIED_INDEX=`, in-order key
//!   names) become `I+k`: relative to the index the script started at. So an extra or missing
//!   index step is still a difference. `0` stays `0`.
//! * **member ids, the cluster id, client and peer URLs** become `<id:m0>`, `<cluster-id>`,
//!   `<client:m0>`, `<peer:m0>` (both clusters name their members `m0`, `m1`, …).
//! * **TTL countdowns** are rounded up to a multiple of 10 (`~1000`): a second passing between
//!   the write and the read is not a difference, a wrong TTL is.
//! * **expiration times** become `<rfc3339>` if they have the RFC 3339 UTC shape etcd writes,
//!   and `<bad expiration …>` otherwise.
//! * **which member leads** (`isLeader=`) is random: the flags become `isLeader=*` and a line
//!   counting the leaders is added. Lines of outputs whose order is random by design (member
//!   list order follows random ids; `ls` without `--sort`) are sorted when the step says so.
//!
//! The script keeps every stored value non-numeric (`va1`, …), so the numbers of a
//! `Compare failed` cause are indexes.

use super::etcdctl::Outcome;
use super::Topology;

/// The rewriting rules for one cluster.
pub struct Normaliser {
    base_index: u64,
    /// (literal as printed by this cluster, the same for every cluster), longest first.
    literals: Vec<(String, String)>,
}

impl Normaliser {
    /// Rules for a cluster whose script started at `base_index`, with its members' ids.
    pub fn new(
        base_index: u64,
        topology: &Topology,
        ids: &[(String, String)],
        cluster_id: &str,
    ) -> Normaliser {
        let mut literals = vec![(cluster_id.to_string(), "<cluster-id>".to_string())];
        for (id, name) in ids {
            literals.push((id.clone(), format!("<id:{name}>")));
        }
        for (index, name) in topology.names.iter().enumerate() {
            literals.push((
                topology.client_urls[index].clone(),
                format!("<client:{name}>"),
            ));
            literals.push((topology.peer_urls[index].clone(), format!("<peer:{name}>")));
        }
        literals.sort_by_key(|(literal, _)| std::cmp::Reverse(literal.len()));
        Normaliser {
            base_index,
            literals,
        }
    }

    /// An etcd index relative to the script's start.
    pub fn index(&self, index: u64) -> String {
        match index {
            0 => "0".to_string(),
            i if i >= self.base_index => format!("I+{}", i - self.base_index),
            i => format!("I-{}", self.base_index - i),
        }
    }

    /// Normalise one run; `sort_lines` for outputs whose line order is random by design.
    pub fn outcome(&self, raw: &Outcome, sort_lines: bool) -> Outcome {
        let mut stdout = self.text(&raw.stdout);
        if sort_lines {
            stdout = sorted_lines(&stdout);
        }
        Outcome {
            stdout,
            stderr: self.text(&raw.stderr),
            exit: raw.exit.clone(),
        }
    }

    /// Normalise one text.
    pub fn text(&self, raw: &str) -> String {
        let mut text = raw.to_string();
        for (literal, replacement) in &self.literals {
            text = replace_token(&text, literal, replacement);
        }
        text = text
            .split('\n')
            .map(|line| self.line(line))
            .collect::<Vec<_>>()
            .join("\n");
        let index = |digits: &str| {
            digits
                .parse()
                .map_or_else(|_| digits.to_string(), |n| self.index(n))
        };
        for marker in [
            "\"modifiedIndex\":",
            "\"createdIndex\":",
            "ETCD_WATCH_MODIFIED_INDEX=",
        ] {
            text = replace_number_after(&text, marker, index);
        }
        text = replace_number_after(&text, "\"ttl\":", ttl);
        text = self.in_order_keys(&text);
        text = expirations(&text);
        leaders(&text)
    }

    /// Line-shaped rules: extended output and error lines.
    fn line(&self, line: &str) -> String {
        for label in ["Created-Index: ", "Modified-Index: ", "Index: "] {
            if let Some(n) = line
                .strip_prefix(label)
                .and_then(|rest| rest.parse::<u64>().ok())
            {
                return format!("{label}{}", self.index(n));
            }
        }
        if let Some(rest) = line.strip_prefix("TTL: ") {
            return format!("TTL: {}", ttl(rest));
        }
        if line.starts_with("Error:") {
            return self.error_line(line);
        }
        line.to_string()
    }

    /// `Error:  101: Compare failed ([va1 != va2] [12 != 14]) [14]`: every bracket holding a
    /// number, or `number != number`, holds indexes.
    fn error_line(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(open) = rest.find('[') {
            let Some(close) = rest[open..].find(']').map(|c| open + c) else {
                break;
            };
            out.push_str(&rest[..=open]);
            let inside = &rest[open + 1..close];
            let parts: Vec<&str> = inside.split(" != ").collect();
            let numeric = parts.len() <= 2 && parts.iter().all(|p| is_digits(p));
            match numeric {
                true => out.push_str(
                    &parts
                        .iter()
                        .map(|p| self.index_text(p))
                        .collect::<Vec<_>>()
                        .join(" != "),
                ),
                false => out.push_str(inside),
            }
            out.push(']');
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn index_text(&self, digits: &str) -> String {
        digits
            .parse()
            .map_or_else(|_| digits.to_string(), |n| self.index(n))
    }

    /// In-order keys are named by their creation index in 20 zero-padded digits.
    fn in_order_keys(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            let run = bytes[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if bytes[at] == b'/' && run == 20 {
                out.push_str(&text[copied..=at]);
                out.push_str(&format!(
                    "<seq:{}>",
                    self.index_text(&text[at + 1..at + 21])
                ));
                at += 21;
                copied = at;
            } else {
                at += 1;
            }
        }
        out.push_str(&text[copied..]);
        out
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Remaining TTL seconds, rounded up to a multiple of 10; `0` and anything odd unchanged.
fn ttl(text: &str) -> String {
    match text.parse::<i64>() {
        Ok(seconds) if seconds > 0 => format!("~{}", (seconds + 9) / 10 * 10),
        _ => text.to_string(),
    }
}

/// Replace `literal` where it stands alone: not inside a longer word, number or id.
fn replace_token(text: &str, literal: &str, replacement: &str) -> String {
    if literal.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(literal) {
        let end = found + literal.len();
        let before = rest[..found].chars().next_back();
        let after = rest[end..].chars().next();
        let standalone = !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..found]);
        out.push_str(if standalone { replacement } else { literal });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Rewrite the (optionally negative) integer right after each `marker`.
fn replace_number_after(text: &str, marker: &str, rewrite: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(marker) {
        let start = found + marker.len();
        let sign = usize::from(rest[start..].starts_with('-'));
        let digits = rest[start + sign..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        out.push_str(&rest[..start]);
        if digits == 0 {
            rest = &rest[start..];
            continue;
        }
        out.push_str(&rewrite(&rest[start..start + sign + digits]));
        rest = &rest[start + sign + digits..];
    }
    out.push_str(rest);
    out
}

/// `"expiration":"2026-11-22T04:47:58.747908899Z"` → `"expiration":"<rfc3339>"`.
fn expirations(text: &str) -> String {
    const MARKER: &str = "\"expiration\":\"";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(MARKER) {
        let start = found + MARKER.len();
        let Some(length) = rest[start..].find('"') else {
            break;
        };
        let value = &rest[start..start + length];
        out.push_str(&rest[..start]);
        match is_rfc3339_utc(value) {
            true => out.push_str("<rfc3339>"),
            false => out.push_str(&format!("<bad expiration {value}>")),
        }
        rest = &rest[start + length..];
    }
    out.push_str(rest);
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with 1 to 9 fraction digits, trailing zeros trimmed (Go's
/// `RFC3339Nano`, which etcd uses).
fn is_rfc3339_utc(value: &str) -> bool {
    let shape = |part: &str, pattern: &str| {
        part.len() == pattern.len()
            && part.bytes().zip(pattern.bytes()).all(|(b, p)| {
                if p == b'9' {
                    b.is_ascii_digit()
                } else {
                    b == p
                }
            })
    };
    let Some(body) = value.strip_suffix('Z') else {
        return false;
    };
    let (seconds, fraction) = body
        .split_once('.')
        .map_or((body, None), |(s, f)| (s, Some(f)));
    let fraction_ok =
        fraction.is_none_or(|f| (1..=9).contains(&f.len()) && is_digits(f) && !f.ends_with('0'));
    shape(seconds, "9999-99-99T99:99:99") && fraction_ok
}

/// The leader is random: hide which member it is, keep how many there are.
fn leaders(text: &str) -> String {
    if !text.contains("isLeader=") {
        return text.to_string();
    }
    let count = text.matches("isLeader=true").count();
    let hidden = text
        .replace("isLeader=true", "isLeader=*")
        .replace("isLeader=false", "isLeader=*");
    format!("{hidden}(harness: {count} line(s) with isLeader=true)\n")
}

/// Sort the lines of an output whose order is random by design (keeps a final newline).
fn sorted_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let mut sorted = lines.join("\n");
    if text.ends_with('\n') {
        sorted.push('\n');
    }
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normaliser() -> Normaliser {
        let topology = Topology {
            server: "etcd",
            names: vec!["m0".into()],
            client_urls: vec!["http://127.0.0.1:2379".into()],
            peer_urls: vec!["http://127.0.0.1:2380".into()],
        };
        Normaliser::new(
            10,
            &topology,
            &[("8e9e05c52164694d".into(), "m0".into())],
            "cdf818194e3a8c32",
        )
    }

    // Goal: each rule rewrites what varies and nothing else. Method: one sample per rule.
    #[test]
    fn rules_rewrite_only_what_varies() {
        let n = normaliser();
        let json = r#"{"node":{"key":"/a","value":"12","nodes":null,"createdIndex":11,"modifiedIndex":0,"expiration":"2026-11-22T04:47:58.7479Z","ttl":999}}"#;
        assert_eq!(
            n.text(json),
            r#"{"node":{"key":"/a","value":"12","nodes":null,"createdIndex":I+1,"modifiedIndex":0,"expiration":"<rfc3339>","ttl":~1000}}"#
        );
        assert_eq!(
            n.text("Index: 9\nTTL: 0\nIndex: x"),
            "Index: I-1\nTTL: 0\nIndex: x"
        );
        assert_eq!(
            n.text("Error:  101: Compare failed ([va1 != va2] [12 != 14]) [14]"),
            "Error:  101: Compare failed ([va1 != va2] [I+2 != I+4]) [I+4]"
        );
        assert_eq!(
            n.text("Key: /q/00000000000000000012\n"),
            "Key: /q/<seq:I+2>\n"
        );
        assert_eq!(
            n.text("8e9e05c52164694d: name=m0 peerURLs=http://127.0.0.1:2380 clientURLs=http://127.0.0.1:23790 isLeader=true\n"),
            "<id:m0>: name=m0 peerURLs=<peer:m0> clientURLs=http://127.0.0.1:23790 isLeader=*\n(harness: 1 line(s) with isLeader=true)\n"
        );
        assert_eq!(
            n.text(r#""expiration":"2026-11-22T04:47:58.70Z""#),
            r#""expiration":"<bad expiration 2026-11-22T04:47:58.70Z>""#
        );
    }
}
