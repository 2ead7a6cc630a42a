#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages alertdrill drives as real processes, only when missing.
# Idempotent: a second run installs nothing and takes well under a second.
set -euo pipefail

packages=(
  python3 python3-venv python3-pip
  postgresql redis-server
  prometheus prometheus-alertmanager
  prometheus-node-exporter prometheus-postgres-exporter prometheus-redis-exporter
  prometheus-blackbox-exporter
  wrk hyperfine stress-ng iproute2 util-linux e2fsprogs procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packages' own services (a system Redis, PostgreSQL cluster, Prometheus)
# from being started by the install: alertdrill starts private instances on free ports instead.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
