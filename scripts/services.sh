#!/usr/bin/env bash
# Installs (if missing) and starts the real servers the Broker client tests use, then prints their
# connection settings. Idempotent: running it again leaves running servers alone.
#   scripts/services.sh        prints   BROKER_TEST_REDIS=...   BROKER_TEST_PG=...
#   scripts/services.sh env    prints   export BROKER_TEST_REDIS='...'  (for eval, see scripts/test.sh)
# Redis: a private instance on 127.0.0.1:${BROKER_REDIS_PORT:-6390}, no persistence.
# PostgreSQL: Debian's cluster 15/main (started with pg_ctlcluster, as root, as on CI), plus a role and a
# database `broker_test` (password `broker_test`) created through `su postgres -c psql`.
# Progress goes to stderr so that stdout stays evaluable.
set -euo pipefail

REDIS_PORT="${BROKER_REDIS_PORT:-6390}"
PG_VERSION="${BROKER_PG_VERSION:-15}"
PG_CLUSTER="${BROKER_PG_CLUSTER:-main}"
PG_NAME="broker_test"
log() { echo "services: $*" >&2; }

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
[ -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ] || need+=("postgresql-$PG_VERSION")
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi

# --- Redis -------------------------------------------------------------------------------------
if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "redis already running on $REDIS_PORT"
else
    log "starting redis on 127.0.0.1:$REDIS_PORT"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
        --dir /tmp --pidfile "/tmp/broker-test-redis-$REDIS_PORT.pid" \
        --logfile "/tmp/broker-test-redis-$REDIS_PORT.log" >&2
    for _ in $(seq 1 100); do
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 || { log "redis did not start"; exit 1; }
fi

# --- PostgreSQL --------------------------------------------------------------------------------
if [ ! -d "/etc/postgresql/$PG_VERSION/$PG_CLUSTER" ]; then
    log "creating cluster $PG_VERSION/$PG_CLUSTER"
    $SUDO pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >&2
fi
PG_PORT="$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $3}')"
if pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' | grep -q online; then
    log "postgresql $PG_VERSION/$PG_CLUSTER already running on $PG_PORT"
else
    log "starting postgresql $PG_VERSION/$PG_CLUSTER"
    $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2
fi
for _ in $(seq 1 100); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.1
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { log "postgresql did not start"; exit 1; }

# From /, so psql run as postgres does not warn about a working directory it cannot enter.
psql_admin() { (cd / && $SUDO su postgres -c "psql -p $PG_PORT -qtAX -c \"$1\""); }
# The test suite runs many PostgreSQL tests in parallel (each gateway opens a few connections):
# Debian's default of 100 connections can run out, so raise it once (needs a restart).
if [ "$(psql_admin "SHOW max_connections")" -lt 300 ]; then
    log "raising max_connections to 300"
    psql_admin "ALTER SYSTEM SET max_connections = 300" >&2
    $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart >&2
    for _ in $(seq 1 100); do
        pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 0.1
    done
fi
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$PG_NAME'")" != "1" ]; then
    log "creating role $PG_NAME"
    psql_admin "CREATE ROLE $PG_NAME LOGIN PASSWORD '$PG_NAME'" >&2
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$PG_NAME'")" != "1" ]; then
    log "creating database $PG_NAME"
    psql_admin "CREATE DATABASE $PG_NAME OWNER $PG_NAME" >&2
fi

REDIS_SETTING="127.0.0.1:$REDIS_PORT"
PG_SETTING="host=127.0.0.1 port=$PG_PORT dbname=$PG_NAME user=$PG_NAME password=$PG_NAME"
if [ "${1:-}" = "env" ]; then
    echo "export BROKER_TEST_REDIS='$REDIS_SETTING'"
    echo "export BROKER_TEST_PG='$PG_SETTING'"
else
    echo "BROKER_TEST_REDIS=$REDIS_SETTING"
    echo "BROKER_TEST_PG=$PG_SETTING"
fi
