// MarketDataIngestor: the `broker ingest` role. FIX market data from the exchange, normalized into
// quotes, cached per symbol (LatestQuoteStore: Redis, or in memory) and published (QuotePublisher:
// Kafka `market.quotes`, or the in-process bus), with the ingest latency measured.
//
// Owns: the FIX initiator (reconnect with capped backoff is FIXInitiator's) and the
// MarketDataRequest sent on every logon, the per-iteration batch of quotes, the flush schedule of the
// store, and latency: from the loop iteration that read the FIX bytes (EventLoop.now, taken when
// epoll returned) to the moment the batch is handed to the publisher, recorded in an HDR histogram
// (`IngestLatency`), logged every `ingest.stats_interval_s` with p50/p99 and rendered as metrics.
// Everything runs on one loop thread; the hot path allocates nothing per quote.
public import FIX
import Histogram
public import Logging
public import Wire

/// Ingest latency percentiles, nanoseconds.
public struct IngestLatencySnapshot: Sendable, Equatable {
    /// Quotes measured.
    public var count: UInt64
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
}

/// HDR histograms of ingest latency: since start, and since the last interval report.
public struct IngestLatency: Sendable {
    private(set) var total = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000,
                                               numberOfSignificantValueDigits: .three)
    private(set) var interval = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000,
                                                  numberOfSignificantValueDigits: .three)

    /// Empty histograms.
    public init() {}

    /// Records `count` quotes that took `nanos` each.
    @inline(__always)
    public mutating func record(_ nanos: UInt64, count: Int) {
        let v = Swift.min(Swift.max(nanos, 1), 60_000_000_000)
        _ = total.record(v, count: UInt64(count))
        _ = interval.record(v, count: UInt64(count))
    }

    /// Percentiles since start.
    public var sinceStart: IngestLatencySnapshot { Self.snapshot(total) }

    /// Starts a fresh interval without reading it.
    public mutating func resetInterval() { interval.reset() }

    /// Percentiles since the previous call, and a fresh interval.
    public mutating func takeInterval() -> IngestLatencySnapshot {
        let s = Self.snapshot(interval)
        interval.reset()
        return s
    }

    static func snapshot(_ h: Histogram<UInt64>) -> IngestLatencySnapshot {
        guard h.totalCount > 0 else { return IngestLatencySnapshot(count: 0, p50: 0, p99: 0, p999: 0, max: 0) }
        return IngestLatencySnapshot(count: h.totalCount, p50: h.valueAtPercentile(50), p99: h.valueAtPercentile(99),
                                     p999: h.valueAtPercentile(99.9), max: h.max)
    }
}

/// Counters of the ingestor.
public struct IngestStats: Sendable, Equatable {
    /// 35=W and 35=X messages read.
    public var messages: UInt64 = 0
    /// Quotes normalized and handed on.
    public var quotes: UInt64 = 0
    /// Messages that could not be read (logged, skipped).
    public var badMessages: UInt64 = 0
    /// MarketDataRequestReject (35=Y) received.
    public var requestRejects: UInt64 = 0
    /// Logons (1 + reconnects).
    public var logons: UInt64 = 0
}

/// The ingestor on one event loop.
public final class MarketDataIngestor: FIXApplication {
    /// Settings in force.
    public let settings: IngestSettings
    /// The symbol universe.
    public let symbols: SymbolUniverse
    /// The loop everything runs on.
    public unowned let loop: EventLoop
    /// Counters.
    public private(set) var stats = IngestStats()
    /// Latency histograms: FIX receive -> handed to the publisher.
    public private(set) var latency = IngestLatency()
    /// Exchange generation time (`ts`, wall clock) -> handed to the publisher: includes the exchange's
    /// batching and the FIX hop; meaningful when both clocks are this host's.
    public private(set) var feedLatency = IngestLatency()
    /// Where quotes go (nil = nowhere, e.g. Kafka disabled).
    public let publisher: (any QuotePublisher)?
    /// Where the latest quote per symbol goes (nil = nowhere).
    public let store: (any LatestQuoteStore)?
    /// The FIX initiator.
    public private(set) var initiator: FIXInitiator!
    private var normalizer: MarketDataNormalizer
    private var batch: [Quote] = []
    private var flushTimer: TimerHandle?
    private var statsTimer: TimerHandle?
    private var stopped = false
    private var lastStatsQuotes: UInt64 = 0
    private let logger: Logger

    /// Creates the ingestor; `start()` connects. Call on `loop`'s thread.
    /// - Throws: `FIXStoreError` when the FIX store cannot be opened.
    public init(settings: IngestSettings, symbols: SymbolUniverse, loop: EventLoop,
                publisher: (any QuotePublisher)?, store: (any LatestQuoteStore)?, logger: Logger) throws {
        self.settings = settings
        self.symbols = symbols
        self.loop = loop
        self.publisher = publisher
        self.store = store
        self.logger = logger
        normalizer = MarketDataNormalizer(symbols: symbols)
        batch.reserveCapacity(4096)
        initiator = try FIXInitiator(settings: settings.session(), loop: loop, application: self, logger: logger)
        // Publish once per iteration, after every FIX message of the read was normalized.
        loop.addBeforeSleepHook { [weak self] in self?.handOff() }
    }

    /// Connects (and keeps reconnecting) to the exchange; starts the store flush and stats timers.
    public func start() {
        stopped = false
        initiator.start()
        scheduleFlush()
        if settings.statsIntervalSeconds > 0 { scheduleStats() }
    }

    /// Logs out and stops the timers (loop thread). Pending quotes are handed off first.
    public func stop() {
        stopped = true
        handOff()
        store?.flush()
        if let t = flushTimer { loop.cancel(t) }
        if let t = statsTimer { loop.cancel(t) }
        flushTimer = nil
        statsTimer = nil
        initiator.stop()
    }

    /// Ingest latency since the previous call (then a fresh interval).
    public func takeLatencyInterval() -> IngestLatencySnapshot { latency.takeInterval() }

    /// Feed latency since the previous call (then a fresh interval).
    public func takeFeedLatencyInterval() -> IngestLatencySnapshot { feedLatency.takeInterval() }

    /// The latest normalized quote of `symbolId` (seq 0 = none yet).
    public func latestQuote(_ symbolId: Int32) -> Quote { normalizer.latest(symbolId) }

    // MARK: Hot path

    private func handOff() {
        guard !batch.isEmpty else { return }
        batch.withUnsafeBufferPointer { publisher?.publish($0) }
        let now = Syscalls.monotonicNanos()
        latency.record(now &- loop.now, count: batch.count)
        let wall = Syscalls.realtimeNanos()
        for q in batch { feedLatency.record(wall > q.ts ? wall &- q.ts : 0, count: 1) }
        stats.quotes &+= UInt64(batch.count)
        batch.removeAll(keepingCapacity: true)
    }

    private func scheduleFlush() {
        flushTimer = loop.schedule(afterNanos: settings.redisFlushNanos) { [weak self] in
            guard let self, !self.stopped else { return }
            self.store?.flush()
            self.scheduleFlush()
        }
    }

    private func scheduleStats() {
        statsTimer = loop.schedule(afterNanos: UInt64(settings.statsIntervalSeconds) * 1_000_000_000) { [weak self] in
            guard let self, !self.stopped else { return }
            self.logStats()
            self.scheduleStats()
        }
    }

    private func logStats() {
        let l = latency.takeInterval()
        let rate = (stats.quotes &- lastStatsQuotes) / UInt64(max(1, settings.statsIntervalSeconds))
        lastStatsQuotes = stats.quotes
        logger.notice("ingest", metadata: [
            "quotes_per_s": "\(rate)", "latency_p50_us": "\(Double(l.p50) / 1000)",
            "latency_p99_us": "\(Double(l.p99) / 1000)", "latency_max_us": "\(Double(l.max) / 1000)",
            "logged_on": "\(initiator.connection.isLoggedOn)",
            "unknown_symbol_entries": "\(normalizer.unknownSymbolEntries)", "seq_gaps": "\(normalizer.sequenceGaps)",
        ])
    }

    /// Prometheus text of the ingest counters and latency percentiles (since start).
    public func renderMetrics() -> String {
        let l = latency.sinceStart
        return """
            # HELP ingest_quotes_total Quotes normalized and handed to the publisher.
            # TYPE ingest_quotes_total counter
            ingest_quotes_total \(stats.quotes)
            # HELP ingest_fix_messages_total FIX 35=W/X messages read.
            # TYPE ingest_fix_messages_total counter
            ingest_fix_messages_total \(stats.messages)
            # HELP ingest_latency_ns FIX receive -> handed to the publisher, since start (HDR histogram).
            # TYPE ingest_latency_ns gauge
            ingest_latency_ns{quantile="0.5"} \(l.p50)
            ingest_latency_ns{quantile="0.99"} \(l.p99)
            ingest_latency_ns{quantile="0.999"} \(l.p999)
            ingest_latency_ns{quantile="1"} \(l.max)
            # HELP ingest_sequence_gaps_total Quotes whose per-symbol seq skipped.
            # TYPE ingest_sequence_gaps_total counter
            ingest_sequence_gaps_total \(normalizer.sequenceGaps)

            """
    }

    // MARK: FIXApplication

    public func fixConnectionDidLogOn(_ connection: FIXConnection) {
        stats.logons &+= 1
        let all = settings.symbols.isEmpty
        let request = FIXMarketDataRequest(
            mdReqID: "ingest-\(stats.logons)", subscriptionRequestType: .subscribe, marketDepth: 1, mdUpdateType: 1,
            entryTypes: [.bid, .offer, .trade], symbols: all ? ["*"] : settings.symbols)
        connection.send(request)
        logger.notice("subscribed to market data", metadata: [
            "exchange": "\(settings.exchangeHost):\(settings.exchangePort)",
            "symbols": "\(all ? "all" : "\(settings.symbols.count)")"])
    }

    public func fixConnection(_ connection: FIXConnection, didReceive v: FIXMessageView) {
        switch v.msgType {
        case .marketDataIncrementalRefresh?, .marketDataSnapshotFullRefresh?:
            stats.messages &+= 1
            do throws(FIXParseError) {
                try normalizer.normalize(v) { q in
                    store?.put(q)
                    batch.append(q)
                }
            } catch {
                stats.badMessages &+= 1
                if stats.badMessages == 1 || stats.badMessages % 10_000 == 0 {
                    logger.warning("unreadable market data", metadata: ["error": "\(error)", "count": "\(stats.badMessages)"])
                }
            }
        case .marketDataRequestReject?:
            stats.requestRejects &+= 1
            logger.error("market data request rejected", metadata: ["text": "\(v.string(FIXTag.text) ?? "")"])
        default:
            break
        }
    }

    public func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?) {
        handOff()
        logger.warning("exchange disconnected; reconnecting", metadata: ["reason": "\(reason.map { "\($0)" } ?? "closed")"])
    }

    // MARK: Role

    /// Runs `broker ingest` until SIGTERM/SIGINT: FIX -> Redis (`ingest.redis`) + Kafka (`ingest.kafka`).
    public static func runRole(_ ctx: RoleContext) throws {
        let settings = try IngestSettings(ctx.config)
        let symbols = try loadSymbols(ctx.config)
        TerminationSignals.block()
        let group = try EventLoopGroup(count: 1, name: "ingest", logger: ctx.logger)
        group.start()
        let loop = group.loops[0]
        let config = ctx.config
        nonisolated(unsafe) var ingestor: MarketDataIngestor?
        try loop.submitAndWait {
            var store: (any LatestQuoteStore)?
            if config.bool("ingest.redis") {
                let address = config.string("redis.address")
                guard var rc = RedisConfiguration(address: address) else {
                    throw RoleError("redis.address: expected HOST:PORT, found '\(address)'")
                }
                rc.maxOutstandingCommands = max(rc.maxOutstandingCommands, symbols.count * 2)
                let client = RedisClient(configuration: rc, loop: loop, logger: ctx.logger)
                store = RedisQuoteStore(client: client, symbols: symbols, logger: ctx.logger)
                client.connect()
            }
            var publisher: (any QuotePublisher)?
            if config.bool("ingest.kafka") {
                publisher = try KafkaQuotePublisher(configuration: KafkaQuotePublisher.configuration(config),
                                                    topic: config.string("kafka.quotes_topic"), symbols: symbols,
                                                    loop: loop, logger: ctx.logger)
            }
            let i = try MarketDataIngestor(settings: settings, symbols: symbols, loop: loop, publisher: publisher,
                                           store: store, logger: ctx.logger)
            i.start()
            ingestor = i
        }
        print("ingest: FIX \(settings.senderCompID) -> \(settings.exchangeHost):\(settings.exchangePort), "
              + "redis=\(config.bool("ingest.redis") ? config.string("redis.address") : "off"), "
              + "kafka=\(config.bool("ingest.kafka") ? config.string("kafka.brokers") : "off")")
        let done = Semaphore()
        TerminationSignals.onSignal { _ in done.signal() }
        done.wait()
        try? loop.submitAndWait {
            ingestor?.stop()
            (ingestor?.store as? RedisQuoteStore)?.close()
            if let k = ingestor?.publisher as? KafkaQuotePublisher {
                k.close()
                try? k.producer.flush(timeoutMilliseconds: 2_000)
            }
            ingestor = nil
        }
        group.stop()
        group.join()
    }
}
