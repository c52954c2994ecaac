//! The README's run command (`scripts/run.sh`, which builds the binaries and runs
//! `keel-stack`) end to end, as a newcomer uses it: from a clean data directory, wait until
//! the stack prints where everything is, start a unit with `fleetctl`, resolve its name with
//! `dig`, read `locksmithctl status`, then SIGINT and check that nothing the stack started
//! is still running. Free ports instead of the defaults, so it runs beside other tests; the
//! private `systemd --user` (root, as on CI).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod browser;
mod hosts;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::{free_port, wait_for};

/// The run command builds first (a no-op after `cargo build --bins`, minutes when cold).
const UP_DEADLINE: Duration = Duration::from_secs(600);

/// fleet schedules and systemd starts a unit; the agent publishes it in DNS.
const UNIT_DEADLINE: Duration = Duration::from_secs(60);

/// SIGINT to the last part gone: each part gets 15 s before SIGKILL.
const STOP_DEADLINE: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The stack's process; dropping it (a failed test) kills the stack and everything below it
/// by PID.
struct Stack {
    child: Child,
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            for pid in descendants(self.child.id()).into_keys() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `/proc/<pid>/stat`'s parent PID and start time (which tells a reused PID apart).
fn parent_and_start(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ... starttime(22nd)": the command may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Every process below `root`, with its start time.
fn descendants(root: u32) -> BTreeMap<u32, u64> {
    let mut parents = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        {
            if let Some(info) = parent_and_start(pid) {
                parents.insert(pid, info);
            }
        }
    }
    let mut found = BTreeMap::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (&pid, &(ppid, start)) in &parents {
            if ppid == parent && found.insert(pid, start).is_none() {
                frontier.push(pid);
            }
        }
    }
    found
}

/// The stack's line `name: value...`, its first word after the name.
fn line_value(out: &str, name: &str) -> Option<String> {
    out.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// `script` in bash with the stack's environment file sourced, in `dir`.
fn with_env(dir: &Path, env: &Path, script: &str) -> std::process::Output {
    let bin = root().join("target/debug");
    Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && {script}", env.display()))
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Where the stack under test listens, and its files.
struct Ports {
    client: u16,
    peer: u16,
    fleet: u16,
    dashboard: u16,
    dns: u16,
    metrics: u16,
}

/// Runs the README's run command with `ports`, data under `dir`, and waits for its lines.
fn start_stack(dir: &Path, ports: &Ports) -> (Stack, String) {
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/run.sh"))
        .arg(format!("--data-dir={}", dir.join("data").display()))
        .arg(format!(
            "--keel-client-url=http://127.0.0.1:{}",
            ports.client
        ))
        .arg(format!("--keel-peer-url=http://127.0.0.1:{}", ports.peer))
        .arg(format!("--fleet-api-port={}", ports.fleet))
        .arg(format!("--dashboard-addr=127.0.0.1:{}", ports.dashboard))
        .arg(format!("--dns-addr=127.0.0.1:{}", ports.dns))
        .arg(format!("--dns-metrics-port={}", ports.metrics))
        .arg(format!("--fleet-link={}", dir.join("fleet.sock").display()))
        .arg("--manager=private")
        // JSON logs through the stack's variable: every part must write them.
        .env("KEEL_STACK_LOG_FORMAT", "json")
        .current_dir(root());
    Stack::start(&mut command, dir, UP_DEADLINE)
}

impl Stack {
    /// Starts `command` (a stack) in a process group of its own, as a terminal's foreground
    /// job (SIGINT goes to the group), its output in `dir`'s `stack.out` and `stack.err`;
    /// waits for its lines.
    fn start(command: &mut Command, dir: &Path, deadline: Duration) -> (Stack, String) {
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stack.out")).unwrap())
            .stderr(std::fs::File::create(dir.join("stack.err")).unwrap())
            .spawn()
            .unwrap();
        let mut stack = Stack { child };
        let out = stack.wait_lines(dir, deadline);
        (stack, out)
    }

    /// Waits until the stack (its output in `dir`'s `stack.out` and `stack.err`) has
    /// printed its `stop:` line, and returns what it printed.
    fn wait_lines(&mut self, dir: &Path, deadline: Duration) -> String {
        wait_for(deadline, "the stack's ready lines", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the stack exited with {status}:\n{}",
                    std::fs::read_to_string(dir.join("stack.err")).unwrap_or_default()
                );
            }
            let out = std::fs::read_to_string(dir.join("stack.out")).unwrap_or_default();
            out.lines()
                .any(|line| line.starts_with("stop: "))
                .then_some(out)
        })
    }

    /// Ctrl-C in a terminal: SIGINT to the whole process group, which must reach only the
    /// stack (every part and every host are in groups of their own); then the stack must
    /// exit 0 and none of the processes that ran below it be left.
    fn interrupt_and_check_nothing_is_left(&mut self, dir: &Path) {
        let before = descendants(self.child.id());
        let group = format!("-{}", self.child.id());
        assert!(Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap()
            .success());
        let status = wait_for(STOP_DEADLINE, "the stack to exit", || {
            self.child.try_wait().unwrap()
        });
        let log = std::fs::read_to_string(dir.join("stack.err")).unwrap_or_default();
        assert!(status.success(), "{status}: {log}");
        let left: Vec<u32> = before
            .iter()
            .filter(|(pid, start)| parent_and_start(**pid).is_some_and(|(_, now)| now == **start))
            .map(|(pid, _)| *pid)
            .collect();
        assert!(
            left.is_empty(),
            "still running after the stack stopped: {left:?}"
        );
    }
}

/// Asks `dig` for `name`'s A record at `127.0.0.1:<dns>` until it has an answer.
fn dig_until_answered(dns: u16, name: &str) -> String {
    wait_for(UNIT_DEADLINE, &format!("{name} in DNS"), || {
        let dig = Command::new("dig")
            .args(["+short", "@127.0.0.1", "-p", &dns.to_string()])
            .args([name, "A"])
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&dig.stdout).trim().to_owned();
        (!answer.is_empty()).then_some(answer)
    })
}

/// `fleetctl start` of a unit with an `[X-Discovery]` section, until `dig` resolves it;
/// `locksmithctl status` and `keelctl ls`: every tool through the environment file only.
fn use_the_tools(dir: &Path, dns: u16) {
    let env = dir.join("data/env");
    std::fs::write(
        dir.join("hello.service"),
        "[Unit]\nDescription=Hello\n\n[Service]\nExecStart=/bin/sleep infinity\n\n\
         [X-Discovery]\nName=hello\nPort=8080\n",
    )
    .unwrap();
    let started = with_env(dir, &env, "fleetctl start hello.service");
    assert!(started.status.success(), "{}", text(&started));
    // Submitted only: the browser test starts it from the page.
    std::fs::write(
        dir.join("page.service"),
        "[Unit]\nDescription=Started from the page\n\n[Service]\nExecStart=/bin/sleep infinity\n",
    )
    .unwrap();
    let submitted = with_env(dir, &env, "fleetctl submit page.service");
    assert!(submitted.status.success(), "{}", text(&submitted));
    // For the page's counts: fails, is restarted by systemd twice, hits its start limit,
    // and fleet's agent starts it again. For its scale control: a template, submitted only.
    std::fs::write(
        dir.join("crash.service"),
        "[Unit]\nStartLimitBurst=3\nStartLimitIntervalSec=60\n\n[Service]\nExecStart=/bin/false\n\
         Restart=on-failure\nRestartSec=1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("web@.service"),
        "[Service]\nExecStart=/bin/sleep infinity\n",
    )
    .unwrap();
    let more = with_env(
        dir,
        &env,
        "fleetctl start --no-block crash.service && fleetctl submit web@.service",
    );
    assert!(more.status.success(), "{}", text(&more));
    assert_eq!(dig_until_answered(dns, "hello.skydns.local"), "127.0.0.1");
    let units = with_env(dir, &env, "fleetctl list-units --no-legend");
    assert!(text(&units).contains("active"), "{}", text(&units));
    let status = with_env(dir, &env, "locksmithctl status");
    assert!(status.status.success(), "{}", text(&status));
    assert!(text(&status).contains("Available: 1"), "{}", text(&status));
    assert!(text(&with_env(dir, &env, "keelctl ls /")).contains("/skydns"));
}

/// How long Prometheus may take to start, scrape every target and answer for each.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(60);

/// Debian's Prometheus server, killed by PID on drop.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes each `(job, host:port, path)` every second, its data under `dir`.
    fn start(dir: &Path, targets: &[(&str, String, &str)]) -> Prometheus {
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (job, address, path) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    metrics_path: {path}\n    static_configs:\n      - targets: ['{address}']\n"
            ));
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prometheus").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The first value of `query` through Prometheus's HTTP API, once it has one.
    fn value(&self, query: &str) -> Option<f64> {
        let reply: serde_json::Value = ureq::get(&format!("{}/api/v1/query", self.url))
            .query("query", query)
            .call()
            .ok()?
            .into_json()
            .ok()?;
        reply["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

/// Prometheus scrapes keel, fleetd and discoveryd; series of each are read back through its
/// API: keel's leader gauge, fleet's engine lease and launched units, discoveryd's index
/// state and its count of answered questions.
fn prometheus_reads_every_daemon(dir: &Path, ports: &Ports) {
    let prometheus = Prometheus::start(
        dir,
        &[
            ("keel", format!("127.0.0.1:{}", ports.client), "/metrics"),
            ("fleetd", format!("127.0.0.1:{}", ports.fleet), "/metrics"),
            (
                "discoveryd",
                format!("127.0.0.1:{}", ports.metrics),
                "/metrics",
            ),
        ],
    );
    // Each series at its least: the 0/1 gauges at 1, the counter past the digs above.
    let wanted = [
        (r#"up{job="keel"}"#, 1.0),
        (r#"etcd_server_has_leader{job="keel"}"#, 1.0),
        (r#"up{job="fleetd"}"#, 1.0),
        (r#"fleet_engine_leader{job="fleetd"}"#, 1.0),
        (r#"fleet_units{job="fleetd",desired_state="launched"}"#, 1.0),
        (r#"up{job="discoveryd"}"#, 1.0),
        (r#"discoveryd_synced{job="discoveryd"}"#, 1.0),
        (
            r#"skydns_skydns_dns_request_count_total{job="discoveryd",system="auth"}"#,
            1.0,
        ),
    ];
    for (query, least) in wanted {
        wait_for(SCRAPE_DEADLINE, query, || {
            prometheus.value(query).filter(|value| *value >= least)
        });
    }
}

/// Goal: the README's run command brings up keel, fleetd (on a private systemd --user),
/// discoveryd and locksmithd; the tools reach them through the environment file with no
/// flags of their own; SIGINT stops everything it started. Method: run it from a clean data
/// directory on free ports, `fleetctl start` a unit with an `[X-Discovery]` section, `dig`
/// its name until it answers with fleet's public IP, `locksmithctl status`; Debian's
/// Prometheus scrapes the daemons and answers for a series of each; headless chromium
/// loads the dashboard and starts a submitted unit with its button; record every
/// process below the stack, SIGINT to its process group (a terminal's Ctrl-C), and check the
/// stack exits 0 and none of them is left.
#[test]
fn the_run_command_brings_up_the_stack_and_sigint_stops_it_all() {
    if testkit::host::available().is_err()
        || !testkit::reference_tools_present(&[
            ("/usr/bin/dig", "bind9-dnsutils"),
            ("/usr/bin/prometheus", "prometheus"),
            ("/usr/bin/chromium", "chromium"),
            ("/usr/bin/chromedriver", "chromium-driver"),
        ])
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports {
        client: free_port(),
        peer: free_port(),
        fleet: free_port(),
        dashboard: free_port(),
        dns: free_port(),
        metrics: free_port(),
    };
    let (mut stack, out) = start_stack(dir.path(), &ports);
    let keel = format!("http://127.0.0.1:{}", ports.client);
    assert_eq!(line_value(&out, "keel"), Some(keel), "{out}");
    let dns = format!("127.0.0.1:{}", ports.dns);
    assert_eq!(line_value(&out, "dns"), Some(dns), "{out}");
    assert!(line_value(&out, "fleet").is_some(), "{out}");
    assert!(line_value(&out, "locksmith").is_some(), "{out}");
    assert!(
        dir.path().join("fleet.sock").exists(),
        "no link to fleet's socket"
    );
    use_the_tools(dir.path(), ports.dns);
    prometheus_reads_every_daemon(dir.path(), &ports);
    let page = format!("http://127.0.0.1:{}/", ports.dashboard);
    assert_eq!(line_value(&out, "dashboard"), Some(page.clone()), "{out}");
    browser::the_page_shows_the_stack_and_starts_a_unit(dir.path(), &page, "page.service");

    let running = descendants(stack.child.id());
    assert!(
        running.len() >= 5,
        "keel, the host, fleetd, discoveryd, the unit: {running:?}"
    );
    stack.interrupt_and_check_nothing_is_left(dir.path());
    assert!(
        !dir.path().join("fleet.sock").exists(),
        "the link to fleet's socket was left"
    );
    every_log_is_json(&dir.path().join("data"));
}

/// Every line each part logged (under `logs/`, fleetd's in the private host's directory)
/// is a JSON object with a level and a message, as `--log-format json` asks; the parts
/// that always log have logged.
fn every_log_is_json(data: &Path) {
    let logs = [
        ("keel", data.join("logs/keel.log")),
        ("fleetd", data.join("host/fleetd.log")),
        ("discoveryd", data.join("logs/discoveryd.log")),
        ("locksmithd", data.join("logs/locksmithd.log")),
        ("dashboard", data.join("logs/dashboard.log")),
    ];
    for (part, path) in logs {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{part}: {}: {error}", path.display()));
        assert!(
            part == "locksmithd" || !text.trim().is_empty(),
            "{part} logged nothing"
        );
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let object: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("{part}: not JSON ({error}): {line}"));
            assert!(
                object["level"].is_string() && object["fields"].is_object(),
                "{part}: {line}"
            );
        }
    }
}
