// PostgresOrderStore's group commit: writes of one loop iteration share a transaction, and a failing write in a
// batch fails alone (the rest are retried one by one and succeed).
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct PostgresOrderStoreTests {
    final class Box: @unchecked Sendable {
        var store: PostgresOrderStore?
        var ready: Result<Void, OrderStoreError>?
        var funds: [Int: Result<FundsOutcome, OrderStoreError>] = [:]
        var users = 0
    }

    @Test func batchedWritesFailIndividually() throws {
        let conninfo = try OrdersTestDB.freshConninfo()
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        let loop = runner.loop
        try runner.sync {
            let s = PostgresOrderStore(conninfo: conninfo, loop: loop, logger: ordersTestLogger, writeConnections: 1)
            box.store = s
            s.prepare { r in
                box.ready = r
                s.createUser("u", passwordHash: "h") { _ in box.users += 1 }
            }
        }
        #expect(runner.wait { box.users == 1 })
        try runner.sync {
            let s = box.store!
            // Same loop iteration: one batch. The third reuses the first's event id (outbox UNIQUE violation).
            let ids = ["f:1", "f:2", "f:1", "f:3"]
            for (i, id) in ids.enumerated() {
                s.funds(LedgerEvent(eventId: id, userId: "u", body: .deposit(amount: 100))) { box.funds[i] = $0 }
            }
        }
        #expect(runner.wait { box.funds.count == 4 })
        let (results, largest) = try runner.sync { (box.funds, box.store!.largestBatch) }
        #expect(largest == 4)
        #expect(try results[0]!.get() == .accepted)
        #expect(try results[1]!.get() == .accepted)
        #expect(throws: OrderStoreError.self) { try results[2]!.get() }
        #expect(try results[3]!.get() == .accepted)
        final class Rows: @unchecked Sendable { var r: [[String?]]? }
        let rows = Rows()
        try runner.sync { box.store!.pg.query("SELECT event_id FROM outbox ORDER BY seq") { rows.r = try? $0.get().rows } }
        #expect(runner.wait { rows.r != nil })
        #expect(try runner.sync { rows.r } == [["f:1"], ["f:2"], ["f:3"]])
        try runner.sync { box.store!.close() }
    }

    @Test func outboxKeepsUndeliveredEventsAndDropsAcknowledgedOnes() throws {
        let conninfo = try OrdersTestDB.freshConninfo()
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        let loop = runner.loop
        try runner.sync {
            let s = PostgresOrderStore(conninfo: conninfo, loop: loop, logger: ordersTestLogger)
            box.store = s
            s.prepare { _ in s.createUser("u", passwordHash: "h") { _ in box.users += 1 } }
        }
        #expect(runner.wait { box.users == 1 })
        let ids = ["f:1", #"f:"odd,{id}\"#, "f:3"]
        try runner.sync {
            for (i, id) in ids.enumerated() {
                box.store!.funds(LedgerEvent(eventId: id, userId: "u", body: .deposit(amount: Int64(i + 1)))) { box.funds[i] = $0 }
            }
        }
        #expect(runner.wait { box.funds.count == 3 })
        try runner.sync { box.store!.eventsDelivered([ids[0], ids[1]]) }
        #expect(runner.wait { box.store!.isIdle })
        final class Left: @unchecked Sendable { var events: [LedgerEvent]? }
        let left = Left()
        #expect(runner.wait(seconds: 5) {
            box.store!.undeliveredEvents { left.events = try? $0.get() }
            return left.events?.map(\.eventId) == ["f:3"]
        })
        #expect(try runner.sync { left.events?.first?.body } == .deposit(amount: 3))
        try runner.sync { box.store!.close() }
    }

    /// Exchange acknowledgements of one iteration go out as one statement per lane; each caller still learns
    /// whether its own call moved the order (a repeated New changes nothing and says so).
    @Test func acknowledgementsAreBatchedAndRepeatsChangeNothing() throws {
        let conninfo = try OrdersTestDB.freshConninfo()
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        final class Acks: @unchecked Sendable {
            var placed = 0
            var acks: [Int: Result<Bool, OrderStoreError>] = [:]
            var statuses: [[String?]]?
        }
        let box = Box(), acks = Acks()
        let loop = runner.loop
        try runner.sync {
            let s = PostgresOrderStore(conninfo: conninfo, loop: loop, logger: ordersTestLogger, writeConnections: 1)
            box.store = s
            s.prepare { _ in
                s.createUser("u", passwordHash: "h") { _ in
                    s.pg.query("UPDATE accounts SET cash = 100000000 WHERE user_id = 'u'") { _ in box.users += 1 }
                }
            }
        }
        #expect(runner.wait { box.users == 1 })
        try runner.sync {
            for i in 1...3 {
                let o = StoredOrder(orderId: "o\(i)", userId: "u", clientOrderId: "c\(i)", symbol: "AAPL", side: .buy,
                                    type: .limit, tif: .day, qty: 10, price: 1_000_000, reservePrice: 1_000_000)
                let e = LedgerEvent(eventId: "p\(i)", userId: "u", body: .orderPlaced(
                    orderId: o.orderId, symbol: o.symbol, side: .buy, qty: 10, reservePrice: 1_000_000))
                box.store!.place(o, event: e) { r in if case .success(.placed) = r { acks.placed += 1 } }
            }
        }
        #expect(runner.wait { acks.placed == 3 })
        let before = try runner.sync { box.store!.pg.statementsSucceeded }
        try runner.sync {
            for (i, id) in ["o1", "o2", "o1", "o3"].enumerated() {
                box.store!.apply(ExecutionUpdate(orderId: id, execId: "x\(i)", status: .new, filled: 0, avgPrice: 0)) {
                    acks.acks[i] = $0
                }
            }
        }
        #expect(runner.wait { acks.acks.count == 4 })
        let results = try runner.sync { acks.acks.sorted { $0.key < $1.key }.map { try? $0.value.get() } }
        // o1 twice in one batch: one statement moves it once, and only the first call learns "changed".
        #expect(results == [true, true, false, true])
        #expect(try runner.sync { box.store!.pg.statementsSucceeded } == before + 1)   // four acknowledgements, one statement
        try runner.sync {
            box.store!.apply(ExecutionUpdate(orderId: "o2", execId: "x9", status: .new, filled: 0, avgPrice: 0)) {
                acks.acks[9] = $0
            }
        }
        #expect(runner.wait { acks.acks[9] != nil })
        #expect(try runner.sync { try acks.acks[9]?.get() } == false)
        try runner.sync {
            box.store!.pg.query("SELECT order_id, status FROM orders ORDER BY order_id") { acks.statuses = try? $0.get().rows }
        }
        #expect(runner.wait { acks.statuses != nil })
        #expect(try runner.sync { acks.statuses } == [["o1", "new"], ["o2", "new"], ["o3", "new"]])
        try runner.sync { box.store!.close() }
    }
}
