// End-to-end domain check: users trade through the order book against the liquidity provider and
// each other; ledger events derived from the book's events keep money and shares conserved.
import Testing

@testable import Broker

@Suite struct ConservationTests {
    @Test func moneyAndSharesConservedAcrossAccountsAndCounterparty() {
        let lpOwner: UInt64 = 1_000
        var book = OrderBook(symbolId: 0, configuration: .init(tickSize: 100))
        var lp = SimulatedLiquidityProvider(configuration: .init(levels: 3, sizePerLevel: 50, owner: lpOwner))
        var accounts = (0..<4).map { LedgerAccount(userId: "u\($0)") }
        var events: [OrderBookEvent] = []
        var n = 0
        var orderIds: [UInt64: String] = [:]  // book order id -> ledger order id
        func ledger(_ user: Int, _ body: LedgerEvent.Body) -> LedgerApplyOutcome {
            n += 1
            return accounts[user].apply(LedgerEvent(eventId: "e\(n)", userId: "u\(user)", body: body))
        }
        for u in 0..<4 { _ = ledger(u, .deposit(amount: 10_000_000)) }  // 100,000.00 each
        var rng: UInt64 = 99
        func next(_ k: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(k))
        }
        var reference: Int64 = 1_000_000  // 100.00
        var fills = 0
        for step in 0..<400 {
            events.removeAll()
            if step % 10 == 0 {
                reference += Int64(next(5) - 2) * 100
                lp.refresh(book: &book, referencePrice: reference, events: &events)
            } else {
                let u = next(4)
                let side: OrderSide = next(2) == 0 ? .buy : .sell
                let qty = Int64(1 + next(30))
                let limit = reference + Int64(next(7) - 3) * 100
                let held = accounts[u].holdings["SYM"]?.availableQty ?? 0
                if side == .sell && held < qty { continue }
                n += 1
                let ledgerId = "o\(n)"
                guard
                    ledger(
                        u,
                        .orderPlaced(
                            orderId: ledgerId, symbol: "SYM", side: side, qty: qty,
                            reservePrice: limit)) == .applied
                else { continue }
                let tif: TimeInForce = next(3) == 0 ? .ioc : .day
                let id = book.submit(
                    OrderBookRequest(side: side, qty: qty, price: limit, tif: tif, owner: UInt64(u)),
                    events: &events)!
                orderIds[id] = ledgerId
            }
            for e in events {
                lp.observe(e)
                switch e {
                case .trade(let t):
                    for (owner, orderId, leaves, execId) in [
                        (t.buyOwner, t.buyOrderId, t.buyLeaves, t.buyExecId),
                        (t.sellOwner, t.sellOrderId, t.sellLeaves, t.sellExecId),
                    ]
                    where owner != lpOwner {
                        let oid = orderIds[orderId]!
                        let body: LedgerEvent.Body =
                            leaves == 0
                            ? .orderFilled(orderId: oid, execId: "\(execId)", price: t.price, qty: t.qty)
                            : .orderPartiallyFilled(orderId: oid, execId: "\(execId)", price: t.price, qty: t.qty)
                        #expect(ledger(Int(owner), body) == .applied)
                        fills += 1
                    }
                case .canceled(let orderId, let owner, _, _, _) where owner != lpOwner:
                    #expect(ledger(Int(owner), .orderCanceled(orderId: orderIds[orderId]!)) == .applied)
                default: break
                }
            }
        }
        #expect(fills > 50)
        events.removeAll()
        book.cancelAll(events: &events)
        for case .canceled(let orderId, let owner, _, _, _) in events where owner != lpOwner {
            #expect(ledger(Int(owner), .orderCanceled(orderId: orderIds[orderId]!)) == .applied)
        }
        let totals = LedgerTotals(accounts)
        #expect(totals.netDeposits == 40_000_000)
        #expect(totals.isConserved(counterpartyCash: lp.cash, counterpartyShares: ["SYM": lp.position]))
        #expect(!totals.isConserved(counterpartyCash: lp.cash + 1, counterpartyShares: ["SYM": lp.position]))
        for a in accounts {
            #expect(a.invariantViolations().isEmpty)
            #expect(a.reservedCash == 0 && a.openOrders.isEmpty)
            #expect(a.cash >= 0)
        }
    }
}
