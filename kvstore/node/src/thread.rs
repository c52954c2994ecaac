//! The OS thread that runs a member's raft loop. raft-rs is synchronous, so it never runs on
//! a tokio worker (STYLE §2.3).

use crate::core::{FatalError, Input, NodeConfig, RaftCore};
use crate::handle::{NodeHandle, Progress};
use crate::limits;
use crate::state::StateMachine;
use crate::storage::LogStorage;
use crate::transport::Transport;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;
use v2store::Time;

/// Why the raft thread could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// raft-rs refused the configuration or the stored state.
    #[error("raft refused to start: {0}")]
    Raft(#[from] raft::Error),
    /// The OS refused a thread.
    #[error("cannot spawn the raft thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// The running raft thread; `stop` ends it and waits.
pub struct RaftThread {
    inbox: SyncSender<Input>,
    join: Option<JoinHandle<()>>,
}

impl RaftThread {
    /// Ask the loop to stop (pending requests are answered `Stopped`) and wait for it.
    pub fn stop(mut self) {
        // A blocking send: shutdown must not be lost to a full inbox.
        let _ = self.inbox.send(Input::Shutdown);
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

/// The wall clock as store time.
#[must_use]
pub fn wall_now() -> Time {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Time(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// Start the raft loop of one member on its own thread; `observer` receives its durations
/// for metrics (none: nothing is measured).
///
/// # Errors
/// `StartError` when raft-rs refuses the state or the thread cannot be spawned.
pub fn spawn<S: LogStorage, T: Transport>(
    mut config: NodeConfig,
    tick_interval: Duration,
    storage: S,
    transport: T,
    state: StateMachine,
    applied: u64,
    observer: Option<Arc<dyn crate::Observer>>,
) -> Result<(NodeHandle, RaftThread), StartError> {
    let (inbox, receiver) = mpsc::sync_channel(limits::INBOX_MAX);
    let state = Arc::new(RwLock::new(state));
    let progress = Arc::new(Progress::default());
    if let Some(observer) = observer {
        progress.observer.set(observer);
    }
    // Replayed entries carry counters of earlier lifetimes; start above them (see NodeConfig).
    config.first_seq = u64::try_from(wall_now().0)
        .unwrap_or(0)
        .max(config.first_seq);
    let id = config.id;
    let core = RaftCore::new(
        config,
        storage,
        transport,
        Arc::clone(&state),
        Arc::clone(&progress),
        applied,
    )?;
    let join = std::thread::Builder::new()
        .name(format!("raft-{id}"))
        .spawn(move || run(core, &receiver, tick_interval))?;
    let handle = NodeHandle::new(id, inbox.clone(), state, progress);
    Ok((
        handle,
        RaftThread {
            inbox,
            join: Some(join),
        },
    ))
}

/// The loop: wait for input until the next tick, drain a bounded batch (group commit), tick
/// when due, then handle one `Ready`. A fatal error aborts the process (STYLE §2.3).
fn run<S: LogStorage, T: Transport>(
    mut core: RaftCore<S, T>,
    receiver: &Receiver<Input>,
    tick_interval: Duration,
) {
    let span = tracing::info_span!("raft", node_id = %crate::NodeId(core.raw().raft.id));
    let _entered = span.enter();
    let mut next_tick = Instant::now() + tick_interval;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(wait) {
            Ok(input) => {
                if !core.handle(input) {
                    return;
                }
                for input in receiver.try_iter().take(limits::INBOX_DRAIN_MAX) {
                    if !core.handle(input) {
                        return;
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        if now >= next_tick {
            core.tick(wall_now());
            // After a stall, resume the cadence instead of firing a burst of ticks.
            next_tick = (next_tick + tick_interval).max(now);
        }
        if let Err(error) = core.on_ready() {
            fatal(&error);
        }
    }
}

fn fatal(error: &FatalError) -> ! {
    tracing::error!(%error, "raft loop failed; stopping the member to protect its data");
    eprintln!("keel: fatal: {error}");
    std::process::abort();
}
