// KafkaError: the one error type of the Kafka clients (producer, consumer, mock cluster).
//
// Owns the mapping from librdkafka's `rd_kafka_resp_err_t` (plus its error string) onto a Swift
// value with an extensible code and an `isRetriable` flag, after swift-kafka-client's `KafkaError`.
// It does not own any handle; the RDKafka* wrappers build it from the C error they just saw.
internal import CRdKafka

/// An error reported by librdkafka, or by our wrappers around it.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The librdkafka error code (`rd_kafka_resp_err_t`): negative values are client-side (`RD_KAFKA_RESP_ERR__*`),
    /// positive values are broker error codes from the Kafka protocol. Extensible: unknown codes keep their number.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int32
        /// Wraps a raw `rd_kafka_resp_err_t` value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// Our wrapper's configuration checks failed (bad property name or value).
        public static let invalidConfiguration = Code(rawValue: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue)
        /// The local producer queue is full (`queue.buffering.max.messages`/`.kbytes`): back off and retry.
        public static let queueFull = Code(rawValue: RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue)
        /// The message was not delivered within `message.timeout.ms`.
        public static let messageTimedOut = Code(rawValue: RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue)
        /// The topic or partition is not known to the cluster.
        public static let unknownTopicOrPartition = Code(rawValue: RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue)
        /// Unknown partition (client side).
        public static let unknownPartition = Code(rawValue: RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION.rawValue)
        /// All brokers are down (informational; librdkafka keeps reconnecting).
        public static let allBrokersDown = Code(rawValue: RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue)
        /// A blocking call (such as metadata discovery) timed out.
        public static let timedOut = Code(rawValue: RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue)
        /// The message is larger than `message.max.bytes`.
        public static let messageTooLarge = Code(rawValue: RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE.rawValue)
        /// The client hit a fatal error (idempotent producer sequence gap, fenced, ...): recreate it.
        public static let fatal = Code(rawValue: RD_KAFKA_RESP_ERR__FATAL.rawValue)
        /// The broker dropped the connection (client side); retried by librdkafka.
        public static let transport = Code(rawValue: RD_KAFKA_RESP_ERR__TRANSPORT.rawValue)
        /// The broker is not the partition leader (leadership moved); retried after a metadata refresh.
        public static let notLeaderForPartition = Code(rawValue: RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue)
        /// The broker timed out the request; retried.
        public static let requestTimedOut = Code(rawValue: RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue)
        /// A partition reached its end (only with `enable.partition.eof=true`).
        public static let partitionEOF = Code(rawValue: RD_KAFKA_RESP_ERR__PARTITION_EOF.rawValue)
        /// Nothing to commit (no offsets stored since the last commit).
        public static let noOffset = Code(rawValue: RD_KAFKA_RESP_ERR__NO_OFFSET.rawValue)

        /// librdkafka's symbolic name, e.g. `_QUEUE_FULL`.
        public var description: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }
    }

    /// What went wrong, as a code that can be matched.
    public let code: Code
    /// Human-readable detail (librdkafka's error string, or ours).
    public let message: String
    /// Whether retrying the same operation later may succeed (queue full, broker transport errors, timeouts).
    public let isRetriable: Bool
    /// Whether the client handle is unusable from now on and must be recreated.
    public let isFatal: Bool

    /// Builds an error from its parts.
    public init(code: Code, message: String, isRetriable: Bool = false, isFatal: Bool = false) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    /// Builds an error from a librdkafka response code, using librdkafka's own string when `message` is nil.
    /// Retriability follows librdkafka's classification of transient errors (`rd_kafka_err_action` is private,
    /// so the transient codes are listed here: transport, timeouts, leadership movement, queue full).
    init(_ err: rd_kafka_resp_err_t, message: String? = nil) {
        let text = message ?? String(cString: rd_kafka_err2str(err))
        let retriable: Bool
        switch err {
        case RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT,
            RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__RESOLVE,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
            retriable = true
        default:
            retriable = false
        }
        self.init(code: Code(rawValue: err.rawValue), message: text, isRetriable: retriable,
                  isFatal: err == RD_KAFKA_RESP_ERR__FATAL)
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
