//! The `FLEETCTL_ENDPOINT` environment variable, in a test binary of its own because it
//! changes the process environment (nothing else in this process reads it concurrently).
//!
//! Method: set the variable to a fake fleetd's address and run a command without
//! `--endpoint`; then show that the flag wins over the variable.

mod support;

use support::{run_fleetctl, Cluster, Engine, Fake};

#[tokio::test]
async fn the_endpoint_comes_from_the_environment_unless_given() {
    // Goal: without `--endpoint`, fleetctl uses `FLEETCTL_ENDPOINT`; with it, the flag.
    let fake = Fake::tcp(Cluster::new(Engine::Frozen)).await;
    std::env::set_var("FLEETCTL_ENDPOINT", &fake.endpoint);
    let listed = run_fleetctl(&["fleetctl", "list-machines", "--fields=ip", "--no-legend"]).await;
    assert_eq!(
        (listed.stdout.as_str(), listed.code),
        ("172.17.8.103\n172.17.8.102\n", 0)
    );
    let directory = tempfile::tempdir().expect("a temporary directory");
    let elsewhere = format!("unix://{}/none.sock", directory.path().display());
    let flag = run_fleetctl(&["fleetctl", "--endpoint", &elsewhere, "list-machines"]).await;
    assert_eq!(flag.code, 1);
    assert!(flag.stderr.contains(&elsewhere), "{}", flag.stderr);
}
