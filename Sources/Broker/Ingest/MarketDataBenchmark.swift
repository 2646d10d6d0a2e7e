// MarketDataBenchmark: `broker md-bench`, a timing harness for the exchange's market-data rate and
// the ingestor's latency at a given rate, over real FIX on loopback in one process (exchange and
// ingest on two loops, one thread each).
//
// Owns: the warm-up/measure schedule and the report. Publisher and store are the embedded ones by
// default (InProcessQuoteBus with no subscriber, InMemoryQuoteStore) so the figure is the ingest
// path itself; `--kafka mock` produces to librdkafka's in-process mock cluster and `--redis HOST:PORT`
// writes a real Redis, to see what the clients add.
//
//   swift build -c release && .build/release/broker md-bench --rate 100000 --seconds 10
public import Logging
public import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One measurement.
public struct MarketDataBenchmarkResult: Sendable {
    /// Configured rate.
    public var rate: Int
    /// Seconds measured.
    public var seconds: Double
    /// Updates the exchange generated per second.
    public var generatedPerSecond: Double
    /// Updates the exchange sent per second (35=X entries / 3).
    public var sentPerSecond: Double
    /// 35=X messages per second.
    public var messagesPerSecond: Double
    /// Quotes the ingestor handed to the publisher per second.
    public var ingestedPerSecond: Double
    /// FIX receive -> handed to the publisher.
    public var ingestLatency: IngestLatencySnapshot
    /// Exchange generation -> handed to the publisher.
    public var feedLatency: IngestLatencySnapshot
    /// Process CPU seconds per wall second over the measurement (2.0 = both cores busy).
    public var cpuPerSecond: Double

    /// Human-readable report.
    public var text: String {
        func us(_ v: UInt64) -> String { String(Double(v / 100) / 10) }
        return """
            md-bench rate=\(rate)/s measured \(seconds) s
              exchange: generated \(Int(generatedPerSecond))/s, sent \(Int(sentPerSecond))/s \
            in \(Int(messagesPerSecond)) 35=X/s
              ingest:   \(Int(ingestedPerSecond)) quotes/s
              ingest latency (FIX receive -> publisher) us: p50 \(us(ingestLatency.p50)) p99 \(us(ingestLatency.p99)) \
            p99.9 \(us(ingestLatency.p999)) max \(us(ingestLatency.max))
              feed latency (exchange ts -> publisher)  us: p50 \(us(feedLatency.p50)) p99 \(us(feedLatency.p99)) \
            p99.9 \(us(feedLatency.p999)) max \(us(feedLatency.max))
              cpu: \(String(Double(Int(cpuPerSecond * 100)) / 100)) cores
            """
    }
}

/// `broker md-bench`.
public enum MarketDataBenchmark {
    /// Runs exchange -> FIX -> ingest at `rate` for `warmup` + `seconds` and reports.
    public static func run(config: ConfigFile, rate: Int, seconds: Double, warmup: Double = 2,
                           symbols: SymbolUniverse, kafka: String?, redis: String?, logger: Logger) throws
        -> MarketDataBenchmarkResult {
        let group = try EventLoopGroup(count: 2, name: "md-bench", logger: logger)
        group.start()
        defer {
            group.stop()
            group.join()
        }
        let xl = group.loops[0], il = group.loops[1]
        var xs = try ExchangeSettings(config)
        xs.port = 0
        xs.orderStoreDirectory = ""   // a throwaway exchange: no order session worth keeping on disk
        xs.rate = rate
        let sim = try xl.submitAndWait { () -> ExchangeSimulator in
            let s = try ExchangeSimulator(settings: xs, symbols: symbols, loop: xl, logger: logger)
            s.start()
            return s
        }
        var ins = try IngestSettings(config)
        ins.exchangeHost = "127.0.0.1"
        ins.exchangePort = sim.port
        ins.symbols = []
        ins.statsIntervalSeconds = 0
        var cluster: KafkaMockCluster?
        var bootstrap = kafka
        if kafka == "mock" {
            let c = try KafkaMockCluster(brokers: 1, logger: logger)
            try c.createTopic(config.string("kafka.quotes_topic"), partitions: 4)
            cluster = c
            bootstrap = c.bootstrapServers
        }
        let topic = config.string("kafka.quotes_topic")
        let producerConf: KafkaProducerConfiguration? = bootstrap.map { b in
            var c = KafkaQuotePublisher.configuration(config)
            c.bootstrapServers = b
            return c
        }
        let ingestor = try il.submitAndWait { () -> MarketDataIngestor in
            var store: any LatestQuoteStore = InMemoryQuoteStore()
            if let redis, let rc = RedisConfiguration(address: redis) {
                let client = RedisClient(configuration: rc, loop: il, logger: logger)
                store = RedisQuoteStore(client: client, symbols: symbols, logger: logger)
                client.connect()
            }
            var publisher: any QuotePublisher = InProcessQuoteBus()
            if let producerConf {
                publisher = try KafkaQuotePublisher(configuration: producerConf, topic: topic, symbols: symbols,
                                                    loop: il, logger: logger)
            }
            let i = try MarketDataIngestor(settings: ins, symbols: symbols, loop: il, publisher: publisher,
                                           store: store, logger: logger)
            i.start()
            return i
        }
        nonisolated(unsafe) let ui = ingestor, ux = sim
        usleep(UInt32(warmup * 1e6))
        let x0 = try xl.submitAndWait { ux.stats }
        let i0 = try il.submitAndWait { () -> UInt64 in
            ui.resetLatencyIntervals()
            return ui.stats.quotes
        }
        let c0 = (ProcessStats.read(pid: getpid())?.cpuSeconds ?? 0)
        let t0 = Syscalls.monotonicNanos()
        usleep(UInt32(seconds * 1e6))
        let x1 = try xl.submitAndWait { ux.stats }
        let (i1, lat, feed) = try il.submitAndWait { () -> (UInt64, IngestLatencySnapshot, IngestLatencySnapshot) in
            (ui.stats.quotes, ui.takeLatencyInterval(), ui.takeFeedLatencyInterval())
        }
        let wall = Double(Syscalls.monotonicNanos() - t0) / 1e9
        let cpu = (ProcessStats.read(pid: getpid())?.cpuSeconds ?? 0) - c0
        try il.submitAndWait {
            ui.stop()
            (ui.publisher as? KafkaQuotePublisher)?.close()
            (ui.store as? RedisQuoteStore)?.close()
        }
        try xl.submitAndWait { ux.stop() }
        usleep(100_000)
        withExtendedLifetime(cluster) {}
        return MarketDataBenchmarkResult(
            rate: rate, seconds: wall,
            generatedPerSecond: Double(x1.updatesGenerated - x0.updatesGenerated) / wall,
            sentPerSecond: Double(x1.updatesSent - x0.updatesSent) / wall,
            messagesPerSecond: Double(x1.incrementalMessages - x0.incrementalMessages) / wall,
            ingestedPerSecond: Double(i1 - i0) / wall, ingestLatency: lat, feedLatency: feed,
            cpuPerSecond: cpu / wall)
    }

    /// Runs `broker md-bench [--rate R] [--seconds S] [--kafka mock|BROKERS] [--redis HOST:PORT]`.
    public static func runRole(_ ctx: RoleContext) throws {
        let rate = Int(ctx.argument("--rate") ?? "") ?? 100_000
        let seconds = Double(ctx.argument("--seconds") ?? "") ?? 10
        let symbols = try loadSymbols(ctx.config)
        TerminationSignals.block()
        let r = try run(config: ctx.config, rate: rate, seconds: seconds, symbols: symbols,
                        kafka: ctx.argument("--kafka"), redis: ctx.argument("--redis"), logger: ctx.logger)
        print(r.text)
    }
}

extension MarketDataIngestor {
    /// Starts fresh latency intervals (benchmarks).
    public func resetLatencyIntervals() {
        _ = takeLatencyInterval()
        _ = takeFeedLatencyInterval()
    }
}
