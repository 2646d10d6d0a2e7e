#!/usr/bin/env bash
# The main job: the whole platform in one process on embedded defaults (no Redis, Kafka or
# PostgreSQL needed). Extra arguments go to `broker demo`, e.g. --listen 127.0.0.1:9090.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product broker
exec .build/release/broker demo "$@"
