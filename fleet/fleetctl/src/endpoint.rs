//! Where fleetd listens, as fleetctl's `--endpoint` names it: `unix:///path/to/socket` or
//! `http://host:port`, and only the first entry of a comma-separated list (as fleet's
//! fleetctl, which ignores the rest).
//!
//! Owns [`Endpoint`] and [`EndpointError`]. Invariants: a TCP endpoint's authority is never
//! empty; a unix endpoint's path is absolute; a base path never ends in `/`. No I/O.

use std::fmt;
use std::path::PathBuf;

/// fleetd's default socket, as fleet's.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/fleet.sock";

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// HTTP over TCP.
    Tcp {
        /// `host:port` (port 80 when the URL has none).
        authority: String,
        /// A path the API lives under (`""` for the root).
        base_path: String,
    },
    /// HTTP over a unix socket.
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
}

/// Why an `--endpoint` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Empty, or only commas and spaces.
    #[error("no endpoint given")]
    Empty,
    /// `https://`: this fleetctl has no TLS.
    #[error("endpoint {0:?}: https is not supported by this fleetctl; use http:// or unix://")]
    Https(String),
    /// Neither `http://` nor `unix://`.
    #[error("endpoint {0:?}: expected http://host:port or unix:///path/to/socket")]
    UnknownScheme(String),
    /// `http://` with no host.
    #[error("endpoint {0:?}: no host")]
    NoHost(String),
    /// `unix://` with a relative or empty path.
    #[error("endpoint {0:?}: the socket path must be absolute (unix:///path/to/socket)")]
    RelativeSocket(String),
}

impl Endpoint {
    /// Parses the first entry of a comma-separated `--endpoint` value.
    ///
    /// # Errors
    /// [`EndpointError`] for an empty list, an https or unknown scheme, a missing host or a
    /// relative socket path.
    pub fn parse(list: &str) -> Result<Endpoint, EndpointError> {
        let first = list
            .split(',')
            .map(str::trim)
            .find(|entry| !entry.is_empty())
            .ok_or(EndpointError::Empty)?;
        if let Some(path) = first.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(EndpointError::RelativeSocket(first.to_owned()));
            }
            return Ok(Endpoint::Unix {
                path: PathBuf::from(path),
            });
        }
        if first.starts_with("https://") {
            return Err(EndpointError::Https(first.to_owned()));
        }
        let Some(rest) = first.strip_prefix("http://") else {
            return Err(EndpointError::UnknownScheme(first.to_owned()));
        };
        let (authority, path) = rest
            .find('/')
            .map_or((rest, ""), |slash| rest.split_at(slash));
        if authority.is_empty() {
            return Err(EndpointError::NoHost(first.to_owned()));
        }
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Endpoint::Tcp {
            authority,
            base_path: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The `Host` header to send: the authority, or `localhost` over a unix socket.
    #[must_use]
    pub fn host(&self) -> &str {
        match self {
            Endpoint::Tcp { authority, .. } => authority,
            Endpoint::Unix { .. } => "localhost",
        }
    }

    /// The path prefix to put before `/fleet/v1/...`.
    #[must_use]
    pub fn base_path(&self) -> &str {
        match self {
            Endpoint::Tcp { base_path, .. } => base_path,
            Endpoint::Unix { .. } => "",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp {
                authority,
                base_path,
            } => write!(formatter, "http://{authority}{base_path}"),
            Endpoint::Unix { path } => write!(formatter, "unix://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Endpoint parsing. Method: literal `--endpoint` values.

    use super::*;

    #[test]
    fn unix_and_http_endpoints_parse() {
        // Goal: the default socket, a TCP endpoint with and without port, only the first of a
        // list counts.
        assert_eq!(
            Endpoint::parse(DEFAULT_ENDPOINT),
            Ok(Endpoint::Unix {
                path: PathBuf::from("/var/run/fleet.sock")
            })
        );
        assert_eq!(
            Endpoint::parse("http://10.0.0.1:49153,http://10.0.0.2:49153"),
            Ok(Endpoint::Tcp {
                authority: "10.0.0.1:49153".into(),
                base_path: String::new()
            })
        );
        let plain = Endpoint::parse("http://fleet.example/api/").expect("a host without port");
        assert_eq!(plain.host(), "fleet.example:80");
        assert_eq!(plain.base_path(), "/api");
        assert_eq!(plain.to_string(), "http://fleet.example:80/api");
    }

    #[test]
    fn unusable_endpoints_are_refused() {
        // Goal: each refusal names the problem.
        assert_eq!(Endpoint::parse(" , "), Err(EndpointError::Empty));
        assert!(matches!(
            Endpoint::parse("https://a:1"),
            Err(EndpointError::Https(_))
        ));
        assert!(matches!(
            Endpoint::parse("etcd://a"),
            Err(EndpointError::UnknownScheme(_))
        ));
        assert!(matches!(
            Endpoint::parse("http:///x"),
            Err(EndpointError::NoHost(_))
        ));
        assert!(matches!(
            Endpoint::parse("unix://run/fleet.sock"),
            Err(EndpointError::RelativeSocket(_))
        ));
    }
}
