// KafkaQuotePublisher: the ingestor's quotes to Kafka `market.quotes` through librdkafka.
//
// Owns: one produce per quote (key = symbol name, so a symbol always lands in the same partition
// and keeps its order; value = the 72-byte binary quote of Quote.swift), the producer settings of
// the quote feed (batching, compression, queue bound from config), and what happens when Kafka is
// away. librdkafka queues and retries on its own up to `queue.buffering.max.messages`; past that
// bound we keep only the latest quote per symbol (one slot per symbol: bounded memory) and send
// those slots first once the queue drains. A quote whose delivery finally fails is re-sent if it is
// still its symbol's latest, so once Kafka is back no symbol's latest quote is missing (older
// intermediate quotes may be: consumers see a seq gap, never an older quote after a newer one).
import Logging
public import Wire

/// Counters of the publisher.
public struct KafkaQuotePublisherStats: Sendable, Equatable {
    /// Quotes accepted into librdkafka's queue.
    public var produced: UInt64 = 0
    /// Quotes not queued because the queue was full; their symbol's latest is kept for later.
    public var overflowed: UInt64 = 0
    /// Kept latest quotes sent after the queue drained or a delivery failed.
    public var resent: UInt64 = 0
    /// Delivery reports with success / failure.
    public var delivered: UInt64 = 0
    public var failed: UInt64 = 0
}

/// `QuotePublisher` on Kafka. Loop thread only.
public final class KafkaQuotePublisher: QuotePublisher {
    /// The producer (attached to the loop).
    public let producer: KafkaProducer
    /// Counters.
    public private(set) var stats = KafkaQuotePublisherStats()
    /// False from a client-level error (brokers down) until the next successful delivery.
    public private(set) var isHealthy = true
    private let topic: KafkaTopic
    private let symbols: SymbolUniverse
    private let logger: Logger
    private var latest: [Quote]
    private var kept: [Bool]
    private var keptList: [Int32] = []
    private var value = ByteBuffer(capacity: 128)
    private var timer: TimerHandle?
    private unowned let loop: EventLoop

    /// Producer settings for the quote feed from the config file (`kafka.*`, `ingest.kafka_queue_messages`).
    public static func configuration(_ config: ConfigFile) -> KafkaProducerConfiguration {
        KafkaProducerConfiguration(
            bootstrapServers: config.string("kafka.brokers"),
            properties: ["compression.codec": config.string("kafka.compression"),
                         "batch.num.messages": String(config.int("kafka.batch_messages"))],
            maxQueuedMessages: config.int("ingest.kafka_queue_messages"),
            lingerMilliseconds: config.int("kafka.linger_ms"), maxEventsPerDrain: 256)
    }

    /// Creates the producer on `loop` (call on its thread).
    /// - Throws: `KafkaError` for a bad configuration, `IOError` when the loop cannot watch it.
    public init(configuration: KafkaProducerConfiguration, topic: String, symbols: SymbolUniverse, loop: EventLoop,
                logger: Logger) throws {
        producer = try KafkaProducer(configuration: configuration, logger: logger)
        self.topic = try producer.topic(topic)
        self.symbols = symbols
        self.logger = logger
        self.loop = loop
        latest = (0..<symbols.count).map { Quote(symbolId: Int32($0), bid: 0, ask: 0, last: 0, ts: 0, seq: 0) }
        kept = Array(repeating: false, count: symbols.count)
        producer.onDelivery = { [unowned self] r in self.delivered(r) }
        producer.onError = { [unowned self] e in self.clientError(e) }
        try producer.attach(to: loop)
        scheduleRetry()
    }

    /// Stops the retry timer and detaches the producer from the loop (loop thread). Call before the loop
    /// goes away; `producer.flush` may still be called afterwards to deliver what is queued.
    public func close() {
        if let t = timer { loop.cancel(t) }
        timer = nil
        producer.detach()
    }

    /// Quotes waiting in the per-symbol slots (Kafka away or slow).
    public var keptQuotes: Int { keptList.count }

    public func publish(_ quotes: UnsafeBufferPointer<Quote>) {
        if !keptList.isEmpty { sendKept() }
        for q in quotes {
            let i = Int(q.symbolId)
            latest[i] = q
            if kept[i] { continue }  // an older one waits: the slot now holds this newer one
            if !produce(q) {
                kept[i] = true
                keptList.append(q.symbolId)
                stats.overflowed &+= 1
            }
        }
    }

    /// Produces `q`; false when the local queue is full (or the produce failed).
    @inline(__always)
    private func produce(_ q: Quote) -> Bool {
        value.clear()
        q.writeBinary(into: &value)
        let token = UInt64(UInt32(bitPattern: q.symbolId)) << 32 | UInt64(UInt32(truncatingIfNeeded: q.seq))
        let result: KafkaProduceResult? = symbols.withNameBytes(of: q.symbolId) { key in
            value.withUnsafeReadableBytes { v in try? producer.produce(to: topic, key: key, value: v, token: token) }
        }
        guard result == .queued else { return false }
        stats.produced &+= 1
        return true
    }

    private func sendKept() {
        var done = 0
        for sym in keptList {
            let i = Int(sym)
            if kept[i] {
                guard produce(latest[i]) else { break }
                kept[i] = false
                stats.resent &+= 1
            }
            done += 1
        }
        if done == keptList.count { keptList.removeAll(keepingCapacity: true) } else { keptList.removeFirst(done) }
    }

    private func scheduleRetry() {
        // Kept quotes go out even when no new quotes arrive to trigger a publish.
        timer = loop.schedule(afterNanos: 100_000_000) { [weak self] in
            guard let self, self.timer != nil else { return }
            if !self.keptList.isEmpty { self.sendKept() }
            self.scheduleRetry()
        }
    }

    private func delivered(_ r: KafkaDeliveryReport) {
        guard let error = r.error else {
            stats.delivered &+= 1
            if !isHealthy {
                isHealthy = true
                logger.notice("kafka available again; quotes flowing")
            }
            return
        }
        stats.failed &+= 1
        let sym = Int32(bitPattern: UInt32(truncatingIfNeeded: r.token >> 32))
        guard symbols.contains(sym) else { return }
        let i = Int(sym)
        if UInt32(truncatingIfNeeded: latest[i].seq) == UInt32(truncatingIfNeeded: r.token), !kept[i] {
            kept[i] = true
            keptList.append(sym)
        }
        if stats.failed == 1 || stats.failed % 10_000 == 0 {
            logger.warning("kafka delivery failed; latest quotes kept for re-send", metadata: [
                "error": "\(error)", "failed": "\(stats.failed)"])
        }
    }

    private func clientError(_ e: KafkaError) {
        if isHealthy {
            isHealthy = false
            logger.warning("kafka unavailable; librdkafka queues and retries, then the latest quote per symbol is kept",
                           metadata: ["error": "\(e)"])
        }
    }
}
