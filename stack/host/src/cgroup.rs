//! The cgroups of hosts: one per host in each hierarchy that systemd uses, removed deepest
//! first once empty, and the cleanup of those left by a test process that died.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::poll_until;
use crate::{HostError, CLEANUP_DEADLINE};

/// Cgroup names start with this, then `.<pid of the test process>.<host name>`.
const CGROUP_PREFIX: &str = "keel-host.";

/// Mount points of the unified hierarchy and, on a hybrid layout, of `name=systemd`.
pub(crate) fn cgroup_hierarchies() -> Vec<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in mountinfo.lines() {
        // "<id> <parent> <dev> <root> <mount point> <options> ... - <type> <source> <super>"
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = before.split(' ').nth(4).unwrap_or_default();
        let mut fields = after.split(' ');
        let fs_type = fields.next().unwrap_or_default();
        let options = fields.nth(1).unwrap_or_default();
        let systemd = fs_type == "cgroup" && options.split(',').any(|o| o == "name=systemd");
        if fs_type == "cgroup2" || systemd {
            found.insert(PathBuf::from(mount_point));
        }
    }
    found.into_iter().collect()
}

pub(crate) fn create_cgroups(name: &str) -> Result<Vec<PathBuf>, HostError> {
    let leaf = format!("{CGROUP_PREFIX}{}.{name}", std::process::id());
    let mut created = Vec::new();
    for hierarchy in cgroup_hierarchies() {
        let path = hierarchy.join(&leaf);
        if let Err(source) = std::fs::create_dir(&path) {
            remove_cgroups(&created);
            return Err(if source.kind() == std::io::ErrorKind::AlreadyExists {
                HostError::NameTaken { name: name.into() }
            } else {
                HostError::Io {
                    action: "creating cgroup".into(),
                    path,
                    source,
                }
            });
        }
        created.push(path);
    }
    Ok(created)
}

/// Removes each cgroup tree, deepest first, once its processes are gone (a cgroup stays busy
/// for a moment after its last process exits).
pub(crate) fn remove_cgroups(cgroups: &[PathBuf]) {
    for cgroup in cgroups {
        let removed = poll_until(CLEANUP_DEADLINE, || {
            let mut directories = Vec::new();
            collect_directories(cgroup, &mut directories);
            directories.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            directories.iter().all(|d| std::fs::remove_dir(d).is_ok())
        });
        if !removed && cgroup.exists() {
            eprintln!("keel-host: could not remove cgroup {}", cgroup.display());
        }
    }
}

pub(crate) fn collect_directories(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_owned());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_directories(&entry.path(), out);
        }
    }
}

/// Hosts of a test process that died before dropping them (killed by a signal it could not
/// handle): kill the processes left in their cgroups, by PID, and remove the cgroups. The
/// test process's PID is part of the cgroup name; a live one is never touched.
pub(crate) fn remove_leftover_cgroups() {
    for hierarchy in cgroup_hierarchies() {
        for entry in std::fs::read_dir(&hierarchy)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(owner) = name
                .strip_prefix(CGROUP_PREFIX)
                .and_then(|rest| rest.split('.').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if Path::new(&format!("/proc/{owner}")).exists() {
                continue;
            }
            let mut directories = Vec::new();
            collect_directories(&entry.path(), &mut directories);
            for directory in &directories {
                let procs = std::fs::read_to_string(directory.join("cgroup.procs"));
                for pid in procs.unwrap_or_default().split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            remove_cgroups(&[entry.path()]);
        }
    }
}
