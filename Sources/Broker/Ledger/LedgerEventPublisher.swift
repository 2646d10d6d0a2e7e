// LedgerEventPublisher: how the gateway hands committed events to the ledger: Kafka `ledger.events` (key = user
// id, idempotent producer) in the distributed roles, an in-process bus in the embedded default.
//
// Owns: the publisher protocol, the Kafka implementation (delivery reports clear the store's outbox, so an event
// is removed only once Kafka has it; a gateway that dies first republishes it at startup and the ledger dedupes by
// event id), and `InProcessLedgerBus`. Leaves event contents to the gateway and applying them to the ledger.
public import Logging
public import Wire

/// Takes events whose state change is committed, in commit order.
public protocol LedgerEventPublisher: AnyObject {
    /// Publishes one event (loop thread). Must not block.
    func publish(_ event: LedgerEvent)
}

/// Publishes to Kafka with an idempotent producer driven by the loop.
public final class KafkaLedgerPublisher: LedgerEventPublisher {
    /// The producer (exposed for stats).
    public let producer: KafkaProducer
    private let topic: KafkaTopic
    private let logger: Logger
    /// Called with event ids Kafka acknowledged (the store's outbox cleanup).
    public var onDelivered: (([String]) -> Void)?
    private var inFlight: [UInt64: String] = [:]
    private var nextToken: UInt64 = 1
    private var retry: [LedgerEvent] = []
    private var acked: [String] = []
    /// Events Kafka refused permanently (logged; they stay in the outbox for the next start).
    public private(set) var failed: UInt64 = 0
    private let loop: EventLoop

    /// Creates the producer and attaches it to `loop` (call on the loop's thread).
    /// - Throws: `KafkaError` or `IOError` when the producer cannot be created or attached.
    public init(brokers: String, topic: String, lingerMs: Int = 1, loop: EventLoop, logger: Logger) throws {
        // Idempotent: retries inside librdkafka never duplicate or reorder a user's events (DESIGN.md).
        let p = try KafkaProducer(configuration: KafkaProducerConfiguration(
            bootstrapServers: brokers, properties: ["acks": "all"], idempotent: true,
            lingerMilliseconds: lingerMs, maxEventsPerDrain: 1_024), logger: logger)
        self.producer = p
        self.topic = try p.topic(topic)
        self.logger = logger
        self.loop = loop
        p.onDelivery = { [unowned self] report in self.delivered(report) }
        try p.attach(to: loop)
    }

    public func publish(_ event: LedgerEvent) {
        var buf = ByteBuffer(capacity: 256)
        LedgerEventCodec.write(event, into: &buf)
        let token = nextToken
        nextToken &+= 1
        var key = event.userId
        let result: Result<KafkaProduceResult, KafkaError> = key.withUTF8 { k in
            buf.withUnsafeReadableBytes { v in
                do throws(KafkaError) {
                    return .success(try producer.produce(to: topic, key: UnsafeRawBufferPointer(k), value: v, token: token))
                } catch { return .failure(error) }
            }
        }
        switch result {
        case .success(.queued): inFlight[token] = event.eventId
        case .success(.queueFull):
            // Keep order: everything after a full queue waits behind it.
            retry.append(event)
            loop.schedule(afterNanos: 1_000_000) { [weak self] in self?.retryQueued() }
        case .failure(let e):
            failed &+= 1
            logger.error("ledger event not produced", metadata: ["event": "\(event.eventId)", "error": "\(e)"])
        }
    }

    private func retryQueued() {
        let pending = retry
        retry.removeAll()
        for e in pending { publish(e) }
    }

    private func delivered(_ r: KafkaDeliveryReport) {
        guard let id = inFlight.removeValue(forKey: r.token) else { return }
        if let e = r.error {
            failed &+= 1
            logger.error("ledger event delivery failed", metadata: ["event": "\(id)", "error": "\(e)"])
            return
        }
        acked.append(id)
        if acked.count == 1 {
            loop.schedule(afterNanos: 0) { [weak self] in
                guard let self, !self.acked.isEmpty else { return }
                let ids = self.acked
                self.acked.removeAll(keepingCapacity: true)
                self.onDelivered?(ids)
            }
        }
    }
}

/// The embedded default's stand-in for Kafka: subscribers get each event synchronously, in order, on the
/// gateway's loop.
public final class InProcessLedgerBus: LedgerEventPublisher {
    private var subscribers: [(LedgerEvent) -> Void] = []
    /// Events published so far.
    public private(set) var published: UInt64 = 0

    /// Creates an empty bus.
    public init() {}

    /// Adds a subscriber (loop thread).
    public func subscribe(_ body: @escaping (LedgerEvent) -> Void) { subscribers.append(body) }

    public func publish(_ event: LedgerEvent) {
        published &+= 1
        for s in subscribers { s(event) }
    }
}
