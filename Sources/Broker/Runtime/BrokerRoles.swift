// BrokerRoles: the table from subcommand to role: its flags (mapped onto config keys), its
// cross-field validation, and how it runs.
public import Wire

/// Dispatches `broker <role>`.
public enum BrokerRoles {
    /// Role flags that are shorthands for config keys.
    public static func flags(for role: String) -> [ConfigFlag] {
        switch role {
        case "fanout":
            return [
                ConfigFlag("--listen", key: "fanout.listen"),
                ConfigFlag("--echo", key: "fanout.echo", impliedValue: "true"),
                ConfigFlag("--feed", key: "fanout.feed"),
                ConfigFlag("--rate", key: "fanout.synthetic_rate"),
                ConfigFlag("--symbols", key: "fanout.synthetic_symbols"),
                ConfigFlag("--loops", key: "general.loops"),
            ]
        case "demo":
            return [ConfigFlag("--listen", key: "demo.listen"), ConfigFlag("--loops", key: "general.loops"),
                    ConfigFlag("--rate", key: "demo.rate")]
        case "exchange":
            return [ConfigFlag("--port", key: "exchange.acceptor.port"), ConfigFlag("--rate", key: "exchange.rate")]
        case "ingest":
            return [ConfigFlag("--exchange-host", key: "ingest.fix.host"),
                    ConfigFlag("--exchange-port", key: "ingest.fix.port")]
        case "gateway":
            return [ConfigFlag("--listen", key: "gateway.listen"), ConfigFlag("--storage", key: "gateway.storage")]
        default:
            return [ConfigFlag("--loops", key: "general.loops")]
        }
    }

    /// Cross-field checks that need more than one key (run before `--check-config` answers).
    /// - Throws: `ConfigError` naming the key.
    public static func validate(role: String, config: ConfigFile) throws(ConfigError) {
        _ = try FanoutSettings(config)
        switch role {
        case "exchange": _ = try ExchangeSettings(config)
        case "ingest": _ = try IngestSettings(config)
        case "demo": _ = (try ExchangeSettings(config), try IngestSettings(config))
        case "gateway": _ = try GatewaySettings(config)
        default: break
        }
    }

    /// Runs `context.role` until it is told to stop.
    /// - Throws: `RoleError` or the role's startup error.
    public static func run(_ context: RoleContext) throws {
        switch context.role {
        case "fanout":
            try FanoutNode.runRole(context)
        case "bench" where context.has("--orders"):
            try OrderBench.run(context)
        case "bench":
            try BenchRole.run(context)
        case "exchange":
            try ExchangeSimulator.runRole(context)
        case "ingest":
            try MarketDataIngestor.runRole(context)
        case "demo":
            DemoRole.extraServices.append(OrdersDemoService.starter)
            try DemoRole.runRole(context)
        case "md-bench":
            try MarketDataBenchmark.runRole(context)
        case "gateway":
            try GatewayRole.run(context)
        case "ledger":
            try LedgerRole.run(context)
        default:
            throw RoleError("unknown role '\(context.role)' (see broker --help)")
        }
    }
}
