//! The model against the `Systemd` port's conformance suite: the same cases real systemd
//! passes in fleet-systemd's real-host tests.
//!
//! Method: one `SimHost` per case with the default model; each case connects instances as a
//! restarted fleetd would.

use fleet_sim::{Model, SimHost, SimSystemd};
use fleet_systemd::conformance::{self, Harness};

struct Sim(SimHost);

impl Harness for Sim {
    type Systemd = SimSystemd;

    async fn connect(&self) -> SimSystemd {
        self.0.connect()
    }

    fn unit_file_exists(&self, name: &str) -> bool {
        self.0.unit_file_exists(name)
    }
}

fn host() -> Sim {
    Sim(SimHost::new(Model::default()))
}

// Goal: each case of the suite holds on the model. Method: the suite's cases.
#[tokio::test]
async fn load_links_the_unit() {
    conformance::load_links_the_unit(&host()).await;
}

#[tokio::test]
async fn start_and_stop_arrive_as_changes() {
    conformance::start_and_stop_arrive_as_changes(&host()).await;
}

#[tokio::test]
async fn unload_forgets_the_unit() {
    conformance::unload_forgets_the_unit(&host()).await;
}

#[tokio::test]
async fn restarted_instance_lists_running_unit() {
    conformance::restarted_instance_lists_running_unit(&host()).await;
}

#[tokio::test]
async fn failing_unit_reports_failed() {
    conformance::failing_unit_reports_failed(&host()).await;
}

#[tokio::test]
async fn main_run_is_reported_since_load() {
    conformance::main_run_is_reported_since_load(&host()).await;
}

#[tokio::test]
async fn clean_run_is_reported_after_collection() {
    conformance::clean_run_is_reported_after_collection(&host()).await;
}

#[tokio::test]
async fn bad_names_are_typed_errors() {
    conformance::bad_names_are_typed_errors(&host()).await;
}
