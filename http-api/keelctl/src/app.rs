//! Wiring: endpoints from the flags and environment, the client with etcdctl's timeouts, the
//! member-list sync etcdctl does before each command, then the command.

use crate::cli::{Cli, Command};
use crate::failure::{Failure, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION};
use crate::{keys, member, output, watch};
use kv_client::{Client, ClientConfig, ClientError};

/// Used when neither `--endpoints`, `KEELCTL_ENDPOINTS` nor `ETCDCTL_ENDPOINTS` is set:
/// Keel's default client URL.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:2379";

/// `--endpoints` / `KEELCTL_ENDPOINTS` (clap), else `ETCDCTL_ENDPOINTS`, else the default.
#[must_use]
pub fn endpoints(flag: &[String], etcdctl_env: Option<String>) -> Vec<String> {
    if !flag.is_empty() {
        return flag.to_vec();
    }
    match etcdctl_env {
        Some(list) if !list.is_empty() => list.split(',').map(ToOwned::to_owned).collect(),
        _ => vec![DEFAULT_ENDPOINT.to_owned()],
    }
}

fn client(cli: &Cli) -> Result<Client, Failure> {
    let config = ClientConfig {
        request_timeout: cli.timeout,
        connect_timeout: cli.timeout,
        operation_timeout: cli.total_timeout,
        discover_endpoints: !cli.no_sync,
        ..ClientConfig::new(endpoints(
            &cli.endpoints,
            std::env::var("ETCDCTL_ENDPOINTS").ok(),
        ))
    };
    Client::new(config).map_err(|error| Failure::line(&error.to_string()))
}

/// etcdctl's `mustNewClient`: sync the member list unless `--no-sync`; only a connection
/// failure is fatal (exit 2).
async fn sync(cli: &Cli, client: &Client) -> Result<(), Failure> {
    if cli.no_sync {
        return Ok(());
    }
    match client.sync_endpoints().await {
        Err(error @ (ClientError::Unavailable { .. } | ClientError::Timeout { .. })) => Err(
            Failure::handle(EXIT_BAD_CONNECTION, &output::error_text(&error)),
        ),
        _ => Ok(()),
    }
}

/// Runs the parsed command line.
///
/// # Errors
/// The command's failure: what to print on stderr and the exit code.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    if let Command::Completion { shell } = &cli.command {
        keel_cli::write_completion::<Cli>(*shell, "keelctl", &mut std::io::stdout());
        return Ok(());
    }
    let client = client(&cli)?;
    if !matches!(cli.command, Command::ClusterHealth { .. }) {
        sync(&cli, &client).await?;
    }
    if let Some(result) = keys::run(&client, cli.output, &cli.command).await {
        return result;
    }
    match &cli.command {
        Command::Watch {
            forever,
            after_index,
            recursive,
            args,
        } => {
            watch::watch(
                &client,
                cli.output,
                args,
                *forever,
                *after_index,
                *recursive,
            )
            .await
        }
        Command::ExecWatch {
            after_index,
            recursive,
            args,
        } => watch::exec_watch(&client, args, *after_index, *recursive).await,
        Command::Member(command) => member::run(&client, command).await,
        Command::ClusterHealth { forever } => health(&client, *forever).await,
        _ => Err(Failure::handle(EXIT_BAD_ARGS, "unknown command")),
    }
}

async fn health(client: &Client, forever: bool) -> Result<(), Failure> {
    // Bounded by the user: --forever runs until CTRL+C, as etcdctl's.
    loop {
        let all_healthy = member::cluster_health(client).await?;
        if !forever {
            return member::health_exit(all_healthy);
        }
        println!("\nnext check after 10 second...\n");
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: endpoint precedence: flag or KEELCTL_ENDPOINTS, then ETCDCTL_ENDPOINTS, then default.
    #[test]
    fn endpoint_precedence() {
        let flag = vec!["http://a:1".to_owned()];
        assert_eq!(endpoints(&flag, Some("http://b:2".into())), flag);
        assert_eq!(
            endpoints(&[], Some("http://b:2,http://c:3".into())),
            ["http://b:2", "http://c:3"]
        );
        assert_eq!(endpoints(&[], None), [DEFAULT_ENDPOINT]);
    }
}
