//! What every binary of the workspace offers on its command line, checked on the built
//! binaries (CI builds them all before the tests, as `cargo build --workspace --bins`):
//! `--version`, and a bash completion script that bash parses and that completes the
//! binary's own commands and flags.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::bin_dir;

use std::process::Command;

/// How a binary prints its completion script.
enum Completion {
    /// `NAME completion SHELL` (the CLIs, beside their other commands).
    Command,
    /// `NAME --completion SHELL` (the daemons, whose command line is flags only).
    Flag,
}

/// Each binary, how it prints its script, and a word to complete with what must be offered.
const BINARIES: &[(&str, Completion, &str, &str)] = &[
    ("keel", Completion::Flag, "--log-f", "--log-format"),
    (
        "keelctl",
        Completion::Command,
        "cluster-h",
        "cluster-health",
    ),
    ("fleetd", Completion::Flag, "--conf", "--config"),
    ("fleetctl", Completion::Command, "list-m", "list-machines"),
    ("locksmithd", Completion::Flag, "--log-f", "--log-format"),
    ("locksmithctl", Completion::Command, "set-", "set-max"),
    ("fleetlockd", Completion::Flag, "--log-f", "--log-format"),
    ("discoveryd", Completion::Flag, "--log-f", "--log-format"),
    ("discoveryctl", Completion::Command, "ann", "announce"),
    (
        "keel-stack",
        Completion::Flag,
        "--dashboard-a",
        "--dashboard-addr",
    ),
    (
        "keel-dashboard",
        Completion::Flag,
        "--record-p",
        "--record-prefix",
    ),
    ("jepsen", Completion::Command, "chec", "check"),
];

fn run(name: &str, args: &[&str]) -> String {
    let program = bin_dir().join(name);
    let output = Command::new(&program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{}: {error} (built?)", program.display()));
    assert!(
        output.status.success(),
        "{name} {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

// Goal: every binary answers --version with its name (keel: etcd's two lines, which
// harnesses written for etcd read) and the workspace's version, and exits 0.
// Method: run each built binary with --version.
#[test]
fn every_binary_prints_its_version() {
    let version = env!("CARGO_PKG_VERSION");
    for (name, _, _, _) in BINARIES {
        let out = run(name, &["--version"]);
        let expected = if *name == "keel" {
            format!("Keel Version: {version}")
        } else {
            (*name).to_owned()
        };
        assert!(
            out.contains(&expected) && out.contains(version),
            "{name}: {out}"
        );
    }
}

// Goal: every binary's bash completion script is valid bash and completes its own words
// (a command of a CLI, a flag of a daemon), so the installed scripts work.
// Method: print each script, source it in bash, call its completion function on a partial
// word as bash's programmable completion would, and read COMPREPLY.
#[test]
fn every_binary_completes_its_words_in_bash() {
    let dir = tempfile::tempdir().unwrap();
    for (name, how, partial, offered) in BINARIES {
        let script = match how {
            Completion::Command => run(name, &["completion", "bash"]),
            Completion::Flag => run(name, &["--completion", "bash"]),
        };
        let path = dir.path().join(format!("{name}.bash"));
        std::fs::write(&path, &script).unwrap();
        let probe = format!(
            "source {path}; COMP_WORDS=({name} {partial}); COMP_CWORD=1; \
             COMP_LINE='{name} {partial}'; COMP_POINT=${{#COMP_LINE}}; \
             _{function} {name} {partial} {name}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path = path.display(),
            function = name.replace('-', "__"),
        );
        let output = Command::new("bash")
            .args(["--norc", "-c", &probe])
            .output()
            .unwrap();
        let replies = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && replies.lines().any(|line| line.trim() == *offered),
            "{name}: completing {partial:?} gave {replies:?}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
