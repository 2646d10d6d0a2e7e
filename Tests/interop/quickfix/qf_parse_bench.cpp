// QuickFIX parse benchmark: parses N copies of one 35=W message (5 MD entries) and prints
// msgs/s, as the reference point for our FIX parser in the lead's benchmark.
// Usage: qf_parse_bench [N] [FILE]   (FILE: one raw FIX message to parse instead of the built-in 35=W,
// so `broker bench --fix` can hand QuickFIX exactly the bytes it parses itself) prints "quickfix_parse_W bytes=B msgs=N seconds=S msgs_per_sec=R
// cpu_seconds=C msgs_per_cpu_sec=R2".
#include <quickfix/Message.h>
#include <quickfix/fix44/MarketDataSnapshotFullRefresh.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
    long n = argc > 1 ? std::atol(argv[1]) : 1000000;
    FIX44::MarketDataSnapshotFullRefresh snap;
    snap.getHeader().setField(FIX::SenderCompID("EXCH"));
    snap.getHeader().setField(FIX::TargetCompID("INGEST"));
    snap.getHeader().setField(FIX::MsgSeqNum(12345));
    snap.getHeader().setField(FIX::SendingTime());
    snap.set(FIX::MDReqID("md-1"));
    snap.set(FIX::Symbol("RELIANCE"));
    const char types[] = {'0', '1', '2', '0', '1'};
    for (int i = 0; i < 5; ++i) {
        FIX44::MarketDataSnapshotFullRefresh::NoMDEntries e;
        e.set(FIX::MDEntryType(types[i]));
        e.set(FIX::MDEntryPx(2450.25 + i));
        e.set(FIX::MDEntrySize(100 + i));
        snap.addGroup(e);
    }
    std::string wire = snap.toString();
    if (argc > 2) {
        std::ifstream in(argv[2], std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        wire = ss.str();
        if (wire.empty()) { std::fprintf(stderr, "cannot read %s\n", argv[2]); return 2; }
    }
    long sink = 0;
    auto start = std::chrono::steady_clock::now();
    std::clock_t cpuStart = std::clock();
    for (long i = 0; i < n; ++i) {
        // validate=false: no data dictionary (Debian ships none), as in the interop peers.
        FIX::Message m(wire, false);
        sink += m.getHeader().getField(34).size();
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    // CPU time as well: on a shared 2-core machine wall time mostly measures the neighbours.
    double cpu = double(std::clock() - cpuStart) / CLOCKS_PER_SEC;
    std::printf("quickfix_parse_W bytes=%zu msgs=%ld seconds=%.3f msgs_per_sec=%.0f cpu_seconds=%.3f "
                "msgs_per_cpu_sec=%.0f sink=%ld\n", wire.size(), n, secs, n / secs, cpu, n / cpu, sink);
    return 0;
}
