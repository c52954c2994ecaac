//! Forwarding names outside the domain to the upstream resolvers, and the core's own lookups
//! there (CNAME tails, SRV and MX glue): the client's query relayed as it came, over the
//! client's transport (UDP → UDP, a truncated reply passed through so the client retries over
//! TCP; TCP → TCP), each upstream tried in turn from `query id mod n` until one answers; a
//! SERVFAIL from an upstream is retried once on the same one.
//!
//! Invariants: every wait has the read timeout; a reply whose id is not the query's is not an
//! answer; the caller always answers (SERVFAIL when this returns an error, never silence,
//! unlike SkyDNS).

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The largest reply read from an upstream over UDP.
const UDP_REPLY_BYTES_MAX: usize = 4096;

/// The upstreams and how long to wait for each.
#[derive(Debug, Clone)]
pub struct Forwarder {
    /// Upstream resolvers, `ip:port`.
    pub upstreams: Vec<SocketAddr>,
    /// Read and write timeout per upstream (SkyDNS's `-rtimeout`, 2 s).
    pub timeout: Duration,
    /// Start at `query id mod n` (SkyDNS's `-ns-rotate`), else at the first.
    pub rotate: bool,
}

/// Why no upstream answered.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// There are no upstreams.
    #[error("no upstream resolvers are configured")]
    NoUpstreams,
    /// Every upstream failed; the last failure.
    #[error("every upstream failed, the last ({upstream}): {reason}")]
    AllFailed {
        /// The last upstream tried.
        upstream: SocketAddr,
        /// Its failure.
        reason: String,
    },
}

impl Forwarder {
    /// Relays `raw` (a query with id `id`) and returns the reply.
    ///
    /// # Errors
    /// [`ForwardError`] when no upstream answered.
    pub async fn forward(&self, raw: &[u8], id: u16, tcp: bool) -> Result<Message, ForwardError> {
        let count = self.upstreams.len();
        if count == 0 {
            return Err(ForwardError::NoUpstreams);
        }
        let start = if self.rotate {
            usize::from(id) % count
        } else {
            0
        };
        let mut last = None;
        for offset in 0..count {
            let upstream = self.upstreams[(start + offset) % count];
            for _attempt in 0..2 {
                match self.exchange(upstream, raw, id, tcp).await {
                    Ok(reply) if reply.metadata.response_code == ResponseCode::ServFail => {
                        last = Some((upstream, "answered SERVFAIL".to_owned()));
                    }
                    Ok(reply) => return Ok(reply),
                    Err(reason) => {
                        last = Some((upstream, reason));
                        break;
                    }
                }
            }
        }
        let (upstream, reason) = last.unwrap_or((self.upstreams[start], String::new()));
        Err(ForwardError::AllFailed { upstream, reason })
    }

    /// Asks the upstreams for `name`'s records of `qtype` (recursion desired, EDNS0); any
    /// reply but NOERROR is a failure.
    ///
    /// # Errors
    /// [`ForwardError`] when no upstream answered NOERROR.
    pub async fn lookup(&self, name: &str, qtype: RecordType) -> Result<Message, ForwardError> {
        let name = Name::from_ascii(name).map_err(|error| ForwardError::AllFailed {
            upstream: SocketAddr::from(([0, 0, 0, 0], 0)),
            reason: error.to_string(),
        })?;
        // A random id (hickory's), so a spoofed reply must guess it.
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name, qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        message.set_edns(edns);
        let raw = message.to_vec().map_err(|error| ForwardError::AllFailed {
            upstream: SocketAddr::from(([0, 0, 0, 0], 0)),
            reason: error.to_string(),
        })?;
        let reply = self.forward(&raw, message.metadata.id, false).await?;
        if reply.metadata.response_code == ResponseCode::NoError {
            Ok(reply)
        } else {
            Err(ForwardError::AllFailed {
                upstream: self.upstreams[0],
                reason: format!("answered {}", reply.metadata.response_code),
            })
        }
    }

    async fn exchange(
        &self,
        upstream: SocketAddr,
        raw: &[u8],
        id: u16,
        tcp: bool,
    ) -> Result<Message, String> {
        let exchanged = if tcp {
            tokio::time::timeout(self.timeout, exchange_tcp(upstream, raw)).await
        } else {
            tokio::time::timeout(self.timeout, exchange_udp(upstream, raw, id)).await
        };
        let bytes = exchanged
            .map_err(|_elapsed| format!("no reply within {:?}", self.timeout))?
            .map_err(|error| error.to_string())?;
        let reply = Message::from_vec(&bytes).map_err(|error| error.to_string())?;
        if reply.metadata.id != id {
            return Err("a reply with another id".to_owned());
        }
        Ok(reply)
    }
}

async fn exchange_udp(upstream: SocketAddr, raw: &[u8], id: u16) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(raw).await?;
    let mut buffer = vec![0; UDP_REPLY_BYTES_MAX];
    loop {
        let length = socket.recv(&mut buffer).await?;
        // A stray datagram with another id is not the reply; keep waiting (bounded by the
        // caller's timeout).
        if length >= 2 && u16::from_be_bytes([buffer[0], buffer[1]]) == id {
            buffer.truncate(length);
            return Ok(buffer);
        }
    }
}

/// DNS over TCP: each message preceded by its length in two bytes (RFC 1035 §4.2.2).
async fn exchange_tcp(upstream: SocketAddr, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let length = u16::try_from(raw.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "query too long"))?;
    let mut framed = Vec::with_capacity(raw.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(raw);
    stream.write_all(&framed).await?;
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await?;
    let mut reply = vec![0; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}
