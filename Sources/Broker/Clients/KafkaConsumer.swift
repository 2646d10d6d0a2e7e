// KafkaConsumer: explicit partition assignment (all partitions of a topic by default) or group subscription,
// zero-copy message views drained in bounded batches on the caller's (event loop's) thread, offset store/commit.
//
// Owns: consumer configuration defaults, partition discovery through metadata, assign/subscribe, the bounded
// batch drain of the consumer queue (`rd_kafka_consume_batch_queue(q, 0, ...)`), and error/commit callbacks.
// Leaves to RDKafkaClient: the handle, wake-up fd and teardown; to KafkaConsumer+EventLoop: the loop glue.
internal import CRdKafka
import Glibc
import Logging

/// Consumer settings.
public struct KafkaConsumerConfiguration: Sendable {
    /// `host:port[,...]`.
    public var bootstrapServers: String
    /// Consumer group for `subscribe` and for committed offsets. nil = a private, unique group id: librdkafka's
    /// consumer queue needs one, and a fanout node that assigns partitions itself never commits.
    public var groupID: String?
    /// Extra librdkafka properties, applied last.
    public var properties: [String: String]
    /// `enable.auto.commit`: off by default; the ledger commits offsets itself, with its transaction.
    public var autoCommit: Bool
    /// `auto.offset.reset` when no committed offset exists: `earliest` or `latest`.
    public var autoOffsetReset: String
    /// Messages per `drain`: bounds the time one wake-up may hold the loop (256 x ~200 B quotes ~ 50 KB).
    public var maxMessagesPerDrain: Int

    /// Defaults suitable for a fanout node.
    public init(bootstrapServers: String, groupID: String? = nil, properties: [String: String] = [:],
                autoCommit: Bool = false, autoOffsetReset: String = "earliest", maxMessagesPerDrain: Int = 256) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
        self.properties = properties
        self.autoCommit = autoCommit
        self.autoOffsetReset = autoOffsetReset
        self.maxMessagesPerDrain = maxMessagesPerDrain
    }

    var librdkafkaProperties: [String: String] {
        var p: [String: String] = [
            "bootstrap.servers": bootstrapServers,
            "group.id": groupID ?? "broker-private-\(getpid())-\(UInt32.random(in: 0 ... .max))",
            "enable.auto.commit": autoCommit ? "true" : "false",
            // Offsets are stored explicitly (storeOffset) once a message is processed, never on receipt.
            "enable.auto.offset.store": "false",
            "auto.offset.reset": autoOffsetReset,
        ]
        for (k, v) in properties { p[k] = v }
        return p
    }
}

/// Where to start reading an assigned partition.
public enum KafkaStartOffset: Sendable, Equatable {
    /// The oldest retained message.
    case beginning
    /// Only messages produced from now on.
    case end
    /// The group's committed offset (falling back to `auto.offset.reset`).
    case committed
    /// An absolute offset.
    case offset(Int64)

    var raw: Int64 {
        switch self {
        case .beginning: return Int64(RD_KAFKA_OFFSET_BEGINNING)
        case .end: return Int64(RD_KAFKA_OFFSET_END)
        case .committed: return Int64(RD_KAFKA_OFFSET_STORED)
        case .offset(let o): return o
        }
    }
}

/// A (topic, partition, offset) triple for assign and commit.
public struct KafkaTopicPartitionOffset: Sendable, Hashable {
    /// Topic name.
    public var topic: String
    /// Partition number.
    public var partition: Int32
    /// For commit: the next offset to read (last processed + 1). For reads: the committed offset, -1001 if none.
    public var offset: Int64
    /// Builds one.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A view of one consumed message, valid only inside the `drain` closure that received it: its key and value
/// point into librdkafka's buffer, which is freed when the closure returns. Not copyable, so it cannot be kept.
public struct KafkaMessage: ~Copyable {
    /// Owned by the drain loop, which destroys it after the closure.
    let raw: UnsafeMutablePointer<rd_kafka_message_t>

    /// Partition number.
    public var partition: Int32 { raw.pointee.partition }
    /// Offset within the partition.
    public var offset: Int64 { raw.pointee.offset }
    /// The key bytes (empty when the message has no key). Valid only inside the drain closure.
    public var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.pointee.key, count: raw.pointee.key_len)
    }
    /// The value bytes. Valid only inside the drain closure.
    public var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.pointee.payload, count: raw.pointee.len)
    }
    /// Message timestamp in milliseconds since the epoch, nil when the broker did not set one.
    public var timestampMilliseconds: Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(raw, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts
    }
    /// The topic name. Allocates a String: prefer `isTopic` on hot paths.
    public var topic: String { String(cString: rd_kafka_topic_name(raw.pointee.rkt)) }
    /// Whether the message belongs to `name`, compared without allocating.
    public func isTopic(_ name: StaticString) -> Bool {
        name.withUTF8Buffer { n in
            let t = rd_kafka_topic_name(raw.pointee.rkt)!   // librdkafka: never NULL for a fetched message
            return strlen(t) == n.count && memcmp(t, n.baseAddress!, n.count) == 0
        }
    }
}

/// Counters of a consumer, for /metrics.
public struct KafkaConsumerStats: Sendable, Equatable {
    /// Messages handed to drain closures.
    public var messages: UInt64 = 0
    /// Their value bytes.
    public var valueBytes: UInt64 = 0
    /// Errors reported (error messages, error callback, failed commits).
    public var errors: UInt64 = 0
    /// `drain` calls that returned a full batch (a sign the consumer is behind).
    public var fullBatches: UInt64 = 0
}

/// A Kafka consumer joined to one event loop (or driven by explicit `drain` calls). Not thread-safe.
public final class KafkaConsumer {
    /// Consumer-level errors (from librdkafka's error callback, failed commits, error messages), after a drain.
    public var onError: ((KafkaError) -> Void)?
    /// Counters since creation.
    public private(set) var stats = KafkaConsumerStats()

    let client: RDKafkaClient
    private let configuration: KafkaConsumerConfiguration
    private let logger: Logger
    /// Set while driven by an event loop (KafkaEventLoopGlue.swift).
    var attachment: RDKafkaLoopAttachment?
    /// Reused batch buffer, so draining allocates nothing (`maxMessagesPerDrain` message pointers).
    private let batch: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>

    /// Creates the consumer; nothing is assigned or subscribed yet. Never blocks.
    /// - Throws: `KafkaError` `.invalidConfiguration` for bad properties.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws(KafkaError) {
        precondition(configuration.maxMessagesPerDrain > 0, "maxMessagesPerDrain must be positive")
        self.configuration = configuration
        self.logger = logger
        self.client = try RDKafkaClient.make(kind: .consumer, properties: configuration.librdkafkaProperties,
                                             logger: logger) { conf in
            rd_kafka_conf_set_error_cb(conf, rdkafkaConsumerErrorCallback)
            rd_kafka_conf_set_offset_commit_cb(conf, rdkafkaOffsetCommitCallback)
        }
        batch = .allocate(capacity: configuration.maxMessagesPerDrain)
    }

    deinit {
        attachment?.cancel()
        batch.deallocate()
    }

    /// The fd the event loop watches for readability; `drain` when it fires.
    public var wakeupDescriptor: CInt { client.wakeupFD }

    /// Number of partitions of `topic`, from a metadata request. Blocks up to `timeoutMilliseconds`: call at
    /// startup, not on a live loop.
    /// - Throws: `KafkaError` (`.timedOut`, `.unknownTopicOrPartition`, transport errors).
    public func partitionCount(topic: String, timeoutMilliseconds: Int32 = 5000) throws(KafkaError) -> Int {
        guard let rkt = rd_kafka_topic_new(client.handle, topic, nil) else { throw RDKafkaClient.lastError() }
        defer { rd_kafka_topic_destroy(rkt) }
        var md: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(client.handle, 0, rkt, &md, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else { throw KafkaError(err) }
        defer { rd_kafka_metadata_destroy(md) }
        guard md.pointee.topic_cnt > 0, let t = md.pointee.topics else {
            throw KafkaError(code: .unknownTopicOrPartition, message: topic)
        }
        if t[0].err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(t[0].err) }
        return Int(t[0].partition_cnt)
    }

    /// Assigns partitions of one topic to this consumer, without a group rebalance (a fanout node reads the
    /// partitions holding its users' symbols; all partitions by default, DESIGN.md "Market data path").
    /// - Parameters:
    ///   - partitions: nil = every partition, discovered through metadata (blocking, see `partitionCount`).
    ///   - start: where to begin reading each partition.
    /// - Throws: `KafkaError` from discovery or `rd_kafka_assign`.
    public func assign(topic: String, partitions: [Int32]? = nil, start: KafkaStartOffset = .beginning,
                       metadataTimeoutMilliseconds: Int32 = 5000) throws(KafkaError) {
        let list: [Int32]
        if let partitions {
            list = partitions
        } else {
            list = (0..<Int32(try partitionCount(topic: topic, timeoutMilliseconds: metadataTimeoutMilliseconds)))
                .map { $0 }
        }
        try assign(list.map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: start.raw) })
    }

    /// Replaces the assignment with exactly these partitions, each starting at its `offset`
    /// (`KafkaStartOffset.raw` values such as -2 = beginning are allowed).
    public func assign(_ partitions: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let list = Self.makeList(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(client.handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
        logger.debug("kafka consumer assigned", metadata: ["partitions": "\(partitions.count)"])
    }

    /// Joins the consumer group and lets librdkafka's rebalance protocol assign partitions of `topics`.
    /// Requires `groupID`. Assignment changes are applied by librdkafka during `drain`.
    public func subscribe(topics: [String]) throws(KafkaError) {
        guard configuration.groupID != nil else {
            throw KafkaError(code: .invalidConfiguration, message: "subscribe needs a groupID")
        }
        let list = Self.makeList(topics.map { KafkaTopicPartitionOffset(topic: $0, partition: -1, offset: 0) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_subscribe(client.handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
    }

    /// Hands up to `maxMessagesPerDrain` messages to `body`, one at a time, in partition order, without
    /// copying; error messages go to `onError`. Never blocks. Rebalances, logs and commit results are served
    /// inside this call too (librdkafka invokes their callbacks on this thread).
    /// - Returns: the number of messages given to `body`. If the batch was full, the wake-up fd is re-signalled.
    @discardableResult
    public func drain(_ body: (borrowing KafkaMessage) -> Void) -> Int {
        client.consumeWakeups()
        let max = configuration.maxMessagesPerDrain
        let n = rd_kafka_consume_batch_queue(client.queue, 0, batch, max)
        var delivered = 0
        if n > 0 {
            for i in 0..<n {
                let m = batch[i]!   // librdkafka fills exactly n entries
                if m.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    stats.valueBytes &+= UInt64(m.pointee.len)
                    body(KafkaMessage(raw: m))
                    delivered += 1
                } else if m.pointee.err != RD_KAFKA_RESP_ERR__PARTITION_EOF || onError != nil {
                    client.context.pendingErrors.append(Self.messageError(m))
                }
                rd_kafka_message_destroy(m)
            }
        }
        stats.messages &+= UInt64(delivered)
        if n == max {
            stats.fullBatches &+= 1
            client.signalWakeup()
        }
        deliverPendingErrors()
        return delivered
    }

    private static func messageError(_ m: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaError {
        // For error messages the payload, if any, is the error string (rdkafka.h rd_kafka_message_t).
        guard let p = m.pointee.payload, m.pointee.len > 0 else { return KafkaError(m.pointee.err) }
        let text = String(decoding: UnsafeRawBufferPointer(start: p, count: m.pointee.len), as: UTF8.self)
        return KafkaError(m.pointee.err, message: text)
    }

    private func deliverPendingErrors() {
        guard !client.context.pendingErrors.isEmpty else { return }
        let errors = client.context.pendingErrors
        client.context.pendingErrors.removeAll(keepingCapacity: true)
        stats.errors &+= UInt64(errors.count)
        for e in errors {
            logger.warning("kafka consumer error", metadata: ["error": "\(e)"])
            onError?(e)
        }
    }

    /// Marks `message` as processed: its offset + 1 will be committed by the next `commit()` (or auto-commit).
    /// Call from inside the drain closure.
    /// - Throws: `KafkaError` if the partition is no longer assigned.
    public func storeOffset(_ message: borrowing KafkaMessage) throws(KafkaError) {
        // rdkafka.h: rd_kafka_offset_store stores offset + 1.
        let err = rd_kafka_offset_store(message.raw.pointee.rkt, message.partition, message.offset)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
    }

    /// Stores explicit next-to-read offsets (stored as given, not + 1).
    public func storeOffsets(_ offsets: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let list = Self.makeList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_store(client.handle, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
    }

    /// Commits offsets without blocking: the stored ones when `offsets` is nil, else exactly `offsets`
    /// (next offset to read). A failure is reported to `onError` during a later `drain`.
    /// - Throws: `KafkaError` if the request could not be queued (`.noOffset` when nothing is stored).
    public func commit(_ offsets: [KafkaTopicPartitionOffset]? = nil) throws(KafkaError) {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        if let offsets { list = Self.makeList(offsets) }
        defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
        let err = rd_kafka_commit(client.handle, list, 1)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
    }

    /// The group's committed offsets for these partitions. Blocks up to `timeoutMilliseconds` (cold path).
    public func committedOffsets(topic: String, partitions: [Int32],
                                 timeoutMilliseconds: Int32 = 5000) throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        let list = Self.makeList(partitions.map { KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: 0) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_committed(client.handle, list, timeoutMilliseconds)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
        return Self.readList(list)
    }

    /// Waits up to `timeoutMilliseconds` for the wake-up fd, for callers without an event loop (tests, tools).
    public func waitForMessages(timeoutMilliseconds: Int32) { client.waitForWakeup(timeoutMs: timeoutMilliseconds) }

    static func makeList(
        _ items: [KafkaTopicPartitionOffset]
    ) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(items.count))!   // only fails on OOM
        for item in items {
            let e = rd_kafka_topic_partition_list_add(list, item.topic, item.partition)!   // grows as needed
            e.pointee.offset = item.offset
        }
        return list
    }

    static func readList(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [KafkaTopicPartitionOffset] {
        (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return KafkaTopicPartitionOffset(topic: String(cString: e.topic), partition: e.partition, offset: e.offset)
        }
    }
}

/// librdkafka's error callback. Runs on the thread serving the consumer queue, i.e. inside `drain`, on the loop
/// thread; it only records the error (callbacks never re-enter our state).
private let rdkafkaConsumerErrorCallback:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    _, err, reason, opaque in
    guard let opaque else { return }
    // Unretained: the context outlives the handle (RDKafkaClient.deinit).
    let context = Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    context.pendingErrors.append(KafkaError(rd_kafka_resp_err_t(rawValue: err),
                                            message: reason.map { String(cString: $0) }))
}

/// Offset-commit result callback; inside `drain` on the loop thread. Records failures only.
private let rdkafkaOffsetCommitCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t,
                                                         UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
                                                         UnsafeMutableRawPointer?) -> Void = { _, err, _, opaque in
    guard let opaque, err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
    let context = Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    context.pendingErrors.append(KafkaError(err))
}
