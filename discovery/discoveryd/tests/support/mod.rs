//! What the DNS tests share: a Keel member with `discoveryd` served in-process on loopback,
//! `dig` run as a subprocess and its output read back, and NSD as a local upstream.

#![allow(dead_code)]

use clap::Parser;
use discoveryd::config::Args;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::Cluster;
use tokio_util::sync::CancellationToken;

/// The wait for anything a test expects to happen (a record to appear, a server to start).
pub const DEADLINE: Duration = Duration::from_secs(20);

pub const DIG: &str = "/usr/bin/dig";
pub const NSD: &str = "/usr/sbin/nsd";
/// Debian's python with its dnspython (the PATH may lead to another python without it).
pub const PYTHON: &str = "/usr/bin/python3";
pub const DNSPYTHON: &str = "/usr/lib/python3/dist-packages/dns";

/// Whether `dig` (and `nsd` when `with_nsd`) are installed; see `testkit::reference_tools_present`.
pub fn tools_present(with_nsd: bool) -> bool {
    let mut tools = vec![(DIG, "bind9-dnsutils")];
    if with_nsd {
        tools.push((NSD, "nsd"));
    }
    testkit::reference_tools_present(&tools)
}

/// One Keel member and a `discoveryd` over it, stopped on drop.
pub struct Stack {
    pub cluster: Cluster,
    pub port: u16,
    shutdown: CancellationToken,
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<tokio::task::JoinHandle<Result<(), discoveryd::run::RunError>>>,
}

impl Stack {
    /// A member and `discoveryd` over it with `flags` added, waiting until the index is
    /// loaded (a query is answered rather than refused).
    pub fn start(flags: &[&str]) -> Stack {
        let cluster = Cluster::start(1, &[]);
        let machines = cluster.url(0).to_owned();
        let stack = Stack::serve(cluster, &machines, flags);
        testkit::wait_for(DEADLINE, "the index to load", || {
            (stack.dig(&["dns.skydns.local", "SOA"]).status != "REFUSED").then_some(())
        });
        stack
    }

    /// A `discoveryd` whose Keel URL leads nowhere, so its records are never loaded (the
    /// member beside it only lends its HTTP client).
    pub fn start_unloaded(flags: &[&str]) -> Stack {
        let cluster = Cluster::start(1, &[]);
        let nowhere = format!("http://127.0.0.1:{}", testkit::free_port());
        Stack::serve(cluster, &nowhere, flags)
    }

    fn serve(cluster: Cluster, machines: &str, flags: &[&str]) -> Stack {
        let mut argv = vec![
            "discoveryd",
            "--addr",
            "127.0.0.1:0",
            "--machines",
            machines,
        ];
        argv.extend_from_slice(flags);
        let args = Args::try_parse_from(argv).expect("valid flags");
        let settings = args.settings("").expect("valid settings");
        let base = discoveryd::run::Base {
            args,
            resolv_conf: String::new(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let shutdown = CancellationToken::new();
        let (udp, tcp) = runtime
            .block_on(discoveryd::run::bind(settings.addr))
            .expect("bound");
        let port = tcp.local_addr().expect("an address").port();
        let server = runtime.spawn(discoveryd::run::run(base, udp, tcp, shutdown.clone()));
        Stack {
            cluster,
            port,
            shutdown,
            runtime: Some(runtime),
            server: Some(server),
        }
    }

    /// Writes `value` at `key` (a path below `/v2/keys`) with curl, as a user would.
    pub fn curl_put(&self, key: &str, value: &str, ttl: Option<u32>) {
        let url = format!("{}/v2/keys{key}", self.cluster.url(0));
        let mut command = Command::new("curl");
        command.args(["-sS", "-f", "-X", "PUT", &url, "--data-urlencode"]);
        command.arg(format!("value={value}"));
        if let Some(ttl) = ttl {
            command.args(["-d", &format!("ttl={ttl}")]);
        }
        let output = command.output().expect("curl runs");
        assert!(
            output.status.success(),
            "curl PUT {key}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Deletes `key` with curl.
    pub fn curl_delete(&self, key: &str) {
        let url = format!("{}/v2/keys{key}", self.cluster.url(0));
        let output = Command::new("curl")
            .args(["-sS", "-f", "-X", "DELETE", &url])
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "curl DELETE {key}");
    }

    /// `dig @127.0.0.1 -p <port> <args>`, one try.
    pub fn dig(&self, args: &[&str]) -> Dig {
        dig(self.port, args)
    }

    /// Waits until `dig <args>` gives an answer that `accept` takes.
    pub fn dig_until(&self, args: &[&str], what: &str, accept: impl Fn(&Dig) -> bool) -> Dig {
        testkit::wait_for(DEADLINE, what, || {
            let reply = self.dig(args);
            accept(&reply).then_some(reply)
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let (Some(runtime), Some(server)) = (self.runtime.take(), self.server.take()) {
            let stopped = runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), server).await });
            runtime.shutdown_timeout(Duration::from_secs(1));
            if !std::thread::panicking() {
                let result = stopped.expect("discoveryd stops within 10 s");
                result.expect("no panic").expect("a clean stop");
            }
        }
    }
}

/// One resource record as dig prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub data: String,
}

/// What dig printed: the status, the header flags, the sections and EDNS's UDP size.
#[derive(Debug, Clone, Default)]
pub struct Dig {
    pub status: String,
    pub flags: Vec<String>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub edns_udp: Option<u16>,
    pub output: String,
}

impl Dig {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The answer section's data of records of `rtype`, sorted.
    pub fn data(&self, rtype: &str) -> Vec<String> {
        let mut data: Vec<String> = self
            .answer
            .iter()
            .filter(|rr| rr.rtype == rtype)
            .map(|rr| rr.data.clone())
            .collect();
        data.sort();
        data
    }
}

/// Runs dig against `127.0.0.1:<port>` with `args` (one try, two-second wait) and reads its
/// output; a dig that got no reply gives status `NO REPLY`.
pub fn dig(port: u16, args: &[&str]) -> Dig {
    let output = Command::new(DIG)
        .args(["@127.0.0.1", "-p", &port.to_string(), "+tries=1", "+time=2"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("dig runs");
    parse_dig(&String::from_utf8_lossy(&output.stdout))
}

fn parse_dig(text: &str) -> Dig {
    let mut reply = Dig {
        status: "NO REPLY".to_owned(),
        output: text.to_owned(),
        ..Dig::default()
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            reply.status = rest.split(',').next().unwrap_or_default().to_owned();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            let flags = rest.split(';').next().unwrap_or_default();
            reply.flags = flags.split_whitespace().map(str::to_owned).collect();
        } else if let Some(rest) = line.split("udp: ").nth(1) {
            reply.edns_udp = rest.trim().parse().ok();
        } else if let Some(name) = line
            .strip_prefix(";; ")
            .and_then(|l| l.strip_suffix(" SECTION:"))
        {
            section = if name == "ANSWER" || name == "AUTHORITY" || name == "ADDITIONAL" {
                name
            } else {
                ""
            };
        } else if line.trim().is_empty() {
            section = "";
        } else if !line.starts_with(';') {
            let Some(rr) = parse_rr(line) else { continue };
            match section {
                "ANSWER" => reply.answer.push(rr),
                "AUTHORITY" => reply.authority.push(rr),
                "ADDITIONAL" => reply.additional.push(rr),
                _ => {}
            }
        }
    }
    reply
}

fn parse_rr(line: &str) -> Option<Rr> {
    let mut fields = line.split_whitespace();
    let name = fields.next()?.to_owned();
    let ttl = fields.next()?.parse().ok()?;
    let _class = fields.next()?;
    let rtype = fields.next()?.to_owned();
    let data = fields.collect::<Vec<_>>().join(" ");
    Some(Rr {
        name,
        ttl,
        rtype,
        data,
    })
}

/// NSD serving one zone on loopback, stopped (by PID) and removed on drop.
pub struct Nsd {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Nsd {
    /// NSD serving `zone_text` as `origin` on a free port, once it answers the SOA.
    pub fn start(origin: &str, zone_text: &str) -> Nsd {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let port = testkit::free_port();
        let path = |name: &str| dir.path().join(name).display().to_string();
        std::fs::write(dir.path().join("zone"), zone_text).expect("zone written");
        let config = format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n  \
             zonesdir: \"{dir}\"\n  database: \"\"\n  pidfile: \"{pid}\"\n  xfrdfile: \"{xfrd}\"\n  \
             zonelistfile: \"{list}\"\n  logfile: \"{log}\"\n  server-count: 1\n  verbosity: 1\n\
             remote-control:\n  control-enable: no\nzone:\n  name: {origin}\n  zonefile: \"{zone}\"\n",
            dir = dir.path().display(),
            pid = path("nsd.pid"),
            xfrd = path("xfrd.state"),
            list = path("zone.list"),
            log = path("nsd.log"),
            zone = path("zone"),
        );
        std::fs::write(dir.path().join("nsd.conf"), config).expect("config written");
        let child = Command::new(NSD)
            .args(["-d", "-c"])
            .arg(dir.path().join("nsd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd starts");
        let nsd = Nsd {
            port,
            child: Some(child),
            dir,
        };
        testkit::wait_for(DEADLINE, "NSD to answer", || {
            (dig(port, &[origin, "SOA"]).status == "NOERROR").then_some(())
        });
        nsd
    }

    /// `ip:port` of the server.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops NSD (its main process by PID, which stops its own children) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nsd.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A child process, killed (by PID) on drop if it still runs.
pub struct Process(pub Child);

impl Process {
    /// SIGTERM, then the exit status, waited for up to `deadline`.
    pub fn terminate(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        assert!(sent.expect("kill runs").success());
        testkit::wait_for(deadline, "the process to exit", || {
            self.0.try_wait().expect("a status")
        })
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// An HTTP reply's status and body.
pub struct HttpReply {
    pub status: u16,
    pub body: String,
}

/// `GET url`; any status is a reply, a refused connection an error.
pub fn http_get(url: &str) -> Result<HttpReply, String> {
    let response = match ureq::get(url).timeout(Duration::from_secs(5)).call() {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => return Err(error.to_string()),
    };
    let status = response.status();
    let body = response.into_string().map_err(|error| error.to_string())?;
    Ok(HttpReply { status, body })
}
