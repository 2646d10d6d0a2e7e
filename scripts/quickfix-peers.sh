#!/usr/bin/env bash
# Builds the QuickFIX C++ interop peers (Tests/interop/quickfix/*.cpp) into OUTDIR.
#   scripts/quickfix-peers.sh OUTDIR
# Needs g++ and Debian's libquickfix-dev (QuickFIX 1.15.1, whose headers use dynamic exception
# specifications: -std=gnu++14). Fails (non-zero) when any peer does not build.
set -euo pipefail
out="${1:?usage: quickfix-peers.sh OUTDIR}"
src="$(cd "$(dirname "$0")/.." && pwd)/Tests/interop/quickfix"
mkdir -p "$out"
flags="$(pkg-config --cflags quickfix)"
libs="$(pkg-config --libs quickfix)"
pids=()
for peer in qf_acceptor qf_initiator qf_parse_bench; do
    if [[ ! -x "$out/$peer" || "$src/$peer.cpp" -nt "$out/$peer" || "$src/qf_common.h" -nt "$out/$peer" ]]; then
        # Build to a temporary name and rename, so a concurrent reader never runs half a binary.
        ( g++ -std=gnu++14 -O2 -Wno-deprecated $flags "$src/$peer.cpp" -o "$out/$peer.tmp.$$" $libs -lpthread \
            && mv -f "$out/$peer.tmp.$$" "$out/$peer" ) &
        pids+=($!)
    fi
done
# The peers load their FIX 4.4 dictionary from beside the binary (see qf_common.h).
cp -f "$src/FIX44-interop.xml" "$out/FIX44-interop.xml"
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[[ $status -eq 0 ]] || { echo "building the QuickFIX peers failed" >&2; exit 1; }
echo "quickfix peers in $out"
