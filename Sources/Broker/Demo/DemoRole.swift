// DemoRole: `broker demo`, the whole market-data path in one process on embedded defaults:
// exchange simulator --FIX over loopback (ephemeral port)--> ingestor --InProcessQuoteBus--> fanout
// node (WebSocket /ws, /health, /metrics on `demo.listen`), with InMemoryQuoteStore as the cache.
// The ingest and fanout code are the same as in the distributed roles; only the QuotePublisher and
// LatestQuoteStore behind them differ.
//
// Hook for the order path (gateway, ledger; built in Sources/Broker/Gateway and Sources/Broker/Ledger):
// append a starter to `DemoRole.extraServices` (e.g. from the gateway's runDemo setup, before
// `BrokerRoles.run`) or call `DemoRole.start(..., services:)` directly. Each starter runs once, after
// the exchange and ingest are up and before the fanout listener opens, with a `DemoContext` giving the
// exchange's FIX address and the gateway's CompIDs (a session `exchange.target_comp_ids` already
// serves: "GATEWAY" by default), the quote cache (latest quote per symbol, for search/portfolio
// hydration), the symbol universe, the shared config and logger, `addRoute` for REST endpoints on the
// demo's one port (/api/v1/...), and `keep` to hold objects for the process lifetime. For the gateway's
// `EmbeddedOrders.start(loop:symbols:quotes:exchangeHost:exchangePort:journalPath:logger:ready:)` that is:
//   DemoRole.extraServices.append { ctx in
//       let loop = ctx.loops.loops[0]
//       try loop.submitAndWait { try EmbeddedOrders.start(loop: loop, symbols: ctx.symbols, quotes: ctx.quotes,
//           exchangeHost: ctx.exchangeHost, exchangePort: ctx.exchangePort, journalPath: ..., logger: ctx.logger) {
//           if case .success(let o) = $0 { ctx.keep(o) } } }
//   }
// Missing piece for serving its REST (asynchronous) and order WebSocket on this same port: FanoutNode.start takes
// only a synchronous `extraRoutes` and upgrades only /ws and /echo, so DemoContext.addRoute is synchronous too;
// an async-route and extra-upgrade hook in FanoutNode (fanout's file) is what the gateway needs here.
public import Logging
public import Wire
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What an extra demo service gets (see the file header).
public final class DemoContext: @unchecked Sendable {
    /// The resolved config (every role's keys).
    public let config: ConfigFile
    /// The process logger.
    public let logger: Logger
    /// The symbol universe shared by every component.
    public let symbols: SymbolUniverse
    /// The simulator's FIX acceptor (loopback, ephemeral port).
    public let exchangeHost: String
    public let exchangePort: Int
    /// SenderCompID of the simulator (the gateway's TargetCompID).
    public let exchangeCompID: String
    /// CompIDs the simulator has sessions for (the gateway logs on as one of them, e.g. "GATEWAY").
    public let exchangePeerCompIDs: [String]
    /// Latest quote per symbol, filled by the ingestor.
    public let quotes: InMemoryQuoteStore
    /// The quote bus (subscribe to see every quote, on your own loop).
    public let bus: InProcessQuoteBus
    /// The fanout node's loops (started); services may run on them or start their own.
    public let loops: EventLoopGroup
    private let routes = Mutex<[@Sendable (HTTPRequestHead, ByteBuffer) -> HTTPResponse?]>([])
    private let keptLock = Mutex(())
    private var kept: [AnyObject] = []  // guarded by keptLock

    init(config: ConfigFile, logger: Logger, symbols: SymbolUniverse, exchangeHost: String, exchangePort: Int,
         exchangeCompID: String, exchangePeerCompIDs: [String], quotes: InMemoryQuoteStore, bus: InProcessQuoteBus,
         loops: EventLoopGroup) {
        self.config = config
        self.logger = logger
        self.symbols = symbols
        self.exchangeHost = exchangeHost
        self.exchangePort = exchangePort
        self.exchangeCompID = exchangeCompID
        self.exchangePeerCompIDs = exchangePeerCompIDs
        self.quotes = quotes
        self.bus = bus
        self.loops = loops
    }

    /// Adds an HTTP route on the demo's port, tried after /health and /metrics (runs on a fanout
    /// loop, synchronously: answer from memory, never block).
    public func addRoute(_ route: @escaping @Sendable (HTTPRequestHead, ByteBuffer) -> HTTPResponse?) {
        routes.withLock { $0.append(route) }
    }

    /// Keeps `object` alive as long as the demo runs.
    public func keep(_ object: AnyObject) {
        keptLock.withLock { _ in kept.append(object) }
    }

    func route(_ head: HTTPRequestHead, _ body: ByteBuffer) -> HTTPResponse? {
        for r in routes.withLock({ $0 }) { if let resp = r(head, body) { return resp } }
        return nil
    }
}

/// A running demo (tests stop it; the role runs it until a signal).
public final class DemoRuntime: @unchecked Sendable {
    /// The services' context.
    public let context: DemoContext
    /// The fanout node (its `port` is the demo's port).
    public let fanout: FanoutNode
    /// The exchange simulator (on `marketDataLoops.loops[0]`).
    public let exchange: ExchangeSimulator
    /// The ingestor (on `marketDataLoops.loops[1]`).
    public let ingestor: MarketDataIngestor
    /// Loops of the exchange and the ingestor.
    public let marketDataLoops: EventLoopGroup
    private let ingestMetrics: [DemoMetricsText]

    init(context: DemoContext, fanout: FanoutNode, exchange: ExchangeSimulator, ingestor: MarketDataIngestor,
         marketDataLoops: EventLoopGroup, ingestMetrics: [DemoMetricsText]) {
        self.context = context
        self.fanout = fanout
        self.exchange = exchange
        self.ingestor = ingestor
        self.marketDataLoops = marketDataLoops
        self.ingestMetrics = ingestMetrics
    }

    /// The WebSocket URL.
    public var webSocketURL: String { "ws://\(fanout.settings.host):\(fanout.port)/ws" }

    /// Stops everything and joins the threads.
    public func stop() {
        fanout.drain()
        let (x, i) = (exchange, ingestor)
        nonisolated(unsafe) let ux = x, ui = i
        try? marketDataLoops.loops[1].submitAndWait { ui.stop() }
        try? marketDataLoops.loops[0].submitAndWait { ux.stop() }
        marketDataLoops.stop()
        marketDataLoops.join()
        fanout.group.stop()
        fanout.group.join()
    }
}

/// A component's metrics text, rendered once a second on the component's own loop (its counters are
/// that loop's) and read by the fanout loops for /metrics/ingest and /metrics/exchange.
final class DemoMetricsText: @unchecked Sendable {
    let text = Mutex("")
    var render: (() -> String)?
    var loop: EventLoop?

    /// The component's loop only.
    func refresh() {
        guard let render, let loop else { return }
        let t = render()
        text.withLock { $0 = t }
        loop.schedule(afterNanos: 1_000_000_000) { [weak self] in self?.refresh() }
    }
}

/// `broker demo`.
public enum DemoRole {
    /// Starters of extra in-process services (gateway, ledger). Set before `runRole`; see the file header.
    nonisolated(unsafe) public static var extraServices: [(DemoContext) throws -> Void] = []

    /// Starts exchange, ingest and fanout in this process.
    /// - Parameters:
    ///   - listen: HOST:PORT override (port 0 = ephemeral); nil reads `demo.listen`.
    ///   - services: starters run after exchange and ingest are up (defaults to `extraServices`).
    /// - Throws: config, listing, bind and FIX store errors.
    public static func start(config: ConfigFile, logger: Logger, listen: String? = nil,
                             services: [(DemoContext) throws -> Void]? = nil) throws -> DemoRuntime {
        let symbols = try loadSymbols(config)
        var fanoutSettings = try FanoutSettings(config)
        (fanoutSettings.host, fanoutSettings.port) = try parseHostPort(listen ?? config.string("demo.listen"),
                                                                       key: "demo.listen")
        var xs = try ExchangeSettings(config)
        xs.host = "127.0.0.1"
        xs.port = 0
        xs.rate = config.int("demo.rate")
        var ins = try IngestSettings(config)
        ins.symbols = []
        ins.statsIntervalSeconds = 0
        ins.targetCompID = xs.senderCompID
        xs.addPeer(ins.senderCompID)

        Syscalls.raiseFileLimit()
        let md = try EventLoopGroup(count: 2, name: "md", logger: logger)
        md.start()
        let exchangeLoop = md.loops[0], ingestLoop = md.loops[1]
        let exchange = try exchangeLoop.submitAndWait { () -> ExchangeSimulator in
            let x = try ExchangeSimulator(settings: xs, symbols: symbols, loop: exchangeLoop, logger: logger)
            x.start()
            return x
        }
        ins.exchangeHost = "127.0.0.1"
        ins.exchangePort = exchange.port

        let group = try EventLoopGroup(count: config.int("general.loops"), name: "fanout", logger: logger)
        group.start()
        let bus = InProcessQuoteBus()
        let store = InMemoryQuoteStore()
        let context = DemoContext(config: config, logger: logger, symbols: symbols, exchangeHost: "127.0.0.1",
                                  exchangePort: exchange.port, exchangeCompID: xs.senderCompID,
                                  exchangePeerCompIDs: xs.targetCompIDs, quotes: store, bus: bus, loops: group)
        for s in services ?? extraServices { try s(context) }

        let ingestMetrics = DemoMetricsText()
        let exchangeMetrics = DemoMetricsText()
        let node = FanoutNode(settings: fanoutSettings, symbols: symbols, group: group, logger: logger)
        try node.start(extraRoutes: { head, body in
            if head.path == "/metrics/ingest" || head.path == "/metrics/exchange" {
                let m = head.path == "/metrics/ingest" ? ingestMetrics : exchangeMetrics
                return HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: m.text.withLock { $0 })
            }
            return context.route(head, body)
        })
        try node.attach(bus: bus)
        let ingestor = try ingestLoop.submitAndWait { () -> MarketDataIngestor in
            let i = try MarketDataIngestor(settings: ins, symbols: symbols, loop: ingestLoop, publisher: bus,
                                           store: store, logger: logger)
            i.start()
            return i
        }
        nonisolated(unsafe) let (ui, ux) = (ingestor, exchange)
        ingestMetrics.render = { ui.renderMetrics() }
        ingestMetrics.loop = ingestLoop
        ingestLoop.execute { ingestMetrics.refresh() }
        exchangeMetrics.render = { ux.renderMetrics() }
        exchangeMetrics.loop = exchangeLoop
        exchangeLoop.execute { exchangeMetrics.refresh() }
        return DemoRuntime(context: context, fanout: node, exchange: exchange, ingestor: ingestor,
                           marketDataLoops: md, ingestMetrics: [ingestMetrics, exchangeMetrics])
    }

    /// What to print on start: where to connect and a ready-to-paste client session.
    public static func banner(_ rt: DemoRuntime) -> String {
        let syms = rt.context.symbols
        let preferred = ["AAPL", "MSFT", "NVDA", "RELIANCE", "TCS", "INFY"].filter { syms.id(of: $0) != nil }
        let picks = preferred.isEmpty ? (0..<min(3, syms.count)).map { syms.name(of: Int32($0)) } : preferred
        let list = picks.map { "\"\($0)\"" }.joined(separator: ",")
        let host = rt.fanout.settings.host, port = rt.fanout.port
        return """
            broker demo: exchange simulator -> FIX (127.0.0.1:\(rt.exchange.port)) -> ingest -> fanout, \
            \(syms.count) symbols, \(rt.exchange.settings.rate) updates/s
              quotes:  ws://\(host):\(port)/ws      health: http://\(host):\(port)/health      \
            metrics: http://\(host):\(port)/metrics (+ /metrics/ingest, /metrics/exchange)
              watch live quotes (python3 websockets client), run:
                python3 -m websockets ws://\(host):\(port)/ws
              then paste:
                {"action":"subscribe","symbols":[\(list)]}
              stop with Ctrl-C.
            """
    }

    /// Runs `broker demo` until SIGTERM/SIGINT.
    public static func runRole(_ ctx: RoleContext) throws {
        TerminationSignals.block()
        let rt = try start(config: ctx.config, logger: ctx.logger)
        print(banner(rt))
        fflush(nil)
        let done = Semaphore()
        TerminationSignals.onSignal { _ in done.signal() }
        done.wait()
        ctx.logger.notice("demo stopping: closing clients with 1001")
        rt.stop()
    }
}
