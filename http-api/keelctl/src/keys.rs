//! The keys commands (get, set, mk, mkdir, setdir, update, updatedir, rm, rmdir, ls), each as
//! etcdctl v2 runs it (`etcdctl/ctlv2/command/*_command.go`): the same request, the same output
//! rules per format, the same errors.

use crate::cli::{Command, DirArgs, Format, Ttl};
use crate::failure::{Failure, EXIT_BAD_ARGS, EXIT_SERVER_ERROR};
use crate::output::response_text;
use kv_client::{
    Client, ClientError, DeleteOptions, GetOptions, Node, PrevConditions, Response, SetOptions,
    StoreIndex,
};
use std::io::Read;
use std::time::Duration;

/// Runs a keys command; `None` when `command` is not one.
pub async fn run(
    client: &Client,
    format: Format,
    command: &Command,
) -> Option<Result<(), Failure>> {
    let result = match command {
        Command::Get { sort, quorum, args } => {
            get(
                client,
                format,
                args,
                GetOptions {
                    recursive: false,
                    sorted: *sort,
                    quorum: *quorum,
                },
            )
            .await
        }
        Command::Set {
            ttl,
            swap_with_value,
            swap_with_index,
            args,
        } => {
            set(
                client,
                format,
                args,
                *ttl,
                swap_with_value,
                *swap_with_index,
            )
            .await
        }
        Command::Mk {
            in_order,
            ttl,
            args,
        } => mk(client, format, args, *ttl, *in_order).await,
        Command::Update { ttl, args } => {
            let (key, value) = match key_and_value(args) {
                Ok(pair) => pair,
                Err(failure) => return Some(Err(failure)),
            };
            print_reply(format, client.update(&key, &value, set_options(*ttl)).await)
        }
        Command::Mkdir(dir) | Command::Setdir(dir) | Command::Updatedir(dir) => {
            directory(client, format, command, dir).await
        }
        Command::Rm {
            dir,
            recursive,
            with_value,
            with_index,
            args,
        } => {
            let options = DeleteOptions {
                dir: *dir,
                recursive: *recursive,
            };
            let prev = prev_conditions(with_value, *with_index);
            remove(client, format, args, options, prev).await
        }
        Command::Rmdir { args } => {
            remove(
                client,
                format,
                args,
                DeleteOptions {
                    dir: true,
                    recursive: false,
                },
                PrevConditions::default(),
            )
            .await
        }
        Command::Ls {
            sort,
            recursive,
            slash,
            quorum,
            args,
        } => {
            ls(
                client,
                format,
                args,
                GetOptions {
                    recursive: *recursive,
                    sorted: *sort,
                    quorum: *quorum,
                },
                *slash,
            )
            .await
        }
        _ => return None,
    };
    Some(result)
}

/// The first argument, or etcdctl's `key required`.
pub fn key_argument(args: &[String]) -> Result<String, Failure> {
    args.first()
        .cloned()
        .ok_or_else(|| Failure::handle(EXIT_BAD_ARGS, "key required"))
}

/// `<key> <value>`; the value is read from stdin when missing (etcdctl's `argOrStdin`).
fn key_and_value(args: &[String]) -> Result<(String, String), Failure> {
    let key = key_argument(args)?;
    if let Some(value) = args.get(1) {
        return Ok((key, value.clone()));
    }
    let mut value = String::new();
    match std::io::stdin().read_to_string(&mut value) {
        Ok(_) if !value.is_empty() => Ok((key, value)),
        _ => Err(Failure::handle(EXIT_BAD_ARGS, "value required")),
    }
}

fn set_options(ttl: Ttl) -> SetOptions {
    SetOptions {
        ttl: (ttl.ttl > 0).then(|| Duration::from_secs(ttl.ttl)),
    }
}

fn prev_conditions(value: &str, index: u64) -> PrevConditions {
    PrevConditions {
        value: (!value.is_empty()).then(|| value.to_owned()),
        index: (index > 0).then_some(StoreIndex(index)),
    }
}

fn server_error(error: &ClientError) -> Failure {
    Failure::client(EXIT_SERVER_ERROR, error)
}

fn print_reply(format: Format, reply: Result<Response, ClientError>) -> Result<(), Failure> {
    let response = reply.map_err(|error| server_error(&error))?;
    print!("{}", response_text(&response, format));
    Ok(())
}

async fn get(
    client: &Client,
    format: Format,
    args: &[String],
    options: GetOptions,
) -> Result<(), Failure> {
    let key = key_argument(args)?;
    let response = client
        .get(&key, options)
        .await
        .map_err(|error| server_error(&error))?;
    if response.node.dir {
        return Err(Failure::line(&format!(
            "{}: is a directory",
            response.node.key
        )));
    }
    print!("{}", response_text(&response, format));
    Ok(())
}

async fn set(
    client: &Client,
    format: Format,
    args: &[String],
    ttl: Ttl,
    prev_value: &str,
    prev_index: u64,
) -> Result<(), Failure> {
    let (key, value) = key_and_value(args)?;
    let prev = prev_conditions(prev_value, prev_index);
    let reply = if prev.is_empty() {
        client.set(&key, &value, set_options(ttl)).await
    } else {
        client
            .compare_and_swap(&key, &value, &prev, set_options(ttl))
            .await
    };
    print_reply(format, reply)
}

async fn mk(
    client: &Client,
    format: Format,
    args: &[String],
    ttl: Ttl,
    in_order: bool,
) -> Result<(), Failure> {
    let (key, value) = key_and_value(args)?;
    let reply = if in_order {
        client.create_in_order(&key, &value, set_options(ttl)).await
    } else {
        client.create(&key, &value, set_options(ttl)).await
    };
    print_reply(format, reply)
}

/// mkdir, setdir and updatedir print nothing in `simple` format.
async fn directory(
    client: &Client,
    format: Format,
    command: &Command,
    dir: &DirArgs,
) -> Result<(), Failure> {
    let key = key_argument(&dir.args)?;
    let options = set_options(dir.ttl);
    let reply = match command {
        Command::Mkdir(_) => client.mkdir(&key, options).await,
        Command::Setdir(_) => client.set_dir(&key, options).await,
        _ => client.update_dir(&key, options).await,
    };
    let response = reply.map_err(|error| server_error(&error))?;
    if format != Format::Simple {
        print!("{}", response_text(&response, format));
    }
    Ok(())
}

/// rm and rmdir print a deleted directory only outside `simple` format.
async fn remove(
    client: &Client,
    format: Format,
    args: &[String],
    options: DeleteOptions,
    prev: PrevConditions,
) -> Result<(), Failure> {
    let key = key_argument(args)?;
    let reply = if prev.is_empty() {
        client.delete(&key, options).await
    } else {
        client.compare_and_delete(&key, &prev).await
    };
    let response = reply.map_err(|error| server_error(&error))?;
    if !response.node.dir || format != Format::Simple {
        print!("{}", response_text(&response, format));
    }
    Ok(())
}

async fn ls(
    client: &Client,
    format: Format,
    args: &[String],
    options: GetOptions,
    slash: bool,
) -> Result<(), Failure> {
    let key = args.first().map_or("/", String::as_str);
    let response = client
        .get(key, options)
        .await
        .map_err(|error| server_error(&error))?;
    if format != Format::Simple {
        print!("{}", response_text(&response, format));
        return Ok(());
    }
    let mut text = String::new();
    if !response.node.dir {
        text.push_str(&response.node.key);
        text.push('\n');
    }
    for node in &response.node.nodes {
        listing(&mut text, node, slash);
    }
    print!("{text}");
    Ok(())
}

/// etcdctl's `rPrint`: each key on a line, depth first, `/` after directories with `-p`.
pub fn listing(text: &mut String, node: &Node, slash: bool) {
    text.push_str(&node.key);
    if node.dir && slash {
        text.push('/');
    }
    text.push('\n');
    for child in &node.nodes {
        listing(text, child, slash);
    }
}
