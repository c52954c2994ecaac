#!/usr/bin/env bash
# Build and start keel on its embedded default: a one-member cluster serving the etcd v2 API
# on http://127.0.0.1:2379 (peers on :2380), data in ./default.keel. Extra arguments are
# passed to keel (etcd's flag names).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
keel_require_cargo
# RocksDB's bindings need libclang; its C++ build needs a compiler.
keel_install_packages libclang-dev clang build-essential
cargo build --bin keel
exec target/debug/keel "$@"
