// broker: one executable, one subcommand per role (DESIGN.md "Command line").
import Broker
import Logging
import Wire
#if canImport(Glibc)
import Glibc
#endif

let usage = """
usage: broker <role> [--config FILE] [--check-config] [--set section.key=value ...] [role flags]

roles:
  demo       everything in one process on embedded defaults   [--listen HOST:PORT]
  exchange   exchange simulator (FIX acceptor)
  ingest     FIX market data -> Redis + Kafka
  fanout     Kafka -> WebSocket clients   [--listen HOST:PORT] [--feed synthetic --rate R --symbols U] [--echo]
  gateway    orders, portfolio, search (REST + WebSocket)
  ledger     ledger.events -> PostgreSQL
  bench      load harness   --scenario S1..S4 --target ws://HOST:PORT/ws [--json]
             (--fix: FIX codec against QuickFIX; --orders N: order path throughput and latency)
  md-bench   exchange -> FIX -> ingest timing   [--rate R] [--seconds S] [--kafka mock|BROKERS] [--redis HOST:PORT]
  print-config   print the default config file, every key documented

Config precedence: defaults < --config FILE < BROKER_* environment < flags.
"""

func fail(_ message: String, code: Int32 = 2) -> Never {
    let err = ByteBuffer(string: "broker: \(message)\n")
    err.withUnsafeReadableBytes { _ = write(2, $0.baseAddress, $0.count) }
    exit(code)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let role = args.first, !role.hasPrefix("-") else {
    print(usage)
    exit(args.contains("--help") || args.contains("-h") ? 0 : 2)
}
args.removeFirst()

let schema = BrokerConfig.schema
if role == "print-config" {
    print(schema.renderDefaults(header: "broker.toml: every key with its default value and why. Edit what you need; delete the rest."))
    exit(0)
}

let flags: [ConfigFlag] = BrokerRoles.flags(for: role)
let configPath: String?
do {
    var rest: [String] = []
    var path: String? = ConfigFile.processEnvironment()["BROKER_CONFIG"]
    var i = 0
    while i < args.count {
        if args[i] == "--config" {
            guard i + 1 < args.count else { fail("--config needs a file") }
            path = args[i + 1]
            i += 2
            continue
        }
        if args[i].hasPrefix("--config=") {
            path = String(args[i].dropFirst("--config=".count))
            i += 1
            continue
        }
        rest.append(args[i])
        i += 1
    }
    args = rest
    configPath = path
}

let config: ConfigFile
let remaining: [String]
do {
    let (overrides, rest) = try ConfigCommandLine.extractOverrides(from: args, flags: flags)
    remaining = rest
    config = try ConfigFile.load(
        path: configPath, schema: schema, environment: ConfigFile.processEnvironment(),
        ignoredEnvironment: ["BROKER_CONFIG", "BROKER_TEST_REDIS", "BROKER_TEST_PG", "BROKER_TEST_PG_CONNINFO"],
        overrides: overrides)
    try BrokerRoles.validate(role: role, config: config)
} catch {
    fail("\(error)")
}

if remaining.contains("--check-config") {
    print("config OK\(configPath.map { " (\($0))" } ?? " (defaults)")")
    exit(0)
}

LoggingSystem.bootstrap(LogLineHandler.factory(config: config, table: "log"))
let logger = Logger(label: "broker.\(role)")
let context = RoleContext(role: role, config: config, arguments: remaining, logger: logger)
do {
    try BrokerRoles.run(context)
} catch {
    fail("\(role): \(error)", code: 1)
}
