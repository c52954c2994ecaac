//! `scale TEMPLATE COUNT`: keeps COUNT numbered instances of a template placed and running
//! (`PUT /keel/v1/units/{template}/replicas`); fleetd's engine creates and destroys the
//! instances.
//!
//! Submits the template from a local file first when the cluster does not know it (as
//! `start` does), then waits (unless `--no-block`, bounded by `--block-attempts`) until the
//! template has exactly COUNT instances and COUNT of them run.

use crate::cli::ScaleArgs;
use crate::create::{lazy_create, Verb};
use crate::session::{Blocking, Session};
use crate::wait::poll_until;
use fleet_core::name::{mangle, UnitName};

/// `scale TEMPLATE COUNT`.
pub async fn scale(session: &mut Session<'_>, args: &ScaleArgs) -> i32 {
    let name = mangle(&args.template);
    if !UnitName::parse(&name).is_ok_and(|unit| unit.is_template()) {
        session.console.err_line(&format!(
            "Unit {name} is not a template: scale takes a template (NAME@.service)"
        ));
        return 1;
    }
    if let Err(error) = lazy_create(
        session,
        std::slice::from_ref(&args.template),
        Verb::Submit,
        false,
        Blocking::NoBlock,
    )
    .await
    {
        session
            .console
            .err_line(&format!("Error creating units: {error}"));
        return 1;
    }
    if let Err(error) = session.client.scale(&name, args.count).await {
        session
            .console
            .err_line(&format!("Error scaling {name}: {error}"));
        return 1;
    }
    let blocking = Blocking::from_flags(args.no_block, args.block_attempts);
    if blocking == Blocking::NoBlock {
        session
            .console
            .out_line(&format!("Triggered {name} scale to {}", args.count));
        return 0;
    }
    wait_for_count(session, &name, args.count, blocking).await
}

/// Polls the replica list until `name` has `count` instances, all running.
async fn wait_for_count(
    session: &mut Session<'_>,
    name: &str,
    count: u32,
    blocking: Blocking,
) -> i32 {
    let mut running = 0;
    let waited = poll_until(session, blocking, async |session: &mut Session<'_>| {
        let list = session.client.replicas().await.map_err(|error| {
            tracing::debug!(%error, "replica list not readable while waiting");
        })?;
        let set = list.into_iter().find(|set| set.template == name);
        running = set.as_ref().map_or(0, |set| set.running);
        set.filter(|set| set.instances == count && set.running == count)
            .map(drop)
            .ok_or(())
    })
    .await;
    if waited.is_ok() {
        session
            .console
            .out_line(&format!("Unit {name} scaled to {count}: {count} running"));
        return 0;
    }
    session.console.err_line(&format!(
        "Error waiting for {name}: timed out waiting for {count} instances to run ({running} running)"
    ));
    1
}
