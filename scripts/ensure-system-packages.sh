#!/usr/bin/env bash
# Install the Debian/Ubuntu packages of the named groups when root and any is
# missing. Not root, or not apt: name what is missing and stop.
# usage: scripts/ensure-system-packages.sh GROUP...   (groups below; `all` = every one)
set -euo pipefail

declare -A GROUPS_OF=(
    # the venv and libvirt-python's build
    [build]="python3-venv python3-dev gcc pkg-config libvirt-dev git make"
    # the real libvirt daemon, disk-less TCG guests, namespaces, veths and bridges
    [libvirt]="libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils libvirt-clients iproute2 iputils-ping"
    # tests/ui: the host page in headless Chromium (Selenium uses /usr/bin/chromedriver)
    [ui]="chromium chromium-driver fonts-dejavu-core"
    # the other tiers: systemd-analyze verify of the units, TLS files, the metrics
    # tier's time zones, shell checks, and promtool for the /metrics exposition
    [test]="systemd openssl curl tzdata shellcheck prometheus"
)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(all)
[ "${groups[*]}" != all ] || groups=(build libvirt ui test)
missing=()
for group in "${groups[@]}"; do
    [ -n "${GROUPS_OF[$group]:-}" ] || { echo "unknown package group $group" >&2; exit 2; }
    for pkg in ${GROUPS_OF[$group]}; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$pkg")
    done
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them (apt-get install --no-install-recommends ${missing[*]}) or run make as root on Debian/Ubuntu" >&2
    exit 1
fi

echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Debian's prometheus package would start a server on :9090 under systemd, and
# the tests need only promtool: a policy-rc.d keeps services down meanwhile
# (scripts/ensure-libvirtd.sh starts libvirtd itself).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
