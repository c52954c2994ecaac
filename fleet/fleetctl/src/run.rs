//! `run NAME [--cpu --memory --replicas N] -- CMD ARGS…`: a unit made from a command line and
//! started, like `kubectl run`, without writing a unit file.
//!
//! The unit is `NAME.service` (`[Service] ExecStart=` the command, `[X-Fleet] Cpu=`/`Memory=`
//! the requests), submitted and then started as `start` does; with `--replicas N` it is the
//! template `NAME@.service`, and `scale` keeps N instances. A unit of that name that already
//! exists is refused (so `run` never changes a unit someone else made).
//!
//! Invariants: the command reaches systemd as given: every argument that is not plain is
//! double-quoted with `\` and `"` escaped, and `%` and `$` are doubled so systemd expands no
//! specifier or variable.

use crate::cli::{RunArgs, ScaleArgs, ScheduleArgs};
use crate::create::{create, Verb};
use crate::lifecycle::schedule;
use crate::scale::scale;
use crate::session::Session;
use fleet_core::name::UnitName;
use fleet_core::resources::{parse_cpu, parse_memory};
use fleet_core::unit_file::{UnitFile, UnitOption};

/// `run NAME -- CMD ARGS…`.
pub async fn run(session: &mut Session<'_>, args: &RunArgs) -> i32 {
    let name = match unit_name(args) {
        Ok(name) => name,
        Err(error) => {
            session.console.err_line(&error);
            return 1;
        }
    };
    let file = match unit_file(args) {
        Ok(file) => file,
        Err(error) => {
            session.console.err_line(&error);
            return 1;
        }
    };
    match session.client.unit(name.as_str()).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            session.console.err_line(&format!(
                "Unit {name} already exists: destroy it first, or use start"
            ));
            return 1;
        }
        Err(error) => {
            session
                .console
                .err_line(&format!("Error retrieving Unit {name}: {error}"));
            return 1;
        }
    }
    if let Err(error) = create(session, &name, &file).await {
        session
            .console
            .err_line(&format!("Error creating units: {error}"));
        return 1;
    }
    match args.replicas {
        Some(count) => {
            let scale_args = ScaleArgs {
                no_block: args.no_block,
                block_attempts: args.block_attempts,
                template: name.to_string(),
                count,
            };
            scale(session, &scale_args).await
        }
        None => {
            let start_args = ScheduleArgs {
                no_block: args.no_block,
                block_attempts: args.block_attempts,
                replace: false,
                sign: false,
                units: vec![name.to_string()],
            };
            schedule(session, &start_args, Verb::Start).await
        }
    }
}

/// `NAME.service`, or `NAME@.service` with `--replicas`.
fn unit_name(args: &RunArgs) -> Result<UnitName, String> {
    let text = if args.replicas.is_some() {
        format!("{}@.service", args.name)
    } else {
        format!("{}.service", args.name)
    };
    UnitName::parse(&text).map_err(|error| format!("Invalid unit name {text:?}: {error}"))
}

/// The unit file: a description, the command, the requests.
fn unit_file(args: &RunArgs) -> Result<UnitFile, String> {
    let option = |section: &str, name: &str, value: String| UnitOption {
        section: section.to_owned(),
        name: name.to_owned(),
        value,
    };
    let mut options = vec![
        option(
            "Unit",
            "Description",
            format!("{} (fleetctl run)", args.name),
        ),
        option("Service", "ExecStart", exec_line(&args.command)),
    ];
    if let Some(cpu) = &args.cpu {
        parse_cpu(cpu).map_err(|error| error.to_string())?;
        options.push(option("X-Fleet", "Cpu", cpu.clone()));
    }
    if let Some(memory) = &args.memory {
        parse_memory(memory).map_err(|error| error.to_string())?;
        options.push(option("X-Fleet", "Memory", memory.clone()));
    }
    UnitFile::from_options(options).map_err(|error| error.to_string())
}

/// The command as an `ExecStart=` value.
fn exec_line(command: &[String]) -> String {
    command
        .iter()
        .map(|argument| quote(argument))
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(argument: &str) -> String {
    let escaped = argument.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=,+@%$".contains(c));
    if plain {
        return escaped;
    }
    let inner = escaped.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{inner}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: plain arguments stay as they are; the rest is quoted so systemd splits, expands
    // and unescapes back to the original. Method: a table.
    #[test]
    fn arguments_are_quoted_for_systemd() {
        let command: Vec<String> = [
            "/usr/bin/python3",
            "-m",
            "http.server",
            "8080",
            "hello world",
            "say \"hi\"",
            "100%",
            "$HOME",
            "",
            "back\\slash",
        ]
        .iter()
        .map(|argument| (*argument).to_owned())
        .collect();
        assert_eq!(
            exec_line(&command),
            r#"/usr/bin/python3 -m http.server 8080 "hello world" "say \"hi\"" 100%% $$HOME "" "back\\slash""#
        );
    }
}
