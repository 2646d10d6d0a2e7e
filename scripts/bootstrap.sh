#!/usr/bin/env bash
# Installs what building and testing the platform needs on Debian 12, once. Idempotent and quiet
# when everything is present. Runs as root (CI) or through sudo.
set -euo pipefail

need_apt=()
for p in pkg-config libssl-dev zlib1g-dev libhiredis-dev librdkafka-dev libpq-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if [ "${1:-}" = "--test" ]; then
    for p in libquickfix-dev redis-server postgresql openssl g++; do
        dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
    done
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "bootstrap: installing ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ "${1:-}" = "--test" ]; then
    python3 -c 'import websockets' 2>/dev/null || python3 -m pip install -q websockets
fi
