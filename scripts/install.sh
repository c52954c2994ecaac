#!/usr/bin/env bash
# Installs Keel as system services: the binaries, the systemd units of every daemon
# (stack/systemd/) and shell completions of every command (bash, zsh, fish). Idempotent:
# running it again replaces what it installed with the same files.
#
#   sudo scripts/install.sh            # release build, into /usr/local, units in /etc/systemd/system
#
# Options:
#   --prefix DIR    binaries in DIR/bin, completions under DIR/share (default /usr/local)
#   --unit-dir DIR  where the unit files go (default /etc/systemd/system)
#   --bin-dir DIR   install the binaries already built in DIR instead of building a release
#
# With the default unit directory on a machine that runs systemd, the manager is reloaded;
# nothing is enabled or started (the end of the output says how).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
unit_dir=/etc/systemd/system
bin_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --unit-dir) unit_dir="$2"; shift 2 ;;
        --bin-dir) bin_dir="$2"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path" >&2; exit 2 ;; esac

# Programs whose command line is flags (their completion: `NAME --completion SHELL`) and
# commands (`NAME completion SHELL`).
flagged=(keel fleetd discoveryd locksmithd fleetlockd keel-dashboard keel-stack)
clis=(keelctl fleetctl locksmithctl discoveryctl)

if [ -z "$bin_dir" ]; then
    . scripts/deps.sh
    keel_require_cargo
    keel_install_packages libclang-dev clang build-essential
    cargo build --release --bins
    bin_dir=target/release
fi
for name in "${flagged[@]}" "${clis[@]}"; do
    [ -x "$bin_dir/$name" ] || { echo "install.sh: $bin_dir/$name is missing (build first)" >&2; exit 1; }
done

install -d "$prefix/bin" "$unit_dir" \
    "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" \
    "$prefix/share/fish/vendor_completions.d"
for name in "${flagged[@]}" "${clis[@]}"; do
    install -m 0755 "$bin_dir/$name" "$prefix/bin/$name"
done

for unit in stack/systemd/*.service stack/systemd/*.socket; do
    sed "s#@BINDIR@#$prefix/bin#g" "$unit" > "$unit_dir/$(basename "$unit").new"
    chmod 0644 "$unit_dir/$(basename "$unit").new"
    mv "$unit_dir/$(basename "$unit").new" "$unit_dir/$(basename "$unit")"
done

completion() {
    local name="$1" shell="$2"
    case " ${clis[*]} " in
        *" $name "*) "$prefix/bin/$name" completion "$shell" ;;
        *) "$prefix/bin/$name" --completion "$shell" ;;
    esac
}
for name in "${flagged[@]}" "${clis[@]}"; do
    completion "$name" bash > "$prefix/share/bash-completion/completions/$name"
    completion "$name" zsh > "$prefix/share/zsh/site-functions/_$name"
    completion "$name" fish > "$prefix/share/fish/vendor_completions.d/$name.fish"
done

echo "installed: $(( ${#flagged[@]} + ${#clis[@]} )) programs in $prefix/bin, their completions under $prefix/share, units in $unit_dir"
if [ "$unit_dir" = /etc/systemd/system ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
cat <<NEXT
next: put settings in /etc/keel/keel.env (KEEL_*), /etc/fleet/fleet.env (FLEET_*),
/etc/keel/discoveryd.env (SKYDNS_*), /etc/coreos/update.conf (REBOOT_STRATEGY, LOCKSMITHD_*),
then: systemctl enable --now keel.service fleet.socket fleet.service discoveryd.service locksmithd.service
NEXT
