//! The one FNV-1a hasher of the store's crates: `Store::content_hash`, and (re-exported as
//! `v2store::Fnv1a`) the node's member and cluster IDs and its backup checksum.
//!
//! Owns: a hash that is the same on every replica, platform and run. std's `RandomState` is
//! seeded per process, so it must never be used for anything replicas compare.

/// FNV-1a, 64-bit (<http://www.isthe.com/chongo/tech/comp/fnv/>).
#[derive(Debug, Clone)]
pub struct Fnv1a {
    state: u64,
}

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a::new()
    }
}

impl Fnv1a {
    #[must_use]
    pub fn new() -> Fnv1a {
        Fnv1a {
            state: OFFSET_BASIS,
        }
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.state ^= u64::from(*byte);
            self.state = self.state.wrapping_mul(PRIME);
        }
    }

    pub fn write_u64(&mut self, value: u64) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Length first, so that ("ab","c") and ("a","bc") hash differently.
    pub fn write_str(&mut self, text: &str) {
        self.write_u64(text.len() as u64);
        self.write_bytes(text.as_bytes());
    }

    #[must_use]
    pub fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv1a;

    // Goal: the hasher is the published FNV-1a, checked against its reference vectors.
    #[test]
    fn matches_reference_vectors() {
        let empty = Fnv1a::new();
        assert_eq!(empty.finish(), 0xcbf2_9ce4_8422_2325);
        let mut a = Fnv1a::new();
        a.write_bytes(b"a");
        assert_eq!(a.finish(), 0xaf63_dc4c_8601_ec8c);
        let mut foobar = Fnv1a::new();
        foobar.write_bytes(b"foobar");
        assert_eq!(foobar.finish(), 0x8594_4171_f739_67e8);
    }
}
