#!/usr/bin/env bash
# Starts a Docker engine for the container backend (alertdrill --stack containers), only when
# none answers yet. Idempotent: with an engine already up it prints one line and exits 0.
#
#   scripts/start-dockerd.sh            install docker.io + debootstrap if missing, start dockerd
#   scripts/start-dockerd.sh --check    exit 0 if an engine answers, 1 if not (starts nothing)
#
# dockerd runs in the background (log: /var/log/alertdrill-dockerd.log) and outlives this
# script; nothing here pulls from a registry: the images are built offline by
# `alertdrill images build`. Needs root (or sudo) for the install and for dockerd itself.
set -euo pipefail

SOCKET=/var/run/docker.sock
LOG=/var/log/alertdrill-dockerd.log
WAIT_SECONDS=${DOCKERD_WAIT_SECONDS:-60}

engine_up() {
  # `docker version` talks to the engine: it fails (quickly) when nothing answers the socket.
  [ -S "$SOCKET" ] && timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if [ "${1:-}" = "--check" ]; then
  engine_up
  exit $?
fi

if engine_up; then
  echo "docker engine already running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root or sudo to start dockerd" >&2; exit 1; }
  SUDO="sudo"
fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v iptables >/dev/null || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Same trick as install-system-deps.sh: the package's own service must not be started by the
  # install (there is no init system here that would manage it anyway).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A stale socket or pid file from a dockerd that died would make the new one refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  $SUDO rm -f /var/run/docker.pid "$SOCKET"
fi

if ! [ -f /var/run/docker.pid ]; then
  echo "starting dockerd (log: $LOG)"
  # setsid + nohup: dockerd must survive this script and the shell that ran it.
  # --dns 127.0.0.1: a container that tries to resolve a public name fails at once instead of
  # reaching out (nothing here may leave the machine).
  $SUDO setsid nohup dockerd --dns 127.0.0.1 >>"$LOG" 2>&1 </dev/null &
fi

start=$(date +%s)
until engine_up; do
  if [ $(($(date +%s) - start)) -ge "$WAIT_SECONDS" ]; then
    echo "dockerd did not answer on $SOCKET within ${WAIT_SECONDS}s; last log lines:" >&2
    tail -n 30 "$LOG" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "docker engine running ($(docker version --format '{{.Server.Version}}'), $(($(date +%s) - start))s)"
