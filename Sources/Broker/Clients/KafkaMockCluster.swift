// KafkaMockCluster: librdkafka's built-in mock Kafka cluster (rdkafka_mock.h), in-process, for tests and the
// `KafkaMock` helper program. It speaks the real Kafka protocol on loopback ports, so producers and consumers
// use their normal code paths against it.
//
// Owns: one dummy `rd_kafka_t` (the mock needs a client instance for config and logging) and the mock cluster
// itself, which runs on its own librdkafka thread (test infrastructure, not part of the loop-driven clients).
// Fault injection is limited to what librdkafka 2.0.2's rdkafka_mock.h offers.
internal import CRdKafka
import Logging

/// An in-process mock Kafka cluster.
public final class KafkaMockCluster {
    /// Comma-separated `host:port` list to use as `bootstrap.servers`.
    public let bootstrapServers: String
    /// Number of brokers; broker ids are 1...brokerCount.
    public let brokerCount: Int

    private let rk: OpaquePointer
    private let cluster: OpaquePointer
    private let context: RDKafkaCallbackContext

    /// Starts a mock cluster with `brokers` brokers on ephemeral loopback ports.
    /// - Throws: `KafkaError` if librdkafka cannot create it.
    public init(brokers: Int = 3, logger: Logger) throws(KafkaError) {
        precondition(brokers >= 1, "a cluster needs a broker")
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(code: .invalidConfiguration, message: "conf") }
        let context = RDKafkaCallbackContext(logger: logger)
        // Unretained: `context` is a stored property, released after rd_kafka_destroy in deinit.
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        // Without log.queue this runs on librdkafka's threads; Logger is thread-safe.
        rd_kafka_conf_set_log_cb(conf, mockLogCallback)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidConfiguration, message: RDKafkaClient.cString(errstr))
        }
        guard let cluster = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            throw KafkaError(code: .invalidConfiguration, message: "rd_kafka_mock_cluster_new failed")
        }
        self.rk = rk
        self.cluster = cluster
        self.context = context
        self.brokerCount = brokers
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(rk)
        withExtendedLifetime(context) {}
    }

    /// Creates `name` with `partitions` partitions (leaders spread over the brokers).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try check(rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor)))
    }

    /// Disconnects broker `id` and refuses new connections (leadership does not move: clients must wait).
    public func setBrokerDown(_ id: Int32) throws(KafkaError) { try check(rd_kafka_mock_broker_set_down(cluster, id)) }

    /// Lets broker `id` accept connections again.
    public func setBrokerUp(_ id: Int32) throws(KafkaError) { try check(rd_kafka_mock_broker_set_up(cluster, id)) }

    /// Adds `milliseconds` of round-trip latency to broker `id`.
    public func setBrokerRTT(_ id: Int32, milliseconds: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_rtt(cluster, id, milliseconds))
    }

    /// Moves the leader of `topic`/`partition` to broker `id` (-1 = no leader).
    public func setPartitionLeader(topic: String, partition: Int32, broker id: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_partition_set_leader(cluster, topic, partition, id))
    }

    /// Kafka protocol ApiKey of ProduceRequest, for `pushRequestErrors`.
    public static let produceRequest: Int16 = 0
    /// Kafka protocol ApiKey of FetchRequest.
    public static let fetchRequest: Int16 = 1

    /// Makes the next `codes.count` requests of type `apiKey` (any broker) fail with these codes, in order.
    /// `RD_KAFKA_RESP_ERR__TRANSPORT` (raw value -195) makes the broker drop the connection instead.
    public func pushRequestErrors(apiKey: Int16, _ codes: [KafkaError.Code]) {
        let errs = codes.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        errs.withUnsafeBufferPointer {
            rd_kafka_mock_push_request_errors_array(cluster, apiKey, $0.count, $0.baseAddress)
        }
    }

    private func check(_ err: rd_kafka_resp_err_t) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err) }
    }
}

/// Called on librdkafka's internal threads (the mock has no queue we serve).
private let mockLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?,
                                             UnsafePointer<CChar>?) -> Void = { rk, level, fac, buf in
    guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
    // Unretained: the context outlives the handle (KafkaMockCluster.deinit).
    let context = Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    context.log(level: level, facility: fac.map { String(cString: $0) } ?? "",
                message: buf.map { String(cString: $0) } ?? "")
}
