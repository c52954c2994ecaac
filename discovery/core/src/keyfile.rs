//! BIND's DNSSEC key pair files, as `dnssec-keygen` writes them: `<base>.key` holds the
//! public DNSKEY record (`skydns.local. IN DNSKEY 256 3 13 <base64>`, after `;` comments),
//! `<base>.private` the private key as `Field: value` lines (`Private-key-format: v1.3`,
//! `Algorithm: 13 (ECDSAP256SHA256)`, `PrivateKey: <base64>`, or RSA's components).
//!
//! Invariants: parsing only (no file is read here); every malformed line is an error naming
//! the line, never a panic; owner names come back lower case with a trailing dot.

use base64::Engine as _;
use std::collections::BTreeMap;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyFileError {
    /// No DNSKEY record in the public file.
    #[error("no DNSKEY record in the key file")]
    NoRecord,
    /// A DNSKEY line that does not read.
    #[error("line {line}: {why}")]
    BadLine {
        /// The line number (from 1).
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The private file lacks a field.
    #[error("the private key file has no {0} field")]
    Missing(&'static str),
}

/// The public half: the DNSKEY record's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyFile {
    /// The owner name (`skydns.local.`).
    pub owner: String,
    /// The DNSKEY flags (256: zone key; 257: also a secure entry point).
    pub flags: u16,
    /// The protocol field (always 3).
    pub protocol: u8,
    /// The algorithm number (13: ECDSA P-256 with SHA-256, ...).
    pub algorithm: u8,
    /// The public key bytes.
    pub key: Vec<u8>,
}

/// The private half: its algorithm and every base64 field, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeyFile {
    /// The algorithm number.
    pub algorithm: u8,
    /// The binary fields (`PrivateKey`, or RSA's `Modulus`, `PrivateExponent`, ...).
    pub fields: BTreeMap<String, Vec<u8>>,
}

impl PrivateKeyFile {
    /// The field `name`'s bytes.
    ///
    /// # Errors
    /// [`KeyFileError::Missing`].
    pub fn field(&self, name: &'static str) -> Result<&[u8], KeyFileError> {
        self.fields
            .get(name)
            .map(Vec::as_slice)
            .ok_or(KeyFileError::Missing(name))
    }
}

fn bad(line: usize, why: impl Into<String>) -> KeyFileError {
    KeyFileError::BadLine {
        line,
        why: why.into(),
    }
}

fn base64(text: &str, line: usize) -> Result<Vec<u8>, KeyFileError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|error| bad(line, format!("bad base64: {error}")))
}

/// Parses `<base>.key`: the first DNSKEY record, with optional TTL and class.
///
/// # Errors
/// [`KeyFileError`] for a malformed record or none.
pub fn parse_public(text: &str) -> Result<PublicKeyFile, KeyFileError> {
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let number = number + 1;
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = tokens.iter().position(|t| t.eq_ignore_ascii_case("DNSKEY")) else {
            return Err(bad(number, "not a DNSKEY record"));
        };
        let (Some(owner), [flags, protocol, algorithm, key @ ..]) =
            (tokens.first(), &tokens[at + 1..])
        else {
            return Err(bad(
                number,
                "a DNSKEY record needs flags, protocol, algorithm and key",
            ));
        };
        if key.is_empty() {
            return Err(bad(number, "the DNSKEY record has no key"));
        }
        let number_field = |text: &str, what: &str| {
            text.parse::<u16>()
                .map_err(|_| bad(number, format!("bad {what} {text:?}")))
        };
        let mut owner = owner.to_ascii_lowercase();
        if !owner.ends_with('.') {
            owner.push('.');
        }
        return Ok(PublicKeyFile {
            owner,
            flags: number_field(flags, "flags")?,
            protocol: u8::try_from(number_field(protocol, "protocol")?)
                .map_err(|_| bad(number, "bad protocol"))?,
            algorithm: u8::try_from(number_field(algorithm, "algorithm")?)
                .map_err(|_| bad(number, "bad algorithm"))?,
            key: base64(&key.concat(), number)?,
        });
    }
    Err(KeyFileError::NoRecord)
}

/// Fields of the private file that are not base64 data.
const TEXT_FIELDS: [&str; 7] = [
    "Private-key-format",
    "Algorithm",
    "Created",
    "Publish",
    "Activate",
    "Inactive",
    "Delete",
];

/// Parses `<base>.private`.
///
/// # Errors
/// [`KeyFileError`] for a malformed line or a missing `Algorithm`.
pub fn parse_private(text: &str) -> Result<PrivateKeyFile, KeyFileError> {
    let mut algorithm = None;
    let mut fields = BTreeMap::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let number = number + 1;
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(number, "expected `Field: value`"));
        };
        let (name, value) = (name.trim(), value.trim());
        if name == "Algorithm" {
            let first = value.split_whitespace().next().unwrap_or("");
            let parsed = first
                .parse::<u8>()
                .map_err(|_| bad(number, format!("bad algorithm {value:?}")))?;
            algorithm = Some(parsed);
        } else if !TEXT_FIELDS.contains(&name) {
            fields.insert(name.to_owned(), base64(value, number)?);
        }
    }
    Ok(PrivateKeyFile {
        algorithm: algorithm.ok_or(KeyFileError::Missing("Algorithm"))?,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "; This is a zone-signing key, keyid 38640, for skydns.local.\n\
        ; Created: 20261207060422 (Mon Dec  7 06:04:22 2026)\n\
        skydns.local. IN DNSKEY 256 3 13 1pcle36EufdI9xNdzvPYiDmfRbhXf2fsfF2eBvv1V4tl3pds1IUM0CDT E2Rn/AYtQdc3+RgnpZlWQM7fQ5eMkA==\n";

    const PRIVATE: &str = "Private-key-format: v1.3\n\
        Algorithm: 13 (ECDSAP256SHA256)\n\
        PrivateKey: XTXNo2nRCwYNmAT3d1kYzVwvhxE5CcyxvXOyFG3mbxg=\n\
        Created: 20261207060422\n";

    // Goal: dnssec-keygen's files read back into their fields.
    // Method: a pair as dnssec-keygen wrote it (ECDSA P-256), parsed.
    #[test]
    fn a_key_pair_from_dnssec_keygen_reads() {
        let public = parse_public(PUBLIC).unwrap();
        assert_eq!(public.owner, "skydns.local.");
        assert_eq!(
            (public.flags, public.protocol, public.algorithm),
            (256, 3, 13)
        );
        assert_eq!(public.key.len(), 64);
        let private = parse_private(PRIVATE).unwrap();
        assert_eq!(private.algorithm, 13);
        assert_eq!(private.field("PrivateKey").unwrap().len(), 32);
        assert_eq!(
            private.field("Modulus"),
            Err(KeyFileError::Missing("Modulus"))
        );
        let with_ttl = parse_public("SkyDNS.Local 3600 IN DNSKEY 257 3 15 AAAA").unwrap();
        assert_eq!(
            (with_ttl.owner.as_str(), with_ttl.flags),
            ("skydns.local.", 257)
        );
    }

    // Goal: malformed files are errors naming the line, never a panic.
    // Method: a table of broken texts.
    #[test]
    fn malformed_key_files_are_errors() {
        for text in [
            "",
            "; only a comment",
            "skydns.local. IN A 10.0.0.1",
            "skydns.local. IN DNSKEY 256 3",
            "skydns.local. IN DNSKEY 256 3 13",
            "skydns.local. IN DNSKEY x 3 13 AAAA",
            "skydns.local. IN DNSKEY 256 3 999 AAAA",
            "skydns.local. IN DNSKEY 256 3 13 !!!",
        ] {
            assert!(parse_public(text).is_err(), "{text:?}");
        }
        for text in [
            "PrivateKey: AAAA",
            "Algorithm: x\nPrivateKey: AAAA",
            "Algorithm: 13\nno colon here",
            "Algorithm: 13\nPrivateKey: !!!",
        ] {
            assert!(parse_private(text).is_err(), "{text:?}");
        }
    }
}
