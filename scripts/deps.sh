#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test Keel. Idempotent: installs
# nothing when everything is present. Sourced by run.sh and test.sh.
set -euo pipefail

keel_install_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

keel_require_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo is required (https://rustup.rs); install a Rust toolchain first" >&2
        exit 1
    fi
}
