// BenchRole: `broker bench`. Runs a scenario against a running server, or spawns the server
// itself (--spawn CMD, with {port} {rate} {symbols} substituted) so it can read its CPU and RSS,
// step the feed for S3, and compare against a baseline server (--baseline-spawn CMD) in the
// same run, printing the ratios.
import Wire
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A server process started by the harness.
final class SpawnedServer {
    let pid: pid_t

    init(command: String, port: Int, rate: Int, symbols: Int) throws {
        let expanded = command.replacingAll("{port}", "\(port)").replacingAll("{rate}", "\(rate)")
            .replacingAll("{symbols}", "\(symbols)")
        let argv = expanded.split(separator: " ").map(String.init)
        guard !argv.isEmpty else { throw RoleError("empty --spawn command") }
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var p: pid_t = 0
        let rc = posix_spawnp(&p, argv[0], nil, nil, &cargs, environ)
        guard rc == 0 else { throw RoleError("cannot start '\(argv[0])': \(IOError(errno: rc, call: "posix_spawnp"))") }
        pid = p
        // Wait until it accepts connections (bounded).
        for _ in 0..<300 {
            if Self.canConnect(port: port) { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { throw RoleError("server '\(expanded)' exited at start") }
            usleep(50_000)
        }
        stop()
        throw RoleError("server '\(expanded)' did not listen on port \(port) within 15 s")
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}

/// `broker bench`.
public enum BenchRole {
    static func scenario(_ ctx: RoleContext) throws -> BenchScenario {
        var s: BenchScenario
        if let name = ctx.argument("--scenario") {
            guard let p = BenchScenario.preset(name) else { throw RoleError("unknown --scenario '\(name)' (S1, S2, S3, S4)") }
            s = p
        } else {
            s = BenchScenario()
        }
        func int(_ flag: String) throws -> Int? {
            guard let v = ctx.argument(flag) else { return nil }
            guard let i = Int(v), i >= 0 else { throw RoleError("\(flag) needs a non-negative integer, found '\(v)'") }
            return i
        }
        func double(_ flag: String) throws -> Double? {
            guard let v = ctx.argument(flag) else { return nil }
            guard let d = Double(v), d >= 0 else { throw RoleError("\(flag) needs a non-negative number, found '\(v)'") }
            return d
        }
        if let v = try int("--connections") { s.connections = v }
        if let v = try int("--symbols-per-connection") { s.symbolsPerConnection = v }
        if let v = try int("--universe") { s.universe = v }
        if let v = try int("--rate") { s.feedRate = v }
        if let v = try int("--ramp") { s.rampPerSecond = max(1, v) }
        if let v = try int("--seed") { s.seed = UInt64(v) }
        if let v = try double("--warmup") { s.warmupSeconds = v }
        if let v = try double("--duration") { s.durationSeconds = v }
        if ctx.has("--deflate") { s.deflate = true }
        return s
    }

    /// Runs the role.
    public static func run(_ ctx: RoleContext) throws {
        if ctx.has("--fix") {
            let n = Int(ctx.argument("--count") ?? "1000000") ?? 1_000_000
            try FIXBench.run(count: n, quickfix: ctx.argument("--quickfix") ?? ".build/quickfix-peers/qf_parse_bench")
            return
        }
        let s = try scenario(ctx)
        let target = ctx.argument("--target") ?? "ws://127.0.0.1:8080/ws"
        let json = ctx.has("--json")
        let loops = Int(ctx.argument("--client-loops") ?? "2") ?? 2
        let harness = try BenchHarness(target: target, loops: loops, logger: ctx.logger)
        let port = harness.port
        let spawn = ctx.argument("--spawn")
        let baseline = ctx.argument("--baseline-spawn")
        if let pid = ctx.argument("--server-pid") { harness.serverPID = Int32(pid) }

        func once(_ sc: BenchScenario, command: String?) throws -> BenchResult {
            var server: SpawnedServer?
            if let command {
                server = try SpawnedServer(command: command, port: port, rate: sc.feedRate, symbols: sc.universe)
                harness.serverPID = server!.pid
            }
            defer { server?.stop() }
            return try harness.run(sc)
        }

        func report(_ r: BenchResult, label: String) {
            if json { print(r.json) } else { print("== \(label)\n\(r.table)\n") }
        }

        /// The run's result; for S3 also whether any step kept up (else the result is the first step's).
        func runScenario(command: String?, label: String) throws -> (BenchResult, keptUp: Bool) {
            guard s.name == "S3" else {
                let r = try once(s, command: command)
                report(r, label: label)
                return (r, true)
            }
            // S3: raise the feed until delivery falls behind or p99 exceeds 100 ms (FeedRateSearch);
            // the result is the highest delivered rate that kept within both. Falling behind: more
            // than 1% of the quotes missing, or `seq` advancing at less than 99% of the feed's rate
            // as the clients see it (BenchResult.keptUp). `--p99-limit-ms 0` drops the latency bound: the
            // search then finds the rate each server can carry at all (its capacity).
            guard command != nil else { throw RoleError("S3 steps the server's feed rate: give --spawn CMD (with {rate})") }
            let limitText = ctx.argument("--p99-limit-ms") ?? "100"
            guard let limitMs = UInt64(limitText) else {
                throw RoleError("--p99-limit-ms needs a non-negative integer, found '\(limitText)'")
            }
            let p99Limit = limitMs == 0 ? UInt64.max : limitMs * 1_000
            let bound = (limitMs == 0 ? "" : "p99 <= \(limitMs) ms, ") + "<= 1% missing, feed seen at >= 99% of its rate"
            var best: BenchResult?
            var first: BenchResult?
            let search = FeedRateSearch(start: ctx.argument("--rate").flatMap(Int.init) ?? 250)
            _ = try search.run { rate in
                var sc = s
                sc.feedRate = rate
                sc.warmupSeconds = min(s.warmupSeconds, 3)
                sc.durationSeconds = min(s.durationSeconds, 10)
                let r = try once(sc, command: command)
                if first == nil { first = r }
                let ok = r.keptUp(p99Micros: p99Limit)
                report(r, label: "\(label) S3 step rate=\(rate): \(ok ? "kept up" : "fell behind")")
                if ok, r.deliveredPerSecond > (best?.deliveredPerSecond ?? 0) { best = r }
                return ok
            }
            guard let b = best else {
                print("S3 \(label): no feed rate from \(max(1, search.start / 8))/s up kept \(bound)")
                return (first!, false)
            }
            print("S3 \(label) (\(bound)): highest delivered \(formatNumber(b.deliveredPerSecond, decimals: 0)) quotes/s at feed \(b.scenario.feedRate)/s, p99 \(formatNumber(Double(b.latencyMicros["p99"] ?? 0) / 1000, decimals: 2)) ms")
            return (b, true)
        }

        let (ours, oursKeptUp) = try runScenario(command: spawn, label: "server")
        if let baseline {
            let (theirs, theirsKeptUp) = try runScenario(command: baseline, label: "baseline")
            func ratio(_ a: Double, _ b: Double) -> String { b > 0 ? formatNumber(a / b, decimals: 2) + "x" : "n/a" }
            if s.name == "S3" && oursKeptUp != theirsKeptUp {
                // One side kept up at no rate tried: its figure is a failing step, not a capacity.
                print("S3: the \(oursKeptUp ? "baseline" : "server") kept up at no rate tried, so its figures below are "
                    + "those of its first step, which fell behind")
            }
            print("ratios (server / baseline): delivered \(ratio(ours.deliveredPerSecond, theirs.deliveredPerSecond)), "
                + "p99 latency \(ratio(Double(ours.latencyMicros["p99"] ?? 0), Double(theirs.latencyMicros["p99"] ?? 0))), "
                + "server cpu/quote \(ratio(ours.serverCPUMicrosPerQuote ?? 0, theirs.serverCPUMicrosPerQuote ?? 0))")
        }
    }
}
