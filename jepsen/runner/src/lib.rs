//! Keel's Jepsen-style runner: a real cluster, each member in its own network namespace,
//! driven through `kv-client` by many concurrent processes while a nemesis partitions, kills,
//! pauses, degrades and skews it; the recorded history is then judged by the independent
//! `checker` (linearizability per key) and by the set and watch checks here. The `units`
//! workload runs fleet on real hosts in the same namespaces and checks that a unit with
//! `WhenCutOff=stop` never runs on two machines at once; the `semaphore` workload has clients
//! contend for locksmith's reboot semaphore and checks that no more of them than it has slots
//! ever believe they hold one, with fencing tokens in the order of the holds. Progress goes to
//! stderr ([`progress`]). See `docs/jepsen.md` for how to run it and read its reports.

pub mod delay;
pub mod nemesis;
pub mod progress;
pub mod recorder;
pub mod report;
pub mod run;
pub mod semaphore;
pub mod units;
pub mod watch;
pub mod workload;
