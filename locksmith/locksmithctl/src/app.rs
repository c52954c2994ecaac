//! Running one command: build the client, create the semaphore if absent (as every locksmith
//! client does first, so Keel being down fails every command the same way), run the
//! operation, and print what locksmith prints.

use crate::cli::{Cli, Command};
use crate::status;
use kv_client::{Client, ClientConfig};
use locksmith_core::ports::Rebooter as _;
use locksmith_core::window::parse_go_duration;
use locksmith_dbus::{Bus, DbusLogind, HostBus};
use locksmith_store::{groups, now_ms, SemaphoreStore, StoreError};

/// Where this host's id is read (locksmith's holder identity).
const MACHINE_ID_PATH: &str = "/etc/machine-id";

/// A command that failed: what to print on stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The message, without a trailing newline.
    pub message: String,
    /// The exit code.
    pub code: i32,
}

fn failed(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 1,
    }
}

/// Runs `command`; what to print on stdout.
///
/// # Errors
/// The [`Failure`] to report.
pub async fn run(cli: &Cli, command: &Command) -> Result<String, Failure> {
    if matches!(command, Command::SendNeedReboot) {
        return send_need_reboot().await;
    }
    if let Command::Completion { shell } = command {
        let mut script = Vec::new();
        keel_cli::write_completion::<Cli>(*shell, "locksmithctl", &mut script);
        return Ok(String::from_utf8_lossy(&script).into_owned());
    }
    let client = connect(cli)?;
    let store = SemaphoreStore::new(client.clone(), &cli.group);
    store
        .init()
        .await
        .map_err(|error| failed(format!("Error initializing etcd client: {error}")))?;
    let now_ms = now_ms();
    match command {
        Command::Status { json, all } => {
            show_status(&client, &cli.group, *json, *all, now_ms).await
        }
        Command::Lock { machine_id } => {
            let holder = holder(machine_id.as_deref())?;
            store
                .lock(&holder, now_ms)
                .await
                .map_err(|error| failed(format!("Error locking: {}", operation_error(&error))))?;
            Ok(String::new())
        }
        Command::Unlock { machine_id } => {
            let holder = holder(machine_id.as_deref())?;
            store
                .unlock(&holder, now_ms)
                .await
                .map_err(|error| failed(format!("Error unlocking: {}", operation_error(&error))))?;
            Ok(String::new())
        }
        Command::SetMax { max } => set_max(&store, max.as_deref(), now_ms).await,
        Command::Reboot => reboot(&store, now_ms).await,
        Command::SendNeedReboot | Command::Completion { .. } => Ok(String::new()),
        Command::Reap { max_hold, reason } => reap(&store, max_hold, reason, now_ms).await,
    }
}

/// The client, after refusing what Keel does not serve yet.
fn connect(cli: &Cli) -> Result<Client, Failure> {
    let tls = [&cli.etcd_cafile, &cli.etcd_certfile, &cli.etcd_keyfile];
    if tls.iter().any(|file| file.is_some()) {
        return Err(failed(
            "Error initializing etcd client: TLS (-etcd-cafile, -etcd-certfile, -etcd-keyfile) is not supported yet",
        ));
    }
    if cli.etcd_username.is_some() || cli.etcd_password.is_some() {
        return Err(failed(
            "Error initializing etcd client: basic authentication (-etcd-username, -etcd-password) is not supported yet",
        ));
    }
    let endpoints = cli
        .endpoint
        .iter()
        .map(|endpoint| endpoint.trim().to_owned())
        .filter(|endpoint| !endpoint.is_empty())
        .collect();
    Client::new(ClientConfig::new(endpoints))
        .map_err(|error| failed(format!("Error initializing etcd client: {error}")))
}

async fn show_status(
    client: &Client,
    group: &str,
    json: bool,
    all: bool,
    now_ms: u64,
) -> Result<String, Failure> {
    let names = if all {
        let mut names = vec![String::new()];
        let named = groups(client)
            .await
            .map_err(|error| failed(format!("Error listing groups: {error}")))?;
        names.extend(named);
        names
    } else {
        vec![group.to_owned()]
    };
    let mut reads = Vec::with_capacity(names.len());
    for name in names {
        let read = SemaphoreStore::new(client.clone(), &name)
            .read()
            .await
            .map_err(|error| failed(format!("Error reading the semaphore: {error}")))?;
        reads.push((name, read));
    }
    Ok(match (json, all) {
        (true, true) => status::json_all(&reads, now_ms),
        (true, false) => status::json_one(&reads[0].0, &reads[0].1, now_ms),
        (false, true) => status::text_all(&reads, now_ms),
        (false, false) => status::text(&reads[0].1, now_ms),
    })
}

async fn set_max(
    store: &SemaphoreStore,
    max: Option<&str>,
    now_ms: u64,
) -> Result<String, Failure> {
    let max = max.ok_or_else(|| failed("New maximum value must be set."))?;
    let value: i64 = max
        .parse()
        .map_err(|_| failed(format!("Invalid maximum value: {max}")))?;
    let (old, now) = store
        .set_max(value, now_ms)
        .await
        .map_err(|error| failed(format!("Error setting value: {}", operation_error(&error))))?;
    Ok(format!("Old-Max: {old}\nMax: {}\n", now.max))
}

async fn reap(
    store: &SemaphoreStore,
    max_hold: &str,
    reason: &str,
    now_ms: u64,
) -> Result<String, Failure> {
    let max_hold = parse_go_duration(max_hold).map_err(|error| Failure {
        message: format!("invalid value for -max-hold: {error}"),
        code: 2,
    })?;
    let by = std::fs::read_to_string(MACHINE_ID_PATH)
        .map(|id| format!("locksmithctl on {}", id.trim()))
        .unwrap_or_else(|_| "locksmithctl".to_owned());
    let reaped = store
        .reap(max_hold, &by, reason, now_ms)
        .await
        .map_err(|error| failed(format!("Error reaping: {}", operation_error(&error))))?;
    Ok(reaped
        .iter()
        .map(|reaping| {
            let held =
                status::go_duration_ms(reaping.reaped_at_ms.saturating_sub(reaping.acquired_at_ms));
            format!(
                "Reaped {} (token {}, held for {held})\n",
                reaping.holder, reaping.token
            )
        })
        .collect())
}

/// Takes a slot for this host (already holding one is fine) and asks logind to reboot; a
/// slot taken here is given back when logind refuses (locksmith kept it).
async fn reboot(store: &SemaphoreStore, now_ms: u64) -> Result<String, Failure> {
    if !is_root() {
        return Err(failed("Error: reboot must be run as root"));
    }
    let holder = holder(None)?;
    let bus = HostBus::connect(&Bus::System)
        .await
        .map_err(|error| failed(format!("Error connecting to the system bus: {error}")))?;
    let logind = DbusLogind::connect(&bus)
        .await
        .map_err(|error| failed(format!("Error connecting to logind: {error}")))?;
    let held_before = store
        .read()
        .await
        .map_err(|error| failed(format!("Error locking: {error}")))?
        .semaphore
        .is_held_by(&holder);
    store
        .lock(&holder, now_ms)
        .await
        .map_err(|error| failed(format!("Error locking: {}", operation_error(&error))))?;
    if let Err(error) = logind.reboot().await {
        if !held_before {
            let _ = store.unlock(&holder, now_ms).await;
        }
        return Err(failed(format!("Error requesting reboot: {error}")));
    }
    Ok(String::new())
}

/// Emits update_engine's need-reboot signal on the system bus.
async fn send_need_reboot() -> Result<String, Failure> {
    let bus = HostBus::connect(&Bus::System)
        .await
        .map_err(|error| failed(format!("Error connecting to the system bus: {error}")))?;
    locksmith_dbus::send_need_reboot(&bus)
        .await
        .map_err(|error| failed(format!("Error sending the signal: {error}")))?;
    // A round trip, so the signal has left before the process does (locksmith slept 1 s).
    bus.flush()
        .await
        .map_err(|error| failed(format!("Error sending the signal: {error}")))?;
    Ok(String::new())
}

/// Whether this process runs as root (`Uid:` of `/proc/self/status`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|uids| uids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The holder named, or this host's machine id.
fn holder(given: Option<&str>) -> Result<String, Failure> {
    if let Some(given) = given {
        return Ok(given.to_owned());
    }
    std::fs::read_to_string(MACHINE_ID_PATH)
        .ok()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| failed("Cannot read machine-id"))
}

/// An operation's error as locksmith words it: the document's refusal alone
/// ("semaphore is at 0"), else the whole error.
fn operation_error(error: &StoreError) -> String {
    match error {
        StoreError::Refused(refusal) => refusal.to_string(),
        other => other.to_string(),
    }
}
