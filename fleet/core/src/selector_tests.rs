//! Goal: every expression form parses to what it says, prints back in one canonical form, is
//! refused with a reason when malformed, and matches multi-valued host metadata as the module
//! docs say. Method: tables of items and of hand-made metadata maps.

use super::*;

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn expression(item: &str) -> Selector {
    match parse_item(item) {
        Ok(MetadataItem::Expression(selector)) => selector,
        other => panic!("{item}: expected an expression, got {other:?}"),
    }
}

#[test]
fn equality_stays_fleets_item() {
    assert_eq!(
        parse_item("region=us-east"),
        Ok(MetadataItem::Equal {
            key: "region".into(),
            value: "us-east".into()
        })
    );
}

#[test]
fn every_form_parses_and_prints_canonically() {
    let cases = [
        ("zone!=a", "zone!=a"),
        ("zone != a", "zone!=a"),
        ("zone in (a, b)", "zone in (a,b)"),
        ("zone in(a,b)", "zone in (a,b)"),
        ("zone notin (c)", "zone notin (c)"),
        ("gpu", "gpu"),
        ("!gpu", "!gpu"),
        ("cores>=4", "cores>=4"),
        ("cores > 2.5", "cores>2.5"),
        ("disk_gb<100", "disk_gb<100"),
        ("mem<=64", "mem<=64"),
    ];
    for (item, printed) in cases {
        assert_eq!(expression(item).to_string(), printed, "{item}");
    }
}

#[test]
fn malformed_items_are_refused_with_the_item() {
    for item in [
        "",
        "=value",
        "zone=",
        "a=b=c",
        "role=web role=db",
        "zone!=",
        "zone in a,b",
        "zone in (a,,b)",
        "zone in ()",
        "cores>=many",
        "cores>inf",
        "!",
        "!gpu=1",
        "zone ~ a",
    ] {
        let error = parse_item(item).expect_err(item);
        assert_eq!(error.item, item);
        assert!(
            error
                .to_string()
                .starts_with("invalid MachineMetadata expression"),
            "{error}"
        );
    }
}

#[test]
fn expressions_match_multi_valued_metadata() {
    let host = meta(&[("zone", "a"), ("disk", "ssd, nvme"), ("cores", "8")]);
    let cases = [
        ("zone!=b", true),
        ("zone!=a", false),
        ("missing!=a", true),
        ("disk in (hdd,nvme)", true),
        ("disk in (hdd)", false),
        ("disk notin (hdd)", true),
        ("disk notin (ssd)", false),
        ("missing notin (x)", true),
        ("disk", true),
        ("missing", false),
        ("!missing", true),
        ("!disk", false),
        ("cores>=8", true),
        ("cores>8", false),
        ("cores<10", true),
        ("zone>1", false),
        ("missing<1", false),
    ];
    for (item, expected) in cases {
        assert_eq!(expression(item).matches(&host), expected, "{item}");
    }
}

#[test]
fn an_empty_value_counts_as_absent() {
    let host = meta(&[("gpu", " , ")]);
    assert!(expression("!gpu").matches(&host));
    assert!(!expression("gpu").matches(&host));
    assert_eq!(host_values(&host, "gpu").count(), 0);
}
