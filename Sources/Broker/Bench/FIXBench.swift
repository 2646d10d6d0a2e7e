// FIXBench: `broker bench --fix`: our FIX 4.4 parse and encode of 35=W (bid, offer, last trade),
// 35=8 and 35=D, in messages per CPU second, beside QuickFIX C++ parsing the very same bytes
// (Tests/interop/quickfix/qf_parse_bench, built by scripts/quickfix-peers.sh) in the same run.
// Allocation counts per message are gated by the microbenchmarks (Benchmarks/Micro).
import Wire
import FIX
#if canImport(Glibc)
import Glibc
#endif

/// The FIX codec benchmark.
public enum FIXBench {
    static let sendingTime = FIXTimestamp(nanoseconds: 1_795_788_017_526_000_000)

    static func header(_ e: inout FIXEncoder, seq: Int) {
        e.field(49, literal: "BROKER")
        e.field(56, literal: "EXCHANGE")
        e.field(34, seq)
        e.field(52, timestamp: sendingTime, precision: .milliseconds)
    }

    /// 35=W with a bid, an offer and a last trade.
    static func snapshot(_ e: inout FIXEncoder, _ seq: Int) {
        e.beginMessage(.marketDataSnapshotFullRefresh)
        header(&e, seq: seq)
        e.field(262, "md-1")
        e.field(55, "RELIANCE")
        e.field(268, 3)
        e.field(269, char: UInt8(ascii: "0")); e.field(270, price: 24_505_000); e.field(271, 1_200)
        e.field(269, char: UInt8(ascii: "1")); e.field(270, price: 24_510_000); e.field(271, 800)
        e.field(269, char: UInt8(ascii: "2")); e.field(270, price: 24_507_500); e.field(271, 50)
        _ = e.finishMessage()
    }

    static func executionReport(_ e: inout FIXEncoder, _ seq: Int) {
        e.beginMessage(.executionReport)
        header(&e, seq: seq)
        e.field(37, "EX-0000001234"); e.field(11, "c-20261127-000042"); e.field(17, "E-0000005678")
        e.field(150, char: UInt8(ascii: "F")); e.field(39, char: UInt8(ascii: "1")); e.field(55, "RELIANCE")
        e.field(54, char: UInt8(ascii: "1")); e.field(38, 100); e.field(44, price: 24_510_000); e.field(32, 40)
        e.field(31, price: 24_507_500); e.field(151, 60); e.field(14, 40); e.field(6, price: 24_507_500)
        e.field(60, timestamp: sendingTime, precision: .milliseconds)
        _ = e.finishMessage()
    }

    static func newOrderSingle(_ e: inout FIXEncoder, _ seq: Int) {
        e.beginMessage(.newOrderSingle)
        header(&e, seq: seq)
        e.field(11, "c-20261127-000042"); e.field(1, "ACC-42"); e.field(55, "RELIANCE")
        e.field(54, char: UInt8(ascii: "1")); e.field(60, timestamp: sendingTime, precision: .milliseconds)
        e.field(38, 100); e.field(40, char: UInt8(ascii: "2")); e.field(44, price: 24_510_000)
        e.field(59, char: UInt8(ascii: "0"))
        _ = e.finishMessage()
    }

    /// Keeps a result alive so the optimizer cannot drop the loop that produced it.
    @inline(never) static func keep(_ value: Int) { kept &+= value }
    nonisolated(unsafe) static var kept = 0

    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Parses `bytes` `count` times (framing + field index + reading the fields a consumer reads).
    static func parseRate(_ bytes: [UInt8], count: Int) -> Double {
        var framer = FIXFramer()
        var view = FIXMessageView(capacity: 256)
        var sink = 0
        let c0 = cpuSeconds()
        bytes.withUnsafeBytes { raw in
            for _ in 0..<count {
                var offset = 0
                guard let frame = try? framer.nextFrame(raw, offset: &offset) else { fatalError("benchmark message has no frame") }
                do { try view.parse(UnsafeRawBufferPointer(rebasing: raw[frame])) } catch { fatalError("rejected: \(error)") }
                sink &+= view.msgSeqNum
                if let g = view.group(268) {
                    view.forEachEntry(of: g) { entry in
                        sink &+= Int(view.price(270, in: entry) ?? 0) &+ (view.int(271, in: entry) ?? 0)
                    }
                } else {
                    sink &+= Int(view.price(44) ?? 0) &+ (view.int(38) ?? 0)
                }
            }
        }
        let cpu = cpuSeconds() - c0
        keep(sink)
        return Double(count) / cpu
    }

    /// Encodes a message `count` times into one reused buffer.
    static func encodeRate(_ build: (inout FIXEncoder, Int) -> Void, count: Int) -> Double {
        var e = FIXEncoder()
        let c0 = cpuSeconds()
        for i in 0..<count {
            e.buffer.clear()
            build(&e, i &+ 1)
        }
        let cpu = cpuSeconds() - c0
        return Double(count) / cpu
    }

    /// Runs the comparison and prints a table.
    public static func run(count: Int, quickfix: String?) throws {
        let cases: [(String, (inout FIXEncoder, Int) -> Void)] = [
            ("35=W snapshot (bid/offer/trade)", snapshot), ("35=8 execution report", executionReport),
            ("35=D new order single", newOrderSingle),
        ]
        print("FIX codec, \(count) messages each, messages per CPU second (1 thread)")
        print("message                             bytes   our parse    our encode   QuickFIX parse   parse ratio")
        for (name, build) in cases {
            var e = FIXEncoder()
            build(&e, 4_711)
            let bytes = e.buffer.readableBytesArray
            let parse = parseRate(bytes, count: count)
            let encode = encodeRate(build, count: count)
            var qf = "n/a", ratio = "n/a"
            if let q = quickfix, access(q, X_OK) == 0 {
                let path = "/tmp/fixbench-\(getpid())-\(bytes.count).fix"
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                if let line = runCapturing([q, "\(count)", path]),
                   let v = line.split(separator: " ").first(where: { $0.hasPrefix("msgs_per_cpu_sec=") }),
                   let rate = Double(v.dropFirst("msgs_per_cpu_sec=".count)) {
                    qf = formatNumber(rate, decimals: 0)
                    ratio = formatNumber(parse / rate, decimals: 2) + "x"
                }
                unlink(path)
            }
            print(name.padding(34) + "  " + "\(bytes.count)".padding(6) + formatNumber(parse, decimals: 0).padding(13)
                  + formatNumber(encode, decimals: 0).padding(13) + qf.padding(17) + ratio)
        }
    }

    static func runCapturing(_ argv: [String]) -> String? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, &cargs, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); return nil }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        close(fds[0])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    fileprivate func padding(_ n: Int) -> String { count >= n ? self + " " : self + String(repeating: " ", count: n - count) }
}
