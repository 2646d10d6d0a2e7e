#!/usr/bin/env bash
# Runs the fanout scenarios of DESIGN.md (S1-S4) with the bundled harness against our fanout node
# and, where the SwiftNIO baseline is built, against it in the same run (ratios printed).
# S3cap is S3 without its latency bound (from S2's feed): the rate each server carries at all.
#   scripts/bench-fanout.sh [S1 S2 S3 S3cap S4]      (release builds; output also in .build/bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product broker >/dev/null
B=.build/release/broker
NIO=Benchmarks/NIOBaseline/.build/release/nio-fanout
[ -x "$NIO" ] || (cd Benchmarks/NIOBaseline && swift build -c release >/dev/null) || true
mkdir -p .build/bench
ours="$B fanout --feed synthetic --listen 127.0.0.1:{port} --rate {rate} --symbols {symbols}"
theirs="$NIO --listen 127.0.0.1:{port} --rate {rate} --symbols {symbols}"
port=18500
for s in "${@:-S1 S2 S3 S3cap S4}"; do
    for sc in $s; do
        port=$((port + 1))
        name=$sc
        [ "$sc" = S3cap ] && name=S3
        args=(--scenario "$name" --target "ws://127.0.0.1:$port/ws" --spawn "$ours")
        [ "$sc" = S3cap ] && args+=(--p99-limit-ms 0 --rate 1000)
        [ "$sc" = S4 ] && args+=(--deflate)
        [ -x "$NIO" ] && [ "$sc" != S4 ] && args+=(--baseline-spawn "$theirs")
        echo "### $sc  $(date -u +%H:%M:%S)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
        "$B" bench "${args[@]}" 2>/dev/null | tee ".build/bench/$sc.txt"
    done
done
