//! The disk's floor for a durable write: 4 KiB writes into an already-written file, each
//! followed by `fdatasync`. Overwriting changes no metadata, so this is the least a write
//! that survives power loss can cost on this disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::progress::{self, fsync_line, Progress};
use crate::{histogram, record, Latency};

/// Size of each write.
pub const BLOCK: usize = 4096;

/// The result of a probe.
#[derive(Debug, Clone, Serialize)]
pub struct FsyncReport {
    /// The directory the probe file was in.
    pub dir: String,
    /// Bytes of the probe file (writes wrap around inside it).
    pub file_bytes: u64,
    /// Write + fdatasync pairs done.
    pub syncs: u64,
    /// Their latency.
    pub latency: Latency,
}

/// Removes the probe file, also when the probe fails half-way.
struct ProbeFile(PathBuf);

impl Drop for ProbeFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes a `file_bytes` file in `dir`, then times 4 KiB overwrite + `fdatasync` pairs for
/// `duration` or `max_syncs`, whichever ends first, showing how far on `progress`; the file is
/// removed afterwards.
///
/// # Errors
/// When the file cannot be created, written or synced.
pub fn probe(
    dir: &Path,
    file_bytes: u64,
    duration: Duration,
    max_syncs: u64,
    mut progress: Progress,
) -> Result<FsyncReport, String> {
    let blocks = (file_bytes / BLOCK as u64).max(1);
    let path = dir.join(format!(".keel-bench-fsync-{}", std::process::id()));
    let guard = ProbeFile(path.clone());
    let io = |what: &str, e: std::io::Error| format!("{what} {}: {e}", path.display());
    let mut file = OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io("creating", e))?;
    let block = [0x5a_u8; BLOCK];
    for _ in 0..blocks {
        file.write_all(&block).map_err(|e| io("filling", e))?;
    }
    file.sync_all().map_err(|e| io("syncing", e))?;
    let mut latencies = histogram();
    let started = Instant::now();
    let mut syncs = 0;
    while syncs < max_syncs && started.elapsed() < duration {
        let offset = (syncs % blocks) * BLOCK as u64;
        let t = Instant::now();
        file.write_all_at(&block, offset)
            .map_err(|e| io("writing", e))?;
        file.sync_data().map_err(|e| io("fdatasync of", e))?;
        record(&mut latencies, t.elapsed());
        syncs += 1;
        progress.tick(|| {
            let elapsed = started.elapsed();
            let bound = (max_syncs < u64::MAX).then_some(max_syncs);
            let fraction = progress::fraction(syncs, bound, elapsed, Some(duration));
            (fraction, fsync_line(syncs, elapsed, duration))
        });
    }
    progress.finish(&fsync_line(syncs, started.elapsed(), duration));
    drop(file);
    drop(guard);
    Ok(FsyncReport {
        dir: dir.display().to_string(),
        file_bytes: blocks * BLOCK as u64,
        syncs,
        latency: Latency::of(&latencies),
    })
}

/// Renders a probe's result as a line.
pub fn render(report: &FsyncReport) -> String {
    let l = &report.latency;
    format!(
        "fsync floor in {} · {} × (4 KiB overwrite + fdatasync)\n\
         latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}\n",
        report.dir, report.syncs, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the probe counts every sync it timed, stops at its bound and leaves no file.
    #[test]
    fn probe_counts_syncs_and_cleans_up() {
        let dir = tempfile::tempdir().expect("temp dir");
        let report = probe(
            dir.path(),
            64 * 1024,
            Duration::from_secs(30),
            50,
            Progress::off(),
        )
        .expect("probe");
        assert_eq!(report.syncs, 50);
        assert_eq!(report.latency.count, 50);
        assert_eq!(report.file_bytes, 64 * 1024);
        assert!(report.latency.p50_ms > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    /// Goal: a directory that cannot hold the file is an error naming the path, not a panic.
    #[test]
    fn missing_directory_is_an_error() {
        let error = probe(
            Path::new("/nonexistent/keel-bench"),
            4096,
            Duration::from_secs(1),
            1,
            Progress::off(),
        )
        .expect_err("no such directory");
        assert!(error.contains("/nonexistent/keel-bench"), "{error}");
    }
}
