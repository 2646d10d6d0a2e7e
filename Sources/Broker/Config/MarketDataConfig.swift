// MarketDataConfig: the config keys of the market-data roles (exchange simulator, ingestor, demo)
// and their typed, cross-checked settings. BrokerConfig.schema includes `MarketDataConfig.keys`.
//
// FIX endpoints use the FIX module's keys (`FIXSessionSettings.configKeys`) under `exchange.acceptor`
// (the simulator's acceptor: one session per `target_comp_ids` entry) and `ingest.fix` (initiator).
// Not `exchange.fix`: its environment variables (BROKER_EXCHANGE_FIX_*) would collide with the
// gateway's initiator keys `exchange_fix.*` (OrdersConfig.swift).
public import Wire
public import FIX

/// Keys of `[exchange]`, `[ingest]` and `[demo]`.
public enum MarketDataConfig {
    /// Every key of the market-data roles.
    public static let keys: [ConfigKey] = FIXSessionSettings.configKeys(
        prefix: "exchange.acceptor", senderCompID: "EXCHANGE", targetCompIDs: ["INGEST", "GATEWAY"], port: 9878)
        + FIXSessionSettings.configKeys(prefix: "ingest.fix", senderCompID: "INGEST", targetCompIDs: ["EXCHANGE"],
                                        port: 9878) + [
        // Exchange simulator.
        .integer("exchange.rate", default: 100_000, bounds: 0...10_000_000,
                 doc: "Market-data updates generated per second over all symbols (0 = quiet; trades still move\n"
                    + "prices)."),
        .integer("exchange.updates_per_message", default: 32, bounds: 1...1_000,
                 doc: "Updates batched into one 35=X (3 entries each): fewer, larger messages cost less per update."),
        .integer("exchange.tick_us", default: 1_000, bounds: 100...1_000_000,
                 doc: "Generation tick: each tick generates what the rate owes since the last one."),
        .integer("exchange.seed", default: 0x5EED, bounds: 1...Int.max,
                 doc: "Random-walk seed (deterministic prices)."),
        .integer("exchange.tick_size", default: 100, bounds: 1...1_000_000,
                 doc: "Price increment in 1e-4 units (100 = 0.01); orders off tick are rejected."),
        .integer("exchange.liquidity_levels", default: 5, bounds: 1...50,
                 doc: "Price levels per side the simulated market maker posts around the current price."),
        .string("exchange.metrics_listen", default: "",
                doc: "HOST:PORT serving /health and /metrics (market-data and order counters); empty = off."),
        .integer("exchange.liquidity_size", default: 1_000, bounds: 1...100_000_000,
                 doc: "Shares the market maker posts per level."),
        .string("exchange.order_store_dir", default: "data/fix",
                doc: "Directory (created if missing; relative to the working directory) of the durable FIX store of\n"
                   + "the order peers' sessions: execution reports sent while a gateway is away, or before the\n"
                   + "simulator restarted, are resent when it asks. Empty: in memory. exchange.acceptor.store_directory,\n"
                   + "when set, puts every session on disk instead."),
        .strings("exchange.order_peers", default: ["GATEWAY"],
                 doc: "Peer CompIDs whose sessions carry orders (stored on disk, never trimmed); the others get\n"
                    + "market data only, which is not worth storing."),
        // Ingestor.
        .strings("ingest.symbols", default: [],
                 doc: "Symbols to subscribe to (MarketDataRequest 35=V); empty = all (Symbol '*')."),
        .bool("ingest.redis", default: true, doc: "Write the latest quote per symbol to Redis (redis.address)."),
        .bool("ingest.kafka", default: true, doc: "Produce quotes to Kafka (kafka.brokers, kafka.quotes_topic)."),
        .integer("ingest.redis_flush_ms", default: 20, bounds: 1...10_000,
                 doc: "Redis writes are coalesced per symbol and sent (pipelined) this often: only the latest\n"
                    + "matters."),
        .integer("ingest.kafka_queue_messages", default: 200_000, bounds: 1_000...10_000_000,
                 doc: "librdkafka's local queue bound; past it the latest quote per symbol is kept and sent on\n"
                    + "recovery."),
        .string("ingest.metrics_listen", default: "",
                doc: "HOST:PORT serving /health (503 while the exchange session is down) and /metrics (rates,\n"
                   + "latency p50/p99, Redis/Kafka health); empty = off."),
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
        "exchange.acceptor": "The simulator's FIX acceptor: one session per peer CompID (INGEST, GATEWAY).",
        "ingest": "Ingestor: FIX market data -> Redis (latest quote) + Kafka (market.quotes).",
        "ingest.fix": "The ingestor's FIX initiator to the exchange (sequence numbers reset on every logon).",
        "demo": "`broker demo`: exchange + ingest + fanout in one process on embedded defaults.",
    ]
}

/// Settings of the exchange simulator.
public struct ExchangeSettings: Sendable {
    /// The acceptor's sessions, one per peer (all on `host`:`port`).
    public var fixSessions: [FIXSessionSettings]
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
    /// Directory of the order peers' durable FIX store; empty keeps it in memory (the tests' default).
    public var orderStoreDirectory = ""
    /// Peers whose sessions carry orders.
    public var orderPeers = ["GATEWAY"]

    /// Defaults (tests): EXCHANGE serving INGEST and GATEWAY on 127.0.0.1:9878.
    public init() {
        fixSessions = ["INGEST", "GATEWAY"].map { peer in
            var s = FIXSessionSettings(role: .acceptor, senderCompID: "EXCHANGE", targetCompID: peer)
            s.port = 9878
            return s
        }
    }

    /// Reads `exchange.*` and `exchange.acceptor.*`.
    /// - Throws: `ConfigError` naming the key.
    public init(_ c: ConfigFile) throws(ConfigError) {
        do throws(FIXSettingsError) {
            fixSessions = try FIXSessionSettings.sessions(from: c, prefix: "exchange.acceptor", role: .acceptor)
        } catch {
            throw ConfigError(.invalidValue, origin: error.key, error.reason)
        }
        rate = c.int("exchange.rate")
        updatesPerMessage = c.int("exchange.updates_per_message")
        tickNanos = UInt64(c.int("exchange.tick_us")) * 1_000
        seed = UInt64(c.int("exchange.seed"))
        tickSize = Int64(c.int("exchange.tick_size"))
        liquidityLevels = c.int("exchange.liquidity_levels")
        liquiditySize = Int64(c.int("exchange.liquidity_size"))
        orderStoreDirectory = c.string("exchange.order_store_dir")
        orderPeers = c.strings("exchange.order_peers")
        if !orderStoreDirectory.isEmpty && c.bool("exchange.acceptor.reset_on_logon") {
            // Resetting on every logon empties the store the resends come from.
            throw ConfigError(.invalidValue, origin: "exchange.acceptor.reset_on_logon",
                              "must be false while exchange.order_store_dir keeps reports for resend")
        }
    }

    /// Address the acceptor binds.
    public var host: String {
        get { fixSessions.first?.host ?? "127.0.0.1" }
        set { for i in fixSessions.indices { fixSessions[i].host = newValue } }
    }
    /// Port the acceptor binds (0 = ephemeral).
    public var port: Int {
        get { fixSessions.first?.port ?? 0 }
        set { for i in fixSessions.indices { fixSessions[i].port = newValue } }
    }
    /// Our SenderCompID.
    public var senderCompID: String { fixSessions.first?.senderCompID ?? "" }
    /// The peers' CompIDs.
    public var targetCompIDs: [String] { fixSessions.map(\.targetCompID) }

    /// Adds a session for `peer` (same settings as the first) unless there is one.
    public mutating func addPeer(_ peer: String) {
        guard !targetCompIDs.contains(peer), var s = fixSessions.first else { return }
        s.targetCompID = peer
        fixSessions.append(s)
    }

    /// The acceptor's sessions: order peers' on disk under `orderStoreDirectory` (unless a store is set already).
    /// Sequence numbers then carry on across reconnects and restarts: the peer resets them only by asking
    /// (ResetSeqNumFlag, as a gateway without a store of its own does).
    public func sessions() -> [FIXSessionSettings] {
        fixSessions.map { s in
            var s = s
            if s.storeDirectory == nil && !orderStoreDirectory.isEmpty && orderPeers.contains(s.targetCompID) {
                s.storeDirectory = orderStoreDirectory
            }
            return s
        }
    }
}

/// Settings of the ingestor.
public struct IngestSettings: Sendable {
    /// The initiator session to the exchange.
    public var fixSession: FIXSessionSettings
    /// Symbols to subscribe to; empty = all.
    public var symbols: [String] = []
    /// Redis flush interval in nanoseconds.
    public var redisFlushNanos: UInt64 = 20_000_000
    /// Stats log interval in seconds (0 = never).
    public var statsIntervalSeconds = 10
    /// librdkafka queue bound in messages.
    public var kafkaQueueMessages = 200_000

    /// Defaults (tests): INGEST -> EXCHANGE at 127.0.0.1:9878.
    public init() {
        fixSession = FIXSessionSettings(role: .initiator, senderCompID: "INGEST", targetCompID: "EXCHANGE")
        fixSession.port = 9878
        fixSession.maxReconnectInterval = 8
    }

    /// Reads `ingest.*` and `ingest.fix.*`.
    /// - Throws: `ConfigError` naming the key.
    public init(_ c: ConfigFile) throws(ConfigError) {
        do throws(FIXSettingsError) {
            fixSession = try FIXSessionSettings.sessions(from: c, prefix: "ingest.fix", role: .initiator)[0]
        } catch {
            throw ConfigError(.invalidValue, origin: error.key, error.reason)
        }
        symbols = c.strings("ingest.symbols")
        redisFlushNanos = UInt64(c.int("ingest.redis_flush_ms")) * 1_000_000
        statsIntervalSeconds = c.int("ingest.stats_interval_s")
        kafkaQueueMessages = c.int("ingest.kafka_queue_messages")
    }

    /// Exchange host.
    public var exchangeHost: String {
        get { fixSession.host }
        set { fixSession.host = newValue }
    }
    /// Exchange port.
    public var exchangePort: Int {
        get { fixSession.port }
        set { fixSession.port = newValue }
    }
    /// Our SenderCompID.
    public var senderCompID: String { fixSession.senderCompID }
    /// The exchange's CompID.
    public var targetCompID: String {
        get { fixSession.targetCompID }
        set { fixSession.targetCompID = newValue }
    }

    /// The initiator session. Sequence numbers restart on every logon (ResetSeqNumFlag): a gap in
    /// market data is never worth a resend of stale quotes (FIX 4.4 Vol. 2), so a reconnect
    /// subscribes afresh and gets snapshots instead.
    public func session() -> FIXSessionSettings {
        var s = fixSession
        s.resetOnLogon = true
        return s
    }
}
