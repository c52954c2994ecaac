//! Comparing two normalised transcripts and describing every difference readably: the
//! command, then a line diff of stdout and stderr (`-` the reference, `+` the cluster under
//! test) and both exit statuses.

use super::script::Record;

/// Outputs longer than this are shown whole instead of diffed line by line.
const DIFF_LINES_MAX: usize = 400;

/// `None` if the transcripts agree, otherwise one report listing every differing step.
pub fn compare(
    expected: &[Record],
    actual: &[Record],
    expected_name: &str,
    actual_name: &str,
) -> Option<String> {
    assert_eq!(
        expected.len(),
        actual.len(),
        "both clusters ran the same script"
    );
    let mut reports = Vec::new();
    for (step, (e, a)) in expected.iter().zip(actual).enumerate() {
        assert_eq!(e.label, a.label, "both clusters ran the same script");
        if e.outcome == a.outcome {
            continue;
        }
        let mut report = format!("=== step {}: {}\n", step + 1, e.label);
        if e.outcome.exit != a.outcome.exit {
            report.push_str(&format!(
                "  exit: {expected_name}: {}, {actual_name}: {}\n",
                e.outcome.exit, a.outcome.exit
            ));
        }
        for (stream, left, right) in [
            ("stdout", &e.outcome.stdout, &a.outcome.stdout),
            ("stderr", &e.outcome.stderr, &a.outcome.stderr),
        ] {
            if left != right {
                report.push_str(&format!(
                    "  {stream} (- {expected_name}, + {actual_name}):\n{}",
                    line_diff(left, right)
                ));
            }
        }
        reports.push(report);
    }
    match reports.is_empty() {
        true => None,
        false => Some(format!(
            "{} of {} etcdctl steps differ between {expected_name} (expected) and {actual_name} (actual):\n\n{}",
            reports.len(),
            expected.len(),
            reports.join("\n")
        )),
    }
}

/// A line diff (longest common subsequence), every line indented; `⏎` marks the end of a text
/// that ends with a newline, so a missing final newline shows.
fn line_diff(expected: &str, actual: &str) -> String {
    let left = lines(expected);
    let right = lines(actual);
    if left.len() > DIFF_LINES_MAX || right.len() > DIFF_LINES_MAX {
        let block = |sign: char, lines: &[String]| {
            lines
                .iter()
                .map(|l| format!("    {sign} {l}\n"))
                .collect::<String>()
        };
        return block('-', &left) + &block('+', &right);
    }
    // common[i][j]: length of the longest common subsequence of left[i..] and right[j..].
    let mut common = vec![vec![0_usize; right.len() + 1]; left.len() + 1];
    for i in (0..left.len()).rev() {
        for j in (0..right.len()).rev() {
            common[i][j] = if left[i] == right[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < left.len() || j < right.len() {
        if i < left.len() && j < right.len() && left[i] == right[j] {
            out.push_str(&format!("      {}\n", left[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < left.len() && (j == right.len() || common[i + 1][j] >= common[i][j + 1]) {
            out.push_str(&format!("    - {}\n", left[i]));
            i += 1;
        } else {
            out.push_str(&format!("    + {}\n", right[j]));
            j += 1;
        }
    }
    out
}

fn lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if text.ends_with('\n') {
        match lines.last_mut() {
            Some(last) => last.push('⏎'),
            None => lines.push("⏎".to_string()),
        }
    }
    lines
}

/// A whole transcript as text, for reading what the reference printed.
pub fn render(records: &[Record]) -> String {
    let mut out = String::new();
    for (step, record) in records.iter().enumerate() {
        out.push_str(&format!(
            "=== step {}: {}\n  {}\n",
            step + 1,
            record.label,
            record.outcome.exit
        ));
        for (stream, text) in [
            ("stdout", &record.outcome.stdout),
            ("stderr", &record.outcome.stderr),
        ] {
            if !text.is_empty() {
                out.push_str(&format!(
                    "  {stream}:\n{}",
                    lines(text)
                        .iter()
                        .map(|l| format!("    {l}\n"))
                        .collect::<String>()
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::etcdctl::{Exit, Outcome};

    fn record(stdout: &str, exit: i32) -> Record {
        let outcome = Outcome {
            stdout: stdout.to_string(),
            stderr: String::new(),
            exit: Exit::Code(exit),
        };
        Record {
            label: "etcdctl get /k".to_string(),
            outcome,
        }
    }

    // Goal: a difference is reported with its command, a line diff and both exits; equal
    // transcripts report nothing. Method: compare small hand-made transcripts.
    #[test]
    fn differences_are_reported_readably() {
        assert!(compare(&[record("a\n", 0)], &[record("a\n", 0)], "etcd", "keel").is_none());
        let report = compare(
            &[record("Key: /k\nTTL: 0\n", 0)],
            &[record("Key: /k\nTTL: 5\n", 4)],
            "etcd",
            "keel",
        )
        .unwrap();
        assert!(report.contains("=== step 1: etcdctl get /k"), "{report}");
        assert!(
            report.contains("exit: etcd: exit code 0, keel: exit code 4"),
            "{report}"
        );
        assert!(
            report.contains("      Key: /k\n    - TTL: 0⏎\n    + TTL: 5⏎\n"),
            "{report}"
        );
    }
}
