//! The reflector against the reference: one etcd 3.4 member (`/usr/bin/etcd --enable-v2`,
//! Debian's `etcd-server`) on free loopback ports in a temporary directory. Skipped with a
//! notice when etcd is not installed, outside CI (`testkit::reference_tools_present`).

use crate::support::{client, contents, listed, options, pairs, Running, CONDITION_DEADLINE};
use kv_client::{Client, DeleteOptions, SetOptions, StoreIndex};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::{free_port, wait_for};

const ETCD: &str = "/usr/bin/etcd";

/// A running single-member etcd, killed by PID when dropped.
struct Etcd {
    client_url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts the member and waits until its client port accepts connections.
    fn start() -> Etcd {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let client_url = format!("http://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let mut command = Command::new(ETCD);
        command
            .arg("--enable-v2")
            .args(["--name", "m0"])
            .arg("--data-dir")
            .arg(dir.path().join("m0.etcd"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("m0={peer_url}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        // etcd reads its flags from ETCD_* variables too: a stray one must not change it.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("ETCD") {
                command.env_remove(&name);
            }
        }
        let child = command.spawn().unwrap();
        let etcd = Etcd {
            client_url,
            child,
            _dir: dir,
        };
        wait_for(CONDITION_DEADLINE, "etcd's client port", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        etcd
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A set retried until etcd has elected itself: before that it may answer 300 (outcome
/// unknown) or not at all; setting the same value again is harmless.
async fn set(client: &Client, key: &str, value: &str, options: SetOptions) -> StoreIndex {
    let deadline = tokio::time::Instant::now() + CONDITION_DEADLINE;
    loop {
        match client.set(key, value, options).await {
            Ok(response) => return response.etcd_index,
            Err(error) if error.is_retriable() || error.is_indeterminate() => {
                assert!(tokio::time::Instant::now() < deadline, "set {key}: {error}");
            }
            Err(error) => panic!("set {key}: {error}"),
        }
    }
}

// Goal: the reflector behaves on etcd 3.4 as on Keel: initial list, live changes, a recursive
// delete of a directory as one event, a TTL expiry, a final cache equal to a fresh quorum
// list, and a missing prefix as an empty cache. Method: the keel tests' steps, condensed,
// against the real etcd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_against_etcd() {
    if !testkit::reference_tools_present(&[(ETCD, "etcd-server")]) {
        return;
    }
    let etcd = Etcd::start();
    let client = client(&[&etcd.client_url]);
    let plain = SetOptions::default();
    set(&client, "/r/a", "1", plain).await;
    set(&client, "/r/job/foo/x", "2", plain).await;
    set(&client, "/r/job/foobar/y", "3", plain).await;
    let short = SetOptions {
        ttl: Some(Duration::from_secs(1)),
    };
    set(&client, "/r/short", "s", short).await;
    let running = Running::start(&client, "/r", options());
    let first = running.synced().await;
    assert!(first.get("/r/job/foo/x").is_some() && first.get("/r/a").is_some());
    let written = set(&client, "/r/b", "4", plain).await;
    let recursive = DeleteOptions {
        dir: true,
        recursive: true,
    };
    let deleted = client.delete("/r/job/foo", recursive).await.unwrap();
    assert!(deleted.etcd_index > written);
    let cache = running
        .until("the delete and the expiry", |cache| {
            cache.index() >= deleted.etcd_index && cache.get("/r/short").is_none()
        })
        .await;
    assert_eq!(
        pairs(&cache),
        [("/r/a", "1"), ("/r/b", "4"), ("/r/job/foobar/y", "3")]
    );
    assert_eq!(contents(&cache), listed(&client, "/r").await);
    running.stop().await;
    // etcd answers a quorum GET of a missing key with error 100 and its index.
    let missing = Running::start(&client, "/missing", options());
    let empty = missing.synced().await;
    assert!(empty.is_empty() && empty.index() >= deleted.etcd_index);
    missing.stop().await;
}
