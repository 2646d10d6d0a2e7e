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
}
