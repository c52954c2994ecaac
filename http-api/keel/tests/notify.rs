//! keel under systemd's `Type=notify` (as `keel.service` runs it): the notifications it
//! sends on `$NOTIFY_SOCKET`, read from a datagram socket the test binds where systemd's
//! would be.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A member alone elects itself within an election timeout or two.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// keel, killed if the test fails before it stopped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification, or `None` once `deadline` has passed.
fn next_message(socket: &UnixDatagram, deadline: Instant) -> Option<String> {
    let left = deadline.checked_duration_since(Instant::now())?;
    socket
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
    let mut buffer = [0u8; 4096];
    let length = socket.recv(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer[..length]).into_owned())
}

// Goal: keel tells the service manager READY=1 only once it serves (a leader is known,
// after "ready to serve client requests"), then STOPPING=1 when SIGTERM stops it, and exits
// 0. Method: a one-member cluster with NOTIFY_SOCKET pointing at the test's socket; the
// /health answer is checked at the moment READY arrives; then SIGTERM.
#[test]
fn ready_once_it_serves_and_stopping_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let (client, peer) = (testkit::free_port(), testkit::free_port());
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut keel = KillOnDrop(
        Command::new(testkit::keel_binary())
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=default={peer_url}"))
            .env("NOTIFY_SOCKET", &socket_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + READY_DEADLINE;
    let ready = next_message(&socket, deadline);
    let health = ureq::get(&format!("{client_url}/health"))
        .call()
        .map(|answer| answer.into_string().unwrap_or_default());
    assert_eq!(
        ready.as_deref().map(str::trim),
        Some("READY=1"),
        "no READY=1 in time"
    );
    let health = health.unwrap();
    assert!(health.contains("\"health\":\"true\""), "{health}");

    let pid = keel.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let stopping = next_message(&socket, Instant::now() + READY_DEADLINE);
    assert_eq!(stopping.as_deref().map(str::trim), Some("STOPPING=1"));
    let status = testkit::wait_for(READY_DEADLINE, "keel to exit", || {
        keel.0.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}
