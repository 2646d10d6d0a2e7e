// FanoutNode: the fanout role. One shard, one WebSocket server and one SO_REUSEPORT listener per
// event loop; one feed (synthetic, in-process bus or Kafka) decoded and encoded once on the feed
// loop (a thread of its own in the role, `fanout.feed_thread`; else loop 0) and distributed to every
// shard. /health and /metrics answer on the same port.
public import Wire
public import Logging
import WebSocket
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Per-loop part of a fanout node.
final class FanoutNodeShard {
    let index: Int
    let loop: EventLoop
    let shard: FanoutShard
    let protocolHandler: FanoutProtocol
    let metrics: MetricsShard
    unowned let node: FanoutNode
    var server: WebSocketServer!
    var listener: TCPListener?
    /// Open WebSocket connections of this loop (the shard's client table holds them; a map of
    /// its own cost 10,000 connections ~260 KB).
    var liveCount = 0
    var lastDelivered: UInt64 = 0
    var lastFrames: UInt64 = 0
    var lastSlow: UInt64 = 0
    var lastConflated: UInt64 = 0
    var lastFeed: UInt64 = 0
    var lastLoopStats = EventLoopStats()

    init(index: Int, loop: EventLoop, node: FanoutNode, symbols: SymbolUniverse, limits: FanoutLimits) {
        self.index = index
        self.loop = loop
        self.node = node
        shard = FanoutShard(loop: loop, symbolCount: symbols.count, limits: limits)
        protocolHandler = FanoutProtocol(symbols: symbols, shard: shard)
        metrics = node.metrics.registry.shard(index)
    }

    func connected(_ c: FanoutConnection) {
        liveCount += 1
        metrics.add(node.metrics.connections, 1)
        metrics.increment(node.metrics.accepted)
    }

    func disconnected(_ c: FanoutConnection, code: WebSocketCloseCode) {
        liveCount -= 1
        metrics.add(node.metrics.connections, -1)
        metrics.increment(node.metrics.closeCode(code.rawValue))
    }

    /// Copies counters kept as plain fields on this loop into the metric shard (once a second).
    func publishMetrics() {
        let m = node.metrics
        metrics.add(m.quotesDelivered, shard.quotesDelivered &- lastDelivered)
        metrics.add(m.framesSent, shard.framesSent &- lastFrames)
        metrics.add(m.slowClosed, shard.slowConsumersClosed &- lastSlow)
        lastDelivered = shard.quotesDelivered
        lastFrames = shard.framesSent
        lastSlow = shard.slowConsumersClosed
        metrics.add(m.conflated, shard.quotesConflated &- lastConflated)
        lastConflated = shard.quotesConflated
        if index == 0, node.feedLoop === loop, let sink = node.currentSink {
            metrics.add(m.feedQuotes, sink.received &- lastFeed)
            lastFeed = sink.received
        }
        let s = loop.stats
        metrics.add(m.bytesRead, s.bytesRead &- lastLoopStats.bytesRead)
        metrics.add(m.bytesWritten, s.bytesWritten &- lastLoopStats.bytesWritten)
        metrics.add(m.writevCalls, s.writevCalls &- lastLoopStats.writevCalls)
        metrics.add(m.backpressure, s.backpressureEvents &- lastLoopStats.backpressureEvents)
        lastLoopStats = s
        loop.schedule(afterNanos: 1_000_000_000) { [weak self] in self?.publishMetrics() }
    }
}

/// The metric families of a fanout node.
public final class FanoutMetrics: Sendable {
    let registry: MetricsRegistry
    let connections: MetricsGauge
    let accepted: MetricsCounter
    let refused: MetricsCounter
    let quotesDelivered: MetricsCounter
    let framesSent: MetricsCounter
    let slowClosed: MetricsCounter
    let conflated: MetricsCounter
    let bytesRead: MetricsCounter
    let bytesWritten: MetricsCounter
    let writevCalls: MetricsCounter
    let backpressure: MetricsCounter
    let iteration: MetricsHistogram
    let feedQuotes: MetricsCounter
    private let closeCodes: [UInt16: MetricsCounter]
    private let otherClose: MetricsCounter

    init(loops: Int) {
        let r = MetricsRegistry(shardCount: loops)
        registry = r
        connections = r.gauge("fanout_connections", help: "Open WebSocket connections.")
        accepted = r.counter("fanout_connections_accepted_total", help: "WebSocket handshakes completed.")
        refused = r.counter("fanout_connections_refused_total", help: "Connections refused over fanout.max_connections.")
        quotesDelivered = r.counter("fanout_quotes_delivered_total", help: "Quotes written to clients (each quote in a batch counts).")
        framesSent = r.counter("fanout_frames_sent_total", help: "Quote frames written (one per connection per loop iteration at most).")
        slowClosed = r.counter("fanout_slow_consumers_closed_total", help: "Connections closed with 1008 after staying slow.")
        conflated = r.counter("fanout_quotes_conflated_total",
                              help: "Quotes held back for connections above their high watermark (latest per symbol kept).")
        bytesRead = r.counter("wire_bytes_read_total", help: "Bytes read from sockets.")
        bytesWritten = r.counter("wire_bytes_written_total", help: "Bytes written to sockets.")
        writevCalls = r.counter("wire_writev_calls_total", help: "writev system calls.")
        backpressure = r.counter("wire_backpressure_events_total", help: "Connections crossing their high watermark.")
        iteration = r.histogram("wire_loop_iteration_seconds", help: "Busy time of one event loop iteration.",
                                bounds: [10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000, 50_000_000],
                                scale: 1e9)
        r.registerProcessMetrics()
        feedQuotes = r.counter("fanout_feed_quotes_total", help: "Quotes received from the feed.")
        var cc: [UInt16: MetricsCounter] = [:]
        for code: UInt16 in [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011] {
            cc[code] = r.counter("websocket_close_total", help: "WebSocket closes by code.", labels: [("code", "\(code)")])
        }
        closeCodes = cc
        otherClose = r.counter("websocket_close_total", help: "WebSocket closes by code.", labels: [("code", "other")])
    }

    func closeCode(_ code: UInt16) -> MetricsCounter { closeCodes[code] ?? otherClose }

    /// Prometheus text.
    public func render() -> String { registry.render() }
}

/// A running fanout node.
public final class FanoutNode: @unchecked Sendable {
    /// Settings in force.
    public let settings: FanoutSettings
    /// The symbol universe.
    public let symbols: SymbolUniverse
    /// Loops serving this node.
    public let group: EventLoopGroup
    /// Metrics (rendered at /metrics).
    public let metrics: FanoutMetrics
    let logger: Logger
    var shards: [FanoutNodeShard] = []
    /// Hands encoded batches to every shard.
    public private(set) var distributor: QuoteDistributor!
    private var feedSink: QuoteFeedSink?
    private var synthetic: SyntheticFeed?
    private let draining = Atomic<Bool>(false)
    private var retained: [AnyObject] = []

    /// Keeps a feed resource (a Kafka consumer) alive as long as the node.
    public func keep(_ resource: AnyObject) { retained.append(resource) }
    /// The bound port.
    public private(set) var port = 0

    /// Creates a node on `group` (already started). The feed runs on `feedLoop` (started, not one
    /// of `group`'s: every shard then gets each batch through its queue, none waits for another's
    /// writes), or on the group's first loop when nil.
    public init(settings: FanoutSettings, symbols: SymbolUniverse, group: EventLoopGroup, feedLoop: EventLoop? = nil,
                logger: Logger) {
        self.settings = settings
        self.symbols = symbols
        self.group = group
        self.feedLoop = feedLoop ?? group.loops[0]
        self.logger = logger
        // One metrics shard per loop, plus one for a feed loop of its own.
        metrics = FanoutMetrics(loops: group.loops.count + 1)
    }

    /// The loop that runs the feed (encoding happens there once).
    public let feedLoop: EventLoop

    /// Creates shards and listeners on every loop.
    /// - Throws: `IOError` when the port cannot be bound.
    public func start(extraRoutes: (@Sendable (HTTPRequestHead, ByteBuffer) -> HTTPResponse?)? = nil) throws {
        for (i, loop) in group.loops.enumerated() {
            let s = try loop.submitAndWait { () -> FanoutNodeShard in
                FanoutNodeShard(index: i, loop: loop, node: self, symbols: self.symbols, limits: self.settings.limits)
            }
            shards.append(s)
        }
        distributor = QuoteDistributor(shards: shards.map(\.shard))
        var wanted = settings.port
        for s in shards {
            let p = try s.loop.submitAndWait { () -> Int in
                try self.startShard(s, port: wanted, extraRoutes: extraRoutes)
            }
            wanted = p
            port = p
        }
        logger.notice("fanout listening", metadata: [
            "address": "\(settings.host):\(port)", "loops": "\(shards.count)", "symbols": "\(symbols.count)",
        ])
    }

    private func startShard(_ s: FanoutNodeShard, port: Int,
                            extraRoutes: (@Sendable (HTTPRequestHead, ByteBuffer) -> HTTPResponse?)?) throws -> Int {
        let st = settings
        var cfg = WebSocketServerConfiguration()
        cfg.connection.maxFrameSize = st.maxFrameBytes
        cfg.connection.maxMessageSize = st.maxMessageBytes
        cfg.connection.closeTimeoutNanos = UInt64(st.closeTimeoutMillis) * 1_000_000
        cfg.connection.pingIntervalNanos = st.idleTimeoutMillis == 0 ? 0 : UInt64(st.idleTimeoutMillis) * 1_000_000 / 3
        cfg.connection.pingTimeoutNanos = st.idleTimeoutMillis == 0 ? 0 : UInt64(st.idleTimeoutMillis) * 1_000_000 * 2 / 3
        cfg.handshake.subprotocols = st.subprotocols
        cfg.handshake.allowedOrigins = st.allowedOrigins.isEmpty ? nil : st.allowedOrigins
        // shared: no server context, so one compressed frame serves every subscriber; per_connection:
        // context takeover with a 512-byte window (2^9), kept per connection as 128 bytes of history
        // (FanoutCompression.perConnection).
        cfg.handshake.deflate = st.deflate
            ? WebSocketDeflateConfiguration(serverNoContextTakeover: !st.deflatePerConnection,
                                            serverMaxWindowBits: st.deflatePerConnection
                                                ? FanoutCompression.perConnectionWindowBits : 15,
                                            compressionLevel: st.deflateLevel)
            : nil
        cfg.handshakeTimeoutNanos = UInt64(st.handshakeTimeoutMillis) * 1_000_000
        cfg.maxBufferedBytes = st.maxBufferedBytes
        cfg.highWatermark = st.highWatermark
        cfg.lowWatermark = st.lowWatermark
        cfg.retainRequestHead = false
        let maxPerShard = max(1, st.maxConnections / shards.count + (st.maxConnections % shards.count > s.index ? 1 : 0))
        s.server = WebSocketServer(configuration: cfg, logger: logger, upgrade: { [unowned s] head in
            switch head.path {
            case "/ws": return FanoutConnection(node: s)
            case "/echo" where st.echo: return EchoWebSocketHandler()
            default: return nil
            }
        }, route: { [unowned self] head, body in
            self.route(head, body) ?? extraRoutes?(head, body)
        })
        let listener = try TCPListener(host: st.host, port: port, loop: s.loop) { [unowned self, unowned s] tcp in
            if self.draining.load(ordering: .relaxed) || s.liveCount >= maxPerShard {
                s.metrics.increment(self.metrics.refused)
                tcp.reset()
                return
            }
            s.server.accept(tcp)
        }
        listener.tls = st.tls
        s.listener = listener
        s.loop.onIteration = { [m = s.metrics, h = metrics.iteration] ns in m.observe(h, Int64(ns)) }
        s.publishMetrics()
        return listener.port
    }

    private func route(_ head: HTTPRequestHead, _ body: ByteBuffer) -> HTTPResponse? {
        switch head.path {
        case "/health":
            return draining.load(ordering: .relaxed)
                ? HTTPResponse(status: .serviceUnavailable, contentType: "text/plain", body: "draining\n")
                : HTTPResponse(status: .ok, contentType: "text/plain", body: "ok\n")
        case "/metrics":
            return HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: metrics.render())
        default:
            return nil
        }
    }

    // MARK: Feeds

    /// Runs the synthetic feed of DESIGN.md on the feed loop.
    public func startSyntheticFeed(rate: Int, symbolCount: Int) throws {
        try feedLoop.submitAndWait {
            let sink = self.makeSink()
            let feed = SyntheticFeed(loop: self.feedLoop, symbolCount: min(symbolCount, self.symbols.count),
                                     rate: Double(rate)) { batch in sink.deliver(batch) }
            self.synthetic = feed
            feed.start()
        }
    }

    /// Consumes an in-process bus (demo mode).
    public func attach(bus: InProcessQuoteBus) throws {
        let sink = try feedLoop.submitAndWait { self.makeSink() }
        nonisolated(unsafe) let s = sink
        bus.subscribe(on: feedLoop) { batch in s.deliver(batch) }
    }

    /// The sink, once a feed was attached (feed loop only).
    var currentSink: QuoteFeedSink? { feedSink }

    /// The sink feeding this node (call on the feed loop), for Kafka and other sources.
    public func makeSink() -> QuoteFeedSink {
        if let s = feedSink { return s }
        let s = QuoteFeedSink(symbols: symbols, distributor: distributor, loop: feedLoop)
        feedSink = s
        if !group.loops.contains(where: { $0 === feedLoop }) {
            // No shard runs on the feed's loop to publish its counter: the feed loop does.
            publishFeedMetrics(metrics.registry.shard(group.loops.count))
        }
        return s
    }

    private var lastFeedPublished: UInt64 = 0

    /// Adds what the feed received since the last call to `fanout_feed_quotes_total` (feed loop, once a second).
    private func publishFeedMetrics(_ shard: MetricsShard) {
        if let s = feedSink {
            shard.add(metrics.feedQuotes, s.received &- lastFeedPublished)
            lastFeedPublished = s.received
        }
        feedLoop.schedule(afterNanos: 1_000_000_000) { [weak self] in self?.publishFeedMetrics(shard) }
    }

    // MARK: Shutdown

    /// Graceful drain (SIGTERM): stop accepting, answer /health with 503, close every client with
    /// 1001 so it reconnects elsewhere.
    public func drain() {
        draining.store(true, ordering: .relaxed)
        for s in shards {
            nonisolated(unsafe) let shard = s
            s.loop.execute {
                shard.listener?.close()
                shard.listener = nil
                shard.shard.forEachClient { $0.transport.closeWebSocket(code: 1001, reason: "server shutting down") }
            }
        }
    }

    /// Open connections across all loops (from loop-published metrics; approximate between ticks).
    public func connectionCount() -> Int {
        shards.reduce(0) { acc, s in acc + ((try? s.loop.submitAndWait { s.liveCount }) ?? 0) }
    }

    /// Runs `broker fanout`.
    public static func runRole(_ ctx: RoleContext) throws {
        let settings = try FanoutSettings(ctx.config)
        let symbols: SymbolUniverse
        if settings.feed == "synthetic" || ctx.config.int("symbols.generated") > 0 {
            let n = settings.feed == "synthetic" ? settings.syntheticSymbols : ctx.config.int("symbols.generated")
            symbols = SymbolUniverse.generated(count: n)
        } else {
            symbols = try loadSymbols(ctx.config)
        }
        Syscalls.raiseFileLimit()
        TerminationSignals.block()
        let group = try EventLoopGroup(count: ctx.config.int("general.loops"), name: "fanout", logger: ctx.logger)
        group.start()
        let feedGroup = settings.feedThread ? try EventLoopGroup(count: 1, name: "fanout-feed", logger: ctx.logger) : nil
        feedGroup?.start()
        let node = FanoutNode(settings: settings, symbols: symbols, group: group, feedLoop: feedGroup?.loops[0],
                              logger: ctx.logger)
        try node.start()
        switch settings.feed {
        case "synthetic":
            try node.startSyntheticFeed(rate: settings.syntheticRate, symbolCount: settings.syntheticSymbols)
        default:
            node.keep(try KafkaQuoteFeed.attach(node: node, config: ctx.config, logger: ctx.logger))
        }
        print("fanout listening on \(settings.tls == nil ? "ws" : "wss")://\(settings.host):\(node.port)/ws feed=\(settings.feed) loops=\(group.loops.count)")
        let done = Semaphore()
        nonisolated(unsafe) var signals = 0
        TerminationSignals.onSignal { _ in
            signals += 1
            if signals == 1 {
                ctx.logger.notice("draining: closing clients with 1001")
                node.drain()
                usleep(2_000_000)
            }
            done.signal()
        }
        done.wait()
        feedGroup?.stop()
        feedGroup?.join()
        group.stop()
        group.join()
    }
}
