// KafkaQuoteFeed: a fanout node's feed from Kafka `market.quotes` (key = symbol name, value = the
// 72-byte binary quote of Quote.swift). The consumer is joined to the feed loop through its
// wake-up fd; each message is decoded in place (no copy), encoded once, and the iteration's
// quotes reach every shard as one batch.
//
// Start position: from the beginning of each assigned partition, so the last-value cache is full
// before clients ask for snapshots. Run `market.quotes` with `cleanup.policy=compact` so that
// replay is one message per symbol, not the day's history.
public import Wire
public import Logging

/// Attaches a Kafka consumer to a fanout node.
public enum KafkaQuoteFeed {
    /// Consumer settings from the config file.
    public static func configuration(_ config: ConfigFile) -> KafkaConsumerConfiguration {
        let group = config.string("fanout.consumer_group")
        return KafkaConsumerConfiguration(bootstrapServers: config.string("kafka.brokers"),
                                          groupID: group.isEmpty ? nil : group, autoOffsetReset: "earliest")
    }

    /// Starts consuming on the node's feed loop.
    /// - Throws: `KafkaError` when the consumer cannot be created or partitions cannot be assigned.
    @discardableResult
    public static func attach(node: FanoutNode, config: ConfigFile, logger: Logger) throws -> KafkaConsumer {
        let topic = config.string("kafka.quotes_topic")
        let partitions = config.ints("fanout.partitions").map { Int32($0) }
        let conf = configuration(config)
        return try attach(node: node, configuration: conf, topic: topic,
                          partitions: partitions.isEmpty ? nil : partitions, logger: logger)
    }

    /// Starts consuming `topic` (the listed partitions, or all; or the group's share when the
    /// configuration names a group).
    public static func attach(node: FanoutNode, configuration conf: KafkaConsumerConfiguration, topic: String,
                              partitions: [Int32]?, logger: Logger) throws -> KafkaConsumer {
        let n = node
        return try node.feedLoop.submitAndWait { () throws -> KafkaConsumer in
            let consumer = try KafkaConsumer(configuration: conf, logger: logger)
            if conf.groupID != nil && partitions == nil {
                try consumer.subscribe(topics: [topic])
            } else {
                try consumer.assign(topic: topic, partitions: partitions, start: .beginning)
            }
            let sink = n.makeSink()
            let symbols = n.symbols
            var rejected = 0
            try consumer.attach(to: n.feedLoop) { (m: borrowing KafkaMessage) in
                guard let id = symbols.id(bytes: m.key), let q = try? Quote(binary: m.value, symbolId: id) else {
                    rejected += 1
                    if rejected == 1 || rejected % 10_000 == 0 {
                        logger.warning("skipping undecodable or unknown-symbol quotes", metadata: ["count": "\(rejected)"])
                    }
                    return
                }
                sink.add(q)
            }
            consumer.onError = { e in logger.warning("kafka consumer", metadata: ["error": "\(e)"]) }
            logger.notice("consuming", metadata: ["topic": "\(topic)", "partitions": "\(partitions.map { "\($0)" } ?? "all")"])
            return consumer
        }
    }
}
