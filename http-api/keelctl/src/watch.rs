//! `watch` and `exec-watch` as etcdctl v2 runs them: a watcher from `--after-index` + 1 (or
//! from now), directory events skipped, `[action] key` before each event with `--recursive`,
//! and for exec-watch the command run per event with `ETCD_WATCH_*` in its environment (also
//! as `KEELCTL_WATCH_*`).

use crate::cli::Format;
use crate::failure::{Failure, EXIT_BAD_ARGS, EXIT_SERVER_ERROR};
use crate::keys::key_argument;
use crate::output::response_text;
use futures_util::StreamExt;
use kv_client::{Client, Event, Response, StoreIndex, WatchOptions};
use std::io::Write;

fn options(after_index: u64, recursive: bool) -> WatchOptions {
    let options = if after_index > 0 {
        WatchOptions::after(StoreIndex(after_index))
    } else {
        WatchOptions::default()
    };
    WatchOptions {
        recursive,
        ..options
    }
}

async fn next_event(watch: &mut kv_client::Watch) -> Result<Event, Failure> {
    // A transient failure is yielded after a whole failover budget; etcdctl's watcher, too,
    // gives up then. The stream ending is impossible before a terminal error.
    match watch.next().await {
        Some(Ok(event)) => Ok(event),
        Some(Err(error)) => Err(Failure::client(EXIT_SERVER_ERROR, &error)),
        None => Err(Failure::handle(EXIT_SERVER_ERROR, "watch ended")),
    }
}

fn as_response(event: Event) -> Response {
    Response {
        etcd_index: event.node.modified_index,
        action: event.action,
        node: event.node,
        prev_node: event.prev_node,
        raft_index: kv_client::RaftIndex(0),
        raft_term: kv_client::Term(0),
        cluster_id: None,
    }
}

/// `watch`: one event, or every event with `--forever`.
pub async fn watch(
    client: &Client,
    format: Format,
    args: &[String],
    forever: bool,
    after_index: u64,
    recursive: bool,
) -> Result<(), Failure> {
    let key = key_argument(args)?;
    let mut watch = client.watch(&key, options(after_index, recursive));
    // Bounded by the user: without --forever one event ends it, with it only CTRL+C does,
    // as in etcdctl.
    loop {
        let event = next_event(&mut watch).await?;
        if event.node.dir {
            continue;
        }
        let mut text = String::new();
        if recursive {
            text = format!("[{}] {}\n", event.action.as_str(), event.node.key);
        }
        text.push_str(&response_text(&as_response(event), format));
        print!("{text}");
        let _ = std::io::stdout().flush();
        if !forever {
            return Ok(());
        }
    }
}

/// `<key> -- <command> [args...]`, or etcdctl's legacy order `<command> [args...] <key>`.
fn split_exec_args(args: &[String]) -> Result<(String, Vec<String>), Failure> {
    if args.len() < 2 {
        return Err(Failure::handle(
            EXIT_BAD_ARGS,
            "key and command to exec required",
        ));
    }
    let separator = args
        .iter()
        .skip(1)
        .position(|arg| arg == "--")
        .map(|position| position + 1);
    let (key, command) = match separator {
        Some(position) => (args[0].clone(), args[position + 1..].to_vec()),
        None => (
            args[args.len() - 1].clone(),
            args[..args.len() - 1].to_vec(),
        ),
    };
    if command.is_empty() {
        return Err(Failure::handle(
            EXIT_BAD_ARGS,
            "key and command to exec required",
        ));
    }
    Ok((key, command))
}

/// The variables etcdctl's `environResponse` adds, plus the same under `KEELCTL_WATCH_`.
#[must_use]
pub fn watch_environment(event: &Event) -> Vec<(String, String)> {
    let fields = [
        ("ACTION", event.action.as_str().to_owned()),
        ("MODIFIED_INDEX", event.node.modified_index.to_string()),
        ("KEY", event.node.key.clone()),
        ("VALUE", event.node.value.clone().unwrap_or_default()),
    ];
    let mut environment = Vec::new();
    for prefix in ["ETCD_WATCH_", "KEELCTL_WATCH_"] {
        for (name, value) in &fields {
            environment.push((format!("{prefix}{name}"), value.clone()));
        }
    }
    environment
}

/// `exec-watch`: runs the command for every file event until interrupted.
pub async fn exec_watch(
    client: &Client,
    args: &[String],
    after_index: u64,
    recursive: bool,
) -> Result<(), Failure> {
    let (key, command) = split_exec_args(args)?;
    let mut watch = client.watch(&key, options(after_index, recursive));
    // Runs until CTRL+C or a watch error, as etcdctl's; children are reaped by tokio.
    loop {
        let event = next_event(&mut watch).await?;
        if event.node.dir {
            eprintln!("Ignored dir {} change", event.node.key);
            continue;
        }
        let spawned = tokio::process::Command::new(&command[0])
            .args(&command[1..])
            .envs(watch_environment(&event))
            .spawn();
        match spawned {
            Ok(mut child) => {
                let _ = child.wait().await;
            }
            Err(error) => {
                return Err(Failure {
                    stderr: error.to_string(),
                    code: EXIT_BAD_ARGS,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a panic is the failure report
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(ToString::to_string).collect()
    }

    // Goal: both argument orders etcdctl accepts for exec-watch, and its error for too few.
    #[test]
    fn exec_watch_arguments() {
        let (key, command) = split_exec_args(&strings(&["/k", "--", "sh", "-c", "x"])).unwrap();
        assert_eq!((key.as_str(), command), ("/k", strings(&["sh", "-c", "x"])));
        let (key, command) = split_exec_args(&strings(&["echo", "hi", "/k"])).unwrap();
        assert_eq!((key.as_str(), command), ("/k", strings(&["echo", "hi"])));
        assert_eq!(
            split_exec_args(&strings(&["/k"])).unwrap_err().code,
            EXIT_BAD_ARGS
        );
    }

    // Goal: an after-index of N watches from N+1, as Go's `WatcherOptions.AfterIndex`.
    #[test]
    fn after_index_is_exclusive() {
        assert_eq!(options(5, true).wait_index, Some(StoreIndex(6)));
        assert!(options(5, true).recursive);
        assert_eq!(options(0, false).wait_index, None);
    }
}
