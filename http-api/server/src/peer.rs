//! The member-to-member raft transport on the peer URL.
//!
//! One TCP connection per ordered pair of members, opened by the sender. The connection starts
//! with a handshake (magic, version, cluster id, sender id, receiver id) that the receiver
//! checks, so that members of different clusters never exchange messages. Then it carries
//! length-prefixed protobuf raft messages. The sender drains everything queued into one write,
//! so many messages share one syscall under load (batching on top of raft's own).
//!
//! Bounds: each peer's queue holds `PEER_QUEUE_MAX` messages; when it is full the message is
//! dropped (raft retransmits). A frame is at most `FRAME_BYTES_MAX`.

use kvstore::eraftpb::{Message, MessageType};
use kvstore::{ClusterId, NodeHandle, NodeId, Transport};
use protobuf::Message as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Messages queued per peer.
const PEER_QUEUE_MAX: usize = 8_192;
/// Largest frame accepted or sent (snapshots do not travel in frames).
const FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;
/// A raft snapshot travels on a connection of its own, in chunks of at most this size, so
/// heartbeats and appends keep flowing on the main connection meanwhile.
const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;
/// Largest snapshot accepted (the receiver holds it in memory to rebuild its store).
const SNAPSHOT_BYTES_MAX: u64 = 16 * 1024 * 1024 * 1024;
/// Prefix of a snapshot connection's handshake (otherwise the same as `MAGIC`'s).
const SNAPSHOT_MAGIC: &[u8; 4] = b"KSNP";
/// Bytes gathered into one write before it is flushed.
const WRITE_BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Reconnect backoff bounds.
const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(20);
const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Handshake prefix and version.
const MAGIC: &[u8; 4] = b"KEEL";
const PROTOCOL_VERSION: u8 = 1;
/// Prefix of a join request: a member started with `--initial-cluster-state existing` asks
/// for its id, the cluster id and the members, by its own peer URLs.
const JOIN_MAGIC: &[u8; 4] = b"KJOI";
/// Largest join request or answer body.
const JOIN_BYTES_MAX: usize = 1024 * 1024;
/// Handshake answers.
const ACCEPTED: u8 = 0;
const WRONG_CLUSTER: u8 = 1;
const WRONG_MEMBER: u8 = 2;
/// The sender was removed from the cluster: it must stop.
const REMOVED: u8 = 3;

/// Per-peer delivery counters (for `/v2/stats/leader`).
#[derive(Debug, Default)]
pub struct PeerStats {
    counters: HashMap<NodeId, (AtomicU64, AtomicU64)>,
}

impl PeerStats {
    /// (messages written, messages dropped) for a peer.
    #[must_use]
    pub fn counts(&self, peer: NodeId) -> (u64, u64) {
        self.counters.get(&peer).map_or((0, 0), |(sent, dropped)| {
            (
                sent.load(Ordering::Relaxed),
                dropped.load(Ordering::Relaxed),
            )
        })
    }

    fn sent(&self, peer: NodeId, count: u64) {
        if let Some((sent, _)) = self.counters.get(&peer) {
            sent.fetch_add(count, Ordering::Relaxed);
        }
    }

    fn dropped(&self, peer: NodeId) {
        if let Some((_, dropped)) = self.counters.get(&peer) {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A member that joined while running: its id, `host:port`, and its queue's receiving end.
type Joined = (NodeId, String, mpsc::Receiver<Message>);

/// The raft thread's side: routes each message to its peer's queue without blocking.
pub struct PeerTransport {
    queues: HashMap<u64, mpsc::Sender<Message>>,
    stats: Arc<PeerStats>,
    /// Members added while running go to `run_senders`, which starts their senders. Unbounded
    /// in type only: one entry per applied addition, and `add_peer` never sends one twice.
    joined: mpsc::UnboundedSender<Joined>,
}

/// The queues' other ends, to be handed to `run_senders` once the node is running.
pub struct PeerQueues {
    receivers: Vec<(NodeId, mpsc::Receiver<Message>)>,
    joined: mpsc::UnboundedReceiver<Joined>,
}

/// Build the transport for the given peers (not including this member).
#[must_use]
pub fn transport(peers: &[NodeId]) -> (PeerTransport, PeerQueues, Arc<PeerStats>) {
    let mut queues = HashMap::new();
    let mut receivers = Vec::new();
    let mut counters = HashMap::new();
    for peer in peers {
        let (sender, receiver) = mpsc::channel(PEER_QUEUE_MAX);
        queues.insert(peer.0, sender);
        receivers.push((*peer, receiver));
        counters.insert(*peer, (AtomicU64::new(0), AtomicU64::new(0)));
    }
    let stats = Arc::new(PeerStats { counters });
    let (joined, joined_receiver) = mpsc::unbounded_channel();
    (
        PeerTransport {
            queues,
            stats: Arc::clone(&stats),
            joined,
        },
        PeerQueues {
            receivers,
            joined: joined_receiver,
        },
        stats,
    )
}

/// `host:port` of a peer URL such as `http://10.0.0.1:2380/`.
#[must_use]
pub fn peer_address(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split('/').next()?;
    (!authority.is_empty()).then(|| authority.to_owned())
}

impl Transport for PeerTransport {
    fn add_peer(&mut self, id: u64, peer_url: &str) {
        if self.queues.contains_key(&id) {
            return;
        }
        let Some(address) = peer_address(peer_url) else {
            tracing::warn!(
                peer = format_args!("{id:x}"),
                url = peer_url,
                "unusable peer URL"
            );
            return;
        };
        let (sender, receiver) = mpsc::channel(PEER_QUEUE_MAX);
        self.queues.insert(id, sender);
        let _ = self.joined.send((NodeId(id), address, receiver));
    }

    fn update_peer(&mut self, id: u64, peer_url: &str) {
        // Dropping the queue ends the old sender; a new one connects to the new address.
        self.queues.remove(&id);
        self.add_peer(id, peer_url);
    }

    fn send(&mut self, messages: Vec<Message>) {
        for message in messages {
            let to = message.to;
            match self.queues.get(&to) {
                Some(queue) => {
                    if queue.try_send(message).is_err() {
                        self.stats.dropped(NodeId(to));
                    }
                }
                None => tracing::debug!(
                    to = format_args!("{to:x}"),
                    "message to unknown peer dropped"
                ),
            }
        }
    }
}

/// Where and as whom the senders connect.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// This member.
    pub from: NodeId,
    /// The cluster.
    pub cluster_id: ClusterId,
    /// Each peer's `host:port`, from its peer URL.
    pub addresses: HashMap<NodeId, String>,
}

/// Run one sender task per peer until `shutdown`.
pub fn run_senders(
    queues: PeerQueues,
    config: &SenderConfig,
    node: &NodeHandle,
    stats: &Arc<PeerStats>,
    tracker: &TaskTracker,
    shutdown: &CancellationToken,
) {
    let senders = Senders {
        config: config.clone(),
        node: node.clone(),
        stats: Arc::clone(stats),
        tracker: tracker.clone(),
        shutdown: shutdown.clone(),
    };
    for (peer, receiver) in queues.receivers {
        let Some(address) = config.addresses.get(&peer).cloned() else {
            tracing::warn!(peer = %peer, "no peer URL for member; its messages are dropped");
            continue;
        };
        senders.spawn(peer, address, receiver);
    }
    // Members added later get their senders as their addition is applied.
    let mut joined = queues.joined;
    tracker.spawn(async move {
        loop {
            let next = tokio::select! {
                next = joined.recv() => next,
                () = senders.shutdown.cancelled() => None,
            };
            let Some((peer, address, receiver)) = next else {
                return;
            };
            tracing::info!(peer = %peer, %address, "sending to a new member");
            senders.spawn(peer, address, receiver);
        }
    });
}

/// What every sender task shares; starts one per peer.
struct Senders {
    config: SenderConfig,
    node: NodeHandle,
    stats: Arc<PeerStats>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Senders {
    fn spawn(&self, peer: NodeId, address: String, receiver: mpsc::Receiver<Message>) {
        let sender = Sender {
            peer,
            address,
            handshake: handshake(self.config.cluster_id, self.config.from, peer),
            node: self.node.clone(),
            stats: Arc::clone(&self.stats),
        };
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = sender.run(receiver) => {}
                () = shutdown.cancelled() => {}
            }
        });
    }
}

fn handshake(cluster_id: ClusterId, from: NodeId, to: NodeId) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(29);
    bytes.extend_from_slice(MAGIC);
    bytes.push(PROTOCOL_VERSION);
    bytes.extend_from_slice(&cluster_id.0.to_be_bytes());
    bytes.extend_from_slice(&from.0.to_be_bytes());
    bytes.extend_from_slice(&to.0.to_be_bytes());
    bytes
}

struct Sender {
    peer: NodeId,
    address: String,
    handshake: Vec<u8>,
    node: NodeHandle,
    stats: Arc<PeerStats>,
}

impl Sender {
    async fn run(self, mut receiver: mpsc::Receiver<Message>) {
        let mut backoff = RECONNECT_BACKOFF_MIN;
        loop {
            match self.connect().await {
                Ok(stream) => {
                    backoff = RECONNECT_BACKOFF_MIN;
                    if self.pump(stream, &mut receiver).await.is_none() {
                        return;
                    }
                }
                Err(error) => tracing::debug!(peer = %self.peer, %error, "peer unreachable"),
            }
            self.node.report_unreachable(self.peer);
            // Messages queued while disconnected are stale; raft resends what matters, except
            // a snapshot, which raft waits for until it is told it failed.
            let mut lost_snapshot = false;
            while let Ok(message) = receiver.try_recv() {
                lost_snapshot |= message.get_msg_type() == MessageType::MsgSnapshot;
            }
            if lost_snapshot {
                self.node.report_snapshot_failure(self.peer);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
        }
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let mut stream = TcpStream::connect(&self.address).await?;
        stream.set_nodelay(true)?;
        stream.write_all(&self.handshake).await?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await?;
        match answer[0] {
            ACCEPTED => Ok(stream),
            REMOVED => {
                tracing::error!(peer = %self.peer, "a peer refused this member: it was removed from the cluster");
                self.node.mark_removed();
                Err(std::io::Error::other(
                    "this member was removed from the cluster",
                ))
            }
            WRONG_CLUSTER => Err(std::io::Error::other("peer belongs to another cluster")),
            _ => Err(std::io::Error::other("peer is not the member we expected")),
        }
    }

    /// Write queued messages until the connection fails (`Some`) or the queue closes (`None`).
    async fn pump(
        &self,
        mut stream: TcpStream,
        receiver: &mut mpsc::Receiver<Message>,
    ) -> Option<()> {
        let mut buffer = Vec::new();
        loop {
            let mut next = Some(receiver.recv().await?);
            let mut count = 0;
            while let Some(message) = next.take() {
                if message.get_msg_type() == MessageType::MsgSnapshot {
                    self.stream_snapshot(message);
                } else {
                    encode_frame(&message, &mut buffer);
                    count += 1;
                }
                if buffer.len() < WRITE_BATCH_BYTES_MAX {
                    next = receiver.try_recv().ok();
                }
            }
            if buffer.is_empty() {
                continue;
            }
            if let Err(error) = stream.write_all(&buffer).await {
                tracing::debug!(peer = %self.peer, %error, "peer connection lost");
                return Some(());
            }
            self.stats.sent(self.peer, count);
            buffer.clear();
        }
    }

    /// Sends a snapshot on a connection of its own, in chunks; a failure is reported to raft,
    /// which sends a new snapshot.
    fn stream_snapshot(&self, message: Message) {
        let mut hello = self.handshake.clone();
        hello[..4].copy_from_slice(SNAPSHOT_MAGIC);
        let (address, node, peer) = (self.address.clone(), self.node.clone(), self.peer);
        tokio::spawn(async move {
            let bytes = message.get_snapshot().get_data().len();
            match send_snapshot(&address, &hello, message).await {
                Ok(true) => tracing::info!(peer = %peer, bytes, "snapshot sent"),
                Ok(false) => {
                    tracing::warn!(peer = %peer, "snapshot refused by a busy peer; it will be sent again");
                    node.report_snapshot_failure(peer);
                }
                Err(error) => {
                    tracing::warn!(peer = %peer, %error, "snapshot not delivered; it will be sent again");
                    node.report_snapshot_failure(peer);
                }
            }
        });
    }
}

/// The snapshot connection: handshake, the message without its data (length-prefixed), the
/// data's length (u64), the data in length-prefixed chunks; the receiver answers 1 when raft
/// took the snapshot.
async fn send_snapshot(address: &str, hello: &[u8], mut message: Message) -> std::io::Result<bool> {
    let data = std::mem::take(&mut message.mut_snapshot().data);
    let mut stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    stream.write_all(hello).await?;
    let answer = stream.read_u8().await?;
    if answer != ACCEPTED {
        return Err(std::io::Error::other(format!(
            "peer refused the snapshot connection ({answer})"
        )));
    }
    let header = message.write_to_bytes().map_err(std::io::Error::other)?;
    stream
        .write_all(
            &u32::try_from(header.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        )
        .await?;
    stream.write_all(&header).await?;
    stream.write_all(&(data.len() as u64).to_be_bytes()).await?;
    for chunk in data.chunks(SNAPSHOT_CHUNK_BYTES) {
        stream
            .write_all(&u32::try_from(chunk.len()).unwrap_or(u32::MAX).to_be_bytes())
            .await?;
        stream.write_all(chunk).await?;
    }
    stream.flush().await?;
    Ok(stream.read_u8().await? == 1)
}

/// Receives one snapshot sent by `send_snapshot` from member `from` and hands it to raft.
async fn receive_snapshot(
    mut stream: BufReader<TcpStream>,
    node: &NodeHandle,
    from: u64,
) -> std::io::Result<()> {
    let length = stream.read_u32().await? as usize;
    if length > FRAME_BYTES_MAX {
        return Err(std::io::Error::other("snapshot header too large"));
    }
    let mut header = vec![0u8; length];
    stream.read_exact(&mut header).await?;
    let mut message = Message::parse_from_bytes(&header).map_err(std::io::Error::other)?;
    if message.from != from || message.get_msg_type() != MessageType::MsgSnapshot {
        return Err(std::io::Error::other(
            "not a snapshot from the handshake's sender",
        ));
    }
    let total = stream.read_u64().await?;
    if total > SNAPSHOT_BYTES_MAX {
        return Err(std::io::Error::other("snapshot too large"));
    }
    let total = usize::try_from(total).map_err(std::io::Error::other)?;
    // Grown chunk by chunk: the announced length is not trusted for one big allocation.
    let mut data = Vec::with_capacity(total.min(FRAME_BYTES_MAX));
    while data.len() < total {
        let chunk = stream.read_u32().await? as usize;
        if chunk == 0 || chunk > SNAPSHOT_CHUNK_BYTES || data.len() + chunk > total {
            return Err(std::io::Error::other("bad snapshot chunk"));
        }
        let start = data.len();
        data.resize(start + chunk, 0);
        stream.read_exact(&mut data[start..]).await?;
    }
    message.mut_snapshot().data = data.into();
    let taken = node.step(message);
    stream.get_mut().write_all(&[u8::from(taken)]).await
}

fn encode_frame(message: &Message, buffer: &mut Vec<u8>) {
    let Ok(bytes) = message.write_to_bytes() else {
        return;
    };
    if bytes.len() > FRAME_BYTES_MAX {
        // The receiver would refuse it; say why loudly.
        tracing::error!(
            bytes = bytes.len(),
            limit = FRAME_BYTES_MAX,
            kind = ?message.get_msg_type(),
            "a raft message is larger than a peer frame may be: not sent"
        );
        return;
    }
    let Ok(length) = u32::try_from(bytes.len()) else {
        return;
    };
    buffer.extend_from_slice(&length.to_be_bytes());
    buffer.extend_from_slice(&bytes);
}

/// Accept peer connections until `shutdown`, handing their messages to `node`.
pub async fn serve_peers(
    listener: TcpListener,
    node: NodeHandle,
    cluster_id: ClusterId,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors or similar: pause instead of spinning.
            tokio::time::sleep(RECONNECT_BACKOFF_MIN).await;
            continue;
        };
        let node = node.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            tokio::select! {
                result = receive(stream, &node, cluster_id) => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "peer connection closed");
                    }
                }
                () = shutdown.cancelled() => {}
            }
        });
    }
}

async fn receive(
    stream: TcpStream,
    node: &NodeHandle,
    cluster_id: ClusterId,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut stream = BufReader::with_capacity(256 * 1024, stream);
    let mut hello = [0u8; 29];
    stream.read_exact(&mut hello[..4]).await?;
    if &hello[0..4] == JOIN_MAGIC {
        return answer_join(stream, node, cluster_id).await;
    }
    let snapshot = &hello[0..4] == SNAPSHOT_MAGIC;
    stream.read_exact(&mut hello[4..]).await?;
    if (&hello[0..4] != MAGIC && !snapshot) || hello[4] != PROTOCOL_VERSION {
        return Err(std::io::Error::other("not a keel peer"));
    }
    let field = |at: usize| u64::from_be_bytes(hello[at..at + 8].try_into().unwrap_or([0; 8]));
    let (their_cluster, from, to) = (field(5), field(13), field(21));
    let answer = if their_cluster != cluster_id.0 {
        WRONG_CLUSTER
    } else if node.state().members.is_removed(NodeId(from)) {
        REMOVED
    } else if to != node.id().0 {
        WRONG_MEMBER
    } else {
        ACCEPTED
    };
    stream.get_mut().write_all(&[answer]).await?;
    if answer != ACCEPTED {
        tracing::warn!(
            from = format_args!("{from:x}"),
            cluster = format_args!("{their_cluster:x}"),
            "refused a peer: another cluster, another member, or a removed member"
        );
        return Ok(());
    }
    if snapshot {
        return receive_snapshot(stream, node, from).await;
    }
    let mut frame = Vec::new();
    loop {
        let length = stream.read_u32().await? as usize;
        if length > FRAME_BYTES_MAX {
            return Err(std::io::Error::other("frame too large"));
        }
        frame.resize(length, 0);
        stream.read_exact(&mut frame).await?;
        let message = Message::parse_from_bytes(&frame).map_err(std::io::Error::other)?;
        if message.from != from {
            return Err(std::io::Error::other(
                "message sender does not match the handshake",
            ));
        }
        node.step(message);
    }
}

/// What a member being added learns from the cluster when it first starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinAnswer {
    /// The cluster's id.
    pub cluster_id: u64,
    /// The id the cluster gave the new member (`POST /v2/members`).
    pub member_id: u64,
    /// Every current member: id and peer URLs (the new one included).
    pub members: Vec<(u64, Vec<String>)>,
}

/// The join request of a member whose peer URLs are `peer_urls`.
#[must_use]
pub fn join_request(peer_urls: &[String]) -> Vec<u8> {
    let body = peer_urls.join("\n");
    let mut bytes = JOIN_MAGIC.to_vec();
    bytes.push(PROTOCOL_VERSION);
    bytes.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes());
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// Why a join brought no identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The member answered and refused, in its words (no member has these peer URLs: add
    /// it first); asking again will not help.
    #[error("{0}")]
    Refused(String),
    /// No answer could be read or understood; another member, or a later try, may do.
    #[error("{0}")]
    Unreadable(String),
}

/// Reads the answer to `join_request` (blocking: the joining member asks before it starts).
///
/// # Errors
/// [`JoinError::Refused`] with the peer's refusal, [`JoinError::Unreadable`] for an I/O or
/// format problem.
pub fn read_join_answer(stream: &mut impl std::io::Read) -> Result<JoinAnswer, JoinError> {
    let unreadable = |text: String| JoinError::Unreadable(text);
    let mut head = [0u8; 5];
    stream
        .read_exact(&mut head)
        .map_err(|e| unreadable(format!("reading the answer: {e}")))?;
    let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if length > JOIN_BYTES_MAX {
        return Err(unreadable("answer too large".into()));
    }
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .map_err(|e| unreadable(format!("reading the answer: {e}")))?;
    let body = String::from_utf8(body).map_err(|_| unreadable("answer is not text".into()))?;
    if head[0] != ACCEPTED {
        return Err(JoinError::Refused(body));
    }
    parse_join_answer(&body).map_err(unreadable)
}

/// The accepted answer's lines: `cluster <id>`, `member <id>`, `peer <id> <urls>`.
fn parse_join_answer(body: &str) -> Result<JoinAnswer, String> {
    let mut answer = JoinAnswer {
        cluster_id: 0,
        member_id: 0,
        members: Vec::new(),
    };
    let hex = |text: &str| u64::from_str_radix(text, 16).map_err(|_| format!("bad id {text:?}"));
    for line in body.lines() {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("cluster"), Some(id), None) => answer.cluster_id = hex(id)?,
            (Some("member"), Some(id), None) => answer.member_id = hex(id)?,
            (Some("peer"), Some(id), Some(urls)) => answer
                .members
                .push((hex(id)?, urls.split(',').map(str::to_owned).collect())),
            _ => return Err(format!("unexpected answer line {line:?}")),
        }
    }
    if answer.cluster_id == 0 || answer.member_id == 0 || answer.members.is_empty() {
        return Err("incomplete answer".into());
    }
    Ok(answer)
}

async fn answer_join(
    mut stream: BufReader<TcpStream>,
    node: &NodeHandle,
    cluster_id: ClusterId,
) -> std::io::Result<()> {
    let version = stream.read_u8().await?;
    let length = stream.read_u32().await? as usize;
    if version != PROTOCOL_VERSION || length > JOIN_BYTES_MAX {
        return Err(std::io::Error::other("bad join request"));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    let urls: Vec<String> = String::from_utf8_lossy(&body)
        .lines()
        .map(str::to_owned)
        .collect();
    let (status, text) = {
        let state = node.state();
        match state.members.peer_url_owner(&urls) {
            Some(id) => {
                let mut text = format!("cluster {:x}\nmember {:x}\n", cluster_id.0, id.0);
                for member in state.members.iter() {
                    text.push_str(&format!(
                        "peer {:x} {}\n",
                        member.id.0,
                        member.peer_urls.join(",")
                    ));
                }
                (ACCEPTED, text)
            }
            None => (
                WRONG_MEMBER,
                format!(
                    "no member of cluster {:x} has peer URLs {}: add it first with POST /v2/members",
                    cluster_id.0,
                    urls.join(",")
                ),
            ),
        }
    };
    let mut answer = vec![status];
    answer.extend_from_slice(&u32::try_from(text.len()).unwrap_or(0).to_be_bytes());
    answer.extend_from_slice(text.as_bytes());
    stream.get_mut().write_all(&answer).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is the failure report

    use super::*;

    fn answer(status: u8, body: &str) -> Vec<u8> {
        let mut bytes = vec![status];
        bytes.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    /// Goal: a joining member tells a refusal (stop: asking again will not help) from an
    /// answer it could not read (try another member), by kind and not by its text. Method:
    /// an accepted answer, a refusal, a truncated answer and a malformed line.
    #[test]
    fn join_answers_are_told_apart_by_kind() {
        let accepted = answer(
            ACCEPTED,
            "cluster a1\nmember b2\npeer b2 http://x:1,http://y:2\n",
        );
        let parsed = read_join_answer(&mut accepted.as_slice()).unwrap();
        assert_eq!((parsed.cluster_id, parsed.member_id), (0xa1, 0xb2));
        assert_eq!(
            parsed.members,
            vec![(0xb2, vec!["http://x:1".to_owned(), "http://y:2".to_owned()])]
        );
        let refused = answer(WRONG_MEMBER, "no member has peer URLs http://z:3");
        assert_eq!(
            read_join_answer(&mut refused.as_slice()).unwrap_err(),
            JoinError::Refused("no member has peer URLs http://z:3".into())
        );
        let truncated = &accepted[..accepted.len() - 4];
        assert!(matches!(
            read_join_answer(&mut &truncated[..]),
            Err(JoinError::Unreadable(_))
        ));
        let odd = answer(ACCEPTED, "cluster a1\nsomething else\n");
        assert!(matches!(
            read_join_answer(&mut odd.as_slice()),
            Err(JoinError::Unreadable(_))
        ));
    }
}
