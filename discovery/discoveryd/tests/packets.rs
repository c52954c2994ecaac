//! Bad input on the packet path: DNS error codes for queries that parse but cannot be
//! answered, and a bounded, seeded stream of random and mutated packets over UDP and TCP
//! after which the server still answers.

mod support;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use rand::{Rng, SeedableRng};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;
use support::{tools_present, Stack};

/// How long a reply is waited for.
const REPLY_WAIT: Duration = Duration::from_secs(3);

/// Random and mutated packets sent over UDP, and TCP connections opened.
const UDP_PACKETS: usize = 3_000;
const TCP_CONNECTIONS: usize = 100;

fn query(name: &str, qtype: RecordType) -> Message {
    let mut message = Message::new(0x4b45, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    let name = Name::from_ascii(name).expect("a valid name");
    message.add_query(Query::query(name, qtype));
    message
}

fn udp_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bound");
    socket
        .set_read_timeout(Some(REPLY_WAIT))
        .expect("timeout set");
    socket
}

/// Sends `packet` to the server and reads the reply with the same id.
fn exchange(port: u16, packet: &[u8], id: u16) -> Option<Message> {
    let socket = udp_socket();
    socket.send_to(packet, ("127.0.0.1", port)).expect("sent");
    let mut buffer = [0_u8; 4096];
    loop {
        let (length, _) = socket.recv_from(&mut buffer).ok()?;
        if let Ok(reply) = Message::from_vec(&buffer[..length]) {
            if reply.metadata.id == id {
                return Some(reply);
            }
        }
    }
}

fn code_of(port: u16, message: &Message) -> ResponseCode {
    let packet = message.to_vec().expect("encoded");
    exchange(port, &packet, message.metadata.id)
        .unwrap_or_else(|| panic!("no reply to {message:?}"))
        .metadata
        .response_code
}

// Goal: queries that parse but cannot be answered get the right DNS error code: two
// questions FORMERR, no question FORMERR, an unknown class REFUSED, another opcode NOTIMP,
// EDNS version 1 BADVERS; and a well-formed query NOERROR.
// Method: each message built with hickory's encoder and sent over UDP.
#[test]
fn unanswerable_queries_get_dns_error_codes() {
    if !tools_present(false) {
        return;
    }
    let stack = Stack::start(&[]);
    let port = stack.port;
    assert_eq!(
        code_of(port, &query("skydns.local.", RecordType::SOA)),
        ResponseCode::NoError
    );
    let mut two = query("skydns.local.", RecordType::SOA);
    two.add_query(Query::query(
        Name::from_ascii("dns.skydns.local.").expect("name"),
        RecordType::A,
    ));
    assert_eq!(code_of(port, &two), ResponseCode::FormErr);
    let none = Message::new(7, MessageType::Query, OpCode::Query);
    assert_eq!(code_of(port, &none), ResponseCode::FormErr);
    let mut class = query("skydns.local.", RecordType::SOA);
    class.queries[0].set_query_class(DNSClass::Unknown(42));
    assert_eq!(code_of(port, &class), ResponseCode::Refused);
    let mut status = query("skydns.local.", RecordType::SOA);
    status.metadata.op_code = OpCode::Status;
    assert_eq!(code_of(port, &status), ResponseCode::NotImp);
    let mut edns = Edns::new();
    edns.set_version(1);
    let mut versioned = query("skydns.local.", RecordType::SOA);
    versioned.set_edns(edns);
    // BADVERS is 16, which hickory decodes under its other name, BADSIG (RFC 6891 §9).
    assert_eq!(
        u16::from(code_of(port, &versioned)),
        u16::from(ResponseCode::BADVERS)
    );
    let dig = stack.dig(&["skydns.local", "SOA", "+edns=1", "+noednsneg"]);
    assert_eq!(dig.status, "BADVERS", "{}", dig.output);
}

/// A packet derived from `base`: bytes flipped, cut, extended, or wholly random.
fn mutated(rng: &mut rand_chacha::ChaCha8Rng, base: &[u8]) -> Vec<u8> {
    match rng.gen_range(0..4) {
        0 => {
            let mut packet = base.to_vec();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..packet.len());
                packet[at] = rng.gen();
            }
            packet
        }
        1 => base[..rng.gen_range(0..base.len())].to_vec(),
        2 => {
            let mut packet = base.to_vec();
            let extra: usize = rng.gen_range(1..600);
            packet.extend((0..extra).map(|_| rng.gen::<u8>()));
            packet
        }
        _ => (0..rng.gen_range(0..700))
            .map(|_| rng.gen::<u8>())
            .collect(),
    }
}

/// Whether the server must answer `packet`: a query hickory itself decodes, with its one
/// question, and the query flag clear.
fn must_answer(packet: &[u8]) -> Option<u16> {
    let message = Message::from_vec(packet).ok()?;
    (message.metadata.message_type == MessageType::Query && message.queries.len() == 1)
        .then_some(message.metadata.id)
}

// Goal: random and mutated packets never stop the server: every mutated packet that still
// decodes as a one-question query gets a reply with its id, TCP streams with garbage, a
// length prefix promising 65,535 bytes and then closing, or an oversized query, leave it
// serving, and afterwards a valid query is answered.
// Method: a seeded stream (ChaCha8, seed 13), bounded in count: UDP_PACKETS packets,
// TCP_CONNECTIONS connections; then dig.
#[test]
fn random_and_mutated_packets_never_stop_the_server() {
    if !tools_present(false) {
        return;
    }
    let stack = Stack::start(&[]);
    stack.curl_put(
        "/skydns/local/skydns/web/x1",
        r#"{"host":"10.0.0.1"}"#,
        None,
    );
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let bases: Vec<Vec<u8>> = [
        query("web.skydns.local.", RecordType::A),
        query("web.skydns.local.", RecordType::SRV),
        query("x1.web.skydns.local.", RecordType::TXT),
        query("1.0.0.10.in-addr.arpa.", RecordType::PTR),
    ]
    .iter()
    .map(|message| message.to_vec().expect("encoded"))
    .collect();
    let socket = udp_socket();
    let mut answered = 0;
    for n in 0..UDP_PACKETS {
        let packet = mutated(&mut rng, &bases[n % bases.len()]);
        match must_answer(&packet) {
            Some(id) => {
                assert!(
                    exchange(stack.port, &packet, id).is_some(),
                    "no reply to {packet:?}"
                );
                answered += 1;
            }
            None => {
                socket
                    .send_to(&packet, ("127.0.0.1", stack.port))
                    .expect("sent");
            }
        }
    }
    assert!(
        answered > UDP_PACKETS / 10,
        "only {answered} mutated queries decoded"
    );
    for n in 0..TCP_CONNECTIONS {
        let mut stream = TcpStream::connect(("127.0.0.1", stack.port)).expect("connected");
        let packet = match n % 3 {
            0 => [&[0xff, 0xff][..], &bases[0]].concat(),
            1 => mutated(&mut rng, &bases[n % bases.len()]),
            _ => {
                let mut oversized = vec![0xff, 0xff];
                oversized.extend((0..65_535).map(|_| rng.gen::<u8>()));
                oversized
            }
        };
        let _ = stream.write_all(&packet);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        stream
            .set_read_timeout(Some(REPLY_WAIT))
            .expect("timeout set");
        let _ = stream.read_to_end(&mut Vec::new());
    }
    let reply = stack.dig(&["web.skydns.local", "A"]);
    assert_eq!(reply.data("A"), ["10.0.0.1"], "{}", reply.output);
    let reply = stack.dig(&["web.skydns.local", "A", "+tcp"]);
    assert_eq!(reply.data("A"), ["10.0.0.1"], "{}", reply.output);
}

// Goal: bursts of questions from several clients, read and answered in batches (one
// sendmmsg for the replies of the datagrams waiting), each get exactly their own replies, to
// the client that asked.
// Method: 10 rounds; in each, 4 sockets send 25 questions with distinct ids without waiting
// (100 in flight: within the sockets' default buffers), then each reads until it has every
// one of its ids or the wait runs out.
#[test]
fn bursts_of_questions_get_every_reply_to_their_asker() {
    if !tools_present(false) {
        return;
    }
    let stack = Stack::start(&["--no-rec"]);
    let sockets: Vec<UdpSocket> = (0..4).map(|_| udp_socket()).collect();
    for round in 0..10_u16 {
        let ids = |n: usize| {
            let first = u16::try_from(n).expect("small") * 1000 + round * 25;
            first..first + 25
        };
        for (n, socket) in sockets.iter().enumerate() {
            for id in ids(n) {
                let mut message = query("skydns.local", RecordType::SOA);
                message.metadata.id = id;
                let packet = message.to_vec().expect("encoded");
                socket
                    .send_to(&packet, ("127.0.0.1", stack.port))
                    .expect("sent");
            }
        }
        for (n, socket) in sockets.iter().enumerate() {
            let mut seen = std::collections::BTreeSet::new();
            let mut buffer = [0_u8; 4096];
            while seen.len() < 25 {
                let Ok((length, _)) = socket.recv_from(&mut buffer) else {
                    break;
                };
                let reply = Message::from_vec(&buffer[..length]).expect("a DNS reply");
                let id = reply.metadata.id;
                assert!(
                    ids(n).contains(&id),
                    "client {n} got reply {id} in round {round}"
                );
                assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
                assert!(seen.insert(id), "reply {id} twice");
            }
            assert_eq!(
                seen.len(),
                25,
                "client {n}, round {round}: {} of 25 replies",
                seen.len()
            );
        }
    }
}
