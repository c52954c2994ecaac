//! Request counts from the daemons' `/metrics` pages, read without I/O: the page plots
//! their rate. Each daemon has one counter of the requests it served: Keel's etcd name
//! `etcd_http_received_total` (every keys-API request, by method), discoveryd's SkyDNS name
//! `dns_request_count_total` (under its `-prometheus-namespace` and `-subsystem`, when set),
//! fleetd's `fleet_api_requests_total`. The text is parsed with `prometheus-parse`.

/// Each daemon's name (as `keel-dashboard --metrics NAME=URL` gives it) and its counter.
pub const COUNTERS: &[(&str, &str)] = &[
    ("keel", "etcd_http_received_total"),
    ("fleet", "fleet_api_requests_total"),
    ("dns", "dns_request_count_total"),
];

/// The counter of daemon `name`, when it is one the dashboard knows.
pub fn counter_of(name: &str) -> Option<&'static str> {
    COUNTERS
        .iter()
        .find(|(daemon, _)| *daemon == name)
        .map(|(_, counter)| *counter)
}

/// The sum over every label set of `counter` (or of `<prefix>_<counter>`) in the text of a
/// `/metrics` page; `None` when the text cannot be parsed or has no such series.
pub fn total(text: &str, counter: &str) -> Option<f64> {
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).ok()?;
    let suffix = format!("_{counter}");
    let values: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == counter || sample.metric.ends_with(&suffix))
        .filter_map(|sample| match sample.value {
            prometheus_parse::Value::Counter(value) | prometheus_parse::Value::Untyped(value) => {
                Some(value)
            }
            _ => None,
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a counter's total sums its label sets, also under a namespace prefix, and other
    /// series, a missing counter and garbage give nothing. Method: pages as the daemons
    /// write them (OpenMetrics text from prometheus-client).
    #[test]
    fn totals_sum_label_sets_of_the_one_counter() {
        let keel = "# HELP etcd_http_received Counter of requests received.\n\
                    # TYPE etcd_http_received counter\n\
                    etcd_http_received_total{method=\"GET\"} 40\n\
                    etcd_http_received_total{method=\"PUT\"} 2\n\
                    # TYPE etcd_http_failed counter\n\
                    etcd_http_failed_total{method=\"GET\",code=\"404\"} 7\n\
                    # EOF\n";
        assert_eq!(total(keel, "etcd_http_received_total"), Some(42.0));
        let dns = "# TYPE skydns_dns_request_count counter\n\
                   skydns_dns_request_count_total{system=\"recursive\"} 3\n\
                   skydns_dns_request_count_total{system=\"auth\"} 5\n";
        assert_eq!(total(dns, "dns_request_count_total"), Some(8.0));
        assert_eq!(total(keel, "dns_request_count_total"), None);
        assert_eq!(total("not metrics at all {{{", "x_total"), None);
        assert_eq!(counter_of("keel"), Some("etcd_http_received_total"));
        assert_eq!(counter_of("locksmith"), None);
    }
}
