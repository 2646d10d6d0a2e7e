#!/usr/bin/env bash
# The kernel's floor under the fanout's tail latency on this machine: one small message to each
# of N loopback TCP connections, read back through epoll, in plain C (Benchmarks/LoopbackFloor).
# N = 960 and 9,600 are the clients holding the hottest symbol in S1 and S2 (DESIGN.md).
#   scripts/bench-floor.sh [connections...]      (default: 960 9600)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build/bench
cc -O2 -Wall -Wextra -pthread -o .build/bench/floor Benchmarks/LoopbackFloor/floor.c
for n in ${@:-960 9600}; do
    for threads in "1 1" "2 2"; do
        echo "### $n connections, writers/readers $threads  $(date -u +%H:%M:%S)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
        .build/bench/floor "$n" 30 120 $threads
    done
done
