#!/usr/bin/env bash
# Run every check and test of the workspace: formatting, lints, the crate graph, then the whole
# test suite (unit, simulation, real-process and etcdctl compatibility tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
keel_require_cargo
# libclang/clang: RocksDB bindings and C++ build. etcd-client: etcdctl for compatibility
# tests. etcd-server: the reference etcd 3.4 the compatibility tests compare against.
# iproute2, nftables, iptables: the Jepsen lab (namespaces, partitions, NFQUEUE delay);
# faketime: its clock skew. systemd, dbus, util-linux: the real test hosts (systemd --user,
# a private system bus and journald in namespaces; unshare and nsenter; dbus-user-session
# for the session bus socket). python3-venv: the python fleet client's virtualenv.
# bind9-dnsutils, python3-dnspython: dig, delv and dnspython, the real DNS clients of
# discoveryd's tests; bind9-utils: dnssec-keygen for their DNSSEC key pairs; nsd: the reference
# authoritative server they forward to.
keel_install_packages libclang-dev clang build-essential etcd-client etcd-server python3 \
    python3-venv iproute2 nftables iptables faketime systemd dbus dbus-user-session util-linux \
    bind9-dnsutils bind9-utils python3-dnspython nsd prometheus chromium chromium-driver
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest

# The python `fleet` 0.1.3 client (PyPI) for the fleet API compatibility test, in a virtualenv
# of its own with every dependency pinned; rebuilt only when the pins change.
fleet_python=target/fleet-python
fleet_pins=fleet/fleetd/tests/python-requirements.txt
if ! cmp -s "$fleet_pins" "$fleet_python/requirements.txt" 2>/dev/null; then
    rm -rf "$fleet_python"
    python3 -m venv "$fleet_python"
    "$fleet_python/bin/pip" install -q --disable-pip-version-check -r "$fleet_pins"
    cp "$fleet_pins" "$fleet_python/requirements.txt"
fi
export FLEET_PYTHON="$PWD/$fleet_python/bin/python"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
python3 scripts/check_crate_graph.py
cargo build --workspace --bins

# The Jepsen smoke run: under three minutes of load. Its verdict is kept and reported after the
# test suite, whose summary line ends the run.
seed=${JEPSEN_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
jepsen_status=0
target/debug/jepsen run --workload register,watch,semaphore,units --nemesis partition,kill,pause \
    --time-limit 160s --nodes 5 --concurrency 10 --seed "$seed" || jepsen_status=$?
if [ "$jepsen_status" -ne 0 ]; then
    echo "JEPSEN SMOKE RUN FAILED (exit $jepsen_status), seed $seed; replay with:" >&2
    echo "  JEPSEN_SEED=$seed scripts/test.sh   (or the 'replay:' command above)" >&2
fi

cargo nextest run --workspace --no-fail-fast
exit "$jepsen_status"
