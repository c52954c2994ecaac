//! The units directory: writing, removing and listing the unit files this agent owns. All of
//! it is blocking file I/O, so every public function here runs on tokio's blocking pool.
//!
//! Beside each unit file, the dot-file `.<name>.started` holds when the agent last asked
//! systemd to start the unit: systemd forgets the run of a unit that ended cleanly once it
//! collects the unit, so the marker is what tells such a run from no run.
//!
//! Invariants: a file appears under its final name only complete (written to a dot-file,
//! then renamed), with mode 0644; only names that pass [`check_unit_name`] become paths, so
//! no name escapes the directory; dot-files are never listed; removing a unit's file removes
//! its start marker. Depends on std and fleet-core.

use fleet_core::name::systemd_accepts;
use fleet_core::ports::SystemdError;
use fleet_core::unit_file::{UnitFile, UnitHash};
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Checks `name` before it becomes a path or goes on the bus
/// ([`fleet_core::name::systemd_accepts`]: fleet's API rules, systemd's length limit, no
/// leading `.`, since dot-files are this module's temporaries and markers).
///
/// # Errors
/// `InvalidUnitName`.
pub(crate) fn check_unit_name(name: &str) -> Result<(), SystemdError> {
    if systemd_accepts(name) {
        Ok(())
    } else {
        Err(SystemdError::InvalidUnitName {
            name: name.to_owned(),
        })
    }
}

/// The hash a file gets when its text does not parse: all zeros, which SHA-1 yields for no
/// text anyone wrote, so the agent sees a changed unit, unloads this file and loads the
/// wanted one again.
fn unparsable_hash() -> UnitHash {
    UnitHash::from_bytes([0; 20])
}

/// `<directory>/<name>` for a checked name.
pub(crate) fn unit_path(directory: &Path, name: &str) -> PathBuf {
    directory.join(name)
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SystemdError + '_ {
    move |source| SystemdError::UnitFileIo {
        path: path.to_owned(),
        source,
    }
}

/// Writes `text` as `<directory>/<name>`, mode 0644, creating the directory (0755).
///
/// # Errors
/// `UnitFileIo`.
pub(crate) fn write_unit_file(
    directory: &Path,
    name: &str,
    text: &str,
) -> Result<PathBuf, SystemdError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(directory)
        .map_err(io_error(directory))?;
    let temporary = directory.join(format!(".{name}.tmp"));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    file.write_all(text.as_bytes())
        .map_err(io_error(&temporary))?;
    // The creation mode went through the umask; 0644 is what fleet writes.
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io_error(&temporary))?;
    drop(file);
    let path = unit_path(directory, name);
    fs::rename(&temporary, &path).map_err(io_error(&path))?;
    Ok(path)
}

/// Removes `<directory>/<name>` and its start marker; files already gone are fine.
///
/// # Errors
/// `UnitFileIo`.
pub(crate) fn remove_unit_file(directory: &Path, name: &str) -> Result<(), SystemdError> {
    for path in [
        start_marker_path(directory, name),
        unit_path(directory, name),
    ] {
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(io_error(&path)(error))
            }
            _ => {}
        }
    }
    Ok(())
}

fn start_marker_path(directory: &Path, name: &str) -> PathBuf {
    directory.join(format!(".{name}.started"))
}

/// `time` in microseconds since the UNIX epoch (0 for a time before it).
fn usec_since_epoch(time: SystemTime) -> u64 {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
}

/// Records now as when the unit `name` was last started (its start marker). Without the
/// units directory no unit is this agent's, and nothing is recorded.
///
/// # Errors
/// `UnitFileIo`.
pub(crate) fn mark_started(directory: &Path, name: &str) -> Result<(), SystemdError> {
    let path = start_marker_path(directory, name);
    match fs::write(&path, usec_since_epoch(SystemTime::now()).to_string()) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(io_error(&path)(error)),
        _ => Ok(()),
    }
}

/// When the unit `name` was last started, from its start marker (microseconds since the
/// UNIX epoch); `None` without a readable marker.
///
/// # Errors
/// `UnitFileIo` when the marker exists and cannot be read.
pub(crate) fn started_at_usec(directory: &Path, name: &str) -> Result<Option<u64>, SystemdError> {
    let path = start_marker_path(directory, name);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().parse().ok()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(&path)(error)),
    }
}

/// When the unit's file under `directory` was last written, in microseconds since the UNIX
/// epoch (0 for a time before it).
///
/// # Errors
/// `UnitFileIo` when the file cannot be read.
pub(crate) fn written_at_usec(directory: &Path, name: &str) -> Result<u64, SystemdError> {
    let path = unit_path(directory, name);
    let modified = fs::metadata(&path)
        .and_then(|metadata| metadata.modified())
        .map_err(io_error(&path))?;
    Ok(usec_since_epoch(modified))
}

/// The unit files under `directory` by name, each with the hash of its canonical text; a
/// missing directory holds none. Entries that are not regular files named as units are not
/// ours and are skipped. Every unit type the API accepts counts (fleet's agent listed only
/// seven, so a `.target` it scheduled was rewritten every round: a quirk not kept).
///
/// # Errors
/// `UnitFileIo` when the directory or a file cannot be read.
pub(crate) fn list_unit_files(directory: &Path) -> Result<Vec<(String, UnitHash)>, SystemdError> {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error(directory)(error)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(directory))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_file = entry
            .file_type()
            .map_err(io_error(&entry.path()))?
            .is_file();
        if !is_file || check_unit_name(&name).is_err() {
            continue;
        }
        let path = entry.path();
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        files.push((name, hash_of(&path, &bytes)));
    }
    files.sort();
    Ok(files)
}

/// The hash of a file's canonical text, or [`unparsable_hash`].
fn hash_of(path: &Path, bytes: &[u8]) -> UnitHash {
    let parsed = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| UnitFile::parse(text).ok());
    match parsed {
        Some(file) => file.hash(),
        None => {
            tracing::warn!(path = %path.display(), "unit file does not parse; it will be replaced");
            unparsable_hash()
        }
    }
}

/// Runs blocking file work on tokio's blocking pool, never on a worker thread.
///
/// # Errors
/// What `work` returns; `UnitFileIo` on `path` when the runtime shuts down first.
pub(crate) async fn off_worker<T, F>(path: &Path, work: F) -> Result<T, SystemdError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, SystemdError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(SystemdError::UnitFileIo {
            path: path.to_owned(),
            source: io::Error::other("blocking task cancelled: the runtime is shutting down"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: names that could escape the directory or that systemd refuses never become
    // paths. Method: a table of names.
    #[test]
    fn unit_names_are_checked_as_systemd_does() {
        for good in [
            "a.service",
            "web@1.service",
            "web@.service",
            "x-y_z:1\\x2d.timer",
        ] {
            assert!(check_unit_name(good).is_ok(), "{good}");
        }
        let too_long = format!("{}.service", "a".repeat(248)); // 256 bytes: fleet yes, systemd no
        for bad in [
            "",
            "foo",
            "bad/name.service",
            "../x.service",
            ".hidden.service",
            "@a.service",
            "a.nosuch",
            "a .service",
            too_long.as_str(),
        ] {
            assert!(
                matches!(
                    check_unit_name(bad),
                    Err(SystemdError::InvalidUnitName { .. })
                ),
                "{bad}"
            );
        }
    }

    // Goal: the file is written whole with mode 0644, listed with its hash, and a removal is
    // idempotent. Method: a temporary directory that does not exist yet.
    #[test]
    fn written_files_are_listed_with_their_hash_and_removed() {
        let root = tempfile::tempdir().expect("temporary directory");
        let directory = root.path().join("units");
        let text = "[Service]\nExecStart=/bin/true\n";
        let path = write_unit_file(&directory, "a.service", text).expect("written");
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        fs::write(directory.join("b.service"), [0xff, 0xfe]).expect("garbage written");
        fs::write(directory.join(".c.service.tmp"), text).expect("temporary written");
        let expected = UnitFile::parse(text).expect("parses").hash();
        assert_eq!(
            list_unit_files(&directory).expect("listed"),
            vec![
                ("a.service".to_owned(), expected),
                ("b.service".to_owned(), unparsable_hash())
            ]
        );
        remove_unit_file(&directory, "a.service").expect("removed");
        remove_unit_file(&directory, "a.service").expect("removed twice");
        assert!(list_unit_files(&root.path().join("absent"))
            .expect("listed")
            .is_empty());
    }
}
