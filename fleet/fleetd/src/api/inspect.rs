//! Looking at a unit on this machine: `systemctl status` and `journalctl`, behind
//! [`UnitInspector`] so that the API is tested with a fake and runs the real commands in
//! production ([`LocalInspector`]).
//!
//! Invariants: a command is never left running once its answer is no longer wanted: every
//! child is killed when its future or stream is dropped (the client went away, the request
//! ended, the server shut down); `systemctl status` is bounded in time and in output kept;
//! a journal is streamed in chunks as `journalctl` writes them, never gathered whole. A
//! non-zero exit status is not an error: `systemctl status` exits 3 for a stopped unit and
//! its output is still the answer.

use crate::api::limits::{
    JOURNAL_CHUNK_BYTES, JOURNAL_LINES_DEFAULT, JOURNAL_LINES_MAX, STATUS_OUTPUT_BYTES_MAX,
    STATUS_TIMEOUT,
};
use bytes::Bytes;
use fleet_core::name::UnitName;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use std::io;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// Bytes of a journal as they arrive.
pub type ByteStream = BoxStream<'static, Result<Bytes, io::Error>>;

/// `journalctl --output` modes that journalctl documents.
const OUTPUT_MODES: &[&str] = &[
    "short",
    "short-full",
    "short-iso",
    "short-iso-precise",
    "short-precise",
    "short-monotonic",
    "short-delta",
    "short-unix",
    "verbose",
    "export",
    "json",
    "json-pretty",
    "json-sse",
    "json-seq",
    "cat",
    "with-unit",
];

/// What a journal request asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRequest {
    /// `journalctl -n`: the last lines shown.
    pub lines: u32,
    /// `journalctl --output`.
    pub output: String,
    /// `journalctl -f`: keep streaming new lines.
    pub follow: bool,
}

/// Why a journal request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalRequestError {
    /// `lines` is not a number up to the bound.
    #[error("invalid lines {0:?}: expected a number from 0 to {JOURNAL_LINES_MAX}")]
    Lines(String),
    /// `output` is not a journalctl output mode.
    #[error("invalid output {0:?}: expected one of {modes}", modes = OUTPUT_MODES.join(", "))]
    Output(String),
    /// `follow` is not `true` or `false`.
    #[error("invalid follow {0:?}: expected true or false")]
    Follow(String),
}

impl JournalRequest {
    /// The request from its query values, each optional: 10 lines, `short`, no follow.
    ///
    /// # Errors
    /// [`JournalRequestError`] for a value out of range or unknown.
    pub fn from_query(
        lines: Option<&str>,
        output: Option<&str>,
        follow: Option<&str>,
    ) -> Result<JournalRequest, JournalRequestError> {
        let lines = match lines {
            None => JOURNAL_LINES_DEFAULT,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|lines| *lines <= JOURNAL_LINES_MAX)
                .ok_or_else(|| JournalRequestError::Lines(text.to_owned()))?,
        };
        let output = output.unwrap_or("short");
        if !OUTPUT_MODES.contains(&output) {
            return Err(JournalRequestError::Output(output.to_owned()));
        }
        let follow = match follow {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(JournalRequestError::Follow(other.to_owned())),
        };
        Ok(JournalRequest {
            lines,
            output: output.to_owned(),
            follow,
        })
    }

    /// The query that asks for this request (what a forward sends on).
    #[must_use]
    pub fn to_query(&self) -> String {
        format!(
            "lines={}&output={}&follow={}",
            self.lines, self.output, self.follow
        )
    }
}

/// Why a unit could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The command could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// `systemctl` or `journalctl`.
        program: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Its output could not be read.
    #[error("reading the output of {program}: {source}")]
    Output {
        /// `systemctl` or `journalctl`.
        program: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It did not finish in time and was killed.
    #[error("{program} did not finish within {timeout:?}")]
    Timeout {
        /// `systemctl`.
        program: &'static str,
        /// The bound.
        timeout: Duration,
    },
}

/// Runs the inspection commands for units on this machine.
pub trait UnitInspector: Send + Sync + 'static {
    /// `systemctl status -l --no-pager <unit>`: its output, whatever its exit status.
    fn status(&self, unit: &UnitName) -> BoxFuture<'static, Result<Bytes, InspectError>>;

    /// `journalctl` for `unit` as `request` says, as a stream that ends when journalctl
    /// does; dropping the stream stops journalctl.
    ///
    /// # Errors
    /// [`InspectError::Spawn`] when journalctl cannot be started.
    fn journal(
        &self,
        unit: &UnitName,
        request: &JournalRequest,
    ) -> Result<ByteStream, InspectError>;
}

/// The real inspector: `systemctl` and `journalctl` of the system manager, or of the user
/// manager when fleetd drives `systemd --user` (`systemd_user`).
#[derive(Debug, Clone)]
pub struct LocalInspector {
    user: bool,
}

impl LocalInspector {
    /// The inspector for the manager fleetd drives.
    #[must_use]
    pub fn new(systemd_user: bool) -> LocalInspector {
        LocalInspector { user: systemd_user }
    }

    /// `program` with `--user` when driving the user manager (for `systemctl`).
    fn command(&self, program: &str, user_flag: bool) -> Command {
        let mut command = Command::new(program);
        if self.user && user_flag {
            command.arg("--user");
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// The journalctl arguments. A system unit is matched by `--unit`. A user manager's unit
    /// is matched by `--user-unit` and also by `--unit` (journalctl ORs the two): a manager
    /// started as `user@UID.service` tags its units' output with the user unit, while one
    /// started on its own (test hosts, containers) leaves journald to see its units as system
    /// units. Never `--user`: that reads only per-user journal files, which journald does not
    /// write for system users such as root.
    fn journal_arguments(&self, unit: &UnitName, request: &JournalRequest) -> Vec<String> {
        let mut arguments = vec![format!("--unit={}", unit.as_str())];
        if self.user {
            arguments.push(format!("--user-unit={}", unit.as_str()));
        }
        arguments.extend([
            "--no-pager".to_owned(),
            "-n".to_owned(),
            request.lines.to_string(),
            "--output".to_owned(),
            request.output.clone(),
        ]);
        if request.follow {
            arguments.push("-f".to_owned());
        }
        arguments
    }
}

/// Reads `reader` to its end, keeping at most `max` bytes and noting a cut.
async fn read_bounded(reader: Option<impl AsyncRead + Unpin>, max: usize) -> io::Result<Vec<u8>> {
    let Some(reader) = reader else {
        return Ok(Vec::new());
    };
    let mut kept = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(limit).read_to_end(&mut kept).await?;
    if kept.len() > max {
        kept.truncate(max);
        kept.extend_from_slice(b"\n[output cut]\n");
    }
    Ok(kept)
}

async fn run_status(mut child: Child) -> Result<Bytes, InspectError> {
    const PROGRAM: &str = "systemctl";
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let outputs = async {
        tokio::try_join!(
            read_bounded(stdout, STATUS_OUTPUT_BYTES_MAX),
            read_bounded(stderr, STATUS_OUTPUT_BYTES_MAX),
        )
    };
    let (mut out, err) = tokio::time::timeout(STATUS_TIMEOUT, outputs)
        .await
        .map_err(|_| InspectError::Timeout {
            program: PROGRAM,
            timeout: STATUS_TIMEOUT,
        })?
        .map_err(|source| InspectError::Output {
            program: PROGRAM,
            source,
        })?;
    // Both pipes are closed or cut: the child is done or no longer wanted.
    if let Err(error) = child.start_kill() {
        tracing::debug!(%error, "systemctl already exited");
    }
    if let Err(error) = child.wait().await {
        tracing::debug!(%error, "waiting for systemctl");
    }
    out.extend_from_slice(&err);
    Ok(Bytes::from(out))
}

impl UnitInspector for LocalInspector {
    fn status(&self, unit: &UnitName) -> BoxFuture<'static, Result<Bytes, InspectError>> {
        let mut command = self.command("systemctl", true);
        command
            .args(["status", "-l", "--no-pager", "--"])
            .arg(unit.as_str());
        let spawned = command.spawn();
        Box::pin(async move {
            let child = spawned.map_err(|source| InspectError::Spawn {
                program: "systemctl",
                source,
            })?;
            run_status(child).await
        })
    }

    fn journal(
        &self,
        unit: &UnitName,
        request: &JournalRequest,
    ) -> Result<ByteStream, InspectError> {
        let mut command = self.command("journalctl", false);
        command.args(self.journal_arguments(unit, request));
        let mut child = command.spawn().map_err(|source| InspectError::Spawn {
            program: "journalctl",
            source,
        })?;
        let output = JournalOutput {
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child: Some(child),
        };
        Ok(stream::unfold(output, JournalOutput::next).boxed())
    }
}

/// A running journalctl: its stdout streamed, then its stderr (where it reports problems),
/// then it is reaped. Dropping this kills it (`kill_on_drop`).
struct JournalOutput {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    child: Option<Child>,
}

impl JournalOutput {
    async fn next(mut self) -> Option<(Result<Bytes, io::Error>, JournalOutput)> {
        loop {
            let read = if let Some(stdout) = self.stdout.as_mut() {
                Self::chunk(stdout).await
            } else if let Some(stderr) = self.stderr.as_mut() {
                Self::chunk(stderr).await
            } else {
                if let Some(mut child) = self.child.take() {
                    if let Err(error) = child.wait().await {
                        tracing::debug!(%error, "waiting for journalctl");
                    }
                }
                return None;
            };
            match read {
                Ok(Some(bytes)) => return Some((Ok(bytes), self)),
                Ok(None) if self.stdout.is_some() => self.stdout = None,
                Ok(None) => self.stderr = None,
                Err(error) => {
                    self.stdout = None;
                    self.stderr = None;
                    return Some((Err(error), self));
                }
            }
        }
    }

    async fn chunk(reader: &mut (impl AsyncRead + Unpin)) -> io::Result<Option<Bytes>> {
        let mut buffer = vec![0; JOURNAL_CHUNK_BYTES];
        let count = reader.read(&mut buffer).await?;
        if count == 0 {
            return Ok(None);
        }
        buffer.truncate(count);
        Ok(Some(Bytes::from(buffer)))
    }
}

#[cfg(test)]
mod tests {
    //! Journal requests, the commands built from them, and bounded reads. Method: pure
    //! checks and in-memory readers; the real commands need a systemd host.

    use super::*;

    #[test]
    fn journal_queries_are_checked() {
        // Goal: defaults, bounds, the known output modes and the two follow words.
        // Method: `from_query` on literal values.
        let default = JournalRequest::from_query(None, None, None).expect("defaults");
        assert_eq!(default.to_query(), "lines=10&output=short&follow=false");
        let asked = JournalRequest::from_query(Some("50"), Some("json"), Some("true"))
            .expect("a valid request");
        assert_eq!((asked.lines, asked.follow), (50, true));
        assert!(JournalRequest::from_query(Some("-1"), None, None).is_err());
        assert!(JournalRequest::from_query(Some("ten"), None, None).is_err());
        assert!(JournalRequest::from_query(Some("1000001"), None, None).is_err());
        assert!(JournalRequest::from_query(None, Some("../x"), None).is_err());
        assert!(JournalRequest::from_query(None, None, Some("yes")).is_err());
    }

    #[test]
    fn journal_arguments_match_the_manager() {
        // Goal: system units by `--unit`, user units by `--unit` and `--user-unit`, `-f` when
        // following.
        // Method: build the argument lists.
        let unit = UnitName::parse("-a.service").expect("a valid name");
        let request = JournalRequest::from_query(Some("5"), Some("cat"), Some("true"))
            .expect("a valid request");
        let system = LocalInspector::new(false).journal_arguments(&unit, &request);
        assert_eq!(
            system,
            [
                "--unit=-a.service",
                "--no-pager",
                "-n",
                "5",
                "--output",
                "cat",
                "-f"
            ]
        );
        let user = LocalInspector::new(true).journal_arguments(&unit, &request);
        assert_eq!(user[..2], ["--unit=-a.service", "--user-unit=-a.service"]);
    }

    #[tokio::test]
    async fn bounded_reads_cut_and_say_so() {
        // Goal: output beyond the bound is cut with a note; shorter output is whole.
        // Method: in-memory readers.
        let whole = read_bounded(Some(&b"abc"[..]), 3).await.expect("read");
        assert_eq!(whole, b"abc");
        let cut = read_bounded(Some(&b"abcd"[..]), 3).await.expect("read");
        assert_eq!(cut, b"abc\n[output cut]\n");
        let none = read_bounded(None::<&[u8]>, 3).await.expect("read");
        assert!(none.is_empty());
    }
}
