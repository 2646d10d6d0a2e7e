// BenchHarness: the bundled load harness (`broker bench`). It opens N WebSocket connections with
// the project's own client on its own event loops, subscribes each to K Zipf-chosen symbols,
// and measures delivered quotes/s (counting quotes inside batches), wire and payload bytes/s and
// latency (receive time - ts) in an HDR histogram; with the server's pid it also reads the
// server's CPU seconds and RSS from /proc. Per-loop state is share-nothing; the controller
// thread collects it with one task per loop.
public import Wire
public import Logging
import WebSocket
import Histogram
#if canImport(Glibc)
import Glibc
#endif

/// One loop's share of the harness.
final class BenchLoopState {
    /// ts -> the harness reading the quote.
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000,
                                      numberOfSignificantValueDigits: .three)
    /// ts -> the kernel stamping its arrival at the client's socket (SO_TIMESTAMPNS): the same
    /// minus the time the quote waited for a busy harness loop to read it.
    var arrivalHistogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000,
                                             numberOfSignificantValueDigits: .three)
    var measuring = false
    var quotes: UInt64 = 0
    var messages: UInt64 = 0
    var payloadBytes: UInt64 = 0
    var established = 0
    var failed = 0
    var closedAfterOpen = 0
    var subscriptions = 0
    var wireBytesAtStart: UInt64 = 0
    var clients: [BenchClient] = []
    var pendingConnects: [[String]] = []
    var nextConnect = 0
}

/// One simulated user.
final class BenchClient: WebSocketHandler {
    unowned let state: BenchLoopState
    let subscribe: ByteBuffer
    let symbolCount: Int
    var open = false
    var ws: WebSocketConnection?

    init(state: BenchLoopState, symbols: [String]) {
        self.state = state
        symbolCount = symbols.count
        subscribe = JSONValue.object([("action", .string("subscribe")), ("symbols", .array(symbols.map { .string($0) }))])
            .serialized
    }

    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {
        open = true
        ws.tcp.receiveTimestamps = true
        state.established += 1
        state.subscriptions += symbolCount
        _ = ws.send(.text, payload: subscribe)
    }

    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) {
        guard state.measuring else { return }
        state.messages &+= 1
        state.payloadBytes &+= UInt64(text.readableBytes)
        let now = Syscalls.realtimeNanos() / 1_000
        let arrived = ws.tcp.lastArrivalNanos / 1_000
        let st = state
        let n = text.withUnsafeReadableBytes { bytes in
            QuoteScanner.scan(bytes) { ts in
                let t = ts / 1_000
                _ = st.histogram.record(now > t ? now - t : 1)
                if arrived > 0 { _ = st.arrivalHistogram.record(arrived > t ? arrived - t : 1) }
            }
        }
        state.quotes &+= UInt64(n)
    }

    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {
        if open {
            state.closedAfterOpen += 1
            state.subscriptions -= symbolCount
        } else {
            state.failed += 1
        }
        open = false
        self.ws = nil
    }
}

/// The figures of one run.
public struct BenchResult: Sendable {
    public var scenario: BenchScenario
    public var target: String
    public var connectionsEstablished = 0
    public var connectionsFailed = 0
    public var connectionsClosedDuringRun = 0
    public var subscriptions = 0
    public var seconds = 0.0
    public var deliveredPerSecond = 0.0
    public var expectedPerSecond = 0.0
    public var messagesPerSecond = 0.0
    public var wireBytesPerSecond = 0.0
    public var payloadBytesPerSecond = 0.0
    public var latencyMicros: [String: UInt64] = [:]
    /// ts -> arrival at the client socket (kernel timestamp): `latencyMicros` without the wait for
    /// the harness to read. Empty when the kernel gave no timestamps.
    public var arrivalLatencyMicros: [String: UInt64] = [:]
    public var serverCPUSeconds: Double?
    public var serverRSSBytes: Int?
    public var serverPeakRSSBytes: Int?
    /// The harness's own CPU seconds over the measurement (a harness near 200% measures itself).
    public var harnessCPUSeconds: Double?

    /// Delivered / expected.
    public var deliveryRatio: Double { expectedPerSecond > 0 ? deliveredPerSecond / expectedPerSecond : 0 }
    /// Wire bytes per delivered quote.
    public var wireBytesPerQuote: Double { deliveredPerSecond > 0 ? wireBytesPerSecond / deliveredPerSecond : 0 }
    /// Server CPU microseconds per delivered quote.
    public var serverCPUMicrosPerQuote: Double? {
        guard let cpu = serverCPUSeconds, deliveredPerSecond > 0 else { return nil }
        return cpu / (deliveredPerSecond * seconds) * 1e6
    }

    /// A readable table.
    public var table: String {
        func f(_ v: Double, _ d: Int = 0) -> String { formatNumber(v, decimals: d) }
        func ms(_ k: String) -> String { f(Double(latencyMicros[k] ?? 0) / 1000, 2) }
        var lines = [
            "scenario \(scenario.name)  target \(target)  deflate \(scenario.deflate ? "on" : "off")",
            "connections   \(connectionsEstablished)/\(scenario.connections) established, \(connectionsFailed) failed, \(connectionsClosedDuringRun) closed during run",
            "feed          \(scenario.feedRate) updates/s over \(scenario.universe) symbols, K=\(scenario.symbolsPerConnection) Zipf(s=\(scenario.zipfExponent)) seed \(scenario.seed)",
            "delivered     \(f(deliveredPerSecond)) quotes/s   expected \(f(expectedPerSecond)) quotes/s   (\(f(deliveryRatio * 100, 1))%)",
            "messages      \(f(messagesPerSecond))/s   wire \(f(wireBytesPerSecond / 1e6, 2)) MB/s   payload \(f(payloadBytesPerSecond / 1e6, 2)) MB/s   wire bytes/quote \(f(wireBytesPerQuote, 1))",
            "latency ms    p50 \(ms("p50"))   p90 \(ms("p90"))   p99 \(ms("p99"))   p99.9 \(ms("p99.9"))   max \(ms("max"))   (ts -> read by the harness)",
        ]
        if !arrivalLatencyMicros.isEmpty {
            func am(_ k: String) -> String { f(Double(arrivalLatencyMicros[k] ?? 0) / 1000, 2) }
            lines.append("arrival ms    p50 \(am("p50"))   p90 \(am("p90"))   p99 \(am("p99"))   p99.9 \(am("p99.9"))   max \(am("max"))   (ts -> at the client socket)")
        }
        if let cpu = serverCPUSeconds {
            lines.append("server        cpu \(f(cpu, 2)) s over \(f(seconds, 1)) s (\(f(cpu / seconds * 100, 0))% of a core), "
                + "\(f(serverCPUMicrosPerQuote ?? 0, 3)) us/quote, rss \(f(Double(serverRSSBytes ?? 0) / 1048576, 1)) MB (peak \(f(Double(serverPeakRSSBytes ?? 0) / 1048576, 1)) MB)")
        }
        if let h = harnessCPUSeconds {
            lines.append("harness       cpu \(f(h, 2)) s (\(f(h / seconds * 100, 0))% of a core); load average at end \(loadAverage())")
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object on one line.
    public var json: String {
        var m: [(String, JSONValue)] = [
            ("scenario", .string(scenario.name)), ("target", .string(target)), ("deflate", .bool(scenario.deflate)),
            ("connections", .number("\(scenario.connections)")), ("established", .number("\(connectionsEstablished)")),
            ("failed", .number("\(connectionsFailed)")), ("closed_during_run", .number("\(connectionsClosedDuringRun)")),
            ("feed_rate", .number("\(scenario.feedRate)")), ("universe", .number("\(scenario.universe)")),
            ("symbols_per_connection", .number("\(scenario.symbolsPerConnection)")),
            ("seconds", .number(formatNumber(seconds, decimals: 3, grouping: false))),
            ("delivered_per_s", .number(formatNumber(deliveredPerSecond, decimals: 1, grouping: false))),
            ("expected_per_s", .number(formatNumber(expectedPerSecond, decimals: 1, grouping: false))),
            ("messages_per_s", .number(formatNumber(messagesPerSecond, decimals: 1, grouping: false))),
            ("wire_bytes_per_s", .number(formatNumber(wireBytesPerSecond, decimals: 0, grouping: false))),
            ("payload_bytes_per_s", .number(formatNumber(payloadBytesPerSecond, decimals: 0, grouping: false))),
            ("wire_bytes_per_quote", .number(formatNumber(wireBytesPerQuote, decimals: 2, grouping: false))),
        ]
        for k in ["p50", "p90", "p99", "p99.9", "max"] {
            m.append(("latency_us_\(k)", .number("\(latencyMicros[k] ?? 0)")))
        }
        for k in ["p50", "p90", "p99", "p99.9", "max"] where !arrivalLatencyMicros.isEmpty {
            m.append(("arrival_latency_us_\(k)", .number("\(arrivalLatencyMicros[k] ?? 0)")))
        }
        if let cpu = serverCPUSeconds { m.append(("server_cpu_s", .number(formatNumber(cpu, decimals: 3, grouping: false)))) }
        if let r = serverRSSBytes { m.append(("server_rss_bytes", .number("\(r)"))) }
        if let r = serverPeakRSSBytes { m.append(("server_peak_rss_bytes", .number("\(r)"))) }
        if let h = harnessCPUSeconds { m.append(("harness_cpu_s", .number(formatNumber(h, decimals: 3, grouping: false)))) }
        return JSONValue.object(m).text
    }
}

/// The 1-minute load average from /proc/loadavg (how busy the shared machine was).
func loadAverage() -> String {
    ProcessStats.readText("/proc/loadavg").map { String($0.split(separator: " ").first ?? "?") } ?? "?"
}

/// Formats with fixed decimals and optional thousands separators (no Foundation).
public func formatNumber(_ v: Double, decimals: Int, grouping: Bool = true) -> String {
    guard v.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let neg = v < 0
    let r = (abs(v) * scale).rounded()
    let intPart = UInt64(r / scale)
    let frac = UInt64(r) - intPart * UInt64(scale)
    var s = String(intPart)
    if grouping && s.count > 3 {
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        s = out
    }
    if decimals > 0 {
        var fs = String(frac)
        while fs.count < decimals { fs = "0" + fs }
        s += "." + fs
    }
    return neg ? "-" + s : s
}

/// Runs scenarios against a target.
public final class BenchHarness: @unchecked Sendable {
    let group: EventLoopGroup
    let states: [BenchLoopState]
    let logger: Logger
    let host: String
    let port: Int
    let path: String
    /// Server pid for /proc readings (nil: not reported).
    public var serverPID: Int32?

    /// Creates a harness with `loops` client loops aimed at `target` (ws://host:port/path).
    /// - Throws: `RoleError` for a malformed target.
    public init(target: String, loops: Int, logger: Logger) throws {
        guard target.hasPrefix("ws://") else { throw RoleError("--target must be ws://HOST:PORT/PATH, found '\(target)'") }
        let rest = target.dropFirst(5)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let (h, p) = try parseHostPort(String(rest[..<slash]), key: "--target")
        host = h
        port = p
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        self.logger = logger
        Syscalls.raiseFileLimit()
        group = try EventLoopGroup(count: loops, name: "bench", logger: logger)
        states = group.loops.map { _ in BenchLoopState() }
        group.start()
    }

    deinit {
        group.stop()
        group.join()
    }

    /// Draws each connection's symbols: K distinct Zipf ranks over the universe, named S0000...
    public static func subscriptions(_ s: BenchScenario) -> [[String]] {
        var rng = SeededRandom(seed: s.seed)
        let zipf = ZipfDistribution(count: s.universe, exponent: s.zipfExponent)
        let k = min(s.symbolsPerConnection, s.universe)
        return (0..<s.connections).map { _ in
            zipf.sampleDistinct(k, &rng).map { SymbolUniverse.generatedSymbol($0) }
        }
    }

    /// Opens the scenario's connections, warms up, measures and closes them.
    public func run(_ scenario: BenchScenario) throws -> BenchResult {
        let subs = Self.subscriptions(scenario)
        let L = group.loops.count
        var cfg = WebSocketClientConfiguration()
        cfg.maxBufferedBytes = 1 << 20
        cfg.handshakeTimeoutNanos = 30_000_000_000
        cfg.connection.maxMessageSize = 16 << 20
        cfg.connection.maxFrameSize = 16 << 20
        if scenario.deflate { cfg.deflate = WebSocketDeflateConfiguration(serverNoContextTakeover: false) }
        let config = cfg
        let perTick = max(1, scenario.rampPerSecond / 100 / L)
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            let mine = stride(from: i, to: subs.count, by: L).map { subs[$0] }
            nonisolated(unsafe) let me = self
            try loop.submitAndWait {
                st.pendingConnects = mine
                st.nextConnect = 0
                me.rampTick(loop: loop, state: st, perTick: perTick, config: config)
            }
        }
        // Wait for the ramp to finish (every connection established or failed).
        let rampDeadline = Syscalls.monotonicNanos() + UInt64(Double(scenario.connections) / Double(scenario.rampPerSecond) * 1e9) + 60_000_000_000
        while true {
            let (est, failed) = try counts()
            if est + failed >= scenario.connections { break }
            if Syscalls.monotonicNanos() > rampDeadline {
                logger.warning("ramp timed out", metadata: ["established": "\(est)", "failed": "\(failed)"])
                break
            }
            usleep(100_000)
        }
        usleep(UInt32(scenario.warmupSeconds * 1e6))

        // Measure.
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            try loop.submitAndWait {
                st.histogram.reset()
                st.arrivalHistogram.reset()
                st.quotes = 0
                st.messages = 0
                st.payloadBytes = 0
                st.closedAfterOpen = 0
                st.wireBytesAtStart = loop.stats.bytesRead
                st.measuring = true
            }
        }
        let t0 = Syscalls.monotonicNanos()
        let cpu0 = serverPID.flatMap { ProcessStats.read(pid: $0) }
        let self0 = ProcessStats.read(pid: getpid())
        usleep(UInt32(scenario.durationSeconds * 1e6))
        var hist = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000,
                                     numberOfSignificantValueDigits: .three)
        var arrivalHist = hist
        var r = BenchResult(scenario: scenario, target: "ws://\(host):\(port)\(path)")
        var wire: UInt64 = 0
        var quotes: UInt64 = 0, messages: UInt64 = 0, payload: UInt64 = 0
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            nonisolated(unsafe) var h: Histogram<UInt64>?
            nonisolated(unsafe) var ah: Histogram<UInt64>?
            let snap = try loop.submitAndWait { () -> (UInt64, UInt64, UInt64, UInt64, Int, Int, Int, Int) in
                st.measuring = false
                h = st.histogram
                ah = st.arrivalHistogram
                return (st.quotes, st.messages, st.payloadBytes, loop.stats.bytesRead - st.wireBytesAtStart,
                        st.established, st.failed, st.closedAfterOpen, st.subscriptions)
            }
            hist.add(h!)
            arrivalHist.add(ah!)
            quotes += snap.0
            messages += snap.1
            payload += snap.2
            wire += snap.3
            r.connectionsEstablished += snap.4
            r.connectionsFailed += snap.5
            r.connectionsClosedDuringRun += snap.6
            r.subscriptions += snap.7
        }
        let secs = Double(Syscalls.monotonicNanos() - t0) / 1e9
        let cpu1 = serverPID.flatMap { ProcessStats.read(pid: $0) }
        if let a = self0, let b = ProcessStats.read(pid: getpid()) { r.harnessCPUSeconds = b.cpuSeconds - a.cpuSeconds }
        r.seconds = secs
        r.deliveredPerSecond = Double(quotes) / secs
        r.messagesPerSecond = Double(messages) / secs
        r.payloadBytesPerSecond = Double(payload) / secs
        r.wireBytesPerSecond = Double(wire) / secs
        r.expectedPerSecond = scenario.expectedQuotesPerSecond(subscriptions: r.subscriptions)
        r.latencyMicros = [
            "p50": hist.valueAtPercentile(50), "p90": hist.valueAtPercentile(90), "p99": hist.valueAtPercentile(99),
            "p99.9": hist.valueAtPercentile(99.9), "max": hist.max,
        ]
        if arrivalHist.totalCount > 0 {
            r.arrivalLatencyMicros = [
                "p50": arrivalHist.valueAtPercentile(50), "p90": arrivalHist.valueAtPercentile(90),
                "p99": arrivalHist.valueAtPercentile(99), "p99.9": arrivalHist.valueAtPercentile(99.9),
                "max": arrivalHist.max,
            ]
        }
        if let a = cpu0, let b = cpu1 {
            r.serverCPUSeconds = b.cpuSeconds - a.cpuSeconds
            r.serverRSSBytes = b.rssBytes
            r.serverPeakRSSBytes = b.peakRSSBytes
        }
        try closeAll()
        return r
    }

    private func rampTick(loop: EventLoop, state st: BenchLoopState, perTick: Int, config: WebSocketClientConfiguration) {
        var n = 0
        while n < perTick && st.nextConnect < st.pendingConnects.count {
            let c = BenchClient(state: st, symbols: st.pendingConnects[st.nextConnect])
            st.nextConnect += 1
            n += 1
            do {
                c.ws = try WebSocketClient.connect(host: host, port: port, target: path, on: loop,
                                                   configuration: config, handler: c)
                st.clients.append(c)
            } catch {
                st.failed += 1
            }
        }
        if st.nextConnect < st.pendingConnects.count {
            nonisolated(unsafe) let me = self
            loop.schedule(afterNanos: 10_000_000) { me.rampTick(loop: loop, state: st, perTick: perTick, config: config) }
        }
    }

    private func counts() throws -> (Int, Int) {
        var e = 0, f = 0
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            let (a, b) = try loop.submitAndWait { (st.established, st.failed) }
            e += a
            f += b
        }
        return (e, f)
    }

    private func closeAll() throws {
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            try loop.submitAndWait {
                for c in st.clients { c.ws?.tcp.reset() }
                st.clients.removeAll()
                st.pendingConnects = []
            }
        }
        usleep(300_000)
        // The resets' close callbacks have run by now; start the next run from zero.
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            try loop.submitAndWait {
                st.established = 0
                st.failed = 0
                st.closedAfterOpen = 0
                st.subscriptions = 0
            }
        }
    }
}
