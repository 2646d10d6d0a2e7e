// Order entry of the exchange simulator without sockets: FIX requests in, ExecutionReports and
// OrderCancelRejects out, with the simulated market maker posting around a reference price.
import FIX
import Testing
@testable import Broker

@Suite struct ExchangeOrderHandlerTests {
    let symbols = SymbolUniverse.generated(count: 4)
    let now = FIXTimestamp.seconds(1_800_000_000)
    // Market maker: 5 levels x 1000 shares, best bid 99.99 / best ask 100.01 around 100.00.
    func handler() -> ExchangeOrderHandler { ExchangeOrderHandler(symbols: symbols, tickSize: 100) }
    func ref(_ id: Int32) -> Int64 { 1_000_000 }

    func order(_ id: String, _ side: FIXSide, qty: Int64, price: Int64?, type: FIXOrdType = .limit,
               tif: FIXTimeInForce? = nil, symbol: String = "S0001") -> FIXNewOrderSingle {
        FIXNewOrderSingle(clOrdID: id, symbol: symbol, side: side, ordType: type, orderQty: qty, price: price,
                          timeInForce: tif, transactTime: now)
    }

    func new(_ h: inout ExchangeOrderHandler, _ o: FIXNewOrderSingle, _ out: inout [ExchangeOrderOutput],
             session: Int) {
        h.newOrder(o, session: session, referencePrice: ref, now: now, into: &out)
    }

    func reports(_ out: [ExchangeOrderOutput]) -> [FIXExecutionReport] {
        out.compactMap { if case .executionReport(_, let r) = $0 { return r } else { return nil } }
    }

    @Test func limitBuyThroughTheMakerFillsPartiallyThenFully() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("c1", .buy, qty: 1_500, price: 1_000_200), &out, session: 0)
        let r = reports(out)
        #expect(r.map(\.execType) == [.new, .trade, .trade])
        #expect(r.map(\.ordStatus) == [.new, .partiallyFilled, .filled])
        #expect(r[1].lastQty == 1_000 && r[1].lastPx == 1_000_100 && r[1].leavesQty == 500 && r[1].cumQty == 1_000)
        #expect(r[2].lastQty == 500 && r[2].lastPx == 1_000_200 && r[2].leavesQty == 0 && r[2].cumQty == 1_500)
        #expect(r[2].avgPx == (1_000_100 * 1_000 + 1_000_200 * 500) / 1_500)
        #expect(Set(r.map(\.execID)).count == 3 && r.allSatisfy { $0.clOrdID == "c1" && $0.symbol == "S0001" })
        let trades = out.filter { if case .trade = $0 { return true } else { return false } }
        #expect(trades == [.trade(symbolId: 1, price: 1_000_100, qty: 1_000),
                           .trade(symbolId: 1, price: 1_000_200, qty: 500)])
        #expect(h.liquidityProvider(1).position == -1_500)
        #expect(!h.hasRestingUserOrders(1))
    }

    @Test func marketSellFillsAndIOCRemainderIsCanceled() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("m1", .sell, qty: 200, price: nil, type: .market), &out, session: 0)
        #expect(reports(out).map(\.ordStatus) == [.new, .filled])
        #expect(reports(out).last?.lastPx == 999_900)
        out.removeAll()
        // IOC buy limited to the best ask: 1000 fill, the other 500 canceled at once.
        h.newOrder(order("i1", .buy, qty: 1_500, price: 1_000_100, tif: .immediateOrCancel), session: 0,
                   referencePrice: ref, now: now, into: &out)
        let r = reports(out)
        #expect(r.map(\.execType) == [.new, .trade, .canceled])
        #expect(r[2].cumQty == 1_000 && r[2].leavesQty == 0 && r[2].ordStatus == .canceled)
    }

    @Test func restingOrderIsReplacedThenCanceled() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("r1", .buy, qty: 100, price: 990_000), &out, session: 2)
        #expect(reports(out).map(\.execType) == [.new])
        #expect(h.hasRestingUserOrders(1))
        out.removeAll()
        h.replace(FIXOrderCancelReplaceRequest(origClOrdID: "r1", clOrdID: "r2", symbol: "S0001", side: .buy,
                                               ordType: .limit, orderQty: 300, price: 995_000, transactTime: now),
                  session: 2, referencePrice: ref, now: now, into: &out)
        var r = reports(out)
        #expect(r.map(\.execType) == [.replaced])
        #expect(r[0].clOrdID == "r2" && r[0].origClOrdID == "r1" && r[0].orderQty == 300 && r[0].price == 995_000)
        #expect(r[0].leavesQty == 300 && r[0].ordStatus == .new)  // FIX 4.4: current status, not 5
        out.removeAll()
        h.cancel(FIXOrderCancelRequest(origClOrdID: "r2", clOrdID: "r3", symbol: "S0001", side: .buy, orderQty: 300,
                                       transactTime: now), session: 2, now: now, into: &out)
        r = reports(out)
        #expect(r.map(\.execType) == [.canceled])
        #expect(r[0].clOrdID == "r3" && r[0].origClOrdID == "r2" && r[0].leavesQty == 0)
        #expect(out.allSatisfy { if case .executionReport(2, _) = $0 { return true } else { return false } })
        #expect(!h.hasRestingUserOrders(1))
        // Canceling again is too late: 9 with CxlRejReason 0 and the order's status.
        out.removeAll()
        h.cancel(FIXOrderCancelRequest(origClOrdID: "r3", clOrdID: "r4", symbol: "S0001", side: .buy, orderQty: 300,
                                       transactTime: now), session: 2, now: now, into: &out)
        guard case .cancelReject(2, let rej)? = out.first else { Issue.record("no 9: \(out)"); return }
        #expect(rej.reason == 0 && rej.ordStatus == .canceled && rej.responseTo == .cancel)
    }

    @Test func unknownOrderGetsOrderCancelReject() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        h.cancel(FIXOrderCancelRequest(origClOrdID: "nope", clOrdID: "x1", symbol: "S0001", side: .buy, orderQty: 1,
                                       transactTime: now), session: 0, now: now, into: &out)
        h.replace(FIXOrderCancelReplaceRequest(origClOrdID: "nope", clOrdID: "x2", symbol: "S0001", side: .buy,
                                               ordType: .limit, orderQty: 1, price: 1_000_000, transactTime: now),
                  session: 0, referencePrice: ref, now: now, into: &out)
        let rejects = out.compactMap { if case .cancelReject(_, let r) = $0 { return r } else { return nil } }
        #expect(rejects.map(\.reason) == [1, 1])
        #expect(rejects.map(\.responseTo) == [.cancel, .cancelReplace])
        #expect(rejects[0].clOrdID == "x1" && rejects[0].origClOrdID == "nope")
    }

    @Test func invalidOrdersAreRejected() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("a", .buy, qty: 10, price: 1_000_050), &out, session: 0)
        new(&h, order("b", .buy, qty: 10, price: 1_000_000, symbol: "NOPE"), &out, session: 0)
        new(&h, order("c", .buy, qty: 0, price: 1_000_000), &out, session: 0)
        new(&h, order("d", .buy, qty: 10, price: 1_000_000, tif: .fillOrKill), &out, session: 0)
        new(&h, order("d", .buy, qty: 10, price: 1_000_000), &out, session: 0)
        let r = reports(out)
        #expect(r.allSatisfy { $0.execType == .rejected && $0.ordStatus == .rejected && $0.leavesQty == 0 })
        #expect(r.map { $0.text ?? "" } == ["off_tick", "unknown_symbol", "invalid_quantity",
                                            "unsupported_time_in_force", "duplicate_clordid"])
    }

    @Test func resentOrderGetsItsStatusNeverASecondOrder() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("s1", .buy, qty: 100, price: 990_000), &out, session: 3)
        new(&h, order("s2", .buy, qty: 100, price: 1_000_200), &out, session: 3)   // fills at once
        out.removeAll()
        // The same D again (a gateway recovering from a crash after sending it): the order's state, ExecType I.
        new(&h, order("s1", .buy, qty: 100, price: 990_000), &out, session: 3)
        new(&h, order("s2", .buy, qty: 100, price: 1_000_200), &out, session: 3)
        var r = reports(out)
        #expect(r.map(\.execType) == [.orderStatus, .orderStatus])
        #expect(r[0].ordStatus == .new && r[0].clOrdID == "s1" && r[0].leavesQty == 100 && r[0].cumQty == 0)
        #expect(r[1].ordStatus == .filled && r[1].cumQty == 100 && r[1].avgPx == 1_000_100 && r[1].lastQty == nil)
        #expect(!out.contains { if case .trade = $0 { return true } else { return false } })
        #expect(h.recordsHeld == 2 && h.book(1).queue(.buy, price: 990_000).count == 1)
        // After a replace the status names the current ClOrdID; a ClOrdID unknown to the session is a new order.
        out.removeAll()
        h.replace(FIXOrderCancelReplaceRequest(origClOrdID: "s1", clOrdID: "s1.1", symbol: "S0001", side: .buy,
                                               ordType: .limit, orderQty: 150, price: 990_000, transactTime: now),
                  session: 3, referencePrice: ref, now: now, into: &out)
        new(&h, order("s1", .buy, qty: 100, price: 990_000), &out, session: 3)
        new(&h, order("s1", .buy, qty: 100, price: 990_000), &out, session: 4)
        r = reports(out)
        #expect(r.map(\.execType) == [.replaced, .orderStatus, .new])
        #expect(r[1].clOrdID == "s1.1" && r[1].orderQty == 150 && r[1].leavesQty == 150)
        #expect(h.recordsHeld == 3 && h.book(1).queue(.buy, price: 990_000).count == 2)
    }

    @Test func restingOrderFillsWhenTheMarketMovesThroughIt() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("p1", .buy, qty: 400, price: 995_000), &out, session: 1)
        out.removeAll()
        // The simulated price falls to 99.00: the maker's new asks start at 99.01, below our 99.50 bid.
        h.refreshLiquidity(1, referencePrice: 990_000, now: now, into: &out)
        let r = reports(out)
        #expect(r.map(\.execType) == [.trade])
        #expect(r[0].ordStatus == .filled && r[0].lastPx == 995_000 && r[0].cumQty == 400)
        #expect(!h.hasRestingUserOrders(1))
    }

    @Test func replaceThatCrossesTradesAtOnceAndBadReplaceIsRejected() {
        var h = handler()
        var out: [ExchangeOrderOutput] = []
        new(&h, order("q1", .sell, qty: 500, price: 1_010_000), &out, session: 0)
        out.removeAll()
        h.replace(FIXOrderCancelReplaceRequest(origClOrdID: "q1", clOrdID: "q2", symbol: "S0001", side: .sell,
                                               ordType: .limit, orderQty: 500, price: 1_000_050, transactTime: now),
                  session: 0, referencePrice: ref, now: now, into: &out)
        #expect(reports(out).isEmpty)
        let rejects = out.compactMap { if case .cancelReject(_, let r) = $0 { return r } else { return nil } }
        #expect(rejects.count == 1 && rejects[0].text == "invalid_price" && rejects[0].clOrdID == "q2")
        out.removeAll()
        // Same order, on tick and crossing the maker's best bid (99.99): replaced, then filled at 99.99.
        h.replace(FIXOrderCancelReplaceRequest(origClOrdID: "q1", clOrdID: "q3", symbol: "S0001", side: .sell,
                                               ordType: .limit, orderQty: 500, price: 999_900, transactTime: now),
                  session: 0, referencePrice: ref, now: now, into: &out)
        let r = reports(out)
        #expect(r.map(\.execType) == [.replaced, .trade])
        #expect(r[1].ordStatus == .filled && r[1].lastPx == 999_900 && r[1].clOrdID == "q3")
    }

    @Test func finishedOrdersAreForgottenPastTheRetentionBound() {
        var h = ExchangeOrderHandler(symbols: symbols, tickSize: 100, retainedFinishedOrders: 2)
        var out: [ExchangeOrderOutput] = []
        for n in 1...5 { new(&h, order("f\(n)", .buy, qty: 10, price: nil, type: .market), &out, session: 0) }
        new(&h, order("live", .buy, qty: 10, price: 900_000), &out, session: 0)
        #expect(h.recordsHeld == 3)  // two remembered finished orders + the live one
        out.removeAll()
        for orig in ["f1", "f5"] {
            h.cancel(FIXOrderCancelRequest(origClOrdID: orig, clOrdID: "x-\(orig)", symbol: "S0001", side: .buy,
                                           orderQty: 10, transactTime: now), session: 0, now: now, into: &out)
        }
        let rejects = out.compactMap { if case .cancelReject(_, let r) = $0 { return r } else { return nil } }
        #expect(rejects.map(\.reason) == [1, 0])  // forgotten: unknown; remembered: too late
        out.removeAll()
        new(&h, order("f1", .buy, qty: 10, price: nil, type: .market), &out, session: 0)
        #expect(reports(out).last?.ordStatus == .filled)  // a forgotten ClOrdID may be used again
    }
}
