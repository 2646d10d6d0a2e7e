// The order path against the real exchange simulator, on either storage: a gateway (restartable, with its FIX
// store optionally on disk) over the journal (ledger folded in-process) or PostgreSQL (in-process bus feeding a
// PostgresLedger), and an ExchangeSimulator at rate 0 (prices stand still unless trades move them), all on one
// loop. For the crash and reconnect windows of the order path: tests drive the gateway's API directly.
import FIX
import Foundation
import Testing
import Wire
@testable import Broker

enum OrdersStorage: String, CaseIterable, Sendable {
    case journal, postgres
}

final class ResultBox<T>: @unchecked Sendable { var r: Result<T, OrderStoreError>? }

final class SimOrdersRig: @unchecked Sendable {
    let storage: OrdersStorage
    let runner: ClientLoopRunner
    let symbols = SymbolUniverse.generated(count: 4)
    let dir: String
    var settings: GatewaySettings
    var sim: ExchangeSimulator!
    var gateway: OrderGateway!
    var store: (any OrderStore)!
    var journal: JournalOrderStore?
    var pgStore: PostgresOrderStore?
    var ledger: PostgresLedger?
    var ledgerPG: PostgresConnection?
    let bus = InProcessLedgerBus()
    var events: [LedgerEvent] = []

    /// - Parameters:
    ///   - exchangeTick: the simulator's tick (the gateway's risk tick stays 0.01).
    ///   - fixStores: both ends of the order session on disk (temp directories), as configured by default.
    init(_ storage: OrdersStorage, exchangeTick: Int64 = 100, fixStores: Bool = false) throws {
        self.storage = storage
        runner = try ClientLoopRunner()
        dir = NSTemporaryDirectory() + "sim-orders-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        settings = GatewaySettings()
        settings.tokenSecret = String(repeating: "s", count: 32)
        settings.rateBurst = 1_000
        settings.ratePerSecond = 1_000
        settings.senderCompID = "GATEWAY"
        settings.targetCompID = "EXCHANGE"
        if fixStores { settings.fixStoreDirectory = dir + "/fix-gateway" }
        let conninfo = storage == .postgres ? try OrdersTestDB.freshConninfo() : ""
        var xs = ExchangeSettings()
        xs.port = 0
        xs.rate = 0
        xs.tickSize = exchangeTick
        if fixStores { xs.orderStoreDirectory = dir + "/fix-exchange" }
        let loop = runner.loop
        final class Ready: @unchecked Sendable { var ledger = false }
        let ready = Ready()
        try runner.sync { [self] in
            sim = try ExchangeSimulator(settings: xs, symbols: symbols, loop: loop, logger: ordersTestLogger)
            sim.start()
            settings.fixPort = sim.port
            switch storage {
            case .journal:
                let j = try JournalOrderStore(path: dir + "/orders.journal", fsync: .none, loop: loop,
                                              logger: ordersTestLogger)
                journal = j
                store = j
                ready.ledger = true
            case .postgres:
                let s = PostgresOrderStore(conninfo: conninfo, loop: loop, logger: ordersTestLogger, writeConnections: 2)
                pgStore = s
                store = s
                let pg = PostgresConnection(conninfo: conninfo, loop: loop, logger: ordersTestLogger)
                pg.connect()
                ledgerPG = pg
                let l = PostgresLedger(pg: pg, topic: "ledger.events", logger: ordersTestLogger)
                ledger = l
                var offset: Int64 = 0
                bus.subscribe { e in
                    l.enqueue(e, partition: 0, offset: offset)
                    offset += 1
                }
                s.prepare { _ in l.load { _ in ready.ledger = true } }
            }
            bus.subscribe { [self] e in events.append(e) }
        }
        #expect(runner.wait { ready.ledger })
    }

    /// Starts a gateway on the store (a restart when one ran before) and waits until it is logged on.
    func startGateway() throws {
        final class Box: @unchecked Sendable { var r: Result<Void, OrderStoreError>? }
        let box = Box()
        try runner.sync { [self] in
            gateway = OrderGateway(settings: settings, symbols: symbols, store: store, publisher: bus, quotes: nil,
                                   loop: runner.loop, logger: ordersTestLogger)
            gateway.start { box.r = $0 }
        }
        #expect(runner.wait { box.r != nil })
        try runner.sync { try box.r!.get() }
        #expect(runner.wait { self.gateway.exchangeConnected })
    }

    /// Logs the gateway out and drops it (its FIX store closes with it).
    func stopGateway() {
        try? runner.sync { self.gateway.stop() }
        #expect(runner.wait { !(self.gateway.initiator?.connection.isConnected ?? false) })
        try? runner.sync { self.gateway = nil }
    }

    /// A user with `cash` minor units deposited (through the ledger, as the API does).
    func user(_ name: String, cash: Int64) throws {
        final class Box: @unchecked Sendable { var done = false }
        let box = Box()
        try runner.sync { [self] in
            store.createUser(name, passwordHash: "x") { [self] _ in
                let e = LedgerEvent(eventId: "f:\(name)", userId: name, ts: 1, body: .deposit(amount: cash))
                store.funds(e) { [self] _ in
                    bus.publish(e)
                    box.done = true
                }
            }
        }
        #expect(runner.wait { box.done })
        waitIdle()
    }

    /// Current reference price of `symbol` (the simulator's last).
    func last(_ symbol: String) throws -> Int64 { try runner.sync { self.sim.quote(self.symbols.id(of: symbol)!).last } }

    func place(_ user: String, _ cid: String, _ symbol: String, _ side: OrderSide, qty: Int64, price: Int64) throws
        -> Result<StoredOrder, OrderGateway.Refusal> {
        final class Box: @unchecked Sendable { var r: OrderGateway.PlaceResult? }
        let box = Box()
        try runner.sync {
            self.gateway.place(userId: user, .init(clientOrderId: cid, symbol: symbol, side: side, type: .limit, qty: qty,
                                                   price: price, tif: .day)) { box.r = $0 }
        }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { box.r!.map(\.order) }
    }

    func replace(_ user: String, _ id: String, qty: Int64? = nil, price: Int64? = nil) throws
        -> Result<StoredOrder, OrderGateway.Refusal> {
        try amend { self.gateway.replace(userId: user, orderId: id, qty: qty, price: price, $0) }
    }

    func cancel(_ user: String, _ id: String) throws -> Result<StoredOrder, OrderGateway.Refusal> {
        try amend { self.gateway.cancel(userId: user, orderId: id, $0) }
    }

    private func amend(_ call: @escaping (@escaping (Result<StoredOrder, OrderGateway.Refusal>) -> Void) -> Void) throws
        -> Result<StoredOrder, OrderGateway.Refusal> {
        final class Box: @unchecked Sendable { var r: Result<StoredOrder, OrderGateway.Refusal>? }
        let box = Box()
        try runner.sync { call { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { box.r! }
    }

    /// Runs one store operation on the loop and returns what it completed with.
    func call<T>(_ op: @escaping (any OrderStore, @escaping OrderStoreCompletion<T>) -> Void) throws -> T {
        let box = ResultBox<T>()
        try runner.sync { op(self.store) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { try box.r!.get() }
    }

    /// A restart of the storage: the journal reopened from its file, PostgreSQL prepared again.
    func reopenStore() throws {
        if storage == .journal {
            try runner.sync { [self] in
                journal?.flush()
                let j = try JournalOrderStore(path: dir + "/orders.journal", fsync: .none, loop: runner.loop,
                                              logger: ordersTestLogger)
                journal = j
                store = j
            }
        }
        try call { (s, done: @escaping OrderStoreCompletion<Void>) in s.prepare(done) }
    }

    func order(_ id: String) throws -> StoredOrder? {
        final class Box: @unchecked Sendable { var r: Result<StoredOrder?, OrderStoreError>? }
        let box = Box()
        try runner.sync { self.store.order(id) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { try box.r!.get() }
    }

    /// Waits (from the test's thread: a PostgreSQL read needs the loop free) until the stored order passes `test`.
    func waitOrder(_ id: String, seconds: Double = 20, _ test: (StoredOrder) -> Bool) -> Bool {
        for _ in 0..<Int(seconds * 50) {
            if let o = (try? order(id)) ?? nil, test(o) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits until the stored order has `status`.
    func waitStatus(_ id: String, _ status: OrderStatus, seconds: Double = 20) -> Bool {
        waitOrder(id, seconds: seconds) { $0.status == status }
    }

    func portfolio(_ user: String) throws -> PortfolioSnapshot {
        waitIdle()
        final class Box: @unchecked Sendable { var r: Result<PortfolioSnapshot?, OrderStoreError>? }
        let box = Box()
        try runner.sync { self.store.portfolio(of: user) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try #require(try runner.sync { try box.r!.get() })
    }

    /// Everything written and (PostgreSQL) applied by the ledger.
    func waitIdle() {
        guard storage == .postgres else { return }
        #expect(runner.wait {
            self.ledger!.isIdle && self.ledgerPG!.pendingStatements == 0 && self.pgStore!.isIdle
        })
    }

    /// PostgreSQL: what the gateway holds in pending for `user` (cash, and shares of `symbol`).
    func pending(_ user: String, _ symbol: String) throws -> (cash: Int64, qty: Int64) {
        guard storage == .postgres else { return (0, 0) }
        waitIdle()
        final class Box: @unchecked Sendable { var a: [[String?]]?; var h: [[String?]]? }
        let box = Box()
        try runner.sync { [self] in
            pgStore!.pg.query("SELECT pending_reserved FROM accounts WHERE user_id = $1", [user]) { box.a = try? $0.get().rows }
            pgStore!.pg.query("SELECT pending_reserved_qty FROM holdings WHERE user_id = $1 AND symbol = $2",
                              [user, symbol]) { box.h = try? $0.get().rows }
        }
        #expect(runner.wait { box.a != nil && box.h != nil })
        return try runner.sync {
            (Int64(box.a?.first?[0] ?? "0") ?? -1, Int64(box.h?.first?[0] ?? "0") ?? -1)
        }
    }

    /// PostgreSQL: what replaying the user's ledger events disagrees with in the tables (journal: the fold is the
    /// tables, nothing to compare).
    func replayDifferences(_ user: String) throws -> [String] {
        guard storage == .postgres else { return [] }
        waitIdle()
        final class Box: @unchecked Sendable { var r: Result<(LedgerAccount, [String]), OrderStoreError>? }
        let box = Box()
        try runner.sync { LedgerReplay.check(user: user, pg: self.ledgerPG!) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { try box.r!.get().1 }
    }

    func shutdown() {
        try? runner.sync { [self] in
            gateway?.stop()
            sim.stop()
            pgStore?.close()
            ledgerPG?.close()
            journal?.flush()
        }
        runner.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
