//! A minimal HTTP/1.1 client over `std::net::TcpStream`, for the exact bytes ureq hides:
//! status and headers of redirects, 404 and 405 text bodies, HEAD replies and chunked watch
//! bodies. One request per connection (`Connection: close`), loopback only, every read bounded
//! by a socket timeout and an overall deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The longest a single request may take, watches included (a live watch is answered once the
/// test's trigger write is applied, well within this).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(20);

/// Largest reply the harness accepts; the biggest here is a recursive root listing.
const REPLY_BYTES_MAX: usize = 4 << 20;

/// A request as it goes on the wire.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Origin-form target, sent as is (already percent-encoded where the test wants it).
    pub target: String,
    /// `(Content-Type, body)`.
    pub body: Option<(String, Vec<u8>)>,
}

/// A reply: status, headers in arrival order with lower-case names, framing, decoded body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunked: bool,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send one request to `address` and read the whole reply (the server closes the connection).
pub fn send(address: SocketAddr, request: &Request) -> Result<Reply, String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|error| format!("connect {address}: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|error| error.to_string())?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nUser-Agent: keel-http-compat\r\n",
        request.method, request.target
    );
    if let Some((content_type, body)) = &request.body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if let Some((_, body)) = &request.body {
        bytes.extend_from_slice(body);
    }
    stream
        .write_all(&bytes)
        .map_err(|error| format!("write to {address}: {error}"))?;
    let raw = read_to_close(&mut stream)?;
    parse(&raw, request.method == "HEAD")
}

/// Read until the server closes the connection, within [`REQUEST_DEADLINE`].
fn read_to_close(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if start.elapsed() > REQUEST_DEADLINE {
            return Err(format!(
                "no end of reply after {REQUEST_DEADLINE:?}; got {:?}",
                String::from_utf8_lossy(&raw)
            ));
        }
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(raw),
            Ok(read) => raw.extend_from_slice(&buffer[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => return Err(format!("read: {error}")),
        }
        if raw.len() > REPLY_BYTES_MAX {
            return Err(format!("reply over {REPLY_BYTES_MAX} bytes"));
        }
    }
}

/// Status line, headers and body (chunked, Content-Length, or to the end).
fn parse(raw: &[u8], head_request: bool) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        chunked: false,
        body: Vec::new(),
    };
    reply.chunked = reply
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"));
    if head_request || status == 204 || status == 304 {
        // No body may follow; keep whatever did, so a stray one shows up as a difference.
        reply.body = rest.to_vec();
        return Ok(reply);
    }
    reply.body = if reply.chunked {
        dechunk(rest)?
    } else if let Some(length) = reply.header("content-length") {
        let length: usize = length.parse().map_err(|_| "bad content-length")?;
        rest.get(..length)
            .ok_or_else(|| format!("body shorter than content-length {length}"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(reply)
}

/// Decode a chunked body; a missing last chunk is an error (the reply was cut short).
fn dechunk(mut input: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    // Each round consumes one chunk, so the input length bounds the rounds.
    for _ in 0..=input.len() {
        let line_end = input
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("chunked body without a final chunk")?;
        let size_text = String::from_utf8_lossy(&input[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        if size == 0 {
            return Ok(body);
        }
        let data = input
            .get(line_end + 2..line_end + 2 + size)
            .ok_or("chunk shorter than its size")?;
        body.extend_from_slice(data);
        input = input.get(line_end + 4 + size..).unwrap_or_default();
    }
    Err("chunked body did not end".into())
}
