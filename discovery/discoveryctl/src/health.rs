//! The announcer's health check: an HTTP URL that must answer 2xx or 3xx, or a shell command
//! that must exit 0, each within a timeout; no check means always healthy.
//!
//! Invariants: a check never takes longer than its timeout (a command still running then is
//! killed); only `http://` URLs (no TLS client here).

use std::time::Duration;
use tokio::process::Command;

/// How health is checked.
#[derive(Debug, Clone)]
pub enum Check {
    /// No check: healthy.
    Always,
    /// `GET` this URL.
    Url(String),
    /// Run this with `sh -c`.
    Command(String),
}

/// A check that cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("--health-url {0:?}: only http:// URLs are checked")]
pub struct UrlError(String);

impl Check {
    /// The check from the flags.
    ///
    /// # Errors
    /// [`UrlError`] for a URL that is not `http://`.
    pub fn new(url: Option<&str>, command: Option<&str>) -> Result<Check, UrlError> {
        match (url, command) {
            (Some(url), _) if !url.starts_with("http://") => Err(UrlError(url.to_owned())),
            (Some(url), _) => Ok(Check::Url(url.to_owned())),
            (None, Some(command)) => Ok(Check::Command(command.to_owned())),
            (None, None) => Ok(Check::Always),
        }
    }

    /// Whether the instance is healthy now; the reason when not.
    pub async fn run(&self, timeout: Duration) -> Result<(), String> {
        match self {
            Check::Always => Ok(()),
            Check::Url(url) => get(url.clone(), timeout).await,
            Check::Command(command) => run_command(command, timeout).await,
        }
    }
}

async fn get(url: String, timeout: Duration) -> Result<(), String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .build();
    let checked = tokio::task::spawn_blocking(move || match agent.get(&url).call() {
        Ok(response) if response.status() < 400 => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(ureq::Error::Status(status, _)) => Err(format!("{url} answered {status}")),
        Err(error) => Err(format!("{url}: {error}")),
    });
    checked.await.unwrap_or_else(|error| Err(error.to_string()))
}

async fn run_command(command: &str, timeout: Duration) -> Result<(), String> {
    let mut child = Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run sh: {error}"))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{command:?} exited with {status}")),
        Ok(Err(error)) => Err(format!("{command:?}: {error}")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!("{command:?} took longer than {timeout:?}"))
        }
    }
}
