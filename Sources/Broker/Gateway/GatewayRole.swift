// GatewayRole: `broker gateway` (PostgreSQL + Kafka, or the journal), and `EmbeddedOrders`, the hook `broker demo`
// calls to run the gateway and ledger in-process on the journal with the demo user seeded.
//
// Owns: wiring settings, storage, publisher and the exchange session into an OrderGateway on one loop, operator
// commands (`--create-user NAME --password PW`), and the demo seed (`demo`/`demo`, 1,000,000.00 deposited as a
// ledger event so the event log explains every unit of cash).
import Logging
public import Wire
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// The order path running inside another role's process (the demo).
public final class EmbeddedOrders {
    /// The gateway (route its requests: `handleHTTP` as asyncRoute, `webSocketHandler(for:)` for order sockets).
    public let gateway: OrderGateway
    /// The journal store (balances, orders).
    public let store: JournalOrderStore
    /// Every applied ledger event, in order (observers may subscribe).
    public let bus: InProcessLedgerBus

    init(gateway: OrderGateway, store: JournalOrderStore, bus: InProcessLedgerBus) {
        self.gateway = gateway
        self.store = store
        self.bus = bus
    }

    /// Starts the gateway and in-process ledger on `loop` over the journal at `journalPath`, connecting FIX to the
    /// exchange simulator at `exchangeHost:exchangePort` (CompIDs GATEWAY -> EXCHANGE), and seeds `demo`/`demo`
    /// with 1,000,000.00 on first start. Call on the loop's thread; `ready` runs there once orders are accepted
    /// (FIX may still be connecting).
    /// - Throws: `LedgerJournalError` when the journal cannot be opened.
    public static func start(loop: EventLoop, symbols: SymbolUniverse, quotes: (any LatestQuoteStore)?,
                             exchangeHost: String, exchangePort: Int, journalPath: String,
                             fsync: JournalFsyncPolicy = .batch, settings base: GatewaySettings = GatewaySettings(),
                             logger: Logger, ready: @escaping (Result<EmbeddedOrders, OrderStoreError>) -> Void) throws {
        var settings = base
        settings.storage = "journal"
        settings.fixHost = exchangeHost
        settings.fixPort = exchangePort
        let store = try JournalOrderStore(path: journalPath, fsync: fsync, loop: loop, logger: logger)
        let bus = InProcessLedgerBus()
        let gateway = OrderGateway(settings: settings, symbols: symbols, store: store, publisher: bus, quotes: quotes,
                                   loop: loop, logger: logger)
        let embedded = EmbeddedOrders(gateway: gateway, store: store, bus: bus)
        gateway.start { r in
            if case .failure(let e) = r { ready(.failure(e)); return }
            seedDemo(store: store, gateway: gateway) { ready(.success(embedded)) }
        }
        return
    }

    /// Creates `demo`/`demo` with 1,000,000.00 unless it exists.
    static func seedDemo(store: any OrderStore, gateway: OrderGateway, _ done: @escaping () -> Void) {
        let hash = GatewayPasswordHash.make(password: "demo", iterations: gateway.settings.passwordIterations)
        store.createUser("demo", passwordHash: hash) { r in
            guard case .success(true) = r else { done(); return }
            let deposit = LedgerEvent(eventId: "seed:demo", userId: "demo", ts: Syscalls.realtimeNanos(),
                                      body: .deposit(amount: 100_000_000))
            store.funds(deposit) { _ in
                gateway.publisher?.publish(deposit)
                done()
            }
        }
    }
}

/// `broker gateway`.
public enum GatewayRole {
    /// Runs until SIGTERM/SIGINT.
    /// - Throws: `RoleError` or startup errors.
    public static func run(_ ctx: RoleContext) throws {
        let settings = try GatewaySettings(ctx.config)
        let symbols = try loadSymbols(ctx.config)
        TerminationSignals.block()
        let group = try EventLoopGroup(count: 1, name: "gateway", logger: ctx.logger)
        group.start()
        let loop = group.loops[0]
        final class State: @unchecked Sendable {
            var gateway: OrderGateway?
            var listener: TCPListener?
            var server: WebSocketServer?
            var store: (any OrderStore)?
            var publisher: (any LedgerEventPublisher)?
        }
        let state = State()
        let started = Semaphore()
        nonisolated(unsafe) var startError: String?
        let createUser = ctx.argument("--create-user")
        let password = ctx.argument("--password")
        try loop.submitAndWait {
            let store: any OrderStore
            let publisher: any LedgerEventPublisher
            if settings.storage == "journal" {
                store = try JournalOrderStore(path: settings.journalPath, fsync: settings.journalFsync, loop: loop,
                                              logger: ctx.logger)
                publisher = InProcessLedgerBus()
            } else {
                let pgStore = PostgresOrderStore(conninfo: settings.postgresConninfo, loop: loop, logger: ctx.logger,
                                                 writeConnections: settings.pgConnections)
                let kafka = try KafkaLedgerPublisher(brokers: settings.kafkaBrokers, topic: settings.ledgerTopic,
                                                     loop: loop, logger: ctx.logger)
                kafka.onDelivered = { [weak pgStore] ids in pgStore?.eventsDelivered(ids) }
                store = pgStore
                publisher = kafka
            }
            state.store = store
            state.publisher = publisher
            var quotes: (any LatestQuoteStore)?
            if settings.quotes == "redis" {
                guard let rc = RedisConfiguration(address: settings.redisAddress) else {
                    throw RoleError("redis.address: expected HOST:PORT, found '\(settings.redisAddress)'")
                }
                let client = RedisClient(configuration: rc, loop: loop, logger: ctx.logger)
                quotes = RedisQuoteStore(client: client, symbols: symbols, logger: ctx.logger)
                client.connect()
            }
            let g = OrderGateway(settings: settings, symbols: symbols, store: store, publisher: publisher, quotes: quotes,
                                 loop: loop, logger: ctx.logger)
            state.gateway = g
            g.start(connectFIX: createUser == nil) { r in
                if case .failure(let e) = r { startError = "\(e)"; started.signal(); return }
                if let createUser {
                    let hash = GatewayPasswordHash.make(password: password ?? "", iterations: settings.passwordIterations)
                    store.createUser(createUser, passwordHash: hash) { r in
                        print("create-user \(createUser): \(r)")
                        started.signal()
                    }
                    return
                }
                do {
                    let (srv, l) = try g.listen()
                    state.server = srv
                    state.listener = l
                    print("gateway listening on http://\(settings.host):\(l.port)/api/v1 storage=\(settings.storage) "
                          + "exchange=\(settings.fixHost):\(settings.fixPort)")
                } catch {
                    startError = "listen: \(error)"
                }
                started.signal()
            }
        }
        started.wait()
        if let startError { throw RoleError(startError) }
        if createUser != nil {
            if password == nil { throw RoleError("--create-user needs --password") }
            group.stop()
            group.join()
            return
        }
        let done = Semaphore()
        TerminationSignals.onSignal { _ in done.signal() }
        done.wait()
        try? loop.submitAndWait {
            state.gateway?.stop()
            state.listener?.close()
            if let j = state.store as? JournalOrderStore { j.flush() }
            if let k = state.publisher as? KafkaLedgerPublisher { try? k.producer.flush(timeoutMilliseconds: 2_000) }
        }
        group.stop()
        group.join()
    }
}
