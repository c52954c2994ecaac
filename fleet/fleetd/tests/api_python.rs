//! The python `fleet` 0.1.3 client, unchanged, against this server over TCP and over a unix
//! socket: it builds its bindings from our discovery document with google-api-python-client
//! and drives units, states and machines through them, following page tokens.
//!
//! Needs a python with `fleet==0.1.3` and `google-api-python-client` installed, named by
//! `FLEET_PYTHON` (e.g. a virtualenv's `bin/python`; `scripts/test.sh` makes one from
//! `tests/python-requirements.txt`); without it the test is skipped with a notice, and fails
//! in CI.

mod api_support;

use api_support::*;
use fleet_core::model::DesiredState;
use fleetd::api::{bind, serve};
use fleetd::config::ListenAddress;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The client's session: every call the client makes, with its results checked.
const SCRIPT: &str = r#"
import sys
from fleet.v1 import Client, Unit
from fleet.v1.errors import APIError

endpoint, tag, m1, m2 = sys.argv[1:5]
client = Client(endpoint)
machines = [machine.id for machine in client.list_machines()]
assert machines == [m1, m2], machines
name = 'py-%s.service' % tag
unit = Unit(from_string='[Unit]\nDescription=from python\n\n[Service]\nExecStart=/bin/sleep 100\n')
created = client.create_unit(name, unit)
assert created.desiredState == 'launched', created
assert created.currentState == 'inactive', created
updated = client.set_unit_desired_state(name, 'loaded')
assert updated.desiredState == 'loaded', updated
names = [unit.name for unit in client.list_units()]
assert name in names and names == sorted(names), names
states = list(client.list_unit_states(unit_name='seeded.service'))
assert [state.machineID for state in states] == [m1, m2], states
assert len(list(client.list_unit_states(machine_id=m2))) == 1
try:
    client.get_unit('missing.service')
    raise AssertionError('no error for a missing unit')
except APIError as error:
    assert error.code == 404 and error.message == 'unit does not exist', error
client.destroy_unit(name)
assert name not in [unit.name for unit in client.list_units()]
print('python client ok over ' + endpoint)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_fleet_client_works_unchanged() {
    // Goal: the python client's bootstrap from the discovery document, each call it makes,
    // its pagination (page size 2 forces several pages) and its error parsing, over TCP and
    // over `http+unix://`.
    // Method: one member with seeded machines, units and reports; the server on both
    // listeners; the client's script run once per endpoint, with a deadline.
    let Some(python) = std::env::var_os("FLEET_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "FLEET_PYTHON is not set: scripts/test.sh makes the python fleet client's virtualenv"
        );
        eprintln!("SKIPPED: set FLEET_PYTHON to a python with fleet==0.1.3 installed");
        return;
    };
    let cluster = cluster();
    let registry = registry(&cluster, "/py/");
    announce(&registry, M1, None).await;
    announce(&registry, M2, None).await;
    let service = "[Service]\nExecStart=/bin/true\n";
    for name in ["a.service", "b.service", "seeded.service"] {
        create(&registry, name, service, DesiredState::Launched).await;
    }
    report(&registry, "seeded.service", M1, true).await;
    report(&registry, "seeded.service", M2, true).await;
    let api = api(&registry, 2, M1);
    // httplib2 lower-cases the "host" of `http+unix://`, where the client keeps the socket's
    // path: the path must be lower case (a temporary directory's random name is not).
    let dir = std::env::temp_dir().join(format!("fleetd-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creates a directory");
    let socket = dir.join("fleet.sock");
    let listeners = bind(&[
        ListenAddress::Tcp("127.0.0.1:0".to_owned()),
        ListenAddress::Unix(socket.clone()),
    ])
    .await
    .expect("binds");
    let tcp = listeners[0].tcp_address().expect("a TCP address");
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        api.router.clone(),
        listeners,
        shutdown.clone(),
        Duration::from_secs(2),
    ));
    let escaped = socket.display().to_string().replace('/', "%2F");
    let endpoints = [
        ("tcp", format!("http://{tcp}")),
        ("unix", format!("http+unix://{escaped}")),
    ];
    for (tag, endpoint) in endpoints {
        let run = tokio::process::Command::new(&python)
            .args(["-c", SCRIPT, &endpoint, tag, M1, M2])
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the client finishes within a minute")
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{endpoint}:\n{stdout}\n{stderr}");
        assert!(stdout.contains("python client ok"), "{stdout}");
    }
    shutdown.cancel();
    server.await.expect("joins").expect("served");
    std::fs::remove_dir_all(&dir).expect("removes the directory");
}
