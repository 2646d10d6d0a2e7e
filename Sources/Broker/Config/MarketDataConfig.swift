// MarketDataConfig: the config keys of the market-data roles (exchange simulator, ingestor, demo)
// and their typed, cross-checked settings. BrokerConfig.schema includes `MarketDataConfig.keys`.
//
// FIX endpoints here are the minimum the two market-data roles need (address and CompIDs); the
// session knobs keep FIXSessionSettings' defaults (QuickFIX's). When the FIX branch's
// `FIXSessionSettings.configKeys(prefix:)` lands on main these tables can switch to it.
public import Wire
public import FIX

/// Keys of `[exchange]`, `[ingest]` and `[demo]`.
public enum MarketDataConfig {
    /// Every key of the market-data roles.
    public static let keys: [ConfigKey] = [
        // Exchange simulator.
        .string("exchange.listen", default: "127.0.0.1:9878", doc: "HOST:PORT of the simulator's FIX acceptor."),
        .string("exchange.sender_comp_id", default: "EXCHANGE", doc: "SenderCompID(49) of the simulator."),
        .strings("exchange.target_comp_ids", default: ["INGEST", "GATEWAY"],
                 doc: "CompIDs of the peers: one FIX session each, routed by the CompIDs of their Logon."),
        .integer("exchange.rate", default: 100_000, bounds: 0...10_000_000,
                 doc: "Market-data updates generated per second over all symbols (0 = quiet; trades still move prices)."),
        .integer("exchange.updates_per_message", default: 32, bounds: 1...1_000,
                 doc: "Updates batched into one 35=X (3 entries each): fewer, larger messages cost less per update."),
        .integer("exchange.tick_us", default: 1_000, bounds: 100...1_000_000,
                 doc: "Generation tick: each tick generates what the rate owes since the last one."),
        .integer("exchange.seed", default: 0x5EED, bounds: 1...Int.max, doc: "Random-walk seed (deterministic prices)."),
        .integer("exchange.tick_size", default: 100, bounds: 1...1_000_000,
                 doc: "Price increment in 1e-4 units (100 = 0.01); orders off tick are rejected."),
        .integer("exchange.liquidity_levels", default: 5, bounds: 1...50,
                 doc: "Price levels per side the simulated market maker posts around the current price."),
        .integer("exchange.liquidity_size", default: 1_000, bounds: 1...100_000_000,
                 doc: "Shares the market maker posts per level."),
        .integer("exchange.heartbeat_interval", default: 30, bounds: 1...3600, doc: "FIX HeartBtInt(108) in seconds."),
        // Ingestor.
        .string("ingest.exchange", default: "127.0.0.1:9878", doc: "HOST:PORT of the exchange's FIX acceptor."),
        .string("ingest.sender_comp_id", default: "INGEST", doc: "SenderCompID(49) of the ingestor."),
        .string("ingest.target_comp_id", default: "EXCHANGE", doc: "TargetCompID(56): the exchange."),
        .strings("ingest.symbols", default: [],
                 doc: "Symbols to subscribe to (MarketDataRequest 35=V); empty = all (Symbol '*')."),
        .bool("ingest.redis", default: true, doc: "Write the latest quote per symbol to Redis (redis.address)."),
        .bool("ingest.kafka", default: true, doc: "Produce quotes to Kafka (kafka.brokers, kafka.quotes_topic)."),
        .integer("ingest.redis_flush_ms", default: 20, bounds: 1...10_000,
                 doc: "Redis writes are coalesced per symbol and sent (pipelined) this often: only the latest matters."),
        .integer("ingest.kafka_queue_messages", default: 200_000, bounds: 1_000...10_000_000,
                 doc: "librdkafka's local queue bound; past it the latest quote per symbol is kept and sent on recovery."),
        .integer("ingest.stats_interval_s", default: 10, bounds: 0...3600,
                 doc: "Log rates and ingest latency p50/p99 this often (0 = never)."),
        // Demo.
        .string("demo.listen", default: "127.0.0.1:8080", doc: "HOST:PORT of the demo's WebSocket/HTTP endpoints."),
        .integer("demo.rate", default: 5_000, bounds: 0...1_000_000,
                 doc: "Simulated market-data updates per second in `broker demo`."),
    ]

    /// Table docs for `print-config`.
    public static let tableDocs: [String: String] = [
        "exchange": "Exchange simulator: FIX market data (35=V/W/X) and order matching (35=D/F/G -> 8/9).",
        "ingest": "Ingestor: FIX market data -> Redis (latest quote) + Kafka (market.quotes).",
        "demo": "`broker demo`: exchange + ingest + fanout in one process on embedded defaults.",
    ]
}

/// Settings of the exchange simulator.
public struct ExchangeSettings: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port (0 = ephemeral).
    public var port = 9878
    /// Our SenderCompID.
    public var senderCompID = "EXCHANGE"
    /// Peers, one session each.
    public var targetCompIDs = ["INGEST", "GATEWAY"]
    /// Updates per second over all symbols.
    public var rate = 100_000
    /// Updates per 35=X message.
    public var updatesPerMessage = 32
    /// Generation tick in nanoseconds.
    public var tickNanos: UInt64 = 1_000_000
    /// Random-walk seed.
    public var seed: UInt64 = 0x5EED
    /// Tick size in 1e-4 units.
    public var tickSize: Int64 = 100
    /// Market-maker levels per side.
    public var liquidityLevels = 5
    /// Market-maker shares per level.
    public var liquiditySize: Int64 = 1_000
    /// HeartBtInt.
    public var heartbeatInterval = 30

    /// Defaults (tests).
    public init() {}

    /// Reads `exchange.*`.
    /// - Throws: `ConfigError` for a malformed address.
    public init(_ c: ConfigFile) throws(ConfigError) {
        (host, port) = try parseHostPort(c.string("exchange.listen"), key: "exchange.listen")
        senderCompID = c.string("exchange.sender_comp_id")
        targetCompIDs = c.strings("exchange.target_comp_ids")
        rate = c.int("exchange.rate")
        updatesPerMessage = c.int("exchange.updates_per_message")
        tickNanos = UInt64(c.int("exchange.tick_us")) * 1_000
        seed = UInt64(c.int("exchange.seed"))
        tickSize = Int64(c.int("exchange.tick_size"))
        liquidityLevels = c.int("exchange.liquidity_levels")
        liquiditySize = Int64(c.int("exchange.liquidity_size"))
        heartbeatInterval = c.int("exchange.heartbeat_interval")
        guard !targetCompIDs.isEmpty else {
            throw ConfigError(.invalidValue, origin: "exchange.target_comp_ids", "needs at least one CompID")
        }
    }

    /// One acceptor session per peer.
    public func sessions() -> [FIXSessionSettings] {
        targetCompIDs.map { peer in
            var s = FIXSessionSettings(role: .acceptor, senderCompID: senderCompID, targetCompID: peer)
            s.heartbeatInterval = heartbeatInterval
            s.port = port
            // A restarted peer starts over; market data is never worth resending (FIX 4.4 Vol. 2: GapFill).
            s.resetOnLogon = true
            s.resetOnDisconnect = true
            return s
        }
    }
}

/// Settings of the ingestor.
public struct IngestSettings: Sendable {
    /// Exchange host.
    public var exchangeHost = "127.0.0.1"
    /// Exchange port.
    public var exchangePort = 9878
    /// Our SenderCompID.
    public var senderCompID = "INGEST"
    /// The exchange's CompID.
    public var targetCompID = "EXCHANGE"
    /// Symbols to subscribe to; empty = all.
    public var symbols: [String] = []
    /// Redis flush interval in nanoseconds.
    public var redisFlushNanos: UInt64 = 20_000_000
    /// Stats log interval in seconds (0 = never).
    public var statsIntervalSeconds = 10
    /// librdkafka queue bound in messages.
    public var kafkaQueueMessages = 200_000
    /// FIX HeartBtInt proposed.
    public var heartbeatInterval = 30

    /// Defaults (tests).
    public init() {}

    /// Reads `ingest.*`.
    /// - Throws: `ConfigError` for a malformed address.
    public init(_ c: ConfigFile) throws(ConfigError) {
        (exchangeHost, exchangePort) = try parseHostPort(c.string("ingest.exchange"), key: "ingest.exchange")
        senderCompID = c.string("ingest.sender_comp_id")
        targetCompID = c.string("ingest.target_comp_id")
        symbols = c.strings("ingest.symbols")
        redisFlushNanos = UInt64(c.int("ingest.redis_flush_ms")) * 1_000_000
        statsIntervalSeconds = c.int("ingest.stats_interval_s")
        kafkaQueueMessages = c.int("ingest.kafka_queue_messages")
        heartbeatInterval = c.int("exchange.heartbeat_interval")
    }

    /// The initiator session.
    public func session() -> FIXSessionSettings {
        var s = FIXSessionSettings(role: .initiator, senderCompID: senderCompID, targetCompID: targetCompID)
        s.host = exchangeHost
        s.port = exchangePort
        s.heartbeatInterval = heartbeatInterval
        s.resetOnLogon = true
        s.resetOnDisconnect = true
        s.reconnectInterval = 1
        s.maxReconnectInterval = 8
        return s
    }
}
