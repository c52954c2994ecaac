//! Opening the data directory: first-start initialisation, and refusing data of another member
//! or another cluster.

use crate::config::Config;
use anyhow::{bail, Context};
use kvstore::eraftpb::ConfState;
use kvstore::ids::{cluster_id, member_id};
use kvstore::{ClusterId, Members, NodeId, StateMachine};
use kvstore_rocks::{MemberIdentity, RocksStorage};
use raft::Storage;

/// What the server needs to start its raft loop.
pub struct Opened {
    pub storage: RocksStorage,
    pub identity: MemberIdentity,
    pub state: StateMachine,
    pub applied: u64,
}

impl Opened {
    pub fn node_id(&self) -> NodeId {
        NodeId(self.identity.node_id)
    }
    pub fn cluster_id(&self) -> ClusterId {
        ClusterId(self.identity.cluster_id)
    }
}

/// The identity the flags describe.
fn identity_from_flags(config: &Config) -> MemberIdentity {
    let token = &config.cluster_token;
    let initial_members: Vec<(u64, Vec<String>)> = config
        .initial_cluster
        .iter()
        .map(|(_, urls)| (member_id(urls, token).0, urls.clone()))
        .collect();
    let ids: Vec<NodeId> = initial_members.iter().map(|(id, _)| NodeId(*id)).collect();
    MemberIdentity {
        node_id: member_id(&config.advertise_peer_urls, token).0,
        cluster_id: cluster_id(&ids, token).0,
        name: config.name.clone(),
        cluster_token: token.clone(),
        initial_members,
    }
}

/// Open the data directory, initialising it on first start.
///
/// # Errors
/// When the directory cannot be opened, is damaged, or belongs to another member or cluster.
pub fn open(config: &Config) -> anyhow::Result<Opened> {
    let path = &config.data_dir;
    let mut storage = RocksStorage::open(path)?;
    let wanted = identity_from_flags(config);
    let identity = match storage
        .identity()
        .with_context(|| format!("reading {}", path.display()))?
    {
        Some(stored) => {
            check_identity(&stored, &wanted, config)?;
            if let Some(backup) = &config.restore {
                // Like etcd's --initial-* flags: they shape a new data directory only, so a
                // restart with the same command line keeps the member's current data.
                tracing::warn!(
                    backup = %backup.display(),
                    data_dir = %path.display(),
                    "ignoring --restore: the data directory already holds this member's data"
                );
            }
            stored
        }
        None => {
            if storage.last_index()? > 0 {
                bail!(
                    "data directory {} has a raft log but no member identity: it is damaged",
                    path.display()
                );
            }
            let wanted = if config.join_existing {
                join(config)?
            } else {
                wanted
            };
            let voters = wanted.initial_members.iter().map(|(id, _)| *id).collect();
            let conf_state = ConfState {
                voters,
                ..ConfState::default()
            };
            let restored = match &config.restore {
                Some(file) => {
                    let bytes = std::fs::read(file)
                        .with_context(|| format!("reading the backup {}", file.display()))?;
                    let backup = kvstore::backup::decode(&bytes)
                        .with_context(|| format!("restoring from {}", file.display()))?;
                    tracing::info!(
                        file = %file.display(),
                        store_index = backup.store_index,
                        "restoring the store from a backup"
                    );
                    Some(backup.store)
                }
                None => None,
            };
            storage.initialize(&wanted, &conf_state, restored.as_deref())?;
            wanted
        }
    };
    let (state, applied) = recover_state(&storage, &identity)?;
    Ok(Opened {
        storage,
        identity,
        state,
        applied,
    })
}

/// `--initial-cluster-state existing`: ask the members named in `--initial-cluster` (over
/// their peer URLs) for the id the cluster gave this member when it was added, the cluster id
/// and the current members. Tries each member in turn for up to 30 s.
fn join(config: &Config) -> anyhow::Result<MemberIdentity> {
    use kv_http::peer::JoinError;
    use std::io::Write as _;
    let own = &config.advertise_peer_urls;
    let others: Vec<&String> = config
        .initial_cluster
        .iter()
        .filter(|(_, urls)| urls != own)
        .filter_map(|(_, urls)| urls.first())
        .collect();
    if others.is_empty() {
        bail!("--initial-cluster-state=existing needs the running members in --initial-cluster besides this one");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut last_error = String::new();
    loop {
        for url in &others {
            let Some(address) = kv_http::peer::peer_address(url) else {
                continue;
            };
            let attempt = (|| -> Result<kv_http::peer::JoinAnswer, JoinError> {
                let io = |e: std::io::Error| JoinError::Unreadable(e.to_string());
                let socket = std::net::ToSocketAddrs::to_socket_addrs(&address)
                    .map_err(io)?
                    .next()
                    .ok_or_else(|| JoinError::Unreadable("no address".into()))?;
                let mut stream = std::net::TcpStream::connect_timeout(
                    &socket,
                    std::time::Duration::from_secs(2),
                )
                .map_err(io)?;
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .map_err(io)?;
                stream
                    .write_all(&kv_http::peer::join_request(own))
                    .map_err(io)?;
                kv_http::peer::read_join_answer(&mut stream)
            })();
            match attempt {
                Ok(answer) => {
                    tracing::info!(
                        member = format_args!("{:x}", answer.member_id),
                        cluster = format_args!("{:x}", answer.cluster_id),
                        via = %url,
                        "joining a running cluster"
                    );
                    return Ok(MemberIdentity {
                        node_id: answer.member_id,
                        cluster_id: answer.cluster_id,
                        name: config.name.clone(),
                        cluster_token: config.cluster_token.clone(),
                        initial_members: answer.members,
                    });
                }
                Err(JoinError::Refused(reason)) => bail!("cannot join the cluster: {reason}"),
                Err(JoinError::Unreadable(error)) => last_error = format!("{url}: {error}"),
            }
        }
        if std::time::Instant::now() > deadline {
            bail!("cannot join the cluster: no member in --initial-cluster answered (last: {last_error})");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn check_identity(
    stored: &MemberIdentity,
    wanted: &MemberIdentity,
    config: &Config,
) -> anyhow::Result<()> {
    let path = config.data_dir.display();
    // Once a data directory exists its stored identity wins, as etcd's does: a member that
    // joined a running cluster has the id the cluster gave it, and one whose peer URLs were
    // changed (PUT /v2/members) keeps its id. The name must match; the cluster is checked
    // against --initial-cluster only while the member's id still follows from its URLs.
    let renamed_or_joined = stored.node_id != wanted.node_id;
    if stored.cluster_token != wanted.cluster_token
        || (!config.join_existing && !renamed_or_joined && stored.cluster_id != wanted.cluster_id)
    {
        bail!(
            "data directory {path} belongs to cluster {:x} (token {:?}), not to the cluster described by --initial-cluster and --initial-cluster-token (cluster {:x}): refusing to start",
            stored.cluster_id,
            stored.cluster_token,
            wanted.cluster_id
        );
    }
    if stored.name != wanted.name {
        bail!(
            "data directory {path} belongs to member {:?} (id {:x}), not to --name {:?} with peer URLs {}: refusing to start",
            stored.name,
            stored.node_id,
            wanted.name,
            config.advertise_peer_urls.join(",")
        );
    }
    Ok(())
}

/// The applied state at start: the latest raft snapshot if there is one, else empty (the log
/// is then replayed by raft from index 1).
fn recover_state(
    storage: &RocksStorage,
    identity: &MemberIdentity,
) -> anyhow::Result<(StateMachine, u64)> {
    let snapshot = storage.snapshot(0, 0)?;
    let index = snapshot.get_metadata().index;
    if index == 0 {
        let members = Members::from_initial(
            identity
                .initial_members
                .iter()
                .map(|(id, urls)| (NodeId(*id), urls.clone())),
        );
        // A restored member starts from its backup's store until its first snapshot.
        let state = match storage.initial_store()? {
            Some(bytes) => StateMachine::with_store(
                v2store::Store::recover(&bytes)
                    .context("the restored store does not load: the data directory is damaged")?,
                members,
            ),
            None => StateMachine::new(members),
        };
        return Ok((state, 0));
    }
    let state = StateMachine::recover(&snapshot.data)
        .context("the stored snapshot does not decode: the data directory is damaged")?;
    Ok((state, index))
}
