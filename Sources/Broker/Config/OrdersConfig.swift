// OrdersConfig: config keys of the gateway and ledger roles, and their typed, validated settings.
//
// Owns: `gateway.*`, `risk.*`, `exchange_fix.*`, `ledger.*` keys (defaults with reasons), and `GatewaySettings` /
// `LedgerSettings` read from a ConfigFile. BrokerConfig.schema includes `OrdersConfig.keys`.
public import Wire

/// Config keys of the order path.
public enum OrdersConfig {
    /// Every key.
    public static let keys: [ConfigKey] = [
        .string("gateway.listen", default: "127.0.0.1:8081", doc: "HOST:PORT for /api/v1, /ws (order events) and /health."),
        .string("gateway.storage", default: "postgres",
                doc: "postgres: PostgreSQL + Kafka ledger.events; journal: local append-only journal + in-process ledger.",
                allowed: ["postgres", "journal"]),
        .string("gateway.journal_path", default: "broker-orders.journal", doc: "Journal file (storage = journal)."),
        .string("gateway.journal_fsync", default: "batch",
                doc: "always: fsync every record; batch: fsync once per loop iteration; none: leave it to the OS.",
                allowed: ["always", "batch", "none"]),
        .string("gateway.token_secret", default: "",
                doc: "HS256 secret for session tokens (>= 32 bytes). Empty: a random secret per start (tokens die with the process)."),
        .integer("gateway.token_lifetime_s", default: 3_600, bounds: 60...604_800, doc: "Session token lifetime."),
        .integer("gateway.password_iterations", default: 100_000, bounds: 1_000...10_000_000,
                 doc: "PBKDF2-HMAC-SHA256 iterations for new password hashes."),
        .integer("gateway.pg_connections", default: 4, bounds: 1...64,
                 doc: "PostgreSQL write connections (each group-commits; a user's writes stay on one)."),
        .string("gateway.quotes", default: "redis",
                doc: "Last prices for price bands, market-order collars and hydration: redis (redis.address, written by ingest) or none.",
                allowed: ["redis", "none"]),
        .integer("gateway.max_orders_listed", default: 200, bounds: 1...10_000, doc: "GET /api/v1/orders returns at most this many."),
        .string("exchange_fix.host", default: "127.0.0.1", doc: "Exchange simulator FIX acceptor host."),
        .integer("exchange_fix.port", default: 9878, bounds: 1...65_535, doc: "Exchange simulator FIX acceptor port."),
        .string("exchange_fix.sender_comp_id", default: "GATEWAY", doc: "Our SenderCompID on the order session."),
        .string("exchange_fix.target_comp_id", default: "EXCHANGE", doc: "The exchange's CompID on the order session."),
        .string("exchange_fix.store_dir", default: "data/fix",
                doc: "Directory (created if missing; relative to the working directory) of the order session's durable FIX store: sequence numbers carry on, so the exchange resends the reports the gateway missed while down (keep the exchange's exchange.order_store_dir on disk too). Empty: in memory with ResetSeqNumFlag on every logon, and those reports are lost."),
        .integer("exchange_fix.heartbeat_s", default: 30, bounds: 1...600, doc: "FIX HeartBtInt of the order session."),
        .integer("risk.max_qty", default: 1_000_000, bounds: 1...1_000_000_000, doc: "Largest order quantity."),
        .integer("risk.tick_size", default: 100, bounds: 1...1_000_000, doc: "Price tick in 1e-4 units (100 = 0.01)."),
        .integer("risk.price_band_bps", default: 1_000, bounds: 1...10_000, doc: "Limit price band around the last price."),
        .integer("risk.market_collar_bps", default: 500, bounds: 0...10_000, doc: "Market buys reserve at last x (1 + collar)."),
        .integer("risk.max_order_value", default: 1_000_000_000, bounds: 1...Int.max / 2,
                 doc: "Largest order value in minor units (default 10,000,000.00)."),
        .integer("risk.rate_burst", default: 20, bounds: 1...1_000_000, doc: "Orders a user may send at once."),
        .integer("risk.rate_per_second", default: 10, bounds: 1...1_000_000, doc: "Sustained orders per second per user."),
        .string("risk.market_open", default: "", doc: "HH:MM local open; empty = always open."),
        .string("risk.market_close", default: "", doc: "HH:MM local close."),
        .string("risk.market_utc_offset", default: "+00:00", doc: "Local time offset of market hours."),
        .string("ledger.consumer_group", default: "broker-ledger", doc: "Kafka group id (offsets live in PostgreSQL, not Kafka)."),
        .integer("ledger.max_batch", default: 1_000, bounds: 1...100_000, doc: "Events applied per PostgreSQL transaction at most."),
    ]
}

/// Typed gateway settings.
public struct GatewaySettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8081
    public var storage = "postgres"
    public var journalPath = "broker-orders.journal"
    public var journalFsync = JournalFsyncPolicy.batch
    public var tokenSecret = ""
    public var tokenLifetimeSeconds: Int64 = 3_600
    public var passwordIterations = 100_000
    public var maxOrdersListed = 200
    public var pgConnections = 4
    public var quotes = "redis"
    public var redisAddress = "127.0.0.1:6379"
    public var fixHost = "127.0.0.1"
    public var fixPort = 9878
    public var senderCompID = "GATEWAY"
    public var targetCompID = "EXCHANGE"
    public var heartbeatSeconds = 30
    /// Empty (in memory) unless read from a config file: tests choose their own directory.
    public var fixStoreDirectory = ""
    public var limits = RiskLimits.default
    public var hours = MarketHours.alwaysOpen
    public var rateBurst: Int64 = 20
    public var ratePerSecond: Int64 = 10
    public var postgresConninfo = ""
    public var kafkaBrokers = ""
    public var ledgerTopic = "ledger.events"

    /// Defaults (tests).
    public init() {}

    /// Reads and validates the keys.
    /// - Throws: `ConfigError` naming the key.
    public init(_ c: ConfigFile) throws(ConfigError) {
        (host, port) = try parseHostPort(c.string("gateway.listen"), key: "gateway.listen")
        storage = c.string("gateway.storage")
        journalPath = c.string("gateway.journal_path")
        journalFsync = JournalFsyncPolicy(rawValue: c.string("gateway.journal_fsync")) ?? .batch
        tokenSecret = c.string("gateway.token_secret")
        if !tokenSecret.isEmpty && tokenSecret.utf8.count < 32 {
            throw ConfigError(.invalidValue, origin: "gateway.token_secret", "must be at least 32 bytes")
        }
        tokenLifetimeSeconds = Int64(c.int("gateway.token_lifetime_s"))
        passwordIterations = c.int("gateway.password_iterations")
        maxOrdersListed = c.int("gateway.max_orders_listed")
        pgConnections = c.int("gateway.pg_connections")
        quotes = c.string("gateway.quotes")
        redisAddress = c.string("redis.address")
        fixHost = c.string("exchange_fix.host")
        fixPort = c.int("exchange_fix.port")
        senderCompID = c.string("exchange_fix.sender_comp_id")
        targetCompID = c.string("exchange_fix.target_comp_id")
        heartbeatSeconds = c.int("exchange_fix.heartbeat_s")
        fixStoreDirectory = c.string("exchange_fix.store_dir")
        do {
            limits = try RiskLimits(maxQty: Int64(c.int("risk.max_qty")), tickSize: Int64(c.int("risk.tick_size")),
                                    priceBandBps: Int64(c.int("risk.price_band_bps")),
                                    marketCollarBps: Int64(c.int("risk.market_collar_bps")),
                                    maxOrderValue: Int64(c.int("risk.max_order_value")))
            let open = c.string("risk.market_open"), close = c.string("risk.market_close")
            if !open.isEmpty || !close.isEmpty {
                hours = try MarketHours(open: open, close: close, utcOffset: c.string("risk.market_utc_offset"))
            }
        } catch {
            throw ConfigError(.invalidValue, origin: "risk.\(error.key)", error.reason)
        }
        rateBurst = Int64(c.int("risk.rate_burst"))
        ratePerSecond = Int64(c.int("risk.rate_per_second"))
        postgresConninfo = c.string("postgres.conninfo")
        kafkaBrokers = c.string("kafka.brokers")
        ledgerTopic = c.string("kafka.ledger_topic")
    }
}
