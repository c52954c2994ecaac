#!/usr/bin/env bash
# Build every binary and start the whole stack on this machine on its embedded defaults:
# keel (the etcd v2 API on http://127.0.0.1:2379, peers on :2380), fleetd driving your
# systemd --user (or, as root without one, a private one), discoveryd (DNS on
# 127.0.0.1:1053), locksmithd (reboot strategy off) and the dashboard
# (http://127.0.0.1:8080/). Data stays in ./default.keel-stack between runs; Ctrl-C stops
# everything. Extra arguments go to keel-stack
# (`target/debug/keel-stack --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
keel_require_cargo
# RocksDB's bindings need libclang; its C++ build needs a compiler. The private user
# manager needs systemd, its bus and util-linux's namespace tools.
keel_install_packages libclang-dev clang build-essential \
  systemd dbus dbus-user-session util-linux iproute2 procps
cargo build --bins
exec target/debug/keel-stack "$@"
