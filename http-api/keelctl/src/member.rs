//! `member list|add|remove|update` and `cluster-health`, printing what etcdctl v2 prints
//! (`etcdctl/ctlv2/command/member_commands.go`, `cluster_health.go`). Like etcdctl's Go client,
//! a 404 or 409 prints the server's `message`, any other unexpected status `unexpected status
//! code N`, and a peer URL is checked before anything is sent.

use crate::cli::MemberCommand;
use crate::failure::{Failure, EXIT_CLUSTER_NOT_HEALTHY, EXIT_SERVER_ERROR};
use kv_client::{Client, ClientError, Member};

/// The Go members API's message for a failed call: the server's message for the statuses it
/// documents (404 unknown member, 409 URL taken), else the unexpected status, else the error.
fn member_error(error: &ClientError) -> String {
    match error {
        ClientError::Http { status, body, .. } if matches!(status, 404 | 409) => {
            serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("unexpected status code {status}"))
        }
        ClientError::Http { status, .. } => format!("unexpected status code {status}"),
        other => crate::output::error_text(other),
    }
}

/// etcdctl's check of a peer URL before sending (Go's `types.NewURLs`), in its words.
fn check_peer_url(url: &str) -> Result<(), Failure> {
    let Some((_, rest)) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https" | "unix" | "unixs"))
    else {
        return Err(Failure::line(&format!(
            "URL scheme must be http, https, unix, or unixs: {url}"
        )));
    };
    let host = rest.split('/').next().unwrap_or("");
    if !host.contains(':') {
        return Err(Failure::line(&format!(
            "URL address does not have the form \"host:port\": {url}"
        )));
    }
    Ok(())
}

/// Runs a `member` subcommand.
pub async fn run(client: &Client, command: &MemberCommand) -> Result<(), Failure> {
    match command {
        MemberCommand::List { args } => list(client, args).await,
        MemberCommand::Add { args } => add(client, args).await,
        MemberCommand::Remove { args } => remove(client, args).await,
        MemberCommand::Update { args } => update(client, args).await,
    }
}

async fn list(client: &Client, args: &[String]) -> Result<(), Failure> {
    if !args.is_empty() {
        return Err(Failure::line("No arguments accepted"));
    }
    let members = client
        .members()
        .await
        .map_err(|error| Failure::line(&member_error(&error)))?;
    let leader = client.leader().await.map_err(|error| {
        Failure::line(&format!("Failed to get leader:  {}", member_error(&error)))
    })?;
    let mut text = String::new();
    for member in &members {
        if member.name.is_empty() {
            text.push_str(&format!(
                "{}[unstarted]: peerURLs={}\n",
                member.id,
                member.peer_urls.join(",")
            ));
        } else {
            text.push_str(&format!(
                "{}: name={} peerURLs={} clientURLs={} isLeader={}\n",
                member.id,
                member.name,
                member.peer_urls.join(","),
                member.client_urls.join(","),
                member.id == leader.id
            ));
        }
    }
    print!("{text}");
    Ok(())
}

async fn add(client: &Client, args: &[String]) -> Result<(), Failure> {
    let [name, peer_url] = args else {
        return Err(Failure::line("Provide a name and a single member peerURL"));
    };
    check_peer_url(peer_url)?;
    let added = client
        .add_member(std::slice::from_ref(peer_url))
        .await
        .map_err(|error| Failure::line(&member_error(&error)))?;
    let members = client
        .members()
        .await
        .map_err(|error| Failure::line(&member_error(&error)))?;
    print!("{}", added_text(name, &added, &members));
    Ok(())
}

/// What etcdctl prints after adding: the environment for starting the new member.
fn added_text(name: &str, added: &Member, members: &[Member]) -> String {
    let mut conf = Vec::new();
    for member in members {
        let member_name = if member.id == added.id {
            name
        } else {
            member.name.as_str()
        };
        for url in &member.peer_urls {
            conf.push(format!("{member_name}={url}"));
        }
    }
    format!(
        "Added member named {name} with ID {} to cluster\n\nETCD_NAME={name:?}\nETCD_INITIAL_CLUSTER={:?}\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n",
        added.id,
        conf.join(",")
    )
}

async fn remove(client: &Client, args: &[String]) -> Result<(), Failure> {
    let [id] = args else {
        return Err(Failure::line("Provide a single member ID"));
    };
    let members = client.members().await.map_err(|error| {
        Failure::line(&format!(
            "Error while verifying ID against known members: {}",
            member_error(&error)
        ))
    })?;
    let mut stderr = String::new();
    for member in members.iter().filter(|member| &member.name == id) {
        stderr.push_str(&format!(
            "Found a member named {}; if this is correct, please use its ID, eg:\n\tetcdctl member remove {}\nFor more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n\n",
            member.name, member.id
        ));
    }
    if !members.iter().any(|member| &member.id == id) {
        stderr.push_str(&format!(
            "Couldn't find a member in the cluster with an ID of {id}.\n"
        ));
        return Err(Failure { stderr, code: 1 });
    }
    eprint!("{stderr}");
    if let Err(error) = client.remove_member(id).await {
        let stderr = format!(
            "Received an error trying to remove member {id}: {}",
            member_error(&error)
        );
        return Err(Failure { stderr, code: 1 });
    }
    println!("Removed member {id} from cluster");
    Ok(())
}

async fn update(client: &Client, args: &[String]) -> Result<(), Failure> {
    let [id, urls] = args else {
        return Err(Failure::line(
            "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)",
        ));
    };
    let urls: Vec<String> = urls.split(',').map(ToOwned::to_owned).collect();
    for url in &urls {
        check_peer_url(url)?;
    }
    client
        .update_member(id, &urls)
        .await
        .map_err(|error| Failure::line(&member_error(&error)))?;
    println!("Updated member with ID {id} in cluster");
    Ok(())
}

/// `cluster-health` (one round; `--forever` repeats it every 10 s).
pub async fn cluster_health(client: &Client) -> Result<bool, Failure> {
    let members = match client.members().await {
        Ok(members) => members,
        Err(error) => {
            println!("cluster may be unhealthy: failed to list members");
            return Err(Failure::client(EXIT_SERVER_ERROR, &error));
        }
    };
    let mut healthy = 0;
    let mut text = String::new();
    for member in &members {
        if member.client_urls.is_empty() {
            text.push_str(&format!(
                "member {} is unreachable: no available published client urls\n",
                member.id
            ));
            continue;
        }
        let mut checked = false;
        for url in &member.client_urls {
            match client.health(url).await {
                Ok(true) => {
                    healthy += 1;
                    text.push_str(&format!(
                        "member {} is healthy: got healthy result from {url}\n",
                        member.id
                    ));
                }
                Ok(false) => text.push_str(&format!(
                    "member {} is unhealthy: got unhealthy result from {url}\n",
                    member.id
                )),
                Err(error) => {
                    text.push_str(&format!(
                        "failed to check the health of member {} on {url}: {error}\n",
                        member.id
                    ));
                    continue;
                }
            }
            checked = true;
            break;
        }
        if !checked {
            text.push_str(&format!(
                "member {} is unreachable: [{}] are all unreachable\n",
                member.id,
                member.client_urls.join(" ")
            ));
        }
    }
    text.push_str(match healthy {
        count if count == members.len() => "cluster is healthy\n",
        0 => "cluster is unavailable\n",
        _ => "cluster is degraded\n",
    });
    print!("{text}");
    Ok(healthy == members.len())
}

/// The exit of a one-shot `cluster-health`.
pub fn health_exit(all_healthy: bool) -> Result<(), Failure> {
    if all_healthy {
        Ok(())
    } else {
        Err(Failure {
            stderr: String::new(),
            code: EXIT_CLUSTER_NOT_HEALTHY,
        })
    }
}
