//! Resource quantities: what a unit requests (`[X-Fleet] Cpu=`, `Memory=`) and what a machine
//! offers, their parsing and their display, and the systemd limits a request becomes.
//!
//! Owns [`Resources`], [`parse_cpu`], [`parse_memory`], [`format_cpu`], [`format_memory`] and
//! [`SystemdLimits`].
//!
//! Invariants: CPU is counted in millicores and memory in bytes, both as `u64`; sums saturate
//! instead of wrapping; parsing never rounds a value to a different one silently (a CPU value
//! finer than one millicore is refused). Memory suffixes are 1024-based, as systemd's
//! `MemoryMax=` reads them. Depends on `std` only.

use std::fmt;

/// An amount of CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Resources {
    /// CPU in millicores (1000 = one core).
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

impl Resources {
    /// Nothing.
    pub const ZERO: Resources = Resources {
        cpu_millis: 0,
        memory_bytes: 0,
    };

    /// The sum, saturating.
    #[must_use]
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_add(other.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_add(other.memory_bytes),
        }
    }

    /// The difference, never below zero.
    #[must_use]
    pub fn minus(self, other: Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_sub(other.memory_bytes),
        }
    }
}

/// A quantity that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not a CPU amount.
    #[error("invalid Cpu value {0:?}: expected cores (2, 0.5) or millicores (500m), at least 1m")]
    Cpu(String),
    /// Not a memory amount.
    #[error(
        "invalid Memory value {0:?}: expected bytes or a number with K, M, G or T (512M, 1.5G)"
    )]
    Memory(String),
}

/// A CPU amount: whole or fractional cores (`2`, `0.25`) or millicores (`250m`). Zero is
/// allowed (no request); negative values, more than three decimals and anything else are not.
///
/// # Errors
/// [`QuantityError::Cpu`].
pub fn parse_cpu(text: &str) -> Result<u64, QuantityError> {
    let error = || QuantityError::Cpu(text.to_owned());
    let trimmed = text.trim();
    if let Some(millis) = trimmed.strip_suffix('m') {
        return parse_scaled(millis, 1, 0).ok_or_else(error);
    }
    parse_scaled(trimmed, 1000, 3).ok_or_else(error)
}

/// A memory amount: bytes (`1048576`), or a number with a 1024-based suffix `K`, `M`, `G` or
/// `T`, optionally followed by `i` and/or `B` (`512M`, `1.5G`, `2Gi`, `100KB`).
///
/// # Errors
/// [`QuantityError::Memory`].
pub fn parse_memory(text: &str) -> Result<u64, QuantityError> {
    let error = || QuantityError::Memory(text.to_owned());
    let mut rest = text.trim();
    rest = rest.strip_suffix('B').unwrap_or(rest);
    rest = rest.strip_suffix('i').unwrap_or(rest);
    let (number, scale) = match rest.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let scale = match unit.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(error()),
            };
            (&rest[..at], scale)
        }
        _ => (rest, 1),
    };
    // Up to six decimals of the unit: 1.5G and 0.001G are exact enough; bytes are whole.
    let decimals = if scale == 1 { 0 } else { 6 };
    parse_fraction(number, decimals)
        .and_then(|(whole, fraction, digits)| {
            let whole = whole.checked_mul(scale)?;
            let part = u128::from(fraction) * u128::from(scale) / 10u128.pow(digits);
            whole.checked_add(u64::try_from(part).ok()?)
        })
        .ok_or_else(error)
}

/// `digits[.digits]` times `scale`, with at most `decimals` decimals and an exact result.
fn parse_scaled(text: &str, scale: u64, decimals: u32) -> Option<u64> {
    let (whole, fraction, digits) = parse_fraction(text, decimals)?;
    let divisor = 10u64.pow(digits);
    let part = fraction.checked_mul(scale)?;
    if part % divisor != 0 {
        return None;
    }
    whole.checked_mul(scale)?.checked_add(part / divisor)
}

/// `digits[.digits]` as (whole, fraction, number of fraction digits), refusing signs,
/// exponents, empty parts and more than `decimals` fraction digits.
fn parse_fraction(text: &str, decimals: u32) -> Option<(u64, u64, u32)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_only = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return None;
    }
    if text.contains('.') && fraction.is_empty() {
        return None;
    }
    let digits = u32::try_from(fraction.len()).ok()?;
    if digits > decimals {
        return None;
    }
    let fraction_value = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    Some((whole.parse().ok()?, fraction_value, digits))
}

/// Millicores for people: whole cores as `2`, anything else as `1500m`.
#[must_use]
pub fn format_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Bytes for people, in the largest 1024-based unit that is at least one, with one decimal
/// when not whole (`2G`, `1.1G`, `512M`, `100B`), rounded down so free memory is never
/// overstated.
#[must_use]
pub fn format_memory(bytes: u64) -> String {
    const UNITS: [(char, u32); 4] = [('T', 40), ('G', 30), ('M', 20), ('K', 10)];
    for (unit, shift) in UNITS {
        let size = 1u64 << shift;
        if bytes >= size {
            let tenths = u128::from(bytes) * 10 / u128::from(size);
            return if tenths % 10 == 0 {
                format!("{}{unit}", tenths / 10)
            } else {
                format!("{}.{}{unit}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes}B")
}

/// What a request becomes in systemd: `CPUQuota=` (as systemd's `CPUQuotaPerSecUSec`, CPU
/// time per second of wall time) and `MemoryMax=` (bytes). `None` means no limit
/// (`infinity`), which is also written, so a unit loaded again without a request loses an
/// earlier limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SystemdLimits {
    /// `CPUQuotaPerSecUSec`: microseconds of CPU per second; 1000m is 1,000,000 (100 %).
    pub cpu_quota_per_sec_usec: Option<u64>,
    /// `MemoryMax` in bytes.
    pub memory_max: Option<u64>,
}

impl SystemdLimits {
    /// The limits for `requests`: a zero amount sets no limit.
    #[must_use]
    pub fn for_requests(requests: Resources) -> SystemdLimits {
        let nonzero = |value: u64| (value > 0).then_some(value);
        SystemdLimits {
            cpu_quota_per_sec_usec: nonzero(requests.cpu_millis.saturating_mul(1000)),
            memory_max: nonzero(requests.memory_bytes),
        }
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "cpu {}, memory {}",
            format_cpu(self.cpu_millis),
            format_memory(self.memory_bytes)
        )
    }
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
