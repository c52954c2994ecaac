//! Keel's Jepsen-style runner: a real cluster, each member in its own network namespace,
//! driven through `kv-client` by many concurrent processes while a nemesis partitions, kills,
//! pauses, degrades and skews it; the recorded history is then judged by the independent
//! `checker` (linearizability per key) and by the set and watch checks here. See
//! `docs/jepsen.md` for how to run it and read its reports.

pub mod delay;
pub mod nemesis;
pub mod recorder;
pub mod report;
pub mod run;
pub mod watch;
pub mod workload;
