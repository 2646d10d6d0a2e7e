// Tests for KafkaProducer / KafkaConsumer against librdkafka's in-process mock cluster (KafkaMockCluster).
// Driven through the explicit drain + wake-up fd API (what the event-loop glue calls), waiting on the fd
// with deadlines: assertions never depend on how fast the mock is, only bounded waits do.
import Logging
import Testing
@testable import Broker

@Suite struct KafkaClientTests {
    static let logger: Logger = {
        var l = Logger(label: "test.kafka")
        l.logLevel = .critical
        return l
    }()

    /// Calls `step` until `done` holds or `seconds` pass; `step` is expected to wait on a wake-up fd.
    static func pump(seconds: Double = 20, _ step: () -> Void, until done: () -> Bool) -> Bool {
        let deadline = KafkaProducer.monotonicMilliseconds() + Int64(seconds * 1000)
        while !done() {
            if KafkaProducer.monotonicMilliseconds() > deadline { return false }
            step()
        }
        return true
    }

    static func drainProducer(_ p: KafkaProducer) {
        if p.drain() == 0 { p.client.waitForWakeup(timeoutMs: 50) }
    }

    @Test func producedMessagesAreConsumedInOrderPerPartitionAndKey() throws {
        let cluster = try KafkaMockCluster(brokers: 3, logger: Self.logger)
        try cluster.createTopic("quotes", partitions: 4)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers, lingerMilliseconds: 1),
            logger: Self.logger)
        var reports: [KafkaDeliveryReport] = []
        producer.onDelivery = { reports.append($0) }
        let n = 2000
        let topic = try producer.topic("quotes")
        for i in 0..<n {
            let key = Array("S\(i % 50)".utf8)
            let value = Array("\(i % 50):\(i / 50)".utf8)
            let r = try key.withUnsafeBytes { k in
                try value.withUnsafeBytes { v in try producer.produce(to: topic, key: k, value: v, token: UInt64(i)) }
            }
            #expect(r == .queued)
        }
        #expect(Self.pump({ Self.drainProducer(producer) }, until: { reports.count == n }))
        #expect(reports.allSatisfy { $0.error == nil && $0.offset >= 0 })
        #expect(Set(reports.map(\.token)) == Set((0..<n).map(UInt64.init)))
        // Same key, same partition: the partitioner hashes the key.
        var partitionOfKey: [Int: Int32] = [:]
        for r in reports {
            #expect(partitionOfKey.updateValue(r.partition, forKey: Int(r.token) % 50) ?? r.partition == r.partition)
        }
        #expect(Set(reports.map(\.partition)).count > 1)
        // The partition is predictable from the key (murmur2, as Java clients do).
        for r in reports.prefix(50) {
            let predicted = Array("S\(Int(r.token) % 50)".utf8).withUnsafeBytes {
                topic.partition(forKey: $0, partitionCount: 4)
            }
            #expect(predicted == r.partition)
        }

        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers, maxMessagesPerDrain: 100),
            logger: Self.logger)
        try consumer.assign(topic: "quotes")   // all partitions, discovered through metadata
        var lastOffset: [Int32: Int64] = [:]
        var lastSeq: [String: Int] = [:]
        var received = 0
        var ordered = true
        var batches = 0
        #expect(Self.pump({
            let got = consumer.drain { m in
                if m.offset <= lastOffset[m.partition, default: -1] { ordered = false }
                lastOffset[m.partition] = m.offset
                let text = String(decoding: m.value, as: UTF8.self)
                let parts = text.split(separator: ":")
                let key = String(decoding: m.key, as: UTF8.self)
                if key != "S\(parts[0])" || !m.isTopic("quotes") || m.topic != "quotes" { ordered = false }
                let seq = Int(parts[1])!
                if seq != lastSeq[key, default: -1] + 1 { ordered = false }
                lastSeq[key] = seq
                received += 1
            }
            if got == 0 { consumer.waitForMessages(timeoutMilliseconds: 50) } else { batches += 1 }
        }, until: { received >= n }))
        #expect(received == n)
        #expect(ordered)
        #expect(batches >= n / 100)   // bounded drains: never more than maxMessagesPerDrain per call
        #expect(lastSeq.count == 50 && lastSeq.values.allSatisfy { $0 == n / 50 - 1 })
        #expect(producer.stats.queued == UInt64(n) && producer.stats.delivered == UInt64(n))
        #expect(producer.stats.failed == 0 && producer.stats.queueFull == 0)
        #expect(consumer.stats.messages == UInt64(n))
    }

    @Test func brokerDownThenUpLosesNothingWithIdempotentProducer() throws {
        let cluster = try KafkaMockCluster(brokers: 3, logger: Self.logger)
        try cluster.createTopic("orders", partitions: 1)
        try cluster.setPartitionLeader(topic: "orders", partition: 0, broker: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers,
                                 properties: ["reconnect.backoff.max.ms": "200", "retry.backoff.ms": "50"],
                                 idempotent: true, lingerMilliseconds: 1),
            logger: Self.logger)
        var delivered: [UInt64] = []
        var failures = 0
        producer.onDelivery = { r in if r.error == nil { delivered.append(r.token) } else { failures += 1 } }
        for i in 0..<100 {
            try producer.produce(topic: "orders", key: [1], value: Array("\(i)".utf8), token: UInt64(i))
        }
        #expect(Self.pump({ Self.drainProducer(producer) }, until: { delivered.count == 100 }))

        try cluster.setBrokerDown(1)
        for i in 100..<300 {
            try producer.produce(topic: "orders", key: [1], value: Array("\(i)".utf8), token: UInt64(i))
        }
        // While the leader is down nothing can be acknowledged.
        _ = Self.pump(seconds: 0.5, { Self.drainProducer(producer) }, until: { false })
        #expect(delivered.count == 100)
        try cluster.setBrokerUp(1)
        #expect(Self.pump({ Self.drainProducer(producer) }, until: { delivered.count + failures == 300 }))
        #expect(failures == 0)
        #expect(delivered.sorted() == (0..<300).map(UInt64.init))

        let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: cluster.bootstrapServers),
                                         logger: Self.logger)
        try consumer.assign(topic: "orders", partitions: [0], start: .beginning)
        var values: [Int] = []
        #expect(Self.pump({
            if consumer.drain({ m in values.append(Int(String(decoding: m.value, as: UTF8.self))!) }) == 0 {
                consumer.waitForMessages(timeoutMilliseconds: 50)
            }
        }, until: { values.count >= 300 }))
        #expect(values == Array(0..<300))   // no loss, no duplicates, in order
    }

    @Test func produceRequestErrorsAreRetriedWithoutLossOrDuplicates() throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: Self.logger)
        try cluster.createTopic("fills", partitions: 1)
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers,
                                 properties: ["retry.backoff.ms": "10", "batch.num.messages": "20"],
                                 idempotent: true, lingerMilliseconds: 1),
            logger: Self.logger)
        var delivered = 0
        var failed = 0
        producer.onDelivery = { r in if r.error == nil { delivered += 1 } else { failed += 1 } }
        // Warm up (metadata, producer id), then make the next Produce requests fail in three different ways.
        try producer.produce(topic: "fills", key: nil, value: Array("0".utf8))
        try producer.flush(timeoutMilliseconds: 10_000)
        cluster.pushRequestErrors(apiKey: KafkaMockCluster.produceRequest,
                                  [.notLeaderForPartition, .requestTimedOut, .transport, .notLeaderForPartition])
        for i in 1..<200 { try producer.produce(topic: "fills", key: nil, value: Array("\(i)".utf8)) }
        #expect(Self.pump({ Self.drainProducer(producer) }, until: { delivered + failed == 200 }))
        #expect(failed == 0)

        let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: cluster.bootstrapServers),
                                         logger: Self.logger)
        try consumer.assign(topic: "fills", partitions: [0])
        var values: [Int] = []
        #expect(Self.pump({
            if consumer.drain({ m in values.append(Int(String(decoding: m.value, as: UTF8.self))!) }) == 0 {
                consumer.waitForMessages(timeoutMilliseconds: 50)
            }
        }, until: { values.count >= 200 }))
        // Anything extra (a duplicate) would arrive right behind; give it a moment to show up.
        _ = Self.pump(seconds: 0.2, {
            consumer.drain { _ in values.append(-1) }
            consumer.waitForMessages(timeoutMilliseconds: 20)
        }, until: { false })
        #expect(values == Array(0..<200))   // each exactly once, in order
    }

    @Test func storedOffsetsAreCommittedForTheGroup() throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: Self.logger)
        try cluster.createTopic("ledger.events", partitions: 2)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers),
                                         logger: Self.logger)
        for i in 0..<10 { try producer.produce(topic: "ledger.events", key: nil, value: [UInt8(i)], partition: 1) }
        try producer.flush(timeoutMilliseconds: 10_000)

        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers, groupID: "ledger"), logger: Self.logger)
        try consumer.assign(topic: "ledger.events", partitions: [1], start: .committed)
        var seen = 0
        var storeFailed = false
        #expect(Self.pump({
            let got = consumer.drain { m in
                seen += 1
                if m.value.first! < 6 {   // "process" the first six only
                    do { try consumer.storeOffset(m) } catch { storeFailed = true }
                }
            }
            if got == 0 { consumer.waitForMessages(timeoutMilliseconds: 50) }
        }, until: { seen == 10 }))
        #expect(!storeFailed)
        try consumer.commit()
        var committed: Int64 = -1
        #expect(Self.pump({
            consumer.drain { _ in }
            committed = (try? consumer.committedOffsets(topic: "ledger.events", partitions: [1]))?.first?.offset ?? -1
        }, until: { committed == 6 }))
        #expect(committed == 6)   // next offset to read after the six processed messages
    }

    @Test func groupSubscriptionReceivesEveryPartition() throws {
        let cluster = try KafkaMockCluster(brokers: 2, logger: Self.logger)
        try cluster.createTopic("ledger.events", partitions: 3)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServers,
                                                              idempotent: true), logger: Self.logger)
        for i in 0..<90 {
            try producer.produce(topic: "ledger.events", key: Array("u\(i % 9)".utf8), value: [UInt8(i)])
        }
        try producer.flush(timeoutMilliseconds: 10_000)
        let consumer = try KafkaConsumer(
            configuration: .init(bootstrapServers: cluster.bootstrapServers, groupID: "ledger-service",
                                 properties: ["session.timeout.ms": "3000", "heartbeat.interval.ms": "500"]),
            logger: Self.logger)
        try consumer.subscribe(topics: ["ledger.events"])
        var values = Set<UInt8>()
        var partitions = Set<Int32>()
        #expect(Self.pump(seconds: 30, {
            if consumer.drain({ m in values.insert(m.value[0]); partitions.insert(m.partition) }) == 0 {
                consumer.waitForMessages(timeoutMilliseconds: 50)
            }
        }, until: { values.count == 90 }))
        #expect(values.count == 90)
        #expect(partitions == [0, 1, 2])
    }

    @Test func subscribeWithoutGroupIsRejected() throws {
        let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: "127.0.0.1:1"), logger: Self.logger)
        #expect(throws: KafkaError.self) { try consumer.subscribe(topics: ["t"]) }
    }

    @Test func badPropertyIsAConfigurationError() {
        #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(configuration: .init(bootstrapServers: "127.0.0.1:1", properties: ["no.such": "x"]),
                                  logger: Self.logger)
        }
        do {
            _ = try KafkaProducer(configuration: .init(bootstrapServers: "127.0.0.1:1", properties: ["no.such": "x"]),
                                  logger: Self.logger)
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("no.such"))
            #expect(!error.isRetriable)
        }
    }

    @Test func fullLocalQueueIsReportedNotBlocking() throws {
        // No broker at all: messages pile up in the bounded local queue.
        let producer = try KafkaProducer(
            configuration: .init(bootstrapServers: "127.0.0.1:1", maxQueuedMessages: 10), logger: Self.logger)
        var results: [KafkaProduceResult] = []
        for _ in 0..<12 { results.append(try producer.produce(topic: "t", key: nil, value: [0])) }
        #expect(results.prefix(10).allSatisfy { $0 == .queued })
        #expect(results.suffix(2).allSatisfy { $0 == .queueFull })
        #expect(producer.stats.queued == 10 && producer.stats.queueFull == 2)
        #expect(KafkaError(.init(rawValue: KafkaError.Code.queueFull.rawValue)).isRetriable)
    }
}

@Suite struct KafkaEventLoopTests {
    @Test func producerAndConsumerRunOnTheEventLoop() throws {
        let cluster = try KafkaMockCluster(brokers: 1, logger: KafkaClientTests.logger)
        try cluster.createTopic("market.quotes", partitions: 3)
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        final class State {
            var delivered = 0
            var consumed = 0
            var producer: KafkaProducer?
            var consumer: KafkaConsumer?
        }
        nonisolated(unsafe) let state = State()
        let servers = cluster.bootstrapServers
        let loop = runner.loop
        try runner.sync {
            let p = try KafkaProducer(configuration: .init(bootstrapServers: servers, lingerMilliseconds: 1),
                                      logger: KafkaClientTests.logger)
            p.onDelivery = { r in
                precondition(loop.inEventLoop)
                if r.error == nil { state.delivered += 1 }
            }
            try p.attach(to: loop)
            let c = try KafkaConsumer(configuration: .init(bootstrapServers: servers, maxMessagesPerDrain: 16),
                                      logger: KafkaClientTests.logger)
            try c.assign(topic: "market.quotes")
            try c.attach(to: loop) { m in
                precondition(loop.inEventLoop)
                if m.value.count == 8 { state.consumed += 1 }
            }
            for i in 0..<500 {
                var v = UInt64(i)
                try withUnsafeBytes(of: &v) { bytes in
                    _ = try p.produce(to: p.topic("market.quotes"), key: bytes, value: bytes)
                }
            }
            state.producer = p
            state.consumer = c
        }
        // Nobody calls drain here: only the loop's fd watch can make these counts move.
        #expect(runner.wait { state.delivered == 500 })
        #expect(runner.wait { state.consumed == 500 })
        try runner.sync {
            state.producer?.detach()
            state.consumer?.detach()
            state.producer = nil
            state.consumer = nil
        }
    }
}
