// The ingestor's Kafka publisher when Kafka is away: librdkafka's bounded queue fills, the latest quote
// per symbol is kept (bounded by the symbol count), and once the broker is back every symbol's latest
// quote reaches the topic, never an older one after a newer one.
import Logging
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct KafkaQuotePublisherTests {
    @Test func fullQueueKeepsTheLatestPerSymbolAndSendsItWhenTheBrokerReturns() throws {
        let logger = Logger(label: "kqp")
        let cluster = try KafkaMockCluster(brokers: 1, logger: logger)
        try cluster.createTopic("market.quotes", partitions: 2)
        try cluster.setBrokerDown(1)
        let symbols = SymbolUniverse.generated(count: 20)
        let rig = try LoopRig(name: "kqp")
        let backoff = ["reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "200"]
        let conf = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers, properties: backoff,
                                              maxQueuedMessages: 10, lingerMilliseconds: 1)
        let publisher = try rig.sync {
            try KafkaQuotePublisher(configuration: conf, topic: "market.quotes", symbols: symbols, loop: rig.loop,
                                    logger: logger)
        }
        defer { try? rig.sync { publisher.close() } }
        // Three rounds of every symbol while the broker is down: 10 fit in the queue, the rest is kept.
        try rig.sync {
            for seq in UInt64(1)...3 {
                let batch = (0..<20).map {
                    Quote(symbolId: Int32($0), bid: 100, ask: 200, last: 150, ts: seq, seq: seq)
                }
                batch.withUnsafeBufferPointer { publisher.publish($0) }
            }
        }
        let (overflowed, kept) = try rig.sync { (publisher.stats.overflowed, publisher.keptQuotes) }
        #expect(overflowed >= 10 && kept > 0 && kept <= 20, "overflowed \(overflowed) kept \(kept)")
        try cluster.setBrokerUp(1)
        #expect(rig.wait(seconds: 20) { publisher.keptQuotes == 0 && publisher.producer.outstandingMessages == 0 })
        // Read the topic back: every symbol's seq 3 is there, and per symbol seqs never go back.
        let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: cluster.bootstrapServers),
                                         logger: logger)
        try consumer.assign(topic: "market.quotes", start: .beginning)
        var last: [Int32: UInt64] = [:]
        var regressions = 0
        let deadline = Syscalls.monotonicNanos() + 20_000_000_000
        while last.values.filter({ $0 == 3 }).count < 20 && Syscalls.monotonicNanos() < deadline {
            if consumer.drain({ m in
                guard let id = symbols.id(bytes: m.key), let q = try? Quote(binary: m.value, symbolId: id) else {
                    return
                }
                if q.seq < last[id, default: 0] { regressions += 1 }
                last[id] = q.seq
            }) == 0 { consumer.waitForMessages(timeoutMilliseconds: 50) }
        }
        #expect(last.count == 20 && last.values.allSatisfy { $0 == 3 }, "\(last)")
        #expect(regressions == 0)
    }
}
