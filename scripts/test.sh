#!/usr/bin/env bash
# Run every check and test of the workspace: formatting, lints, the crate graph, then the whole
# test suite (unit, simulation, real-process and etcdctl compatibility tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
keel_require_cargo
# libclang/clang: RocksDB bindings and C++ build. etcd-client: etcdctl for compatibility
# tests. etcd-server: the reference etcd 3.4 the compatibility tests compare against.
keel_install_packages libclang-dev clang build-essential etcd-client etcd-server python3
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
python3 scripts/check_crate_graph.py
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast
