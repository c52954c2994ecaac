//! The UDP listener: one thread per core (from tokio's blocking pool) reads datagrams from
//! the one socket in blocking calls, so a datagram wakes the thread that will answer it and no
//! other, and answers each in place: an answer from the index costs no task, no channel and no
//! wake-up of another thread. Only a request whose answer waits (forwarding, a stub zone,
//! upstream lookups) is moved to a task of its own on the runtime. hickory's protocol crate
//! still reads every request and writes every reply; the [`Handler`] is the same one the TCP
//! listener uses.
//!
//! Invariants, as hickory's own UDP listener: a datagram shorter than a header, a response,
//! or one from port 0 is dropped; one whose header reads but whose body does not gets
//! FORMERR; every other request gets the handler's reply, cut to the client's buffer (512
//! bytes without EDNS) with TC set by hickory's encoder. Every worker sees shutdown within
//! [`STOP_CHECK`]; the workers and the tasks they started are on the caller's tracker.

use crate::handler::Handler;
use hickory_proto::op::{Header, Message, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::net::NetError;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use rustix::net::addr::SocketAddrArg;
use rustix::net::{MMsgHdr, RecvFlags, SendAncillaryBuffer, SendFlags, SocketAddrAny};
use std::future::Future;
use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The largest datagram read; a longer one is cut by the kernel and then fails to parse
/// (FORMERR), as with hickory's listener.
const DATAGRAM_MAX: usize = 4096;

/// No EDNS: RFC 1035's 512-byte limit for UDP.
const PLAIN_DNS_MAX: u16 = 512;

/// A worker blocked on an idle socket looks at the shutdown flag this often.
pub const STOP_CHECK: Duration = Duration::from_millis(100);

/// Datagrams read without blocking after the first, and their replies sent in one
/// `sendmmsg`, at most.
const BATCH_MAX: usize = 32;

/// Replies waiting for the worker's next `sendmmsg`.
type Outbox = Mutex<Vec<(Vec<u8>, SocketAddr)>>;

/// Serves `socket` with `workers` worker threads (at least one) on `tasks` until `shutdown`.
///
/// # Errors
/// The socket cannot be made blocking with a read timeout.
pub fn serve(
    socket: tokio::net::UdpSocket,
    handler: &Arc<Handler>,
    workers: usize,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) -> std::io::Result<()> {
    let socket = socket.into_std()?;
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(STOP_CHECK))?;
    let socket = Arc::new(socket);
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopped);
    let shutdown = shutdown.clone();
    tasks.spawn(async move {
        shutdown.cancelled().await;
        flag.store(true, Ordering::Relaxed);
    });
    for _ in 0..workers.max(1) {
        let worker = Worker {
            socket: Arc::clone(&socket),
            handler: Arc::clone(handler),
            tasks: tasks.clone(),
            stopped: Arc::clone(&stopped),
        };
        tasks.spawn_blocking(move || worker.run());
    }
    Ok(())
}

/// One receive loop.
struct Worker {
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    tasks: TaskTracker,
    stopped: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        let mut buffer = vec![0_u8; DATAGRAM_MAX];
        let outbox: Arc<Outbox> = Arc::new(Mutex::new(Vec::with_capacity(BATCH_MAX)));
        while !self.stopped.load(Ordering::Relaxed) {
            match self.socket.recv_from(&mut buffer) {
                Ok((length, src)) => {
                    self.dispatch(&buffer[..length], src, &outbox);
                    self.drain(&mut buffer, &outbox);
                    self.flush(&outbox);
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => tracing::debug!(%error, "a UDP receive failed"),
            }
        }
    }

    /// Answers the datagrams already waiting, without blocking, up to a batch.
    fn drain(&self, buffer: &mut [u8], outbox: &Arc<Outbox>) {
        for _ in 1..BATCH_MAX {
            let received = rustix::net::recvfrom(&*self.socket, &mut *buffer, RecvFlags::DONTWAIT);
            let Ok((length, _, Some(src))) = received else {
                return;
            };
            let Ok(src) = SocketAddr::try_from(src) else {
                continue;
            };
            self.dispatch(&buffer[..length.min(buffer.len())], src, outbox);
        }
    }

    /// Sends the batch's replies, in one `sendmmsg` when there are several.
    fn flush(&self, outbox: &Outbox) {
        let mut replies = match outbox.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let [(bytes, dst)] = replies.as_slice() {
            if let Err(error) = self.socket.send_to(bytes, *dst) {
                tracing::debug!(%error, %dst, "a reply was not sent");
            }
            replies.clear();
            return;
        }
        let addresses: Vec<SocketAddrAny> = replies.iter().map(|(_, dst)| dst.as_any()).collect();
        let slices: Vec<[IoSlice<'_>; 1]> = replies
            .iter()
            .map(|(bytes, _)| [IoSlice::new(bytes)])
            .collect();
        let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = replies
            .iter()
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut messages: Vec<MMsgHdr<'_>> = addresses
            .iter()
            .zip(&slices)
            .zip(controls.iter_mut())
            .map(|((address, slice), control)| MMsgHdr::new_with_addr(address, slice, control))
            .collect();
        let mut sent = 0;
        while sent < messages.len() {
            match rustix::net::sendmmsg(&*self.socket, &mut messages[sent..], SendFlags::empty()) {
                Ok(0) => break,
                Ok(count) => sent += count,
                Err(error) => {
                    // The first message of the rest failed: skip it, send the others.
                    tracing::debug!(%error, "a reply was not sent");
                    sent += 1;
                }
            }
        }
        drop(messages);
        replies.clear();
    }

    /// Answers one datagram: in place when the answer is ready at once (its reply joins
    /// the batch's), else on a new task (which sends its reply itself).
    fn dispatch(&self, datagram: &[u8], src: SocketAddr, outbox: &Arc<Outbox>) {
        if src.port() == 0 {
            return;
        }
        let request = match Request::from_bytes(datagram.to_vec(), src, Protocol::Udp) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, %src, "a request that does not parse");
                self.reply_malformed(datagram, src);
                return;
            }
        };
        if request.metadata.message_type == MessageType::Response {
            return;
        }
        let in_place = Arc::new(AtomicBool::new(true));
        let responder = Responder {
            socket: Arc::clone(&self.socket),
            dst: src,
            outbox: Arc::clone(outbox),
            in_place: Arc::clone(&in_place),
        };
        let handler = Arc::clone(&self.handler);
        let mut answer = Box::pin(async move {
            handler
                .handle_request::<_, TokioTime>(&request, responder)
                .await;
        });
        // One poll: an answer from the index completes here. One that waits has registered
        // this no-op waker; the task it moves to polls it again with its own.
        if answer
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
        {
            in_place.store(false, Ordering::Release);
            self.tasks.spawn(answer);
        }
    }

    /// FORMERR for a datagram whose header reads; nothing for one shorter than a header.
    fn reply_malformed(&self, datagram: &[u8], src: SocketAddr) {
        let Ok(header) = Header::read(&mut BinDecoder::new(datagram)) else {
            return;
        };
        if header.metadata.message_type == MessageType::Response {
            return;
        }
        let mut message = Message::new(
            header.metadata.id,
            MessageType::Response,
            header.metadata.op_code,
        );
        message.metadata = Metadata::response_from_request(&header.metadata);
        message.metadata.response_code = ResponseCode::FormErr;
        match message.to_bytes() {
            Ok(bytes) => {
                if let Err(error) = self.socket.send_to(&bytes, src) {
                    tracing::debug!(%error, %src, "FORMERR not sent");
                }
            }
            Err(error) => tracing::debug!(%error, "FORMERR not encoded"),
        }
    }
}

/// Sends one reply to its client through the shared socket.
#[derive(Clone)]
struct Responder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
    /// The worker's batch, joined while the answer is made in place.
    outbox: Arc<Outbox>,
    /// True during the worker's one poll; the task the answer moves to sends directly.
    in_place: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl ResponseHandler for Responder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let (info, bytes) = encode(response)?;
        if self.in_place.load(Ordering::Acquire) {
            match self.outbox.lock() {
                Ok(mut replies) => replies.push((bytes, self.dst)),
                Err(poisoned) => poisoned.into_inner().push((bytes, self.dst)),
            }
            return Ok(info);
        }
        // A blocking send: UDP waits only while the socket's send buffer is full.
        self.socket.send_to(&bytes, self.dst)?;
        Ok(info)
    }
}

/// The reply's bytes within the client's buffer; a reply that cannot be encoded becomes a
/// bare SERVFAIL header (as hickory's own listener does).
fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> Result<(ResponseInfo, Vec<u8>), NetError> {
    let metadata = *response.metadata();
    let max_size = response
        .edns()
        .map_or(PLAIN_DNS_MAX, |edns| edns.max_payload());
    let mut bytes = Vec::with_capacity(usize::from(PLAIN_DNS_MAX));
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max_size);
    match response.destructive_emit(&mut encoder) {
        Ok(info) => Ok((info, bytes)),
        Err(error) => {
            tracing::warn!(%error, "a reply could not be encoded; SERVFAIL sent");
            let mut failed = Metadata::new(metadata.id, MessageType::Response, metadata.op_code);
            failed.response_code = ResponseCode::ServFail;
            let header = Header {
                metadata: failed,
                counts: hickory_proto::op::HeaderCounts::default(),
            };
            let mut bytes = Vec::with_capacity(12);
            header
                .emit(&mut BinEncoder::new(&mut bytes))
                .map_err(|error| NetError::from(error.to_string()))?;
            Ok((ResponseInfo::from(header), bytes))
        }
    }
}
