//! Client configuration, its defaults and its validation, and the [`Endpoint`] type.
//!
//! Invariant: a `Client` is only ever built from a config that passed
//! [`ClientConfig::validate`], and every endpoint it talks to, configured or discovered, went
//! through [`Endpoint::parse`]. Must not depend on the transport.

use crate::limits::{
    ATTEMPTS_MAX_LIMIT, ENDPOINTS_MAX, RESPONSE_BYTES_MIN, WATCH_POLL_TIMEOUT_MIN,
};
use std::fmt;
use std::time::Duration;

/// A member's client URL, validated to the form `http://host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `host:port`, IPv6 hosts in brackets.
    authority: String,
}

impl Endpoint {
    /// Parses `http://host:port`; one trailing `/` is accepted and dropped. The scheme is
    /// matched without regard to case, as URLs are.
    ///
    /// # Errors
    /// [`ConfigError::Endpoint`] naming the problem: another scheme (`https` is refused because
    /// Keel has no TLS yet), a missing host or port, a path, query or user info.
    pub fn parse(text: &str) -> Result<Endpoint, ConfigError> {
        let problem = |problem| ConfigError::Endpoint {
            endpoint: text.to_owned(),
            problem,
        };
        let (scheme, rest) = match text.find("://") {
            Some(position) => (&text[..position], &text[position + 3..]),
            None => return Err(problem(EndpointProblem::MissingScheme)),
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Err(problem(EndpointProblem::Https));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(problem(EndpointProblem::Scheme));
        }
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(problem(EndpointProblem::Path));
        }
        if authority.contains('@') {
            return Err(problem(EndpointProblem::UserInfo));
        }
        let (host, port) = split_host_port(authority).map_err(problem)?;
        if !host.starts_with('[') && !host.chars().all(is_host_char) {
            return Err(problem(EndpointProblem::Host));
        }
        match port.parse::<u16>() {
            Ok(port) if port > 0 => Ok(Endpoint {
                authority: format!("{host}:{port}"),
            }),
            _ => Err(problem(EndpointProblem::Port)),
        }
    }

    /// `host:port`.
    #[must_use]
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "http://{}", self.authority)
    }
}

fn split_host_port(authority: &str) -> Result<(&str, &str), EndpointProblem> {
    if authority.starts_with('[') {
        // An IPv6 literal: `[::1]:2379`.
        let close = authority.find(']').ok_or(EndpointProblem::Host)?;
        let (host, rest) = authority.split_at(close + 1);
        let port = rest.strip_prefix(':').ok_or(EndpointProblem::MissingPort)?;
        if host.len() <= 2 {
            return Err(EndpointProblem::Host);
        }
        return Ok((host, port));
    }
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or(EndpointProblem::MissingPort)?;
    if host.is_empty() {
        return Err(EndpointProblem::Host);
    }
    Ok((host, port))
}

fn is_host_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '-' | '.' | '_')
}

/// What is wrong with an endpoint URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointProblem {
    /// No `scheme://` prefix.
    #[error("expected http://host:port")]
    MissingScheme,
    /// `https://`: Keel does not serve TLS yet.
    #[error("https is not supported (Keel has no TLS yet); use http://host:port")]
    Https,
    /// A scheme other than `http`.
    #[error("only the http scheme is supported")]
    Scheme,
    /// A path (other than one trailing `/`), query or fragment.
    #[error("a path, query or fragment is not allowed; expected http://host:port")]
    Path,
    /// `user@host`.
    #[error("user info is not supported")]
    UserInfo,
    /// An empty or malformed host.
    #[error("the host is empty or malformed")]
    Host,
    /// No `:port`.
    #[error("the port is missing; expected http://host:port")]
    MissingPort,
    /// A port that is not 1..=65535.
    #[error("the port is not a number in 1..=65535")]
    Port,
}

/// Why a [`ClientConfig`] or [`crate::ReflectorOptions`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `endpoints` is empty.
    #[error("no endpoints configured")]
    NoEndpoints,
    /// More endpoints than [`crate::limits::ENDPOINTS_MAX`].
    #[error("{count} endpoints configured, at most {max} are supported")]
    TooManyEndpoints {
        /// Endpoints given.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// An endpoint is not `http://host:port`.
    #[error("endpoint {endpoint:?}: {problem}")]
    Endpoint {
        /// The text as given.
        endpoint: String,
        /// What is wrong with it.
        problem: EndpointProblem,
    },
    /// A duration that must be positive is zero.
    #[error("{field} must be greater than zero")]
    ZeroDuration {
        /// The config field.
        field: &'static str,
    },
    /// Two settings contradict each other.
    #[error("{smaller} must not exceed {larger}")]
    Order {
        /// The field that must be the smaller.
        smaller: &'static str,
        /// The field that must be the larger.
        larger: &'static str,
    },
    /// A duration below its lower bound.
    #[error("{field} is {value:?}, expected at least {min:?}")]
    TooShort {
        /// The config field.
        field: &'static str,
        /// The configured value.
        value: Duration,
        /// The bound.
        min: Duration,
    },
    /// `attempts_max` outside `1..=ATTEMPTS_MAX_LIMIT`.
    #[error("attempts_max is {value}, expected 1..={max}")]
    AttemptsMax {
        /// The configured value.
        value: u32,
        /// The bound.
        max: u32,
    },
    /// A duration above its upper bound.
    #[error("{field} is {value:?}, expected at most {max:?}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// The configured value.
        value: Duration,
        /// The bound.
        max: Duration,
    },
    /// `ReflectorOptions::keys_max` outside `1..=REFLECTOR_KEYS_MAX_LIMIT`.
    #[error("keys_max is {value}, expected 1..={max}")]
    KeysMax {
        /// The configured value.
        value: usize,
        /// The bound.
        max: usize,
    },
    /// `response_bytes_max` below [`crate::limits::RESPONSE_BYTES_MIN`].
    #[error("response_bytes_max is {value}, expected at least {min}")]
    ResponseBytesMax {
        /// The configured value.
        value: usize,
        /// The bound.
        min: usize,
    },
}

/// How to reach the cluster and how hard to try. Build with [`ClientConfig::new`] and change
/// fields with struct update syntax; [`crate::Client::new`] validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Client URLs, `http://host:port`; the first is tried first.
    pub endpoints: Vec<String>,
    /// Time for one attempt: connect, send, and read the whole reply. Default 10 s: above
    /// Keel's and etcd's own proposal timeout (5 s plus two election timeouts), so a server
    /// that gives up answers error 300 before the client gives up.
    pub request_timeout: Duration,
    /// Time to open a TCP connection. Default 1 s: loopback and LAN peers answer in
    /// milliseconds, and a refused or unreachable member should fail over quickly.
    pub connect_timeout: Duration,
    /// No attempt or backoff starts after this much time since the call began. Default 30 s.
    pub operation_timeout: Duration,
    /// Attempts per call, the first included. Default 5: every member of a 3- or 5-member
    /// cluster gets a turn.
    pub attempts_max: u32,
    /// First pause before re-trying the endpoint list after every endpoint failed once.
    /// Default 50 ms. Each pause is drawn uniformly from `[0, bound]` (full jitter).
    pub backoff_min: Duration,
    /// Largest pause bound; the bound doubles per round up to this. Default 1 s.
    pub backoff_max: Duration,
    /// Fetch `/v2/members` and use the members' client URLs, configured endpoints as fallback;
    /// refreshed after failovers. Default false: the configured endpoints are used as given
    /// (etcdctl syncs by default; `keelctl` turns this on unless `--no-sync`).
    pub discover_endpoints: bool,
    /// How long one watch long-poll waits for an event before it is re-issued from where it
    /// stands. Default 60 s; it also bounds how long a watch on a frozen member goes unnoticed
    /// (plus `request_timeout`).
    pub watch_poll_timeout: Duration,
    /// Largest reply body read. Default 256 MiB: a recursive GET of a large tree.
    pub response_bytes_max: usize,
    /// Idle keep-alive connections kept per endpoint. Default 16.
    pub pool_idle_per_endpoint_max: usize,
    /// An idle keep-alive connection is closed after this. Default 20 s: below the 30 s after
    /// which a hyper server (Keel's) drops a connection that sends no request, so the client
    /// rarely writes into a connection the server is closing; that race would turn a write
    /// into a spurious `Indeterminate`.
    pub pool_idle_timeout: Duration,
    /// Seed for backoff jitter; `None` draws one per client. Set it to replay a run exactly.
    pub jitter_seed: Option<u64>,
}

impl ClientConfig {
    /// The defaults documented on each field, with these endpoints.
    #[must_use]
    pub fn new(endpoints: Vec<String>) -> ClientConfig {
        ClientConfig {
            endpoints,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(30),
            attempts_max: 5,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            discover_endpoints: false,
            watch_poll_timeout: Duration::from_secs(60),
            response_bytes_max: 256 * 1024 * 1024,
            pool_idle_per_endpoint_max: 16,
            pool_idle_timeout: Duration::from_secs(20),
            jitter_seed: None,
        }
    }

    /// Checks every field and parses the endpoints, dropping exact duplicates.
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`].
    pub fn validate(&self) -> Result<Vec<Endpoint>, ConfigError> {
        let endpoints = self.parse_endpoints()?;
        let durations = [
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
            ("operation_timeout", self.operation_timeout),
            ("backoff_min", self.backoff_min),
            ("watch_poll_timeout", self.watch_poll_timeout),
            ("pool_idle_timeout", self.pool_idle_timeout),
        ];
        if let Some((field, _)) = durations.iter().find(|(_, value)| value.is_zero()) {
            return Err(ConfigError::ZeroDuration { field });
        }
        let order = [
            (
                "connect_timeout",
                self.connect_timeout,
                "request_timeout",
                self.request_timeout,
            ),
            (
                "request_timeout",
                self.request_timeout,
                "operation_timeout",
                self.operation_timeout,
            ),
            (
                "backoff_min",
                self.backoff_min,
                "backoff_max",
                self.backoff_max,
            ),
            (
                "backoff_max",
                self.backoff_max,
                "operation_timeout",
                self.operation_timeout,
            ),
        ];
        if let Some((smaller, _, larger, _)) = order.iter().find(|(_, low, _, high)| low > high) {
            return Err(ConfigError::Order { smaller, larger });
        }
        if self.watch_poll_timeout < WATCH_POLL_TIMEOUT_MIN {
            return Err(ConfigError::TooShort {
                field: "watch_poll_timeout",
                value: self.watch_poll_timeout,
                min: WATCH_POLL_TIMEOUT_MIN,
            });
        }
        if !(1..=ATTEMPTS_MAX_LIMIT).contains(&self.attempts_max) {
            return Err(ConfigError::AttemptsMax {
                value: self.attempts_max,
                max: ATTEMPTS_MAX_LIMIT,
            });
        }
        if self.response_bytes_max < RESPONSE_BYTES_MIN {
            return Err(ConfigError::ResponseBytesMax {
                value: self.response_bytes_max,
                min: RESPONSE_BYTES_MIN,
            });
        }
        Ok(endpoints)
    }

    fn parse_endpoints(&self) -> Result<Vec<Endpoint>, ConfigError> {
        if self.endpoints.is_empty() {
            return Err(ConfigError::NoEndpoints);
        }
        if self.endpoints.len() > ENDPOINTS_MAX {
            return Err(ConfigError::TooManyEndpoints {
                count: self.endpoints.len(),
                max: ENDPOINTS_MAX,
            });
        }
        let mut endpoints: Vec<Endpoint> = Vec::with_capacity(self.endpoints.len());
        for text in &self.endpoints {
            let endpoint = Endpoint::parse(text)?;
            if !endpoints.contains(&endpoint) {
                endpoints.push(endpoint);
            }
        }
        Ok(endpoints)
    }
}

impl Default for ClientConfig {
    /// etcd's default client URL, `http://127.0.0.1:2379`, with the documented defaults.
    fn default() -> ClientConfig {
        ClientConfig::new(vec!["http://127.0.0.1:2379".to_owned()])
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
