#!/usr/bin/env python3
"""Fails when a workspace crate depends on another workspace crate outside the allowed edges
(docs/architecture.md, "Crate graph"). Dev-dependencies follow the same table."""
import json
import subprocess
import sys

ALLOWED = {
    "v2store": set(),
    "kvstore": {"v2store"},
    "kvstore-rocks": {"kvstore"},
    "kv-wire": set(),
    "kv-client": {"kv-wire", "testkit"},
    "kv-http": {"kvstore", "v2store", "kv-wire"},
    "keel": {"kv-http", "kvstore", "kvstore-rocks", "v2store", "testkit"},
    "keelctl": {"kv-client", "testkit"},
    # Spawns real keel processes by path; its test hosts are keel-host's.
    "testkit": {"keel-host"},
    # Hosts on one machine (namespaces, bus, journal, systemd --user): no workspace crate.
    "keel-host": set(),
    # What every binary shares on its command line (log format, completions): no workspace crate.
    "keel-cli": set(),
    # The whole stack in one command: starts the binaries by path, links no daemon's crate;
    # its private manager is keel-host's; its dashboard reads the public APIs through the one
    # client, fleet's wire types and discovery's record layout (pure); tests use testkit.
    "keel-stack": {"keel-host", "kv-client", "fleet-api", "discovery-core", "testkit"},
    # Independent oracle for Jepsen histories: must never see the store's own crates.
    "checker": set(),
    # The Jepsen runner: a client like any other, plus the test kit and the oracle; the
    # semaphore workload drives locksmith's semaphore through its store crate.
    "jepsen": {"kv-client", "checker", "testkit", "locksmith-store"},
    # The load generator speaks HTTP directly; its tests start real clusters.
    "keel-bench": {"testkit"},
    # The scheduler benchmarks: the pure core, and fleetd's agent and engine on the systemd
    # model against real Keel (through kv-client and the registry, as fleetd).
    "fleet-bench": {"fleet-core", "fleet-registry", "fleet-sim", "fleetd", "kv-client", "testkit"},
    # fleet's pure core: no workspace crate, no I/O (docs/fleet.md).
    "fleet-core": set(),
    # The v1 API's JSON, shared by server and client: serde only.
    "fleet-api": set(),
    # fleet's key schema and stored values, over the one client.
    "fleet-registry": {"fleet-core", "kv-client", "testkit"},
    # The daemon: engine, agent, API; the store only through kv-client.
    "fleetd": {"fleet-core", "fleet-api", "fleet-registry", "fleet-systemd", "kv-client", "testkit",
               # the record layout of units it publishes in DNS (pure)
               "discovery-core"},
    # The CLI talks to fleetd's HTTP API only; its tests start real daemons.
    "fleetctl": {"fleet-core", "fleet-api", "testkit"},
    # The only crate with zbus: the Systemd port on real systemd; tests on real hosts.
    "fleet-systemd": {"fleet-core", "testkit"},
    # A model of the Systemd port for simulated agents; checked by fleet-systemd's suite.
    "fleet-sim": {"fleet-core", "fleet-systemd"},
    # locksmith's pure core: no workspace crate, no I/O (docs/locksmith.md).
    "locksmith-core": set(),
    # locksmith's semaphores in Keel, over the one client; tests on real members.
    "locksmith-store": {"locksmith-core", "kv-client", "testkit"},
    # The only locksmith crate with zbus: update_engine and logind; tests on real hosts.
    "locksmith-dbus": {"locksmith-core", "testkit"},
    # locksmith's daemon: the core, the store crate and the D-Bus adapters (fleetlockd for
    # its mixed FleetLock test only).
    "locksmithd": {"locksmith-core", "locksmith-store", "locksmith-dbus", "kv-client", "testkit", "fleetlockd"},
    # The FleetLock server: the core's protocol and the store crate over the one client.
    "fleetlockd": {"locksmith-core", "locksmith-store", "kv-client", "testkit"},
    # locksmith's CLI: the core, the store crate over the one client, the D-Bus adapters.
    "locksmithctl": {"locksmith-core", "locksmith-store", "locksmith-dbus", "kv-client", "testkit"},
    # discovery's pure core: no workspace crate, no I/O (docs/discovery.md).
    "discovery-core": set(),
    # The DNS server: the core's answers over hickory, the store only through kv-client.
    "discoveryd": {"discovery-core", "kv-client", "testkit"},
    # The CLI: announce, ls, rm over the one client.
    "discoveryctl": {"discovery-core", "kv-client", "testkit"},
}

# Crates any binary may use: they depend on no workspace crate themselves.
EVERY_BINARY = {"keel-cli"}

metadata = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--no-deps"]))
workspace = {p["name"] for p in metadata["packages"]}
failed = False
for package in metadata["packages"]:
    name = package["name"]
    deps = {d["name"] for d in package["dependencies"] if d["name"] in workspace}
    allowed = ALLOWED.get(name)
    if allowed is not None and name != "keel-cli":
        allowed = allowed | EVERY_BINARY
    if allowed is None:
        print(f"crate graph: {name} is not in the allowed-edges table")
        failed = True
        continue
    for dep in sorted(deps - allowed):
        print(f"crate graph: {name} must not depend on {dep}")
        failed = True
    if name != "kvstore-rocks" and any(d["name"] == "rocksdb" for d in package["dependencies"]):
        print(f"crate graph: only kvstore-rocks may depend on rocksdb, not {name}")
        failed = True
sys.exit(1 if failed else 0)
