// BenchHarness: the bundled load harness (`broker bench`). It opens N WebSocket connections with
// the project's own client on its own event loops, subscribes each to K Zipf-chosen symbols,
// and measures delivered quotes/s (counting quotes inside batches), wire and payload bytes/s and
// latency (receive time - ts) in an HDR histogram; from each quote's per-symbol `seq`, the quotes a
// connection never got and how many the feed owed the subscriptions (SequenceWindow); with the
// server's pid it also reads the server's CPU seconds and RSS from /proc. Per-loop state is
// share-nothing; the controller thread collects it with one task per loop.
import Wire
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
    /// Symbol name hash -> index in the universe (S0000...), set before a run connects.
    var symbolIndex: [UInt64: Int32] = [:]
    /// Per symbol: the highest `seq` this loop received (0: none yet), at any time.
    var latestSeq: [UInt64] = []
    /// Per symbol: `latestSeq` when the measurement started.
    var startSeq: [UInt64] = []
    /// Per symbol: the lowest `seq` received while measuring (0: none).
    var firstSeqInWindow: [UInt64] = []
    /// While measuring: quotes a connection never got (gaps in a symbol's `seq`, e.g. conflated away).
    var missing: UInt64 = 0
    /// While measuring: quotes older than or equal to one the connection already had.
    var outOfOrder: UInt64 = 0
    /// While measuring: quotes of symbols the connection did not subscribe to.
    var unsubscribed: UInt64 = 0
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
    /// This connection's symbols (universe indices; -1 outside the universe) and the last `seq`
    /// it received of each: a quote more than one ahead means quotes it never got.
    var symbols: [Int32]
    var lastSeq: [UInt64]
    var open = false
    var ws: WebSocketConnection?

    init(state: BenchLoopState, symbols: [String]) {
        self.state = state
        self.symbols = symbols.map { state.symbolIndex[QuoteScanner.symbolHash($0)] ?? -1 }
        lastSeq = Array(repeating: 0, count: symbols.count)
        subscribe = JSONValue.object([("action", .string("subscribe")), ("symbols", .array(symbols.map { .string($0) }))])
            .serialized
    }

    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {
        open = true
        ws.tcp.receiveTimestamps = true
        state.established += 1
        state.subscriptions += symbols.count
        _ = ws.send(.text, payload: subscribe)
    }

    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) {
        let now = Syscalls.realtimeNanos() / 1_000
        let arrived = ws.tcp.lastArrivalNanos / 1_000
        text.withUnsafeReadableBytes { received($0, nowMicros: now, arrivedMicros: arrived) }
    }

    /// One text message read at `nowMicros` (realtime), having reached the socket at
    /// `arrivedMicros` (0: unknown).
    func received(_ bytes: UnsafeRawBufferPointer, nowMicros now: UInt64, arrivedMicros arrived: UInt64) {
        let st = state
        let measuring = st.measuring
        // Sequence numbers are followed outside the measurement too, so its first quotes already
        // have a predecessor to be compared with.
        let n = QuoteScanner.scanQuotes(bytes) { q in
            track(q, measuring: measuring)
            guard measuring else { return }
            let t = q.ts / 1_000
            _ = st.histogram.record(now > t ? now - t : 1)
            if arrived > 0 { _ = st.arrivalHistogram.record(arrived > t ? arrived - t : 1) }
        }
        guard measuring else { return }
        st.messages &+= 1
        st.payloadBytes &+= UInt64(bytes.count)
        st.quotes &+= UInt64(n)
    }

    @inline(__always)
    private func track(_ q: ScannedQuote, measuring: Bool) {
        guard q.seq > 0 else { return }  // a server that does not number its quotes
        let st = state
        guard let sym = st.symbolIndex[q.symbolHash] else {
            if measuring { st.unsubscribed &+= 1 }
            return
        }
        var k = 0
        while k < symbols.count && symbols[k] != sym { k += 1 }
        guard k < symbols.count else {
            if measuring { st.unsubscribed &+= 1 }
            return
        }
        let last = lastSeq[k]
        if q.seq > last {
            if measuring && last > 0 { st.missing &+= q.seq - last - 1 }
            lastSeq[k] = q.seq
        } else if measuring {
            st.outOfOrder &+= 1
        }
        let s = Int(sym)
        if q.seq > st.latestSeq[s] { st.latestSeq[s] = q.seq }
        if measuring && (st.firstSeqInWindow[s] == 0 || q.seq < st.firstSeqInWindow[s]) { st.firstSeqInWindow[s] = q.seq }
    }

    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {
        if open {
            state.closedAfterOpen += 1
            state.subscriptions -= symbols.count
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
    /// Updates/s the server's feed produced during the measurement for the subscribed symbols,
    /// read from the quotes' per-symbol `seq`; nil when the server does not number its quotes.
    public var feedUpdatesPerSecond: Double?
    /// `feedUpdatesPerSecond` against the configured rate's share for those symbols (a server
    /// whose feed cannot keep up produces fewer updates, which latency from `ts` does not show).
    public var feedPace: Double?
    /// Quotes/s the subscriptions were owed by the updates actually produced during the
    /// measurement (`expectedPerSecond` is the same from the configured rate: a random feed's 20 s
    /// differ from it by a few percent).
    public var owedPerSecond: Double?
    /// Quotes connections never received: gaps in a symbol's `seq` (conflated away or lost).
    public var missingQuotes: UInt64 = 0
    /// Quotes not newer than one the connection already had (never expected).
    public var outOfOrderQuotes: UInt64 = 0
    /// Quotes of symbols the connection had not subscribed to (never expected).
    public var unsubscribedQuotes: UInt64 = 0

    /// S3's test of a step: p99 within `p99Micros`, at most 1% of the quotes lost (seq gaps), and
    /// the feed's progress as the clients saw it at 99% of its rate or more: a server falling
    /// behind shows as `seq` advancing slower than the feed. (The owed ratio is not used: one
    /// 9,600-write burst straddling the end of a 10 s window at a low rate moves it by ~2%.)
    /// Without `seq`, delivered >= 99% of the configured rate's expectation.
    public func keptUp(p99Micros: UInt64) -> Bool {
        guard (latencyMicros["p99"] ?? .max) <= p99Micros else { return false }
        guard let pace = feedPace else { return deliveryRatio >= 0.99 }
        let delivered = deliveredPerSecond * seconds
        return pace >= 0.99 && Double(missingQuotes) <= 0.01 * delivered
    }

    /// Delivered / owed (nil without sequence numbers).
    public var owedDeliveryRatio: Double? {
        guard let o = owedPerSecond, o > 0 else { return nil }
        return deliveredPerSecond / o
    }

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
        if let owed = owedPerSecond, let feed = feedUpdatesPerSecond {
            lines.insert(
                "this run      feed \(f(feed)) updates/s (\(f((feedPace ?? 0) * 100, 1))% of the rate), owed \(f(owed)) quotes/s: "
                    + "delivered \(f((owedDeliveryRatio ?? 0) * 100, 1))%; \(missingQuotes) missing (seq gaps), "
                    + "\(outOfOrderQuotes) out of order, \(unsubscribedQuotes) unsubscribed",
                at: 4)
        }
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
        if let owed = owedPerSecond, let feed = feedUpdatesPerSecond {
            m.append(("feed_updates_per_s", .number(formatNumber(feed, decimals: 1, grouping: false))))
            m.append(("feed_pace", .number(formatNumber(feedPace ?? 0, decimals: 4, grouping: false))))
            m.append(("owed_per_s", .number(formatNumber(owed, decimals: 1, grouping: false))))
        }
        m.append(("missing", .number("\(missingQuotes)")))
        m.append(("out_of_order", .number("\(outOfOrderQuotes)")))
        m.append(("unsubscribed", .number("\(unsubscribedQuotes)")))
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
        var index: [UInt64: Int32] = [:]
        for i in 0..<scenario.universe { index[QuoteScanner.symbolHash(SymbolUniverse.generatedSymbol(i))] = Int32(i) }
        let symbolIndex = index
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            let mine = stride(from: i, to: subs.count, by: L).map { subs[$0] }
            let me = self
            try loop.submitAndWait {
                st.symbolIndex = symbolIndex
                st.latestSeq = Array(repeating: 0, count: scenario.universe)
                st.firstSeqInWindow = st.latestSeq
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
                st.missing = 0
                st.outOfOrder = 0
                st.unsubscribed = 0
                st.startSeq = st.latestSeq
                for k in st.firstSeqInWindow.indices { st.firstSeqInWindow[k] = 0 }
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
        let U = scenario.universe
        var seqs = SequenceWindow(universe: U)
        for (i, loop) in group.loops.enumerated() {
            let st = states[i]
            nonisolated(unsafe) var h: Histogram<UInt64>?
            nonisolated(unsafe) var ah: Histogram<UInt64>?
            nonisolated(unsafe) var loopSeqs: SequenceWindow?
            let snap = try loop.submitAndWait { () -> (UInt64, UInt64, UInt64, UInt64, Int, Int, Int, Int) in
                st.measuring = false
                h = st.histogram
                ah = st.arrivalHistogram
                var w = SequenceWindow(universe: U)
                w.start = st.startSeq
                w.end = st.latestSeq
                w.first = st.firstSeqInWindow
                for c in st.clients where c.open {
                    for s in c.symbols where s >= 0 { w.subscribers[Int(s)] += 1 }
                }
                w.missing = st.missing
                w.outOfOrder = st.outOfOrder
                w.unsubscribed = st.unsubscribed
                loopSeqs = w
                return (st.quotes, st.messages, st.payloadBytes, loop.stats.bytesRead - st.wireBytesAtStart,
                        st.established, st.failed, st.closedAfterOpen, st.subscriptions)
            }
            hist.add(h!)
            arrivalHist.add(ah!)
            seqs.merge(loopSeqs!)
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
        seqs.fill(&r, seconds: secs)
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
            let me = self
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

/// What the quotes' per-symbol `seq` tell about a measurement, merged over the harness's loops:
/// how many updates the feed produced for each symbol during it (latest `seq` at the end minus
/// latest at the start) and so how many quotes the subscriptions were owed, with the gaps and
/// reorderings the connections saw.
struct SequenceWindow {
    var start: [UInt64]
    var end: [UInt64]
    var first: [UInt64]
    var subscribers: [Int]
    var missing: UInt64 = 0
    var outOfOrder: UInt64 = 0
    var unsubscribed: UInt64 = 0

    init(universe: Int) {
        start = Array(repeating: 0, count: universe)
        end = start
        first = start
        subscribers = Array(repeating: 0, count: universe)
    }

    /// Adds another loop's view: the freshest `seq` at each end, the earliest in the window.
    mutating func merge(_ o: SequenceWindow) {
        for s in start.indices {
            start[s] = max(start[s], o.start[s])
            end[s] = max(end[s], o.end[s])
            if o.first[s] > 0 && (first[s] == 0 || o.first[s] < first[s]) { first[s] = o.first[s] }
            subscribers[s] += o.subscribers[s]
        }
        missing &+= o.missing
        outOfOrder &+= o.outOfOrder
        unsubscribed &+= o.unsubscribed
    }

    /// Updates of symbol `s` during the window. Without a quote of it before the window (a server
    /// that sends no snapshot on subscribe, and no update since), the count starts at the first
    /// one inside it.
    func updates(_ s: Int) -> UInt64 {
        guard end[s] > 0 else { return 0 }
        if start[s] > 0 { return end[s] - min(start[s], end[s]) }
        return first[s] > 0 ? end[s] - first[s] + 1 : 0
    }

    /// Fills the sequence figures of `r` (left nil when no quote carried a `seq`).
    func fill(_ r: inout BenchResult, seconds: Double) {
        r.missingQuotes = missing
        r.outOfOrderQuotes = outOfOrder
        r.unsubscribedQuotes = unsubscribed
        guard end.contains(where: { $0 > 0 }), seconds > 0 else { return }
        var feed: UInt64 = 0, owed: UInt64 = 0, subscribed = 0
        for s in end.indices where subscribers[s] > 0 {
            subscribed += 1
            let u = updates(s)
            feed &+= u
            owed &+= u * UInt64(subscribers[s])
        }
        r.feedUpdatesPerSecond = Double(feed) / seconds
        r.owedPerSecond = Double(owed) / seconds
        let share = Double(r.scenario.feedRate) * Double(subscribed) / Double(max(1, end.count))
        r.feedPace = share > 0 ? r.feedUpdatesPerSecond! / share : nil
    }
}
