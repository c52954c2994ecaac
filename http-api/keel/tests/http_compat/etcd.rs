//! One real etcd 3.4 member (`/usr/bin/etcd --enable-v2`, Debian's `etcd-server`) on free
//! loopback ports in a temporary directory: the reference Keel is compared with. The process
//! is killed by PID on drop (so also when a test fails), and the directory removed with it.

use super::raw::{self, Request};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::{free_port, wait_for};

/// Debian's `etcd-server` installs it here.
pub const ETCD: &str = "/usr/bin/etcd";

/// How long etcd may take to elect itself, publish its attributes and set the cluster version.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A running single-member etcd.
pub struct Etcd {
    pub client_url: String,
    pub address: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Start the member and wait until it serves and its bootstrap writes are done.
    pub fn start() -> Etcd {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let client_port = free_port();
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("an etcd log file");
        let mut command = Command::new(ETCD);
        command
            .arg("--enable-v2")
            .args(["--name", "m0"])
            .args([
                "--data-dir",
                &dir.path().join("m0.etcd").display().to_string(),
            ])
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("m0={peer_url}")])
            .args(["--initial-cluster-token", "http-compat"])
            .args(["--initial-cluster-state", "new"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        remove_etcd_environment(&mut command);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("starting {ETCD}: {error}"));
        let etcd = Etcd {
            client_url,
            address: SocketAddr::from(([127, 0, 0, 1], client_port)),
            child,
            dir,
        };
        etcd.wait_ready();
        etcd
    }

    /// Healthy, and the cluster version decided: etcd 3.4 writes its member attributes and the
    /// cluster version into the same v2 index the keys use, so the test's first write must come
    /// after them for the index offset to stay constant.
    fn wait_ready(&self) {
        let get = |target: &str| {
            let request = Request {
                method: "GET".into(),
                target: target.into(),
                body: None,
            };
            raw::send(self.address, &request).ok()
        };
        wait_for(READY_DEADLINE, "etcd /health and cluster version", || {
            let health = get("/health")?;
            let version = get("/version")?;
            let decided = !version.text().contains("not_decided");
            (health.status == 200 && health.text().contains("true") && decided).then_some(())
        });
    }

    /// The last lines of etcd's log, for a failure message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        // SIGKILL to this child's PID only; the temporary directory goes after it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// etcd reads its flags from `ETCD_*` variables (and etcdctl from `ETCDCTL_*`): a stray one in
/// the test's environment must not change what the reference does.
fn remove_etcd_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("ETCD_") || text.starts_with("ETCDCTL_") {
            command.env_remove(&name);
        }
    }
}
