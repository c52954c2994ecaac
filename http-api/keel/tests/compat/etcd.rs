//! A real etcd 3.4 cluster (`/usr/bin/etcd --enable-v2`) on free loopback ports in a temporary
//! directory: the reference the Keel cluster is compared with. Every member is killed by PID on
//! drop, so also when a test fails.

use super::{Topology, TIMING_FLAGS};
use std::process::{Child, Command, Stdio};
use testkit::free_port;

/// Debian's `etcd-server` installs it here.
pub const ETCD: &str = "/usr/bin/etcd";

/// A running etcd cluster.
pub struct EtcdCluster {
    pub topology: Topology,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Start `size` members named `m0`, `m1`, … (the names the Keel harness uses). Returns once
    /// they are spawned; [`super::wait_ready`] waits for them to serve.
    pub fn start(size: usize) -> EtcdCluster {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let names: Vec<String> = (0..size).map(|i| format!("m{i}")).collect();
        let client_urls = (0..size)
            .map(|_| format!("http://127.0.0.1:{}", free_port()))
            .collect();
        let peer_urls = (0..size)
            .map(|_| format!("http://127.0.0.1:{}", free_port()))
            .collect();
        let topology = Topology {
            server: "etcd",
            names,
            client_urls,
            peer_urls,
        };
        let mut cluster = EtcdCluster {
            topology,
            children: Vec::with_capacity(size),
            dir,
        };
        for index in 0..size {
            let child = cluster.spawn(index);
            cluster.children.push(child);
        }
        cluster
    }

    fn spawn(&self, index: usize) -> Child {
        let topology = &self.topology;
        let initial: Vec<String> = topology
            .names
            .iter()
            .zip(&topology.peer_urls)
            .map(|(name, url)| format!("{name}={url}"))
            .collect();
        let name = &topology.names[index];
        let log_path = self.dir.path().join(format!("{name}.log"));
        let log =
            std::fs::File::create(&log_path).expect("an etcd log file in the temporary directory");
        let data_dir = self.dir.path().join(format!("{name}.etcd"));
        let mut command = Command::new(ETCD);
        command
            .arg("--enable-v2")
            .args(["--name", name])
            .args(["--data-dir", &data_dir.display().to_string()])
            .args(["--listen-client-urls", &topology.client_urls[index]])
            .args(["--advertise-client-urls", &topology.client_urls[index]])
            .args(["--listen-peer-urls", &topology.peer_urls[index]])
            .args(["--initial-advertise-peer-urls", &topology.peer_urls[index]])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-token", "etcdctl-compat"])
            .args(["--initial-cluster-state", "new"])
            .args(TIMING_FLAGS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        remove_etcd_environment(&mut command);
        command
            .spawn()
            .unwrap_or_else(|error| panic!("starting {ETCD}: {error}"))
    }

    /// The members' logs, for a failure message.
    pub fn logs(&self) -> String {
        self.topology
            .names
            .iter()
            .map(|name| {
                let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                format!(
                    "--- {name}.log (last lines) ---\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this child's PID only.
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// etcd and etcdctl read flags from `ETCD_*` / `ETCDCTL_*` variables: a stray one in the
/// test's environment must not change what they do.
pub fn remove_etcd_environment(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("ETCD_") || text.starts_with("ETCDCTL_") {
            command.env_remove(&name);
        }
    }
}
