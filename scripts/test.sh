#!/usr/bin/env bash
# The test command: installs what the tests need, starts Redis and PostgreSQL, builds, and runs
# every test target. Tests that need a server find it through BROKER_TEST_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
if [ -x scripts/services.sh ]; then
    eval "$(scripts/services.sh env)"
fi
# The executable too: some tests run `.build/debug/broker` as a child process (ledger kill -9).
swift build --product broker
swift build --build-tests
swift test --skip-build "$@"
