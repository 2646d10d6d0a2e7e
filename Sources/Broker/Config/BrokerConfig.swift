// BrokerConfig: every key of the platform's one config file, with defaults, bounds and the
// reason for each default. The executable builds one `ConfigSchema` from these; components read
// their typed settings through the small `*Settings` structs below, validated at startup.
public import Wire

/// The config keys of every role.
public enum BrokerConfig {
    /// Keys shared by every role.
    public static let general: [ConfigKey] = [
        .integer("general.loops", default: 0, bounds: 0...255,
                 doc: "Event loops (threads) per process; 0 = one per core."),
        .strings("symbols.files", default: ["Sources/Broker/Resources/nasdaq-listed.csv",
                                              "Sources/Broker/Resources/nse-equity-list.csv"],
                 doc: "Symbol listings (CSV: symbol,name). Relative paths are tried against the working directory and the executable's location. Empty = generated symbols."),
        .integer("symbols.generated", default: 0, bounds: 0...1_000_000,
                 doc: "When > 0, use generated symbols S0000..S{N-1} instead of the files (load tests)."),
    ]

    /// Keys of the fanout role.
    public static let fanout: [ConfigKey] = [
        .string("fanout.listen", default: "127.0.0.1:8080", doc: "HOST:PORT for /ws, /health and /metrics."),
        .bool("fanout.echo", default: false, doc: "Serve the debug echo endpoint /echo (conformance testing)."),
        .string("fanout.feed", default: "kafka", doc: "Where quotes come from.", allowed: ["kafka", "synthetic"]),
        .integer("fanout.synthetic_rate", default: 10_000, bounds: 1...10_000_000,
                 doc: "Synthetic feed: updates per second over all symbols."),
        .integer("fanout.synthetic_symbols", default: 1_000, bounds: 1...1_000_000,
                 doc: "Synthetic feed: number of symbols S0000..S{N-1}."),
        .integers("fanout.partitions", default: [], bounds: 0...100_000,
                  doc: "Kafka partitions of market.quotes to consume; empty = all (or the consumer group's share)."),
        .string("fanout.consumer_group", default: "",
                doc: "Kafka consumer group; empty = assign partitions directly (every node sees every partition it lists)."),
        .integer("fanout.max_connections", default: 20_000, bounds: 1...1_000_000,
                 doc: "Connections per process; more are refused with 503. Bounded by RLIMIT_NOFILE."),
        .integer("fanout.max_symbols_per_connection", default: 1_000, bounds: 1...100_000,
                 doc: "Symbols one connection may subscribe to; a subscribe past it gets an error."),
        .integer("fanout.max_message_bytes", default: 256 * 1024, bounds: 125...16 * 1024 * 1024,
                 doc: "Largest client message (after reassembly and inflation); larger -> close 1009. Room for a 10,000-symbol subscribe."),
        .integer("fanout.max_frame_bytes", default: 256 * 1024, bounds: 125...16 * 1024 * 1024,
                 doc: "Largest single client frame; larger -> close 1009."),
        .integer("fanout.high_watermark_bytes", default: 256 * 1024, bounds: 1_024...1 << 30,
                 doc: "Outbound bytes above which a connection is conflated (latest quote per symbol only)."),
        .integer("fanout.low_watermark_bytes", default: 64 * 1024, bounds: 0...1 << 30,
                 doc: "Outbound bytes at which a conflated connection gets full updates again."),
        .integer("fanout.max_buffered_bytes", default: 4 * 1024 * 1024, bounds: 4_096...1 << 30,
                 doc: "Hard outbound limit; past it the connection is dropped."),
        .integer("fanout.slow_consumer_timeout_ms", default: 10_000, bounds: 0...3_600_000,
                 doc: "A connection conflated for longer than this is closed with 1008 'slow consumer'."),
        .integer("fanout.handshake_timeout_ms", default: 5_000, bounds: 100...600_000,
                 doc: "Time allowed for the HTTP upgrade request (slowloris protection)."),
        .integer("fanout.idle_timeout_ms", default: 120_000, bounds: 0...86_400_000,
                 doc: "Close connections silent for this long (0 = never); keepalive pings start at a third of it."),
        .integer("fanout.close_timeout_ms", default: 3_000, bounds: 100...600_000,
                 doc: "How long to wait for the peer's close frame before dropping the connection."),
        .bool("fanout.deflate", default: true, doc: "Accept permessage-deflate (RFC 7692) offers."),
        .integer("fanout.deflate_level", default: 6, bounds: 1...9,
                 doc: "zlib level for quote compression (1 fastest, 9 smallest)."),
        .string("fanout.deflate_coder", default: "fixed_huffman",
                doc: "per_connection mode's coder: fixed_huffman (LZ77 against the connection's history with DEFLATE's fixed codes: no Huffman trees per message, ~10x cheaper than zlib on quotes) or zlib (deflate_level).",
                allowed: ["fixed_huffman", "zlib"]),
        .string("fanout.deflate_mode", default: "per_connection",
                doc: "shared: compress each quote frame once for all (no context takeover); per_connection: compress each connection's batch with its own context (smaller; each connection keeps 128 bytes of it, not a zlib stream).",
                allowed: ["shared", "per_connection"]),
        .strings("fanout.allowed_origins", default: [], doc: "When non-empty, Origin must be one of these."),
        .strings("fanout.subprotocols", default: [], doc: "Subprotocols the server may select (empty = none)."),
        .integer("fanout.batch_interval_us", default: 0, bounds: 0...1_000_000,
                 doc: "Minimum time between deliveries to a connection's loop (0 = every loop iteration). Larger = fewer, bigger writes and higher latency."),
        .bool("fanout.feed_thread", default: true,
              doc: "Run the feed (Kafka consumer or synthetic) on a thread of its own, so a loop busy writing a hot symbol's burst does not hold back the next updates for the other loops; false: on the first loop."),
        .integer("fanout.batch_max_bytes", default: 64 * 1024, bounds: 512...16 * 1024 * 1024,
                 doc: "Largest 'quotes' batch frame; more quotes in one iteration are split."),
    ]

    /// Keys of the Kafka and Redis clients.
    public static let clients: [ConfigKey] = [
        .string("kafka.brokers", default: "127.0.0.1:9092", doc: "Bootstrap servers (host:port,...)."),
        .string("kafka.quotes_topic", default: "market.quotes", doc: "Topic of quotes, keyed by symbol."),
        .string("kafka.ledger_topic", default: "ledger.events", doc: "Topic of ledger events, keyed by user id."),
        .string("kafka.compression", default: "lz4", doc: "Producer compression codec.",
                allowed: ["none", "gzip", "snappy", "lz4", "zstd"]),
        .integer("kafka.linger_ms", default: 5, bounds: 0...10_000, doc: "Producer batching delay."),
        .integer("kafka.batch_messages", default: 10_000, bounds: 1...1_000_000, doc: "Producer batch size in messages."),
        .string("redis.address", default: "127.0.0.1:6379", doc: "Redis HOST:PORT for the latest-quote cache."),
        .string("postgres.conninfo", default: "host=127.0.0.1 dbname=broker user=broker",
                doc: "libpq connection string of the order ledger."),
    ]

    /// Every key (all roles read the same file).
    public static var schema: ConfigSchema {
        let docs: [String: String] = [
            "general": "Process-wide settings.",
            "fanout": "WebSocket fanout node: quotes to clients.",
            "kafka": "Kafka (through librdkafka).",
            "gateway": "Order gateway: REST API, order WebSocket, storage.",
            "exchange_fix": "FIX order session from the gateway to the exchange.",
            "risk": "Pre-trade risk limits of the gateway.",
            "ledger": "Ledger service: ledger.events -> PostgreSQL.",
        ]
        return ConfigSchema(keys: general + fanout + TLSServerContext.configKeys(table: "fanout.tls") + clients
                                + LogLineHandler.configKeys(table: "log") + MarketDataConfig.keys + OrdersConfig.keys,
                            tableDocs: docs.merging(MarketDataConfig.tableDocs) { a, _ in a })
    }
}

/// Fanout settings, typed and cross-checked.
public struct FanoutSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var echo = false
    public var feed = "kafka"
    public var syntheticRate = 10_000
    public var syntheticSymbols = 1_000
    public var maxConnections = 20_000
    public var maxMessageBytes = 256 * 1024
    public var maxFrameBytes = 256 * 1024
    public var highWatermark = 256 * 1024
    public var lowWatermark = 64 * 1024
    public var maxBufferedBytes = 4 * 1024 * 1024
    public var handshakeTimeoutMillis = 5_000
    public var idleTimeoutMillis = 120_000
    public var closeTimeoutMillis = 3_000
    public var deflate = true
    public var deflatePerConnection = true
    public var deflateLevel = 6
    public var allowedOrigins: [String] = []
    public var subprotocols: [String] = []
    public var limits = FanoutLimits()
    /// `fanout.feed_thread`: the role runs the feed on a loop of its own instead of the first one.
    public var feedThread = true
    /// TLS for the listener (wss://), from `fanout.tls.*`; nil = plain TCP.
    public var tls: TLSServerContext?

    /// Defaults (for tests).
    public init() {}

    /// Reads and cross-checks the `fanout.*` keys.
    /// - Throws: `ConfigError` when values contradict each other.
    public init(_ c: ConfigFile) throws(ConfigError) {
        (host, port) = try parseHostPort(c.string("fanout.listen"), key: "fanout.listen")
        echo = c.bool("fanout.echo")
        feed = c.string("fanout.feed")
        syntheticRate = c.int("fanout.synthetic_rate")
        syntheticSymbols = c.int("fanout.synthetic_symbols")
        maxConnections = c.int("fanout.max_connections")
        maxMessageBytes = c.int("fanout.max_message_bytes")
        maxFrameBytes = c.int("fanout.max_frame_bytes")
        highWatermark = c.int("fanout.high_watermark_bytes")
        lowWatermark = c.int("fanout.low_watermark_bytes")
        maxBufferedBytes = c.int("fanout.max_buffered_bytes")
        handshakeTimeoutMillis = c.int("fanout.handshake_timeout_ms")
        idleTimeoutMillis = c.int("fanout.idle_timeout_ms")
        closeTimeoutMillis = c.int("fanout.close_timeout_ms")
        deflate = c.bool("fanout.deflate")
        deflatePerConnection = c.string("fanout.deflate_mode") == "per_connection"
        deflateLevel = c.int("fanout.deflate_level")
        allowedOrigins = c.strings("fanout.allowed_origins")
        subprotocols = c.strings("fanout.subprotocols")
        limits.maxSymbolsPerConnection = c.int("fanout.max_symbols_per_connection")
        limits.slowConsumerTimeoutNanos = UInt64(c.int("fanout.slow_consumer_timeout_ms")) * 1_000_000
        limits.maxBatchBytes = c.int("fanout.batch_max_bytes")
        limits.batchIntervalNanos = UInt64(c.int("fanout.batch_interval_us")) * 1_000
        limits.deflateLevel = c.int("fanout.deflate_level")
        limits.deflateFixedHuffman = c.string("fanout.deflate_coder") == "fixed_huffman"
        feedThread = c.bool("fanout.feed_thread")
        do {
            tls = try TLSServerContext.make(config: c, table: "fanout.tls")
        } catch {
            throw ConfigError(.invalidValue, origin: "fanout.tls", "\(error)")
        }
        guard lowWatermark < highWatermark else {
            throw ConfigError(.invalidValue, origin: "fanout.low_watermark_bytes",
                              "must be below fanout.high_watermark_bytes (\(highWatermark))")
        }
        guard highWatermark < maxBufferedBytes else {
            throw ConfigError(.invalidValue, origin: "fanout.high_watermark_bytes",
                              "must be below fanout.max_buffered_bytes (\(maxBufferedBytes))")
        }
    }
}

/// Splits "host:port" (IPv6 as "[::1]:port").
public func parseHostPort(_ s: String, key: String) throws(ConfigError) -> (String, Int) {
    guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port)
    else {
        throw ConfigError(.invalidValue, origin: key, "expected HOST:PORT, found '\(s)'")
    }
    var host = String(s[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ConfigError(.invalidValue, origin: key, "expected HOST:PORT, found '\(s)'") }
    return (host, port)
}

/// Loads the symbol universe named by `symbols.*` (generated symbols when `symbols.generated` > 0).
/// - Throws: `RoleError` naming the file that could not be read.
public func loadSymbols(_ config: ConfigFile) throws -> SymbolUniverse {
    let generated = config.int("symbols.generated")
    if generated > 0 { return SymbolUniverse.generated(count: generated) }
    let files = config.strings("symbols.files")
    if files.isEmpty { return SymbolUniverse.generated(count: 1_000) }
    let resolved = files.map { SymbolUniverse.resolve(path: $0, executablePath: CommandLine.arguments.first) }
    for (f, r) in zip(files, resolved) where r == nil {
        throw RoleError("symbols.files: cannot find '\(f)' (relative paths are tried against the working directory and the executable's location)")
    }
    return try SymbolUniverse.load(files: resolved.compactMap { $0 })
}
