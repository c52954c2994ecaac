//! Goal: `Cpu=` and `Memory=` values parse to exact amounts or are refused, and amounts print
//! the way `fleetctl why` shows them. Method: tables of accepted and refused texts.

use super::*;

#[test]
fn cpu_accepts_cores_and_millicores_exactly() {
    let cases = [
        ("2", 2000),
        ("0.5", 500),
        ("1.25", 1250),
        ("0.001", 1),
        ("250m", 250),
        (" 1500m ", 1500),
        ("0", 0),
        ("0m", 0),
    ];
    for (text, millis) in cases {
        assert_eq!(parse_cpu(text), Ok(millis), "{text}");
    }
}

#[test]
fn cpu_refuses_what_is_not_an_exact_amount() {
    for text in [
        "", "-1", "1.", ".5", "0.0005", "1.5m", "2 cores", "1e3", "500M", "m",
    ] {
        assert_eq!(
            parse_cpu(text),
            Err(QuantityError::Cpu(text.to_owned())),
            "{text}"
        );
    }
}

#[test]
fn memory_accepts_bytes_and_1024_based_suffixes() {
    let cases = [
        ("1048576", 1 << 20),
        ("512M", 512 << 20),
        ("1.5G", 3 << 29),
        ("2Gi", 2 << 30),
        ("100KB", 100 << 10),
        ("1T", 1 << 40),
        ("64k", 64 << 10),
        ("0", 0),
    ];
    for (text, bytes) in cases {
        assert_eq!(parse_memory(text), Ok(bytes), "{text}");
    }
}

#[test]
fn memory_refuses_unknown_units_signs_and_overflow() {
    for text in [
        "",
        "-1G",
        "1.5",
        "2X",
        "G",
        "1..5G",
        "99999999999T",
        "1 G x",
    ] {
        assert_eq!(
            parse_memory(text),
            Err(QuantityError::Memory(text.to_owned())),
            "{text}"
        );
    }
}

#[test]
fn amounts_print_in_the_largest_unit_rounded_down() {
    assert_eq!(format_memory(2 << 30), "2G");
    assert_eq!(format_memory((1 << 30) + (1 << 27)), "1.1G");
    assert_eq!(format_memory(512 << 20), "512M");
    assert_eq!(format_memory(1023), "1023B");
    assert_eq!(format_cpu(2000), "2");
    assert_eq!(format_cpu(1500), "1500m");
    assert_eq!(format_cpu(0), "0");
}

#[test]
fn limits_follow_requests_and_zero_means_none() {
    let requests = Resources {
        cpu_millis: 500,
        memory_bytes: 1 << 30,
    };
    assert_eq!(
        SystemdLimits::for_requests(requests),
        SystemdLimits {
            cpu_quota_per_sec_usec: Some(500_000),
            memory_max: Some(1 << 30),
        }
    );
    assert_eq!(
        SystemdLimits::for_requests(Resources::ZERO),
        SystemdLimits::default()
    );
}

#[test]
fn sums_saturate_and_differences_stop_at_zero() {
    let big = Resources {
        cpu_millis: u64::MAX,
        memory_bytes: 1,
    };
    let sum = big.plus(big);
    assert_eq!(sum.cpu_millis, u64::MAX);
    assert_eq!(sum.memory_bytes, 2);
    assert_eq!(Resources::ZERO.minus(big), Resources::ZERO);
}
