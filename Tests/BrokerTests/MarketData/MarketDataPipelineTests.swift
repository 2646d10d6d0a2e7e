// End to end: exchange simulator --FIX--> ingestor --> real Redis (quote:SYM) + Kafka (librdkafka's mock
// cluster, in process) --> FanoutNode(s) with KafkaQuoteFeed --> an independent Python websockets client
// (md_client.py). Checks: a client gets its symbols only, snapshot first, seq order; a Kafka broker taken
// down and brought back and a Redis restart lose no latest quote once recovered (Redis values and the
// fanout's last-value cache); two fanout nodes consuming different partitions serve together.
import Logging
import Synchronization
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

/// The whole market-data path on loopback, with 100 generated symbols.
final class PipelineRig {
    static let logger = Logger(label: "pipeline")
    let symbols = SymbolUniverse.generated(count: 100)
    let cluster: KafkaMockCluster
    let md: EventLoopGroup
    let redisPort: Int
    var exchangeLoop: EventLoop { md.loops[0] }
    var ingestLoop: EventLoop { md.loops[1] }
    private(set) var sim: ExchangeSimulator?
    private(set) var ingestor: MarketDataIngestor?
    private(set) var store: RedisQuoteStore?
    private(set) var publisher: KafkaQuotePublisher?
    private(set) var nodes: [FanoutNode] = []
    /// Each node's feed loop, a thread of its own as in the fanout role (`fanout.feed_thread`).
    private var feedGroups: [EventLoopGroup] = []
    private var consumers: [KafkaConsumer] = []
    let topic = "market.quotes"
    let partitions = 4
    // Short reconnect backoffs so recovery takes well under a second once a server is back.
    let kafkaProperties = ["reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "300"]

    init(redisAddress: String, rate: Int = 3_000) throws {
        let parts = redisAddress.split(separator: ":")
        redisPort = Int(parts.last!)!
        cluster = try KafkaMockCluster(brokers: 3, logger: Self.logger)
        try cluster.createTopic(topic, partitions: partitions)
        md = try EventLoopGroup(count: 2, name: "pipeline-md")
        md.start()
        var xs = ExchangeSettings()
        xs.port = 0
        xs.rate = rate
        let symbols = self.symbols
        let exchangeLoop = self.exchangeLoop, ingestLoop = self.ingestLoop
        sim = try exchangeLoop.submitAndWait { () -> ExchangeSimulator in
            let s = try ExchangeSimulator(settings: xs, symbols: symbols, loop: exchangeLoop, logger: Self.logger)
            s.start()
            return s
        }
        var ins = IngestSettings()
        ins.exchangePort = sim!.port
        ins.redisFlushNanos = 5_000_000
        ins.statsIntervalSeconds = 0
        let producerProperties = kafkaProperties.merging(["compression.codec": "lz4"]) { a, _ in a }
        let producerConf = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers,
                                                      properties: producerProperties,
                                                      lingerMilliseconds: 2)
        let redisConf = RedisConfiguration(host: "127.0.0.1", port: redisPort, reconnectInitialNanos: 20_000_000,
                                           reconnectMaxNanos: 200_000_000)
        let topic = self.topic
        (ingestor, store, publisher) = try ingestLoop.submitAndWait {
            () -> (MarketDataIngestor, RedisQuoteStore, KafkaQuotePublisher) in
            let client = RedisClient(configuration: redisConf, loop: ingestLoop, logger: Self.logger)
            let store = RedisQuoteStore(client: client, symbols: symbols, logger: Self.logger)
            client.connect()
            let publisher = try KafkaQuotePublisher(configuration: producerConf, topic: topic, symbols: symbols,
                                                    loop: ingestLoop, logger: Self.logger)
            let i = try MarketDataIngestor(settings: ins, symbols: symbols, loop: ingestLoop, publisher: publisher,
                                           store: store, logger: Self.logger)
            i.start()
            return (i, store, publisher)
        }
    }

    /// A fanout node consuming `partitions` (nil = all) of market.quotes.
    @discardableResult
    func addFanout(partitions: [Int32]?) throws -> FanoutNode {
        var s = FanoutSettings()
        s.port = 0
        let group = try EventLoopGroup(count: 2, name: "pipeline-fanout")
        group.start()
        let feedGroup = try EventLoopGroup(count: 1, name: "pipeline-feed")
        feedGroup.start()
        feedGroups.append(feedGroup)
        let node = FanoutNode(settings: s, symbols: symbols, group: group, feedLoop: feedGroup.loops[0],
                              logger: Self.logger)
        try node.start()
        let consumerProperties = kafkaProperties.merging(["fetch.wait.max.ms": "10"]) { a, _ in a }
        let conf = KafkaConsumerConfiguration(bootstrapServers: cluster.bootstrapServers,
                                              properties: consumerProperties)
        consumers.append(try KafkaQuoteFeed.attach(node: node, configuration: conf, topic: topic,
                                                   partitions: partitions, logger: Self.logger))
        nodes.append(node)
        return node
    }

    /// Runs the independent client against `node`.
    func client(_ node: FanoutNode, _ symbols: [String], seconds: Double = 1.5) throws -> ProcessOutcome {
        try runProcess(["python3", "\(repositoryRoot)/Tests/BrokerTests/MarketData/md_client.py",
                        "ws://127.0.0.1:\(node.port)/ws", symbols.joined(separator: ","), "\(seconds)"], timeout: 30)
    }

    func setRate(_ rate: Int) throws {
        let s = sim!
        nonisolated(unsafe) let us = s
        try exchangeLoop.submitAndWait { us.setRate(rate) }
    }

    /// The Kafka partition holding `symbol` (the producer's murmur2 partitioner).
    func partition(of symbol: String) throws -> Int32 {
        nonisolated(unsafe) let p = publisher!
        let n = Int32(partitions)
        return try ingestLoop.submitAndWait {
            let t = try p.producer.topic("market.quotes")
            var s = symbol
            return s.withUTF8 { t.partition(forKey: UnsafeRawBufferPointer($0), partitionCount: n) }
        }
    }

    /// Latest quote per symbol as the ingestor normalized it.
    func ingestLatest() throws -> [Quote] {
        nonisolated(unsafe) let i = ingestor!
        let n = symbols.count
        return try ingestLoop.submitAndWait { (0..<n).map { i.latestQuote(Int32($0)) } }
    }

    /// `quote:SYM` values in Redis, read with redis-cli (an independent reader), by symbol id.
    func redisQuotes() -> [Int32: Quote] {
        let keys = (0..<symbols.count).map { "quote:\(symbols.name(of: Int32($0)))" }.joined(separator: " ")
        let out = TestServices.shell("redis-cli -p \(redisPort) --raw MGET \(keys) 2>/dev/null").output
        var result: [Int32: Quote] = [:]
        for line in out.split(separator: "\n") {
            if let q = QuoteRedisValue.parse(Array(line.utf8), symbols: symbols) { result[q.symbolId] = q }
        }
        return result
    }

    /// Latest seq per symbol in `node`'s last-value cache (every shard holds the same cache).
    func fanoutSeqs(_ node: FanoutNode) throws -> [Int32: UInt64] {
        let shard = node.shards[0]
        let n = symbols.count
        return try shard.loop.submitAndWait {
            var out: [Int32: UInt64] = [:]
            for i in 0..<n { if let u = shard.shard.latest(Int32(i)) { out[Int32(i)] = u.seq } }
            return out
        }
    }

    /// Polls until Redis and `node`'s cache hold the ingestor's latest quote of every symbol.
    func converged(_ node: FanoutNode, seconds: Double = 20) throws -> (ok: Bool, detail: String) {
        let deadline = Syscalls.monotonicNanos() + UInt64(seconds * 1e9)
        var detail = ""
        repeat {
            let latest = try ingestLatest()
            let redis = redisQuotes()
            let cache = try fanoutSeqs(node)
            let redisBad = latest.filter { $0.seq > 0 && redis[$0.symbolId] != $0 }
            let cacheBad = latest.filter { $0.seq > 0 && cache[$0.symbolId] != $0.seq }
            if redisBad.isEmpty && cacheBad.isEmpty && latest.allSatisfy({ $0.seq > 0 }) { return (true, "") }
            detail = "redis stale/missing: \(redisBad.count), fanout cache stale/missing: \(cacheBad.count)"
            usleep(50_000)
        } while Syscalls.monotonicNanos() < deadline
        return (false, detail)
    }

    /// Tears down in dependency order, each client on its own loop before the loops stop.
    func shutdown() {
        for (n, c) in zip(nodes, consumers) {
            nonisolated(unsafe) let uc = c
            try? n.feedLoop.submitAndWait { uc.detach() }
            n.group.stop()
            n.group.join()
        }
        for g in feedGroups {
            g.stop()
            g.join()
        }
        feedGroups.removeAll()
        consumers.removeAll()
        nodes.removeAll()
        try? ingestLoop.submitAndWait {
            self.ingestor?.stop()
            self.publisher?.close()
            self.store?.close()
            self.ingestor = nil
            self.publisher = nil
            self.store = nil
        }
        try? exchangeLoop.submitAndWait {
            self.sim?.stop()
            self.sim = nil
        }
        md.stop()
        md.join()
    }
}

@Suite(.serialized) struct MarketDataPipelineTests {
    @Test func clientGetsItsSymbolsSnapshotFirstInSeqOrderAndRedisAndCacheHoldTheLatest() throws {
        let address = try #require(TestServices.redisAddress, "no Redis: run scripts/services.sh")
        let rig = try PipelineRig(redisAddress: address)
        defer { rig.shutdown() }
        let node = try rig.addFanout(partitions: nil)
        usleep(500_000)  // every symbol has quotes by now (3k/s over 100 symbols): the subscribe gets snapshots
        let r = try rig.client(node, ["S0001", "S0042", "S0099"])
        #expect(r.status == 0, "\(r.output)")
        try rig.setRate(0)
        let c = try rig.converged(node)
        #expect(c.ok, "\(c.detail)")
        let metrics = try rig.ingestLoop.submitAndWait { [i = rig.ingestor!] in i.renderMetrics() }
        #expect(metrics.contains("ingest_redis_connected 1") && metrics.contains("ingest_kafka_healthy 1"),
                "\(metrics)")
        #expect(metrics.contains("ingest_redis_pending_symbols 0") && metrics.contains("ingest_kafka_kept_quotes 0"))
        // A fanout node (or gateway) starting cold can read the latest quotes back with one MGET.
        let fetched = Mutex<[Quote]?>(nil)
        try rig.ingestLoop.submitAndWait { [store = rig.store!, loop = rig.ingestLoop] in
            store.fetch([1, 42, 99], on: loop) { q in fetched.withLock { $0 = q } }
        }
        let deadline = Syscalls.monotonicNanos() + 5_000_000_000
        while fetched.withLock({ $0 }) == nil && Syscalls.monotonicNanos() < deadline { usleep(5_000) }
        let latest = try rig.ingestLatest()
        #expect(fetched.withLock { $0 } == [latest[1], latest[42], latest[99]])
    }

    @Test func kafkaBrokerDownAndBackAndRedisRestartLoseNoLatestQuote() throws {
        let redis = PrivateRedisServer()
        #expect(redis.start())
        let rig = try PipelineRig(redisAddress: "127.0.0.1:\(redis.port)")
        defer { rig.shutdown() }
        let node = try rig.addFanout(partitions: nil)
        usleep(300_000)
        // Kafka: one of three brokers (leader of some partitions) goes away while quotes keep coming.
        try rig.cluster.setBrokerDown(1)
        usleep(800_000)
        try rig.cluster.setBrokerUp(1)
        // Redis: stopped (quotes keep coming, nothing queues but one slot per symbol), then back empty.
        redis.stop()
        usleep(600_000)
        #expect(rig.redisQuotes().isEmpty)
        #expect(redis.start())
        usleep(300_000)
        try rig.setRate(0)
        let c = try rig.converged(node)
        #expect(c.ok, "\(c.detail)")
        let stats = try rig.ingestLoop.submitAndWait { [store = rig.store!] in store.stats }
        #expect(stats.resyncs >= 2)  // first connect + reconnect after the restart
        let r = try rig.client(node, ["S0005", "S0050"], seconds: 0.5)
        #expect(r.status == 0, "\(r.output)")  // snapshots still served after recovery
    }

    @Test func twoFanoutNodesOnDifferentPartitionsServeTogether() throws {
        let address = try #require(TestServices.redisAddress, "no Redis: run scripts/services.sh")
        let rig = try PipelineRig(redisAddress: address)
        defer { rig.shutdown() }
        let a = try rig.addFanout(partitions: [0, 1])
        let b = try rig.addFanout(partitions: [2, 3])
        var onA: String?, onB: String?
        for i in 0..<rig.symbols.count where onA == nil || onB == nil {
            let s = rig.symbols.name(of: Int32(i))
            if try rig.partition(of: s) < 2 { onA = onA ?? s } else { onB = onB ?? s }
        }
        let symA = try #require(onA), symB = try #require(onB)
        usleep(500_000)
        let ra = try rig.client(a, [symA], seconds: 1.0)
        let rb = try rig.client(b, [symB], seconds: 1.0)
        #expect(ra.status == 0, "\(ra.output)")
        #expect(rb.status == 0, "\(rb.output)")
        // Each node caches only its own partitions' symbols.
        let cacheA = try rig.fanoutSeqs(a), cacheB = try rig.fanoutSeqs(b)
        #expect(cacheA[rig.symbols.id(of: symA)!] != nil && cacheA[rig.symbols.id(of: symB)!] == nil)
        #expect(cacheB[rig.symbols.id(of: symB)!] != nil && cacheB[rig.symbols.id(of: symA)!] == nil)
        #expect(Set(cacheA.keys).isDisjoint(with: cacheB.keys) && cacheA.count + cacheB.count == rig.symbols.count)
    }
}
