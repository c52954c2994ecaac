//! How a command ends when it fails: the text for stderr and etcdctl's exit code
//! (`etcdctl/ctlv2/command/error.go`).

use crate::output;
use kv_client::ClientError;

/// etcdctl's `ExitBadArgs`.
pub const EXIT_BAD_ARGS: i32 = 1;
/// etcdctl's `ExitBadConnection`: the member list could not be synced.
pub const EXIT_BAD_CONNECTION: i32 = 2;
/// etcdctl's `ExitServerError`: the call failed (etcd error, unreachable cluster).
pub const EXIT_SERVER_ERROR: i32 = 4;
/// etcdctl's `ExitClusterNotHealthy`.
pub const EXIT_CLUSTER_NOT_HEALTHY: i32 = 5;

/// A failed command: everything it prints on stderr, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Printed as is (newline included).
    pub stderr: String,
    /// The process exit code.
    pub code: i32,
}

impl Failure {
    /// etcdctl's `handleError`: `Error:  <error>` and the exit code.
    #[must_use]
    pub fn handle(code: i32, message: &str) -> Failure {
        Failure {
            stderr: format!("Error:  {message}\n"),
            code,
        }
    }

    /// `handleError` for a client error.
    #[must_use]
    pub fn client(code: i32, error: &ClientError) -> Failure {
        Failure::handle(code, &output::error_text(error))
    }

    /// A bare line and exit code 1, as the member commands print their errors.
    #[must_use]
    pub fn line(message: &str) -> Failure {
        Failure {
            stderr: format!("{message}\n"),
            code: EXIT_BAD_ARGS,
        }
    }
}
