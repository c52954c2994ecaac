//! The documented install step (`scripts/install.sh`) and the systemd unit files it
//! installs (`stack/systemd/`): installed twice into a scratch prefix (it is idempotent),
//! each unit checked by `systemd-analyze verify` and scored by `systemd-analyze security`,
//! then run by a real systemd manager: a test host's `systemd --user`. A user manager
//! cannot set up the mount and user namespaces of the system units' sandboxing, so a
//! drop-in turns those options off; everything else (Type=notify, socket activation, the
//! system call filters, the capability, address family and W^X limits) runs as installed.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{bin_dir, root};

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use testkit::{free_port, wait_for};

/// Every unit, with the highest exposure `systemd-analyze security` may give it (0 is
/// fully locked down, 10 is unprotected; fleetd and locksmithd run as root: they drive
/// systemd and logind). docs/operations.md lists the same levels.
const UNITS: &[(&str, Option<f64>)] = &[
    ("keel.service", Some(1.5)),
    ("fleet.service", Some(4.5)),
    ("fleet.socket", None),
    ("discoveryd.service", Some(2.0)),
    ("locksmithd.service", Some(2.5)),
    ("fleetlockd.service", Some(1.5)),
];

/// A unit in a user manager starts in well under a second; a cold debug keel elects itself
/// in about one.
const DEADLINE: Duration = Duration::from_secs(60);

fn install(prefix: &Path, units: &Path) {
    let output = Command::new("bash")
        .arg(root().join("scripts/install.sh"))
        .arg("--bin-dir")
        .arg(bin_dir())
        .arg("--prefix")
        .arg(prefix)
        .arg("--unit-dir")
        .arg(units)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn analyze(args: &[&str], unit: &Path) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .unwrap()
}

// Goal: the install step puts every program, completion script and unit in place, twice
// over without change; every unit passes systemd's own checks without a warning and is
// sandboxed to its documented exposure level.
// Method: install.sh into a scratch prefix and unit directory (ExecStart then points at the
// scratch binaries, which verify checks), twice; systemd-analyze verify and security
// --offline with each unit's threshold.
#[test]
fn install_puts_verified_sandboxed_units_in_place() {
    assert!(
        Path::new("/usr/bin/systemd-analyze").exists(),
        "systemd-analyze is missing: scripts/test.sh installs systemd"
    );
    let dir = tempfile::tempdir().unwrap();
    let (prefix, units) = (dir.path().join("usr"), dir.path().join("units"));
    install(&prefix, &units);
    let first = std::fs::read_to_string(units.join("keel.service")).unwrap();
    install(&prefix, &units);
    assert_eq!(
        std::fs::read_to_string(units.join("keel.service")).unwrap(),
        first
    );
    assert!(first.contains(&format!("ExecStart={}/bin/keel\n", prefix.display())));
    for name in ["keel", "fleetctl", "discoveryd", "keel-stack"] {
        assert!(prefix.join("bin").join(name).exists(), "{name}");
        let share = prefix.join("share");
        assert!(share
            .join("bash-completion/completions")
            .join(name)
            .exists());
        assert!(share.join(format!("zsh/site-functions/_{name}")).exists());
        assert!(share
            .join(format!("fish/vendor_completions.d/{name}.fish"))
            .exists());
    }
    for (unit, exposure) in UNITS {
        let path = units.join(unit);
        let verify = analyze(&["verify", "--man=no"], &path);
        let complaints = String::from_utf8_lossy(&verify.stderr);
        assert!(
            verify.status.success() && complaints.trim().is_empty(),
            "{unit}: {complaints}"
        );
        if let Some(exposure) = exposure {
            // The threshold is on systemd's scale of tenths: 15 is an exposure of 1.5.
            let threshold = format!("--threshold={}", (exposure * 10.0).round());
            let security = analyze(&["security", "--offline=yes", &threshold], &path);
            let report = String::from_utf8_lossy(&security.stdout);
            let last = report.lines().last().unwrap_or_default().to_owned();
            assert!(security.status.success(), "{unit} above {exposure}: {last}");
        }
    }
}

/// The drop-in that lets a user manager run a system unit: the namespacing options off,
/// and the test's addresses.
fn user_mode_drop_in(environment: &str) -> String {
    let off = [
        "DynamicUser=no",
        "PrivateUsers=no",
        "PrivateTmp=no",
        "PrivateDevices=no",
        "ProtectSystem=no",
        "ProtectHome=no",
        "ProtectKernelTunables=no",
        "ProtectKernelModules=no",
        "ProtectKernelLogs=no",
        "ProtectControlGroups=no",
        "ProtectClock=no",
        "ProtectHostname=no",
        "ProtectProc=default",
        "ProcSubset=all",
    ];
    format!("[Service]\n{}\nEnvironment={environment}\n", off.join("\n"))
}

/// `systemctl --user` in the host; its output when it fails.
fn systemctl(host: &testkit::host::Host, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["--user"];
    all.extend_from_slice(args);
    let output = host.exec("systemctl", &all);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&output.stderr)))
    }
}

// Goal: the units run as installed under a real systemd: keel.service is active only once
// keel serves (Type=notify), fleet.socket starts fleetd on the first request (socket
// activation, fleetd not binding the socket again), discoveryd answers DNS and fleetlockd
// HTTP under their system call filters, locksmithd with strategy off exits 0 and stays
// stopped.
// Method: the installed units plus the user-mode drop-in in a test host's user manager;
// systemctl start, then one request to each.
#[test]
fn installed_units_run_under_systemd() {
    if testkit::host::available().is_err()
        || !testkit::reference_tools_present(&[("/usr/bin/dig", "bind9-dnsutils")])
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = testkit::host::Host::start(testkit::host::HostConfig {
        name: "units".into(),
        machine_id: "5e1f0c0ffee0000000000000000000a1".into(),
        namespace: None,
        dir: dir.path().join("host"),
    })
    .unwrap();
    let units = dir.path().join("host/config/systemd/user");
    install(&dir.path().join("usr"), &units);
    let (client, peer, dns, lock) = (free_port(), free_port(), free_port(), free_port());
    let keel = format!("http://127.0.0.1:{client}");
    let environment = [
        format!("KEEL_LISTEN_CLIENT_URLS={keel} KEEL_ADVERTISE_CLIENT_URLS={keel}"),
        format!("KEEL_LISTEN_PEER_URLS=http://127.0.0.1:{peer}"),
        format!("KEEL_INITIAL_ADVERTISE_PEER_URLS=http://127.0.0.1:{peer}"),
        format!("KEEL_INITIAL_CLUSTER=default=http://127.0.0.1:{peer}"),
        format!("SKYDNS_ADDR=127.0.0.1:{dns} ETCD_MACHINES={keel}"),
        format!("FLEETLOCKD_LISTEN=127.0.0.1:{lock} FLEETLOCKD_ENDPOINT={keel}"),
        format!("FLEET_ETCD_SERVERS={keel} FLEET_SYSTEMD_USER=true"),
        "FLEET_API_LISTEN=unix://%t/fleet.sock".to_owned(),
        format!("LOCKSMITHD_ENDPOINT={keel} REBOOT_STRATEGY=off"),
    ]
    .join(" ");
    for (unit, _) in UNITS.iter().filter(|(unit, _)| unit.ends_with(".service")) {
        let drop_in = units.join(format!("{unit}.d"));
        std::fs::create_dir_all(&drop_in).unwrap();
        std::fs::write(drop_in.join("user.conf"), user_mode_drop_in(&environment)).unwrap();
    }
    systemctl(&host, &["daemon-reload"]).unwrap();

    // Type=notify: start returns once keel serves, so /health answers at once.
    systemctl(&host, &["start", "keel.service"]).unwrap();
    let health = ureq::get(&format!("{keel}/health")).call().unwrap();
    assert!(health.into_string().unwrap().contains("\"true\""));

    systemctl(
        &host,
        &[
            "start",
            "fleet.socket",
            "discoveryd.service",
            "fleetlockd.service",
            "locksmithd.service",
        ],
    )
    .unwrap();
    let socket = format!("unix://{}/fleet.sock", host.runtime_dir().display());
    let fleetctl = bin_dir().join("fleetctl").display().to_string();
    let machines = wait_for(DEADLINE, "fleetctl list-machines over fleet.socket", || {
        let output = host.exec(
            &fleetctl,
            &["--endpoint", &socket, "list-machines", "--no-legend"],
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success() && text.contains("5e1f0c0f")).then_some(text)
    });
    assert_eq!(machines.lines().count(), 1, "{machines}");
    assert_eq!(
        systemctl(&host, &["is-active", "fleet.service"]),
        Ok("active\n".into())
    );

    let soa = wait_for(DEADLINE, "discoveryd's SOA", || {
        let output = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &dns.to_string(),
                "+short",
                "skydns.local",
                "SOA",
            ])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (!text.trim().is_empty()).then_some(text)
    });
    assert!(soa.contains("skydns.local."), "{soa}");

    let served = wait_for(DEADLINE, "fleetlockd's answer", || {
        match ureq::post(&format!("http://127.0.0.1:{lock}/v1/pre-reboot")).call() {
            Ok(answer) => Some(answer.status()),
            Err(ureq::Error::Status(code, _)) => Some(code),
            Err(_) => None,
        }
    });
    assert!(
        (400..500).contains(&served),
        "a request without a body: {served}"
    );

    let locksmith = wait_for(DEADLINE, "locksmithd (strategy off) to exit", || {
        let state = systemctl(
            &host,
            &[
                "show",
                "-p",
                "ActiveState,Result,ExecMainStatus",
                "locksmithd.service",
            ],
        )
        .ok()?;
        let settled = ["ActiveState=inactive", "ActiveState=failed"];
        settled
            .iter()
            .any(|settled| state.contains(settled))
            .then_some(state)
    });
    assert!(
        locksmith.contains("Result=success") && locksmith.contains("ExecMainStatus=0"),
        "{locksmith}"
    );
    for unit in ["discoveryd.service", "fleetlockd.service", "keel.service"] {
        assert_eq!(
            systemctl(&host, &["is-active", unit]),
            Ok("active\n".into()),
            "{unit}"
        );
    }
    systemctl(
        &host,
        &[
            "stop",
            "fleet.socket",
            "fleet.service",
            "discoveryd.service",
        ],
    )
    .unwrap();
    systemctl(&host, &["stop", "fleetlockd.service", "keel.service"]).unwrap();
}
