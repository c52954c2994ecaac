//! Processes as `/proc` shows them in the root PID namespace, and a non-panicking poll.

use std::time::{Duration, Instant};

/// PIDs (root namespace) of the processes for which `keep` holds.
pub(crate) fn processes_where(keep: impl Fn(u32) -> bool) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|&pid| keep(pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// The parent PID from `/proc/<pid>/stat` (the fields after the command's closing
/// parenthesis are: state, parent PID, ...).
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `condition` until it holds or `deadline` passes; never panics (used from `Drop`).
pub(crate) fn poll_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}
