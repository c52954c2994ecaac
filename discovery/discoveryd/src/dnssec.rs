//! DNSSEC signing of the served zone with one BIND-style key pair (`-dnssec <base>`: the
//! files `<base>.key` and `<base>.private` that `dnssec-keygen` writes), acting as both key-
//! and zone-signing key, as SkyDNS does: every RRset of an answer whose owner is in the zone
//! gets an RRSIG (inception three hours back, expiry seven days on), the apex answers DNSKEY,
//! and negative answers carry NSEC3 "white lies" ([`discovery_core::denial`]: SHA-1, no
//! iterations, no salt) around the names' hashes.
//!
//! Invariants: hickory's protocol crate does every encoding and signature (over ring); the key
//! is checked when loaded (its owner must be the domain; the private half must match the
//! public one, which ring verifies), so a running signer cannot fail on a bad key; signatures
//! are kept by the RRset's exact content and reused for up to [`SIGNATURE_REUSE_SECS`], at
//! most `scache` of them (SkyDNS's signature cache).

use crate::memo::Sections;
use discovery_core::denial::{self, Proof};
use discovery_core::index::Index;
use discovery_core::keyfile::{self, KeyFileError, PrivateKeyFile, PublicKeyFile};
use discovery_core::record::Rcode;
use discovery_core::zone::Zone;
use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, NSEC3, RRSIG};
use hickory_proto::dnssec::{
    Algorithm, DnsSecError, DnsSecResult, DnssecSigner, Nsec3HashAlgorithm, PublicKeyBuf,
    SigningKey, TBS,
};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordSet, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// How far back a signature's inception is put (clocks of resolvers that lag).
const INCEPTION_BACK_SECS: i64 = 3 * 3600;

/// How long a signature is valid after it is made.
const VALIDITY_SECS: u64 = 7 * 24 * 3600;

/// A kept signature is reused for this long, so it is always valid for six days more.
pub const SIGNATURE_REUSE_SECS: i64 = 24 * 3600;

/// Why a key pair cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DnssecError {
    /// A key file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A key file does not parse.
    #[error("{path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        source: KeyFileError,
    },
    /// The key is not the zone's.
    #[error("the key is for {owner}, not the served domain {domain}")]
    Owner {
        /// The key's owner.
        owner: String,
        /// The domain.
        domain: String,
    },
    /// An algorithm this server does not sign with.
    #[error("algorithm {0} is not supported: use RSASHA256 (8), RSASHA512 (10), ECDSAP256SHA256 (13), ECDSAP384SHA384 (14) or ED25519 (15)")]
    Algorithm(u8),
    /// The two halves do not make a key pair.
    #[error("the private key does not match the public key: {0}")]
    Mismatch(String),
}

/// The zone's signer.
pub struct Signer {
    signer: DnssecSigner,
    dnskey: Record,
    zone: Name,
    negative_ttl: u32,
    kept: Mutex<HashMap<Vec<u8>, (Record, i64)>>,
    kept_max: usize,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

/// `base` without a `.key` or `.private` ending, if the user named one of the files.
fn base_name(base: &str) -> &str {
    base.strip_suffix(".key")
        .or_else(|| base.strip_suffix(".private"))
        .unwrap_or(base)
}

fn read(path: String) -> Result<(String, String), DnssecError> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(source) => Err(DnssecError::Read { path, source }),
    }
}

impl Signer {
    /// Loads `<base>.key` and `<base>.private` for `zone`; at most `kept_max` signatures are
    /// kept.
    ///
    /// # Errors
    /// [`DnssecError`].
    pub fn load(base: &str, zone: &Zone, kept_max: usize) -> Result<Signer, DnssecError> {
        let base = base_name(base);
        let (public_path, public_text) = read(format!("{base}.key"))?;
        let (private_path, private_text) = read(format!("{base}.private"))?;
        let public =
            keyfile::parse_public(&public_text).map_err(|source| DnssecError::KeyFile {
                path: public_path,
                source,
            })?;
        let private =
            keyfile::parse_private(&private_text).map_err(|source| DnssecError::KeyFile {
                path: private_path,
                source,
            })?;
        Signer::new(&public, &private, zone, kept_max)
    }

    /// A signer from parsed key files: the DNSKEY gets the zone's TTL, NSEC3 records its
    /// negative TTL.
    ///
    /// # Errors
    /// [`DnssecError`].
    pub fn new(
        public: &PublicKeyFile,
        private: &PrivateKeyFile,
        zone: &Zone,
        kept_max: usize,
    ) -> Result<Signer, DnssecError> {
        let domain = zone.domain.clone();
        if public.owner != domain {
            return Err(DnssecError::Owner {
                owner: public.owner.clone(),
                domain,
            });
        }
        let (key, algorithm) = signing_key(public, private)?;
        let dnskey = DNSKEY::with_flags(
            public.flags,
            PublicKeyBuf::new(public.key.clone(), algorithm),
        );
        let (ttl, negative_ttl) = (zone.ttl, zone.min_ttl);
        let zone =
            Name::from_str(&domain).map_err(|error| DnssecError::Mismatch(error.to_string()))?;
        let validity = Duration::from_secs(VALIDITY_SECS + INCEPTION_BACK_SECS.unsigned_abs());
        let signer = DnssecSigner::new(dnskey.clone(), key, zone.clone(), validity);
        let dnskey = Record::from_rdata(
            zone.clone(),
            ttl,
            RData::DNSSEC(DNSSECRData::DNSKEY(dnskey)),
        );
        Ok(Signer {
            signer,
            dnskey,
            zone,
            negative_ttl,
            kept: Mutex::new(HashMap::new()),
            kept_max,
        })
    }

    /// The zone's DNSKEY record.
    #[must_use]
    pub fn dnskey(&self) -> &Record {
        &self.dnskey
    }

    /// The key's tag (dnssec-keygen's key id).
    #[must_use]
    pub fn key_tag(&self) -> u16 {
        self.signer.calculate_key_tag().unwrap_or(0)
    }

    /// Whether `name` is in the signed zone.
    #[must_use]
    pub fn in_zone(&self, name: &Name) -> bool {
        self.zone.zone_of(name)
    }

    /// `section` with an RRSIG after it for each of its RRsets in the zone, made at `now_s`
    /// (Unix seconds); records outside the zone are left unsigned.
    #[must_use]
    pub fn signed(&self, mut section: Vec<Record>, now_s: i64) -> Vec<Record> {
        let mut sets: Vec<RecordSet> = Vec::new();
        for record in section.iter().filter(|record| self.in_zone(&record.name)) {
            let same = |set: &RecordSet| {
                set.record_type() == record.record_type() && set.name() == &record.name
            };
            let at = sets.iter().position(same).unwrap_or_else(|| {
                let set =
                    RecordSet::with_ttl(record.name.clone(), record.record_type(), record.ttl);
                sets.push(set);
                sets.len() - 1
            });
            sets[at].insert(record.clone(), 0);
        }
        let signatures: Vec<Record> = sets
            .iter()
            .filter_map(|set| self.signature(set, now_s))
            .collect();
        section.extend(signatures);
        section
    }

    /// The NSEC3 records (signed) that prove `proof`.
    #[must_use]
    pub fn denial(&self, proof: &Proof, now_s: i64) -> Vec<Record> {
        let mut records = Vec::new();
        for (name, types) in &proof.matching {
            let Some(hash) = self.hash(name) else {
                continue;
            };
            let mut bitmap: Vec<RecordType> =
                types.iter().map(|t| crate::encode::wire_type(*t)).collect();
            bitmap.push(RecordType::RRSIG);
            if Name::from_str(name).is_ok_and(|owner| owner == self.zone) {
                bitmap.push(RecordType::DNSKEY);
            }
            records.push(self.nsec3(&hash, &step(&hash, 1), bitmap));
        }
        for name in &proof.covering {
            let Some(hash) = self.hash(name) else {
                continue;
            };
            records.push(self.nsec3(&step(&hash, -1), &step(&hash, 1), Vec::new()));
        }
        self.signed(records, now_s)
    }

    fn hash(&self, name: &str) -> Option<Vec<u8>> {
        let name = Name::from_str(name).ok()?;
        let digest = Nsec3HashAlgorithm::SHA1.hash(&[], &name, 0).ok()?;
        Some(digest.as_ref().to_vec())
    }

    /// An NSEC3 record owned by `owner`'s hash, pointing to `next`.
    fn nsec3(&self, owner: &[u8], next: &[u8], types: Vec<RecordType>) -> Record {
        let label = data_encoding::BASE32HEX_NOPAD
            .encode(owner)
            .to_ascii_lowercase();
        let name = Name::from_str(&label)
            .and_then(|label| label.append_domain(&self.zone))
            .unwrap_or_else(|_| self.zone.clone());
        let rdata = NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            false,
            0,
            Vec::new(),
            next.to_vec(),
            types,
        );
        Record::from_rdata(
            name,
            self.negative_ttl,
            RData::DNSSEC(DNSSECRData::NSEC3(rdata)),
        )
    }

    /// The RRSIG of `set`, kept or made.
    fn signature(&self, set: &RecordSet, now_s: i64) -> Option<Record> {
        let content = content_of(set)?;
        let mut kept = match self.kept.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((signature, made)) = kept.get(&content) {
            if now_s - made < SIGNATURE_REUSE_SECS && *made <= now_s {
                return Some(signature.clone());
            }
        }
        let inception =
            time::OffsetDateTime::from_unix_timestamp(now_s - INCEPTION_BACK_SECS).ok()?;
        let rrsig = match RRSIG::from_rrset(set, DNSClass::IN, inception, &self.signer) {
            Ok(rrsig) => rrsig,
            Err(error) => {
                tracing::warn!(%error, name = %set.name(), "an RRset could not be signed");
                return None;
            }
        };
        let signature = Record::from_rdata(
            set.name().clone(),
            set.ttl(),
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
        );
        if kept.len() >= self.kept_max {
            kept.clear();
        }
        if self.kept_max > 0 {
            kept.insert(content, (signature.clone(), now_s));
        }
        Some(signature)
    }
}

/// The RRset's exact content (owner, type, TTL and every record's data), what a kept
/// signature is found by.
fn content_of(set: &RecordSet) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut bytes);
    set.name().to_lowercase().emit(&mut encoder).ok()?;
    set.record_type().emit(&mut encoder).ok()?;
    encoder.emit_u32(set.ttl()).ok()?;
    for record in set.records_without_rrsigs() {
        record.data.emit(&mut encoder).ok()?;
    }
    Some(bytes)
}

/// `hash` plus `by` (±1), as a big-endian number that wraps around.
fn step(hash: &[u8], by: i8) -> Vec<u8> {
    let mut out = hash.to_vec();
    for byte in out.iter_mut().rev() {
        let (value, carry) = if by > 0 {
            byte.overflowing_add(1)
        } else {
            byte.overflowing_sub(1)
        };
        *byte = value;
        if !carry {
            break;
        }
    }
    out
}

/// ring's key pair from the two halves, as hickory's signing key.
fn signing_key(
    public: &PublicKeyFile,
    private: &PrivateKeyFile,
) -> Result<(Box<dyn SigningKey>, Algorithm), DnssecError> {
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair};
    if public.algorithm != private.algorithm {
        return Err(DnssecError::Mismatch(format!(
            "the public key is algorithm {}, the private key {}",
            public.algorithm, private.algorithm
        )));
    }
    if matches!(public.algorithm, 8 | 10) {
        return RsaKey::new(public, private).map(|key| {
            let algorithm = key.algorithm;
            (Box::new(key) as Box<dyn SigningKey>, algorithm)
        });
    }
    if !matches!(public.algorithm, 13..=15) {
        return Err(DnssecError::Algorithm(public.algorithm));
    }
    let secret = private
        .field("PrivateKey")
        .map_err(|error| DnssecError::Mismatch(error.to_string()))?;
    let mismatch = |error: ring::error::KeyRejected| DnssecError::Mismatch(error.to_string());
    match public.algorithm {
        13 | 14 => {
            let (ring_algorithm, algorithm) = if public.algorithm == 13 {
                (
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    Algorithm::ECDSAP256SHA256,
                )
            } else {
                (
                    &ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    Algorithm::ECDSAP384SHA384,
                )
            };
            let mut point = Vec::with_capacity(public.key.len() + 1);
            point.push(0x04); // an uncompressed point, as DNSKEY holds it without the tag
            point.extend_from_slice(&public.key);
            let rng = ring::rand::SystemRandom::new();
            let pair =
                EcdsaKeyPair::from_private_key_and_public_key(ring_algorithm, secret, &point, &rng)
                    .map_err(mismatch)?;
            Ok((
                Box::new(EcdsaSigningKey::from_ecdsa(pair, algorithm)),
                algorithm,
            ))
        }
        15 => {
            let pair =
                Ed25519KeyPair::from_seed_and_public_key(secret, &public.key).map_err(mismatch)?;
            Ok((
                Box::new(Ed25519SigningKey::from_ed25519(pair)),
                Algorithm::ED25519,
            ))
        }
        other => Err(DnssecError::Algorithm(other)),
    }
}

/// An authoritative answer as the signed zone gives it: DNSKEY at the apex answered with the
/// key; and, when the client set DO, every RRset in the zone signed and a negative answer's
/// denial proven (`name` is the question's name, `index` the records the answer came from).
#[must_use]
pub fn secure(
    signer: &Signer,
    zone: &Zone,
    index: &Index,
    question: (&str, RecordType),
    dnssec_ok: bool,
    sections: Sections,
    now_ms: i64,
) -> Sections {
    let (name, qtype) = question;
    let mut sections = sections;
    let apex = name
        .trim_end_matches('.')
        .eq_ignore_ascii_case(zone.domain.trim_end_matches('.'));
    if apex && qtype == RecordType::DNSKEY {
        sections.rcode = ResponseCode::NoError;
        sections.answers = vec![signer.dnskey().clone()];
        sections.authority.clear();
    }
    if !dnssec_ok {
        return sections;
    }
    let now_s = now_ms.div_euclid(1000);
    let negative = sections.rcode == ResponseCode::NXDomain
        || (sections.rcode == ResponseCode::NoError && sections.answers.is_empty());
    let proof = if negative {
        let rcode = if sections.rcode == ResponseCode::NXDomain {
            Rcode::NxDomain
        } else {
            Rcode::NoError
        };
        denial::proof(zone, index, name, rcode, now_ms)
    } else {
        None
    };
    let answers = signer.signed(std::mem::take(&mut sections.answers), now_s);
    let mut authority = signer.signed(std::mem::take(&mut sections.authority), now_s);
    if let Some(proof) = proof {
        authority.extend(signer.denial(&proof, now_s));
    }
    let additional = signer.signed(std::mem::take(&mut sections.additional), now_s);
    Sections {
        answers,
        authority,
        additional,
        signed: true,
        ..sections
    }
}

/// An RSA key pair from BIND's components (`Modulus`, `PublicExponent`, `PrivateExponent`,
/// `Prime1`, `Prime2`, `Exponent1`, `Exponent2`, `Coefficient`), signing with ring; hickory's
/// own RSA key reads only DER files.
struct RsaKey {
    pair: ring::rsa::KeyPair,
    algorithm: Algorithm,
    public: Vec<u8>,
}

impl RsaKey {
    fn new(public: &PublicKeyFile, private: &PrivateKeyFile) -> Result<RsaKey, DnssecError> {
        let field = |name| {
            private
                .field(name)
                .map_err(|error| DnssecError::Mismatch(error.to_string()))
        };
        let (n, e) = (field("Modulus")?, field("PublicExponent")?);
        let components = ring::rsa::KeyPairComponents {
            public_key: ring::rsa::PublicKeyComponents { n, e },
            d: field("PrivateExponent")?,
            p: field("Prime1")?,
            q: field("Prime2")?,
            dP: field("Exponent1")?,
            dQ: field("Exponent2")?,
            qInv: field("Coefficient")?,
        };
        let pair = ring::rsa::KeyPair::from_components(&components)
            .map_err(|error| DnssecError::Mismatch(error.to_string()))?;
        // RFC 3110: the exponent's length (one byte, or zero and two), the exponent, the modulus.
        let mut dnskey = Vec::with_capacity(e.len() + n.len() + 3);
        match u8::try_from(e.len()) {
            Ok(length) => dnskey.push(length),
            Err(_) => {
                dnskey.push(0);
                dnskey.extend_from_slice(&u16::try_from(e.len()).unwrap_or(u16::MAX).to_be_bytes());
            }
        }
        dnskey.extend_from_slice(e);
        dnskey.extend_from_slice(n);
        if dnskey != public.key {
            return Err(DnssecError::Mismatch(
                "the modulus or exponent differs".to_owned(),
            ));
        }
        let algorithm = if public.algorithm == 8 {
            Algorithm::RSASHA256
        } else {
            Algorithm::RSASHA512
        };
        Ok(RsaKey {
            pair,
            algorithm,
            public: dnskey,
        })
    }
}

impl SigningKey for RsaKey {
    fn sign(&self, tbs: &TBS) -> DnsSecResult<Vec<u8>> {
        let padding = if self.algorithm == Algorithm::RSASHA256 {
            &ring::signature::RSA_PKCS1_SHA256
        } else {
            &ring::signature::RSA_PKCS1_SHA512
        };
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                padding,
                &ring::rand::SystemRandom::new(),
                tbs.as_ref(),
                &mut signature,
            )
            .map_err(|_| DnsSecError::Message("RSA signing failed"))?;
        Ok(signature)
    }

    fn to_public_key(&self) -> DnsSecResult<PublicKeyBuf> {
        Ok(PublicKeyBuf::new(self.public.clone(), self.algorithm))
    }

    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "skydns.local. IN DNSKEY 256 3 13 1pcle36EufdI9xNdzvPYiDmfRbhXf2fsfF2eBvv1V4tl3pds1IUM0CDT E2Rn/AYtQdc3+RgnpZlWQM7fQ5eMkA==";
    const PRIVATE: &str = "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: XTXNo2nRCwYNmAT3d1kYzVwvhxE5CcyxvXOyFG3mbxg=\n";
    /// Another P-256 private key (not the one of PUBLIC).
    const OTHER_PRIVATE: &str =
        "Algorithm: 13\nPrivateKey: AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n";

    fn zone(domain: &str) -> Zone {
        Zone::new(domain, "skydns").unwrap()
    }

    fn signer(public: &str, private: &str, domain: &str) -> Result<Signer, DnssecError> {
        let public = keyfile::parse_public(public).unwrap();
        let private = keyfile::parse_private(private).unwrap();
        Signer::new(&public, &private, &zone(domain), 10)
    }

    // Goal: a key pair is refused, with a reason, when it is not the zone's, its halves do not
    // match, or its algorithm is not one this server signs with; a good pair has
    // dnssec-keygen's key id.
    // Method: the pair of a dnssec-keygen run, then altered.
    #[test]
    fn key_pairs_are_checked_when_loaded() {
        let good = signer(PUBLIC, PRIVATE, "skydns.local.").unwrap();
        assert_eq!(good.key_tag(), 38640);
        let error = signer(PUBLIC, PRIVATE, "example.com.").unwrap_err();
        assert!(error
            .to_string()
            .contains("not the served domain example.com."));
        let error = signer(PUBLIC, OTHER_PRIVATE, "skydns.local.").unwrap_err();
        assert!(matches!(error, DnssecError::Mismatch(_)), "{error}");
        let dsa_public = PUBLIC.replace(" 13 ", " 3 ");
        let error = signer(
            &dsa_public,
            "Algorithm: 3\nPrivateKey: AQAB\n",
            "skydns.local.",
        );
        assert!(matches!(error, Err(DnssecError::Algorithm(3))));
        let error = signer(&dsa_public, PRIVATE, "skydns.local.").unwrap_err();
        assert!(error.to_string().contains("algorithm 3"), "{error}");
        let rsa_public = PUBLIC.replace(" 13 ", " 8 ");
        let error = signer(
            &rsa_public,
            "Algorithm: 8\nModulus: AQAB\n",
            "skydns.local.",
        );
        assert!(error.unwrap_err().to_string().contains("no PublicExponent"));
        let missing = Signer::load("/nonexistent/Kskydns", &zone("skydns.local."), 1).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/Kskydns.key"),
            "{missing}"
        );
    }

    // Goal: each RRset in the zone gets one signature and records outside it none; a kept
    // signature is reused for the same content and not past its reuse time.
    // Method: two A records and a foreign one; sign twice, then a day later.
    #[test]
    fn rrsets_in_the_zone_are_signed_once_and_signatures_reused() {
        let signer = signer(PUBLIC, PRIVATE, "skydns.local.").unwrap();
        let a = |name: &str, last: u8| {
            let name = Name::from_str(name).unwrap();
            Record::from_rdata(
                name,
                60,
                RData::A(std::net::Ipv4Addr::new(10, 0, 0, last).into()),
            )
        };
        let section = vec![
            a("web.skydns.local.", 1),
            a("web.skydns.local.", 2),
            a("example.com.", 3),
        ];
        let signed = signer.signed(section.clone(), 1_000_000);
        let rrsigs: Vec<&Record> = signed
            .iter()
            .filter(|r| r.record_type() == RecordType::RRSIG)
            .collect();
        assert_eq!(rrsigs.len(), 1);
        assert_eq!(rrsigs[0].name, Name::from_str("web.skydns.local.").unwrap());
        let again = signer.signed(section.clone(), 1_000_100);
        assert_eq!(again.last(), signed.last(), "the kept signature");
        let later = signer.signed(section, 1_000_000 + SIGNATURE_REUSE_SECS);
        assert_ne!(later.last(), signed.last(), "a new signature after a day");
    }

    // Goal: the white lies' neighbours wrap around the hash space.
    // Method: step over the edges.
    #[test]
    fn hashes_step_with_carry_and_wrap() {
        assert_eq!(step(&[0x00, 0xff], 1), [0x01, 0x00]);
        assert_eq!(step(&[0xff, 0xff], 1), [0x00, 0x00]);
        assert_eq!(step(&[0x01, 0x00], -1), [0x00, 0xff]);
        assert_eq!(step(&[0x00, 0x00], -1), [0xff, 0xff]);
    }
}
