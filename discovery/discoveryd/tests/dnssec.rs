//! The signed zone against BIND's own tools: a key pair made by `dnssec-keygen`, answers
//! validated by `delv` with that key as the trust anchor (positive answers, NXDOMAIN and
//! NODATA with their NSEC3 proofs), and the same answers refused under another key.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{tools_present, Stack};

const DELV: &str = "/usr/bin/delv";
const KEYGEN: &str = "/usr/bin/dnssec-keygen";

/// A new key pair of `algorithm` for `zone` in `dir`, by dnssec-keygen; its base path.
fn keygen(dir: &Path, zone: &str, algorithm: &str) -> PathBuf {
    let output = Command::new(KEYGEN)
        .args(["-q", "-a", algorithm, "-n", "ZONE", "-K"])
        .arg(dir)
        .arg(zone)
        .output()
        .expect("dnssec-keygen runs");
    assert!(output.status.success(), "dnssec-keygen: {output:?}");
    let base = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    dir.join(base)
}

/// The owner, flags, protocol, algorithm and key of `base`'s DNSKEY record.
fn dnskey(base: &Path) -> [String; 5] {
    let key = std::fs::read_to_string(base.with_extension(extension(base, "key"))).expect("key");
    let record = key
        .lines()
        .find(|line| line.contains("DNSKEY"))
        .expect("a DNSKEY line");
    let fields: Vec<&str> = record.split_whitespace().collect();
    let at = fields.iter().position(|f| *f == "DNSKEY").expect("DNSKEY");
    [
        fields[0].to_owned(),
        fields[at + 1].to_owned(),
        fields[at + 2].to_owned(),
        fields[at + 3].to_owned(),
        fields[at + 4..].concat(),
    ]
}

/// A delv trust-anchor file holding the public key of `base`.
fn anchor(base: &Path) -> PathBuf {
    let [owner, flags, protocol, algorithm, key] = dnskey(base);
    let text = format!(
        "trust-anchors {{ {owner} static-key {flags} {protocol} {algorithm} \"{key}\"; }};\n"
    );
    let path = base.with_extension(extension(base, "anchor"));
    std::fs::write(&path, text).expect("anchor written");
    path
}

/// `base`'s extension with `.<suffix>` added (key base names hold dots: `+013+38640`).
fn extension(base: &Path, suffix: &str) -> String {
    match base.extension() {
        Some(existing) => format!("{}.{suffix}", existing.to_string_lossy()),
        None => suffix.to_owned(),
    }
}

/// What delv says of `name type`, validating from the zone's trust anchor in `anchor`.
fn delv(port: u16, anchor: &Path, name: &str, rtype: &str) -> String {
    let output = Command::new(DELV)
        .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
        .arg(anchor)
        .args(["+root=skydns.local", name, rtype])
        .output()
        .expect("delv runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

// Goal: every kind of answer of the signed zone validates under its key: positive answers
// (A, SRV with its additional records), NXDOMAIN and NODATA (NSEC3 white lies); DNSKEY at the
// apex is the key dnssec-keygen made; answers to a client without DO carry no signatures;
// and under another key the same answers do not validate.
// Method: a key pair from dnssec-keygen; records written with curl; delv with the key as its
// trust anchor, then with a second key's; dig with and without +dnssec.
#[test]
fn signed_answers_validate_with_delv() {
    if !tools_present(false)
        || !testkit::reference_tools_present(&[(DELV, "bind9-dnsutils"), (KEYGEN, "bind9-utils")])
    {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = keygen(dir.path(), "skydns.local", "ECDSAP256SHA256");
    let stranger = keygen(dir.path(), "skydns.local", "ECDSAP256SHA256");
    let stack = Stack::start(&["--dnssec", base.to_str().expect("a UTF-8 path")]);
    stack.curl_put(
        "/skydns/local/skydns/web",
        r#"{"host":"10.0.0.1","port":8080}"#,
        None,
    );
    stack.dig_until(&["web.skydns.local", "A"], "the record", |reply| {
        !reply.answer.is_empty()
    });
    let trusted = anchor(&base);
    for (name, rtype, expected) in [
        ("web.skydns.local", "A", "; fully validated"),
        ("web.skydns.local", "SRV", "; fully validated"),
        (
            "missing.skydns.local",
            "A",
            "; negative response, fully validated",
        ),
        (
            "x.y.web.skydns.local",
            "A",
            "; negative response, fully validated",
        ),
        (
            "web.skydns.local",
            "MX",
            "; negative response, fully validated",
        ),
        ("skydns.local", "SOA", "; fully validated"),
        ("skydns.local", "DNSKEY", "; fully validated"),
    ] {
        let said = delv(stack.port, &trusted, name, rtype);
        assert!(said.contains(expected), "{name} {rtype}:\n{said}");
    }
    let wrong = anchor(&stranger);
    let said = delv(stack.port, &wrong, "web.skydns.local", "A");
    assert!(
        !said.contains("fully validated"),
        "under another key:\n{said}"
    );

    let signed = stack.dig(&["web.skydns.local", "A", "+dnssec"]);
    assert!(signed.has_flag("ad"), "{}", signed.output);
    assert!(
        signed.answer.iter().any(|rr| rr.rtype == "RRSIG"),
        "{}",
        signed.output
    );
    assert!(signed.output.contains("flags: do;"), "{}", signed.output);
    let plain = stack.dig(&["web.skydns.local", "A"]);
    assert!(
        plain.answer.iter().all(|rr| rr.rtype != "RRSIG"),
        "{}",
        plain.output
    );
    assert!(!plain.has_flag("ad"), "{}", plain.output);
    let served = stack.dig(&["skydns.local", "DNSKEY"]);
    let served: Vec<String> = served
        .data("DNSKEY")
        .iter()
        .map(|data| data.split_whitespace().collect())
        .collect();
    let [_, flags, protocol, algorithm, key] = dnskey(&base);
    assert_eq!(served, [format!("{flags}{protocol}{algorithm}{key}")]);
}

// Goal: the other algorithms dnssec-keygen makes sign answers that validate too: RSA (its
// components read from BIND's file) and Ed25519.
// Method: for each, a key pair, a record, delv on a positive and an NXDOMAIN answer.
#[test]
fn rsa_and_ed25519_keys_sign_too() {
    if !tools_present(false)
        || !testkit::reference_tools_present(&[(DELV, "bind9-dnsutils"), (KEYGEN, "bind9-utils")])
    {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    for algorithm in ["RSASHA256", "ED25519"] {
        let base = keygen(dir.path(), "skydns.local", algorithm);
        let stack = Stack::start(&["--dnssec", base.to_str().expect("a UTF-8 path")]);
        stack.curl_put("/skydns/local/skydns/web", r#"{"host":"10.0.0.1"}"#, None);
        stack.dig_until(&["web.skydns.local", "A"], "the record", |reply| {
            !reply.answer.is_empty()
        });
        let trusted = anchor(&base);
        for (name, expected) in [
            ("web.skydns.local", "; fully validated"),
            (
                "missing.skydns.local",
                "; negative response, fully validated",
            ),
        ] {
            let said = delv(stack.port, &trusted, name, "A");
            assert!(said.contains(expected), "{algorithm} {name}:\n{said}");
        }
    }
}
