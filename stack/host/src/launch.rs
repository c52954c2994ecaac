//! Setting a host up: the files its first process reads (the script, the system bus and
//! journald configuration, the machine ID) and the launcher that starts it in its namespaces.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{HostConfig, HostError};

/// The first process of a host, run by `sh` as PID 1 of its namespace. Arguments: the host
/// directory, then the cgroup directories to join.
const FIRST_PROCESS_SCRIPT: &str = r#"#!/bin/sh
# The first process of a keel-host host (stack/host/src/launch.rs). PID 1 of its own PID
# namespace, in a private mount namespace; it lives as long as the systemd user manager.
set -eu
dir=$1
shift
# Own cgroups before anything starts, so the manager's unit cgroups are this host's alone.
for cgroup in "$@"; do echo $$ > "$cgroup/cgroup.procs"; done
mount -t tmpfs -o mode=0755 tmpfs /run
# /run/systemd/system makes systemd's tools believe the host was booted with systemd.
mkdir -p /run/systemd/system /run/dbus /run/systemd/journald.conf.d /run/user/0
chmod 0700 /run/user/0
cp "$dir/journald.conf" /run/systemd/journald.conf.d/keel-host.conf
mount --bind "$dir/machine-id" /etc/machine-id
if [ -e /var/lib/dbus/machine-id ]; then
  mount --bind "$dir/machine-id" /var/lib/dbus/machine-id
fi
# --fork returns once the bus listens.
dbus-daemon --config-file="$dir/system-bus.conf" --fork --nopidfile
/lib/systemd/systemd-journald &
# The manager connects units' output to this socket when they start; 10 s at most.
tries=0
while [ ! -S /run/systemd/journal/stdout ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 1000 ]; then echo "journald did not start" >&2; exit 1; fi
  sleep 0.01
done
export XDG_RUNTIME_DIR=/run/user/0 HOME="$dir/home" XDG_CONFIG_HOME="$dir/config"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
mkdir -p "$HOME" "$XDG_CONFIG_HOME"
# Not PID 1, so it would log to stderr without --log-target. `systemd --user` refuses to run
# as PID 1, hence the background and the wait (which also reaps orphans).
/lib/systemd/systemd --user --log-target=journal &
wait $!
"#;

/// The private system bus: root may own any name (Debian's policy denies names such as
/// `com.coreos.update1` or `org.freedesktop.login1`, which tests stand in for) and send to
/// anyone. No service activation, no syslog.
const SYSTEM_BUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#;

/// journald inside a host: in memory (`/var/log/journal` exists on the machine and would be
/// shared by every host), not reading the kernel's ring buffer (every host would import it),
/// and never writing to the machine's terminals.
const JOURNALD_CONFIG: &str = "[Journal]
Storage=volatile
ReadKMsg=no
ForwardToWall=no
ForwardToSyslog=no
";

/// Variables of the test's own environment that must not reach a host's manager: a
/// `NOTIFY_SOCKET` would let it report to the machine's service manager, and the bus
/// addresses would point at the machine's buses.
pub(crate) const ENVIRONMENT_REMOVED: &[&str] = &[
    "NOTIFY_SOCKET",
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "JOURNAL_STREAM",
    "INVOCATION_ID",
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_SYSTEM_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
];

/// The script, bus and journal configuration, machine-id, `HOME` and `XDG_CONFIG_HOME`.
pub(crate) fn write_host_files(config: &HostConfig) -> Result<(), HostError> {
    let dir = &config.dir;
    let io = |action: &str, path: &Path| {
        let path = path.to_owned();
        let action = action.to_owned();
        move |source| HostError::Io {
            action,
            path,
            source,
        }
    };
    for sub in ["home", "config"] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(io("creating", &path))?;
    }
    let files = [
        ("host.sh", FIRST_PROCESS_SCRIPT.to_owned()),
        ("system-bus.conf", SYSTEM_BUS_CONFIG.to_owned()),
        ("journald.conf", JOURNALD_CONFIG.to_owned()),
        ("machine-id", format!("{}\n", config.machine_id)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io("writing", &path))?;
    }
    Ok(())
}

/// Starts the launcher: `[nsenter --net=/run/netns/NS] unshare ... sh host.sh DIR CGROUPS`.
/// `nsenter` rather than `ip netns exec`: the latter mounts a fresh sysfs for the namespace,
/// on which `/sys/fs/cgroup` is empty, so neither the script nor systemd would find cgroups.
/// `detached`: in a process group of its own (see `Host::start_detached`).
pub(crate) fn launch(
    config: &HostConfig,
    cgroups: &[PathBuf],
    detached: bool,
) -> Result<Child, HostError> {
    let log = config.dir.join("host.log");
    let file = std::fs::File::create(&log).map_err(|source| HostError::Io {
        action: "creating".into(),
        path: log.clone(),
        source,
    })?;
    let stderr = file.try_clone().map_err(|source| HostError::Io {
        action: "cloning".into(),
        path: log,
        source,
    })?;
    let mut command = match &config.namespace {
        Some(namespace) => {
            let mut command = Command::new("nsenter");
            command
                .arg(format!("--net=/run/netns/{namespace}"))
                .arg("unshare");
            command
        }
        None => Command::new("unshare"),
    };
    command
        .args(["--mount", "--propagation", "private", "--pid", "--fork"])
        .args(["--mount-proc", "--kill-child", "/bin/sh"])
        .arg(config.dir.join("host.sh"))
        .arg(&config.dir)
        .args(cgroups);
    for name in ENVIRONMENT_REMOVED {
        command.env_remove(name);
    }
    if detached {
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
    }
    command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(stderr)
        .spawn()
        .map_err(|source| HostError::LaunchFailed { source })
}
