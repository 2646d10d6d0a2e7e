// KafkaProducer: non-blocking produce into librdkafka's bounded local queue, with delivery reports,
// errors and logs drained from the main queue on the caller's (event loop's) thread.
//
// Owns: producer configuration defaults, topic handles, the produce call, and the bounded drain of the
// main queue through the events API (`rd_kafka_queue_poll(q, 0)`, as swift-kafka-client's producerEventPoll).
// Leaves to RDKafkaClient: the handle, wake-up fd and teardown. Leaves to KafkaProducer+EventLoop: loop glue.
internal import CRdKafka
import Glibc
import Logging

/// Producer settings. Every limit is bounded; `init` of the producer validates through librdkafka.
public struct KafkaProducerConfiguration: Sendable {
    /// `host:port[,host:port...]` (librdkafka `bootstrap.servers`).
    public var bootstrapServers: String
    /// Extra librdkafka properties (CONFIGURATION.md), applied last so they override the fields below.
    public var properties: [String: String]
    /// `enable.idempotence`: exactly-once-per-partition ordering through retries (needed for "no loss,
    /// no duplicates" across broker outages). Implies `acks=all`.
    public var idempotent: Bool
    /// Local queue bound in messages (`queue.buffering.max.messages`); `produce` returns `.queueFull` beyond it.
    /// 100k is about one second of a full quote feed.
    public var maxQueuedMessages: Int
    /// Local queue bound in KiB (`queue.buffering.max.kbytes`): 64 MiB caps memory while a broker is away.
    public var maxQueuedKilobytes: Int
    /// `linger.ms`: batching delay; 5 ms trades a little latency for far fewer requests.
    public var lingerMilliseconds: Int
    /// Events handled per `drain` call, so one wake-up cannot starve the loop's sockets.
    public var maxEventsPerDrain: Int

    /// Defaults suitable for the quote feed.
    public init(bootstrapServers: String, properties: [String: String] = [:], idempotent: Bool = false,
                maxQueuedMessages: Int = 100_000, maxQueuedKilobytes: Int = 65_536, lingerMilliseconds: Int = 5,
                maxEventsPerDrain: Int = 64) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
        self.idempotent = idempotent
        self.maxQueuedMessages = maxQueuedMessages
        self.maxQueuedKilobytes = maxQueuedKilobytes
        self.lingerMilliseconds = lingerMilliseconds
        self.maxEventsPerDrain = maxEventsPerDrain
    }

    var librdkafkaProperties: [String: String] {
        var p: [String: String] = [
            "bootstrap.servers": bootstrapServers,
            "enable.idempotence": idempotent ? "true" : "false",
            "queue.buffering.max.messages": String(maxQueuedMessages),
            "queue.buffering.max.kbytes": String(maxQueuedKilobytes),
            "linger.ms": String(lingerMilliseconds),
            // murmur2 (random for keyless messages) is the Java client's default partitioner: producers in any
            // language put a symbol in the same partition, and KafkaTopic.partition(forKey:) can predict it.
            "partitioner": "murmur2_random",
        ]
        for (k, v) in properties { p[k] = v }
        return p
    }
}

/// What `produce` did with the message.
public enum KafkaProduceResult: Sendable, Equatable {
    /// Copied into librdkafka's queue; a delivery report follows.
    case queued
    /// The bounded local queue is full: drop (market data) or retry after the next `drain`.
    case queueFull
}

/// The outcome of one produced message, from a delivery report.
public struct KafkaDeliveryReport: Sendable, Equatable {
    /// The caller's token passed to `produce` (0 if none).
    public let token: UInt64
    /// Partition the message went to (the partitioner's choice when produced unassigned).
    public let partition: Int32
    /// Offset in the partition, or -1 when delivery failed.
    public let offset: Int64
    /// nil when the broker acknowledged the message.
    public let error: KafkaError?
}

/// Counters of a producer, for /metrics. Plain integers bumped on the loop thread.
public struct KafkaProducerStats: Sendable, Equatable {
    /// Messages accepted into the local queue.
    public var queued: UInt64 = 0
    /// `produce` calls refused because the local queue was full.
    public var queueFull: UInt64 = 0
    /// Delivery reports with success.
    public var delivered: UInt64 = 0
    /// Delivery reports with an error.
    public var failed: UInt64 = 0
    /// Client-level error events.
    public var errors: UInt64 = 0
}

/// A topic handle (from `KafkaProducer.topic(_:)`). Hold one per topic on hot paths: producing through it skips
/// the name lookup.
public final class KafkaTopic {
    /// The topic name.
    public let name: String
    /// `rd_kafka_topic_t *`; valid while `client` is alive (we keep it alive).
    let rkt: OpaquePointer
    private let client: RDKafkaClient

    init(name: String, client: RDKafkaClient) throws(KafkaError) {
        guard let rkt = rd_kafka_topic_new(client.handle, name, nil) else { throw RDKafkaClient.lastError() }
        self.name = name
        self.rkt = rkt
        self.client = client
    }

    deinit { rd_kafka_topic_destroy(rkt) }

    /// The partition a message with `key` goes to among `partitionCount` partitions under the default
    /// `murmur2_random` partitioner (the Java client's murmur2): lets a fanout node find the partition holding a
    /// symbol without producing. Not meaningful if `partitioner` was overridden.
    public func partition(forKey key: UnsafeRawBufferPointer, partitionCount: Int32) -> Int32 {
        rd_kafka_msg_partitioner_murmur2(rkt, key.baseAddress, key.count, partitionCount, nil, nil)
    }
}

/// A Kafka producer joined to one event loop (or driven by explicit `drain` calls).
///
/// Not thread-safe: all calls on the owning loop's thread. librdkafka's own broker threads do the network I/O;
/// everything that reaches us (delivery reports, errors, logs) is handed over through the main queue.
public final class KafkaProducer {
    /// Called for each delivery report, from `drain`. Per message: keep it cheap and allocation-free.
    public var onDelivery: ((KafkaDeliveryReport) -> Void)?
    /// Called for client-level errors (all brokers down, fatal idempotence errors), from `drain`.
    public var onError: ((KafkaError) -> Void)?
    /// Counters since creation.
    public private(set) var stats = KafkaProducerStats()

    let client: RDKafkaClient
    private let configuration: KafkaProducerConfiguration
    private var topics: [String: KafkaTopic] = [:]
    private let logger: Logger
    /// Set while driven by an event loop (KafkaEventLoopGlue.swift).
    var attachment: RDKafkaLoopAttachment?

    /// Creates the producer. librdkafka connects in the background; nothing blocks.
    /// - Throws: `KafkaError` with `.invalidConfiguration` for bad properties.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        precondition(configuration.maxEventsPerDrain > 0, "maxEventsPerDrain must be positive")
        self.configuration = configuration
        self.logger = logger
        self.client = try RDKafkaClient.make(kind: .producer, properties: configuration.librdkafkaProperties,
                                             logger: logger) { conf in
            // Events API: delivery reports, errors and logs are returned by rd_kafka_queue_poll, not called back.
            rd_kafka_conf_set_events(conf, Int32(RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR | RD_KAFKA_EVENT_LOG))
        }
        logger.debug("kafka producer created", metadata: ["bootstrap": "\(configuration.bootstrapServers)"])
    }

    deinit { attachment?.cancel() }

    /// The handle for `name`, created on first use and cached.
    /// - Throws: `KafkaError` if librdkafka rejects the topic.
    public func topic(_ name: String) throws(KafkaError) -> KafkaTopic {
        if let t = topics[name] { return t }
        let t = try KafkaTopic(name: name, client: client)
        topics[name] = t
        return t
    }

    /// Queues one message. Non-blocking: key and value are copied into librdkafka's queue.
    /// - Parameters:
    ///   - topic: from `topic(_:)`.
    ///   - key: partitioning key (hashed by the `murmur2_random` partitioner we configure); nil = random.
    ///   - value: the payload.
    ///   - partition: an explicit partition, or nil to partition by key.
    ///   - token: echoed in the delivery report.
    /// - Returns: `.queued`, or `.queueFull` when the bounded local queue is full.
    /// - Throws: `KafkaError` for anything else (unknown partition, message too large, fatal state).
    @discardableResult
    public func produce(to topic: KafkaTopic, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer,
                        partition: Int32? = nil, token: UInt64 = 0) throws(KafkaError) -> KafkaProduceResult {
        // RD_KAFKA_MSG_F_COPY: librdkafka copies payload and key, so the caller's buffers are free on return.
        let rc = rd_kafka_produce(topic.rkt, partition ?? RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                  UnsafeMutableRawPointer(mutating: value.baseAddress), value.count,
                                  key?.baseAddress, key?.count ?? 0,
                                  UnsafeMutableRawPointer(bitPattern: UInt(token)))
        if rc == 0 {
            stats.queued &+= 1
            return .queued
        }
        let err = rd_kafka_last_error()
        if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
            stats.queueFull &+= 1
            return .queueFull
        }
        throw KafkaError(err)
    }

    /// Convenience for cold paths and tests: produce `value` to the topic named `topic` with a byte-array key.
    @discardableResult
    public func produce(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil,
                        token: UInt64 = 0) throws(KafkaError) -> KafkaProduceResult {
        let t = try self.topic(topic)
        let result: Result<KafkaProduceResult, KafkaError> = value.withUnsafeBytes { v in
            func send(_ k: UnsafeRawBufferPointer?) -> Result<KafkaProduceResult, KafkaError> {
                do throws(KafkaError) {
                    return .success(try produce(to: t, key: k, value: v, partition: partition, token: token))
                } catch { return .failure(error) }
            }
            guard let key else { return send(nil) }
            return key.withUnsafeBytes { send($0) }
        }
        return try result.get()
    }

    /// Messages queued locally or in flight (`rd_kafka_outq_len`).
    public var outstandingMessages: Int { Int(rd_kafka_outq_len(client.handle)) }

    /// The fd the event loop watches for readability; `drain` when it fires.
    public var wakeupDescriptor: CInt { client.wakeupFD }

    /// Handles up to `maxEventsPerDrain` events from the main queue: delivery reports (`onDelivery`),
    /// errors (`onError`), logs (the logger). Never blocks.
    /// - Returns: the number of events handled; if the bound was hit, the wake-up fd is re-signalled.
    @discardableResult
    public func drain() -> Int {
        client.consumeWakeups()
        let limit = configuration.maxEventsPerDrain
        var handled = 0
        while handled < limit, let event = rd_kafka_queue_poll(client.queue, 0) {
            handled += 1
            handle(event)
            rd_kafka_event_destroy(event)
        }
        if handled == limit { client.signalWakeup() }
        return handled
    }

    private func handle(_ event: OpaquePointer) {
        switch Int32(rd_kafka_event_type(event)) {
        case RD_KAFKA_EVENT_DR:
            // Messages are owned by the event; we read them and let rd_kafka_event_destroy free them.
            while let m = rd_kafka_event_message_next(event) {
                if m.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR { stats.delivered &+= 1 } else { stats.failed &+= 1 }
                guard let onDelivery else { continue }
                let token = UInt64(UInt(bitPattern: m.pointee._private))
                let error: KafkaError? = m.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(m.pointee.err)
                onDelivery(KafkaDeliveryReport(token: token, partition: m.pointee.partition,
                                               offset: error == nil ? m.pointee.offset : -1, error: error))
            }
        case RD_KAFKA_EVENT_ERROR:
            let code = rd_kafka_event_error(event)
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            var error = KafkaError(code, message: text)
            if rd_kafka_event_error_is_fatal(event) != 0 {
                error = KafkaError(code: error.code, message: text, isRetriable: false, isFatal: true)
            }
            stats.errors &+= 1
            logger.warning("kafka producer error", metadata: ["error": "\(error)"])
            onError?(error)
        case RD_KAFKA_EVENT_LOG:
            var fac: UnsafePointer<CChar>?
            var str: UnsafePointer<CChar>?
            var level: Int32 = 7
            if rd_kafka_event_log(event, &fac, &str, &level) == 0 {
                client.context.log(level: level, facility: fac.map { String(cString: $0) } ?? "",
                                   message: str.map { String(cString: $0) } ?? "")
            }
        default:
            break
        }
    }

    /// Blocks up to `timeoutMilliseconds` until every queued message is delivered or failed, serving delivery
    /// reports meanwhile. For shutdown only (it blocks the loop).
    /// - Throws: `KafkaError` `.timedOut` if messages remain.
    public func flush(timeoutMilliseconds: Int) throws(KafkaError) {
        let deadline = Self.monotonicMilliseconds() + Int64(timeoutMilliseconds)
        while outstandingMessages > 0 || rd_kafka_queue_length(client.queue) > 0 {
            drain()
            let left = deadline - Self.monotonicMilliseconds()
            if left <= 0 { throw KafkaError(code: .timedOut, message: "\(outstandingMessages) messages undelivered") }
            if rd_kafka_queue_length(client.queue) == 0 { client.waitForWakeup(timeoutMs: Int32(min(left, 100))) }
        }
    }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
