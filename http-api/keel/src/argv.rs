//! etcd-style command lines, turned into what clap parses.
//!
//! etcd is a Go program: its flags may be written `-name x`, `--name x`, `-name=x` or
//! `--name=x`, and scripts written for etcd pass flags that mean nothing for Keel. Here single
//! dashes become double, and etcd flags that Keel does not use are removed with a notice, so
//! that such scripts start `keel` unchanged (spec: etcd-v2-api.md §12).

/// etcd boolean flags Keel accepts and ignores (`--flag` or `--flag=value`).
const IGNORED_BOOLEAN_FLAGS: &[&str] = &[
    "enable-v2",
    "enable-v2v3",
    "strict-reconfig-check",
    "enable-pprof",
    "debug",
    "pre-vote",
    "force-new-cluster",
    "enable-grpc-gateway",
    "experimental-initial-corrupt-check",
    "experimental-enable-lease-checkpoint",
    "logger-zap-log-to-stderr",
];

/// etcd flags taking a value that Keel accepts and ignores.
const IGNORED_VALUE_FLAGS: &[&str] = &[
    "quota-backend-bytes",
    "auto-compaction-retention",
    "auto-compaction-mode",
    "log-level",
    "logger",
    "log-outputs",
    "max-snapshots",
    "max-wals",
    "wal-dir",
    "cors",
    "host-whitelist",
    "listen-metrics-urls",
    "metrics",
    "max-txn-ops",
    "backend-batch-interval",
    "backend-batch-limit",
    "grpc-keepalive-min-time",
    "grpc-keepalive-interval",
    "grpc-keepalive-timeout",
    "initial-election-tick-advance",
    "proxy",
    "proxy-failure-wait",
    "proxy-refresh-interval",
    "proxy-dial-timeout",
    "proxy-write-timeout",
    "proxy-read-timeout",
];

/// Normalise an etcd-style argument list (without the program name).
/// Returns the arguments for clap and the flags that were ignored.
#[must_use]
pub fn normalise(args: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::with_capacity(args.len());
    let mut ignored = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let arg = double_dash(arg);
        let Some(flag) = arg.strip_prefix("--") else {
            out.push(arg);
            continue;
        };
        let (name, has_value) = match flag.split_once('=') {
            Some((name, _)) => (name.to_string(), true),
            None => (flag.to_string(), false),
        };
        if IGNORED_BOOLEAN_FLAGS.contains(&name.as_str()) {
            ignored.push(arg);
        } else if IGNORED_VALUE_FLAGS.contains(&name.as_str()) {
            if !has_value {
                iter.next();
            }
            ignored.push(name);
        } else {
            out.push(arg);
        }
    }
    (out, ignored)
}

/// `-name` → `--name`; a lone `-`, `--`, negative numbers and values stay as they are.
fn double_dash(arg: String) -> String {
    let is_single_dash_flag = arg.len() > 1
        && arg.starts_with('-')
        && !arg.starts_with("--")
        && arg.as_bytes().get(1).is_some_and(u8::is_ascii_alphabetic);
    if is_single_dash_flag && arg.len() > 2 {
        format!("-{arg}")
    } else {
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(ToString::to_string).collect()
    }

    // Goal: Go-style single-dash flags become double-dash, values and `=` forms are kept.
    #[test]
    fn single_dash_flags_become_double() {
        let (out, ignored) = normalise(strings(&["-name", "x", "--data-dir=d", "-h"]));
        assert_eq!(out, strings(&["--name", "x", "--data-dir=d", "-h"]));
        assert!(ignored.is_empty());
    }

    // Goal: etcd flags with no meaning for Keel are dropped with their values.
    #[test]
    fn ignored_flags_are_removed_with_their_values() {
        let args = strings(&[
            "--enable-v2=true",
            "-quota-backend-bytes",
            "5",
            "--name",
            "a",
            "--enable-v2",
            "--log-level=debug",
        ]);
        let (out, ignored) = normalise(args);
        assert_eq!(out, strings(&["--name", "a"]));
        assert_eq!(ignored.len(), 4);
    }
}
