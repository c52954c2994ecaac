//! A script of etcdctl invocations as data, and running it against one cluster into a
//! normalised transcript.
//!
//! Arguments are templates: `{p}` is the key prefix, `{base+K}` the etcd index the script
//! started at plus `K`, `{name}` an index captured by [`Step::Capture`]. Before every step all
//! members agree on the etcd index ([`super::settle`]), so a plain read on any member, and the
//! random member etcdctl picks after syncing, sees every earlier write.

use super::etcdctl::{self, Exit, Outcome};
use super::http::Http;
use super::normalise::Normaliser;
use super::{poll, settle, Topology};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a watch may take to be registered, and a triggered watch or exec-watch to report.
const WATCH_DEADLINE: Duration = Duration::from_secs(15);

/// Which member etcdctl is pointed at, and whether it syncs the member list first.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// `--endpoints <m0>`: etcdctl reads `/v2/members` and sends the request to a random
    /// member's advertised client URL (etcdctl's default).
    Sync,
    /// `--no-sync --endpoints <m{i}>`: the request goes to that member.
    Member(usize),
}

/// One etcdctl command line.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub via: Via,
    /// Global options and command, as templates.
    pub args: Vec<String>,
    /// The output's line order is random by design (e.g. `ls` without `--sort`).
    pub sort_lines: bool,
}

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Run etcdctl to completion.
    Run(Invocation),
    /// Record `modifiedIndex` of `key` (a template) as `{name}` (read with a quorum GET).
    Capture { name: &'static str, key: String },
    /// Start `watch` (which must name its member), wait until that member counts one more
    /// watcher, run `trigger`, then collect the watch's output.
    LiveWatch {
        watch: Invocation,
        trigger: Invocation,
    },
    /// On member `member`: `exec-watch --after-index <after> -- /bin/sh -c <record env> <key>`,
    /// wait for the command to have recorded its `ETCD_WATCH_*` environment, then kill it.
    ExecWatch {
        member: usize,
        after: String,
        key: String,
    },
}

/// One normalised result, labelled with its command line.
#[derive(Debug, Clone)]
pub struct Record {
    pub label: String,
    pub outcome: Outcome,
}

/// The state of one run of a script against one cluster.
struct Session<'a> {
    topology: &'a Topology,
    http: &'a Http,
    prefix: &'a str,
    dir: tempfile::TempDir,
    base_index: u64,
    captured: BTreeMap<&'static str, u64>,
    normaliser: Normaliser,
    records: Vec<Record>,
}

/// Run `steps` against a ready cluster; keys live under `prefix`.
pub fn run(
    topology: &Topology,
    http: &Http,
    prefix: &str,
    steps: &[Step],
) -> Result<Vec<Record>, String> {
    let base_index = settle(topology, http)?;
    let first = &topology.client_urls[0];
    let ids = http.member_ids(first)?;
    let normaliser = Normaliser::new(base_index, topology, &ids, &http.cluster_id(first)?);
    let dir = tempfile::tempdir().map_err(|error| format!("a temporary directory: {error}"))?;
    let mut session = Session {
        topology,
        http,
        prefix,
        dir,
        base_index,
        captured: BTreeMap::new(),
        normaliser,
        records: Vec::new(),
    };
    for step in steps {
        settle(topology, http)?;
        session.step(step)?;
    }
    Ok(session.records)
}

impl Session<'_> {
    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Run(invocation) => {
                let outcome = etcdctl::run(&self.command_line(invocation), &self.output_path());
                self.record(invocation, &outcome);
            }
            Step::Capture { name, key } => {
                let index = self
                    .http
                    .modified_index(&self.topology.client_urls[0], &self.expand(key))?;
                self.captured.insert(name, index);
                let stdout = format!("{{{name}}} = {}\n", self.normaliser.index(index));
                let outcome = Outcome {
                    stdout,
                    stderr: String::new(),
                    exit: Exit::Code(0),
                };
                self.records.push(Record {
                    label: format!("(harness) capture modifiedIndex of {key} as {{{name}}}")
                        .replace("{p}", self.prefix),
                    outcome,
                });
            }
            Step::LiveWatch { watch, trigger } => self.live_watch(watch, trigger)?,
            Step::ExecWatch { member, after, key } => self.exec_watch(*member, after, key),
        }
        Ok(())
    }

    fn live_watch(&mut self, watch: &Invocation, trigger: &Invocation) -> Result<(), String> {
        let Via::Member(member) = watch.via else {
            return Err("a live watch must name its member".to_string());
        };
        let url = &self.topology.client_urls[member];
        let before = self.http.watchers(url);
        let running = etcdctl::spawn(&self.command_line(watch), &self.output_path());
        let registered = before.and_then(|before| {
            poll(
                WATCH_DEADLINE,
                "the watch to be registered",
                || match self.http.watchers(url)? {
                    now if now > before => Ok(()),
                    now => Err(format!("{now} watchers")),
                },
            )
        });
        // A watch that cannot be seen registering is a difference, not an abort: the rest of
        // the step still runs and shows what etcdctl printed.
        let stdout = match registered {
            Ok(()) => "registered\n".to_string(),
            Err(error) => format!("not seen registering: {error}\n"),
        };
        let label = format!(
            "(harness) watcher count of {} rises once the watch below starts",
            self.topology.names[member]
        );
        self.records.push(Record {
            label,
            outcome: Outcome {
                stdout,
                stderr: String::new(),
                exit: Exit::Code(0),
            },
        });
        let triggered = etcdctl::run(&self.command_line(trigger), &self.output_path());
        self.record(trigger, &triggered);
        let outcome = running.wait(WATCH_DEADLINE);
        self.record(watch, &outcome);
        Ok(())
    }

    fn exec_watch(&mut self, member: usize, after: &str, key: &str) {
        let recorded = self
            .dir
            .path()
            .join(format!("exec-watch-{}.env", self.records.len()));
        let partial = recorded.with_extension("partial");
        let script = format!(
            "env | grep ^ETCD_WATCH_ | sort > '{}' && mv '{}' '{}'",
            partial.display(),
            partial.display(),
            recorded.display()
        );
        let template = format!(
            "exec-watch --after-index {after} -- /bin/sh -c <record ETCD_WATCH_* to a file> {key}"
        );
        let invocation = Invocation {
            via: Via::Member(member),
            args: Vec::new(),
            sort_lines: false,
        };
        let mut args = self.command_line(&invocation);
        args.extend(
            [
                "exec-watch",
                "--after-index",
                &self.expand(after),
                "--",
                "/bin/sh",
                "-c",
                &script,
                &self.expand(key),
            ]
            .map(String::from),
        );
        let running = etcdctl::spawn(&args, &self.output_path());
        let environment = poll(WATCH_DEADLINE, "exec-watch to run its command", || {
            std::fs::read_to_string(&recorded)
                .map_err(|error| format!("{}: {error}", recorded.display()))
        });
        let mut outcome = running.stop();
        let environment =
            environment.unwrap_or_else(|error| format!("<nothing recorded: {error}>\n"));
        outcome.stdout = format!(
            "{}--- ETCD_WATCH_* seen by the command ---\n{environment}",
            outcome.stdout
        );
        let label = format!("{} {template}", self.via_label(Via::Member(member)))
            .replace("{p}", self.prefix);
        self.records.push(Record {
            label,
            outcome: self.normaliser.outcome(&outcome, false),
        });
    }

    /// Global options for `via`, then the expanded arguments.
    fn command_line(&self, invocation: &Invocation) -> Vec<String> {
        let urls = &self.topology.client_urls;
        let mut args = match invocation.via {
            Via::Sync => vec!["--endpoints".to_string(), urls[0].clone()],
            Via::Member(i) => vec![
                "--no-sync".to_string(),
                "--endpoints".to_string(),
                urls[i].clone(),
            ],
        };
        args.extend(invocation.args.iter().map(|arg| self.expand(arg)));
        args
    }

    fn via_label(&self, via: Via) -> String {
        match via {
            Via::Sync => format!("etcdctl --endpoints <{}>", self.topology.names[0]),
            Via::Member(i) => format!("etcdctl --no-sync --endpoints <{}>", self.topology.names[i]),
        }
    }

    fn record(&mut self, invocation: &Invocation, raw: &Outcome) {
        let shown: Vec<String> = invocation
            .args
            .iter()
            .map(|arg| {
                if arg.is_empty() {
                    "''".to_string()
                } else {
                    arg.clone()
                }
            })
            .collect();
        let label = format!("{} {}", self.via_label(invocation.via), shown.join(" "))
            .replace("{p}", self.prefix);
        self.records.push(Record {
            label,
            outcome: self.normaliser.outcome(raw, invocation.sort_lines),
        });
    }

    fn output_path(&self) -> std::path::PathBuf {
        self.dir.path().join(format!("step-{}", self.records.len()))
    }

    /// Fill in `{p}`, `{base+K}` and captured `{name}`s. An unknown one is a script bug.
    fn expand(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .unwrap_or_else(|| panic!("unclosed {{ in {template}"));
            out.push_str(&rest[..open]);
            out.push_str(&self.placeholder(&rest[open + 1..close], template));
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&self, name: &str, template: &str) -> String {
        if name == "p" {
            return self.prefix.to_string();
        }
        if let Some(offset) = name
            .strip_prefix("base+")
            .and_then(|k| k.parse::<u64>().ok())
        {
            return (self.base_index + offset).to_string();
        }
        match self.captured.get(name) {
            Some(index) => index.to_string(),
            None => {
                panic!("script bug: {{{name}}} in {template} is neither p, base+K nor captured")
            }
        }
    }
}
