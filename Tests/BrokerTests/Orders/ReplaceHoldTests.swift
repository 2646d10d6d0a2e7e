// Cancel/replace that needs a larger reservation, on both storages against the real exchange simulator: the extra
// is held before 35=G (reserved rises at once), kept when the exchange replaces, given back when it refuses, and
// a replace the account cannot cover is refused with nothing changed. Money is conserved throughout.
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct ReplaceHoldTests {
    static let cash: Int64 = 5_000_000   // 50,000.00

    @Test(arguments: OrdersStorage.allCases)
    func buyReplacedUpHoldsTheExtraAndARefusedReplaceGivesItBack(_ storage: OrdersStorage) throws {
        // The exchange trades on a 0.05 grid, the gateway on 0.01: a replace to x.x1 passes risk and is refused (9).
        let rig = try SimOrdersRig(storage, exchangeTick: 500)
        defer { rig.shutdown() }
        try rig.user("cal", cash: Self.cash)
        try rig.startGateway()
        let px = try rig.last("S0001") - 2_500   // rests below the maker's bids
        func need(_ qty: Int64, _ price: Int64) -> Int64 { LedgerAccount.buyReservation(qty: qty, reservePrice: price)! }
        let id = try rig.place("cal", "c-1", "S0001", .buy, qty: 10, price: px).get().orderId
        #expect(rig.waitStatus(id, .new))
        #expect(try rig.portfolio("cal").reserved == need(10, px))

        // Up: 10 -> 14 at a higher price. The extra is reserved before the G leaves (held, then the ledger's
        // own reservation: the total never dips)...
        let up = try rig.replace("cal", id, qty: 14, price: px + 500)
        #expect(try up.get().amendSeq == 1)
        #expect(try rig.portfolio("cal").reserved == need(14, px + 500))
        // ...and kept once the exchange replaced the order.
        #expect(rig.waitOrder(id) { $0.qty == 14 })
        #expect(rig.waitStatus(id, .replaced))
        #expect(try rig.portfolio("cal").reserved == need(14, px + 500))
        #expect(try rig.pending("cal", "S0001") == (0, 0))
        #expect(try rig.order(id)?.replaceHold == 0)

        // Beyond buying power: refused with the stable code, nothing changed (order, reservation, amend count).
        let before = (try rig.portfolio("cal"), try rig.order(id))
        #expect(throws: OrderGateway.Refusal.risk(.insufficientFunds)) {
            try rig.replace("cal", id, qty: Self.cash * 100 / (px + 500) + 10, price: px + 500).get()
        }
        #expect(try rig.portfolio("cal") == before.0)
        #expect(try rig.order(id) == before.1)

        // Refused by the exchange (off its tick): the extra comes back, the order stays as it was.
        let extra = need(16, px + 600) - need(14, px + 500)
        _ = try rig.replace("cal", id, qty: 16, price: px + 600).get()
        #expect(rig.runner.wait { rig.gateway.live[id]?.order.replaceHold == 0 })
        #expect(extra > 0)
        let after = try rig.portfolio("cal")
        #expect(after.reserved == need(14, px + 500) && after.cash == Self.cash)
        let o = try #require(try rig.order(id))
        #expect(o.qty == 14 && o.price == px + 500 && o.replaceHold == 0 && o.amendSeq == 2)
        #expect(try rig.pending("cal", "S0001") == (0, 0))

        // A replace up is accepted again, then the order is canceled with its hold outstanding or settled:
        // everything is released and the cash is all there.
        _ = try rig.replace("cal", id, qty: 15).get()
        #expect(rig.waitOrder(id) { $0.qty == 15 })
        _ = try rig.cancel("cal", id).get()
        #expect(rig.waitStatus(id, .canceled))
        let end = try rig.portfolio("cal")
        #expect(end.reserved == 0 && end.cash == Self.cash)
        #expect(try rig.pending("cal", "S0001") == (0, 0))
        #expect(try rig.replayDifferences("cal") == [])
        // (PostgreSQL: a gateway start republishes its outbox; the ledger skips what it has, and so do we.)
        var seen: Set<String> = []
        let types = try rig.runner.sync { rig.events.filter { $0.userId == "cal" && seen.insert($0.eventId).inserted } }
            .map(\.typeName)
        #expect(types == ["DEPOSIT", "ORDER_PLACED", "ORDER_REPLACED", "ORDER_REPLACED", "ORDER_CANCELED"])
    }

    @Test(arguments: OrdersStorage.allCases)
    func holdsSurviveARestartAndAnEndedOrderGivesItsHoldBack(_ storage: OrdersStorage) throws {
        let rig = try SimOrdersRig(storage)
        defer { rig.shutdown() }
        try rig.user("eve", cash: 1_000_000)
        let o = StoredOrder(orderId: "5", userId: "eve", clientOrderId: "c5", symbol: "S0001", side: .buy,
                            type: .limit, tif: .day, qty: 10, price: 1_000_000, reservePrice: 1_000_000)
        let placed = LedgerEvent(eventId: "p:5", userId: "eve", ts: 1,
                                 body: .orderPlaced(orderId: "5", symbol: "S0001", side: .buy, qty: 10, reservePrice: 1_000_000))
        #expect(try rig.call { $0.place(o, event: placed, $1) } == .placed(o))
        try rig.runner.sync { rig.bus.publish(placed) }
        #expect(try rig.call { $0.holdReplace(o, extra: 950_000, $1) } == .refused(.insufficientFunds))
        #expect(try rig.call { $0.holdReplace(o, extra: 50_000, $1) } == .held(amendSeq: 1))
        #expect(try rig.call { $0.holdReplace(o, extra: 1, $1) } == .conflict)   // one at a time
        #expect(try rig.portfolio("eve").reserved == 150_000)
        // A withdrawal sees the hold too.
        let w = LedgerEvent(eventId: "w:1", userId: "eve", ts: 2, body: .withdrawal(amount: 850_001))
        #expect(try rig.call { $0.funds(w, $1) } == .insufficientFunds)

        try rig.reopenStore()
        #expect(try rig.portfolio("eve").reserved == 150_000)
        let held = try #require(try rig.order("5"))
        #expect(held.replaceHold == 50_000 && held.replaceHoldSeq == 1 && held.amendSeq == 1)
        #expect(try rig.call { $0.releaseReplace(o, amendSeq: 2, $1) } == false)   // not that replace's

        // The order is canceled and the process dies before the gateway releases the hold: the store's
        // next start gives it back (the journal in the same record as the cancel).
        let canceled = LedgerEvent(eventId: "x:5:c", userId: "eve", ts: 3, body: .orderCanceled(orderId: "5"))
        let u = ExecutionUpdate(orderId: "5", execId: "5:c", status: .canceled, filled: 0, avgPrice: 0, event: canceled)
        #expect(try rig.call { $0.apply(u, $1) } == true)
        try rig.runner.sync { rig.bus.publish(canceled) }
        try rig.reopenStore()
        let end = try rig.portfolio("eve")
        #expect(end.reserved == 0 && end.cash == 1_000_000)
        #expect(try rig.order("5")?.replaceHold == 0)
        #expect(try rig.pending("eve", "S0001") == (0, 0))
        #expect(try rig.call { $0.releaseReplace(o, amendSeq: nil, $1) } == false)
    }

    @Test(arguments: OrdersStorage.allCases)
    func sellReplacedUpHoldsSharesAndCannotExceedTheFreeOnes(_ storage: OrdersStorage) throws {
        let rig = try SimOrdersRig(storage)
        defer { rig.shutdown() }
        try rig.user("dan", cash: Self.cash)
        try rig.startGateway()
        let last = try rig.last("S0003")
        // Buy 20 through the maker's ask, then offer 5 well above the market.
        let buy = try rig.place("dan", "b", "S0003", .buy, qty: 20, price: last + 100).get().orderId
        #expect(rig.waitStatus(buy, .filled))
        let sell = try rig.place("dan", "s", "S0003", .sell, qty: 5, price: last + 5_000).get().orderId
        #expect(rig.waitStatus(sell, .new))
        #expect(try rig.portfolio("dan").holdings.first?.reservedQty == 5)

        #expect(throws: OrderGateway.Refusal.risk(.insufficientHoldings)) {
            try rig.replace("dan", sell, qty: 21).get()
        }
        #expect(try rig.portfolio("dan").holdings.first?.reservedQty == 5)
        _ = try rig.replace("dan", sell, qty: 12).get()
        #expect(try rig.portfolio("dan").holdings.first?.reservedQty == 12)   // held at once
        #expect(rig.waitOrder(sell) { $0.qty == 12 })
        let p = try rig.portfolio("dan")
        #expect(p.holdings.first?.reservedQty == 12 && p.holdings.first?.qty == 20)
        #expect(try rig.pending("dan", "S0003") == (0, 0))
        // The other 8 are free: a second sell of 9 does not fit, 8 does.
        #expect(throws: OrderGateway.Refusal.risk(.insufficientHoldings)) {
            try rig.place("dan", "s2", "S0003", .sell, qty: 9, price: last + 5_000).get()
        }
        #expect(try rig.place("dan", "s3", "S0003", .sell, qty: 8, price: last + 5_000).get().qty == 8)
        #expect(try rig.replayDifferences("dan") == [])
        // Money: what the buy cost left the account, nothing else moved.
        let value = FixedPointDecimal.cashValue(price: last + 100, qty: 20, rounding: .halfUp)!
        #expect(try rig.portfolio("dan").cash == Self.cash - value)
    }
}
