// Tests for the price-time priority order book, the liquidity provider and the engine router.
import Testing

@testable import Broker

private func px(_ whole: Int64) -> Int64 { whole * 10_000 }

private func trades(_ events: [OrderBookEvent]) -> [OrderBookTrade] {
    events.compactMap { if case .trade(let t) = $0 { t } else { nil } }
}

@Suite struct OrderBookTests {
    var book = OrderBook(symbolId: 3, configuration: .init(tickSize: 100))
    var events: [OrderBookEvent] = []

    @discardableResult
    mutating func limit(
        _ side: OrderSide, _ qty: Int64, _ price: Int64, owner: UInt64 = 1,
        tif: TimeInForce = .day
    ) -> UInt64? {
        book.submit(OrderBookRequest(side: side, qty: qty, price: price, tif: tif, owner: owner), events: &events)
    }

    @Test mutating func restingOrdersFormLevels() {
        let a = limit(.buy, 10, px(100))!
        limit(.buy, 5, px(101))
        limit(.sell, 7, px(103))
        limit(.buy, 3, px(100))
        #expect(events.first == .accepted(orderId: a, owner: 1, side: .buy, price: px(100), qty: 10))
        #expect(MatchingEngine.symbolId(ofOrder: a) == 3)
        #expect(trades(events).isEmpty)
        #expect(book.bestBid == OrderBookLevel(price: px(101), qty: 5, orders: 1))
        #expect(book.bestAsk == OrderBookLevel(price: px(103), qty: 7, orders: 1))
        #expect(
            book.depth(.buy, levels: 5) == [
                OrderBookLevel(price: px(101), qty: 5, orders: 1),
                OrderBookLevel(price: px(100), qty: 13, orders: 2),
            ])
        #expect(book.orderCount == 4)
    }

    @Test mutating func priceThenTimePriority() {
        let s1 = limit(.sell, 5, px(101), owner: 11)!
        let s2 = limit(.sell, 5, px(100), owner: 12)!
        let s3 = limit(.sell, 5, px(100), owner: 13)!
        events.removeAll()
        let b = limit(.buy, 12, px(101), owner: 20)!
        let t = trades(events)
        #expect(t.map(\.sellOrderId) == [s2, s3, s1])
        #expect(t.map(\.price) == [px(100), px(100), px(101)])  // at the resting prices
        #expect(t.map(\.qty) == [5, 5, 2])
        #expect(t.allSatisfy { $0.buyOrderId == b && $0.aggressor == .buy && $0.buyOwner == 20 })
        #expect(t.last!.buyLeaves == 0 && t.last!.buyCum == 12)
        #expect(t.last!.sellLeaves == 3 && t.last!.sellCum == 2)
        #expect(book.order(s1)?.leaves == 3)
        #expect(book.order(b) == nil)  // fully filled, never rested
        #expect(book.bestBid == nil)
    }

    @Test mutating func partialFillRestsRemainder() {
        let s = limit(.sell, 4, px(100))!
        events.removeAll()
        let b = limit(.buy, 10, px(100))!
        #expect(trades(events).count == 1)
        #expect(book.order(s) == nil)
        #expect(book.order(b) == OrderBookOrder(orderId: b, owner: 1, side: .buy, price: px(100), leaves: 6, cum: 4))
        #expect(book.bestBid == OrderBookLevel(price: px(100), qty: 6, orders: 1))
        #expect(book.bestAsk == nil)
    }

    @Test mutating func marketOrderSweepsAndCancelsRemainder() {
        limit(.buy, 5, px(99))
        limit(.buy, 5, px(98))
        events.removeAll()
        let m = book.submit(OrderBookRequest(side: .sell, type: .market, qty: 12, owner: 7), events: &events)!
        #expect(trades(events).map(\.price) == [px(99), px(98)])
        #expect(events.last == .canceled(orderId: m, owner: 7, canceledQty: 2, cumQty: 10, reason: .noLiquidity))
        #expect(book.bestBid == nil && book.orderCount == 0)
    }

    @Test mutating func marketOrderOnEmptyBook() {
        let m = book.submit(OrderBookRequest(side: .buy, type: .market, qty: 3, owner: 7), events: &events)!
        #expect(
            events == [
                .accepted(orderId: m, owner: 7, side: .buy, price: 0, qty: 3),
                .canceled(orderId: m, owner: 7, canceledQty: 3, cumQty: 0, reason: .noLiquidity),
            ])
    }

    @Test mutating func iocFillsWhatCrossesAndCancelsTheRest() {
        limit(.sell, 3, px(100))
        limit(.sell, 3, px(102))
        events.removeAll()
        let b = limit(.buy, 10, px(101), tif: .ioc)!
        #expect(trades(events).map(\.qty) == [3])
        #expect(events.last == .canceled(orderId: b, owner: 1, canceledQty: 7, cumQty: 3, reason: .immediateOrCancel))
        #expect(book.bestBid == nil)
        #expect(book.bestAsk?.price == px(102))
        events.removeAll()
        let b2 = limit(.buy, 1, px(101), tif: .ioc)!
        #expect(events.last == .canceled(orderId: b2, owner: 1, canceledQty: 1, cumQty: 0, reason: .immediateOrCancel))
    }

    @Test mutating func cancelIsByIdAndKeepsOthersInOrder() {
        let a = limit(.buy, 1, px(100))!
        let b = limit(.buy, 2, px(100))!
        let c = limit(.buy, 3, px(100))!
        events.removeAll()
        book.cancel(b, events: &events)
        #expect(events == [.canceled(orderId: b, owner: 1, canceledQty: 2, cumQty: 0, reason: .requested)])
        #expect(book.queue(.buy, price: px(100)) == [a, c])
        #expect(book.bestBid == OrderBookLevel(price: px(100), qty: 4, orders: 2))
        events.removeAll()
        book.cancel(b, events: &events)
        #expect(events == [.cancelRejected(orderId: b, reason: .unknownOrder)])
        book.cancel(a, events: &events)
        book.cancel(c, events: &events)
        #expect(book.bestBid == nil && book.orderCount == 0)
        // Slots are reused after cancels.
        let d = limit(.buy, 1, px(100))!
        #expect(book.queue(.buy, price: px(100)) == [d])
    }

    @Test mutating func cancelAfterPartialFillReportsCum() {
        let s = limit(.sell, 10, px(100))!
        limit(.buy, 4, px(100))
        events.removeAll()
        book.cancel(s, events: &events)
        #expect(events == [.canceled(orderId: s, owner: 1, canceledQty: 6, cumQty: 4, reason: .requested)])
    }

    @Test mutating func replaceDownKeepsPriorityUpLosesIt() {
        let a = limit(.buy, 10, px(100))!
        let b = limit(.buy, 10, px(100))!
        events.removeAll()
        book.replace(a, qty: 6, price: px(100), events: &events)
        #expect(events == [.replaced(orderId: a, owner: 1, price: px(100), qty: 6, leaves: 6, keptPriority: true)])
        #expect(book.queue(.buy, price: px(100)) == [a, b])
        #expect(book.bestBid?.qty == 16)
        events.removeAll()
        book.replace(a, qty: 8, price: px(100), events: &events)
        #expect(events == [.replaced(orderId: a, owner: 1, price: px(100), qty: 8, leaves: 8, keptPriority: false)])
        #expect(book.queue(.buy, price: px(100)) == [b, a])
        #expect(book.bestBid?.qty == 18)
    }

    @Test mutating func replacePriceMovesAndCanTrade() {
        let s = limit(.sell, 5, px(103), owner: 2)!
        let b = limit(.buy, 10, px(100))!
        limit(.buy, 1, px(101))
        events.removeAll()
        book.replace(b, qty: 10, price: px(103), events: &events)
        #expect(
            events.first == .replaced(orderId: b, owner: 1, price: px(103), qty: 10, leaves: 10, keptPriority: false))
        let t = trades(events)
        #expect(
            t.count == 1 && t[0].buyOrderId == b && t[0].sellOrderId == s && t[0].qty == 5 && t[0].aggressor == .buy)
        #expect(book.order(b)?.leaves == 5 && book.order(b)?.price == px(103))
        #expect(book.queue(.buy, price: px(100)).isEmpty)
        #expect(book.bestBid?.price == px(103))
    }

    @Test mutating func replaceRejections() {
        let s = limit(.sell, 10, px(100))!
        limit(.buy, 4, px(100))
        events.removeAll()
        book.replace(s, qty: 4, price: px(100), events: &events)  // not above the 4 already filled
        book.replace(s, qty: 8, price: 1_000_050, events: &events)  // off the 0.01 tick
        book.replace(s, qty: 8, price: 0, events: &events)
        book.replace(99, qty: 8, price: px(100), events: &events)
        #expect(
            events == [
                .cancelRejected(orderId: s, reason: .invalidQuantity),
                .cancelRejected(orderId: s, reason: .invalidPrice),
                .cancelRejected(orderId: s, reason: .invalidPrice),
                .cancelRejected(orderId: 99, reason: .unknownOrder),
            ])
        #expect(book.order(s)?.leaves == 6)
    }

    @Test mutating func newOrderRejections() {
        #expect(limit(.buy, 0, px(100), owner: 5) == nil)
        #expect(limit(.buy, -3, px(100), owner: 5) == nil)
        #expect(limit(.buy, 1, 0, owner: 5) == nil)
        #expect(limit(.buy, 1, 1_000_050, owner: 5) == nil)
        #expect(
            events == [
                .rejected(owner: 5, reason: .invalidQuantity), .rejected(owner: 5, reason: .invalidQuantity),
                .rejected(owner: 5, reason: .invalidPrice), .rejected(owner: 5, reason: .offTick),
            ])
        #expect(book.orderCount == 0)
    }

    @Test mutating func execIdsAreUniquePerSide() {
        for _ in 0..<5 { limit(.sell, 1, px(100)) }
        limit(.buy, 5, px(100))
        let t = trades(events)
        let ids = t.flatMap { [$0.buyExecId, $0.sellExecId] }
        #expect(Set(ids).count == 10)
    }

    /// Seeded random operations; after each, the book is uncrossed, level totals equal the sum of
    /// their orders, and every share submitted is filled (counted on both sides), canceled or resting.
    @Test mutating func randomOperationsKeepInvariants() {
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: UInt64) -> Int64 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((rng >> 33) % n)
        }
        var live: [UInt64] = []
        var submitted: Int64 = 0
        var filledTwice: Int64 = 0
        var canceled: Int64 = 0
        for _ in 0..<3_000 {
            events.removeAll()
            switch next(10) {
            case 0...5:
                let type: OrderType = next(10) == 0 ? .market : .limit
                let req = OrderBookRequest(
                    side: next(2) == 0 ? .buy : .sell, type: type, qty: 1 + next(20),
                    price: px(95 + next(10)), tif: next(5) == 0 ? .ioc : .day, owner: 1)
                if let id = book.submit(req, events: &events) {
                    live.append(id)
                    submitted += req.qty
                }
            case 6...7 where !live.isEmpty:
                book.cancel(live[Int(next(UInt64(live.count)))], events: &events)
            case 8...9 where !live.isEmpty:
                let id = live[Int(next(UInt64(live.count)))]
                let oldLeaves = book.order(id)?.leaves ?? 0
                book.replace(id, qty: 1 + next(30), price: px(95 + next(10)), events: &events)
                if case .replaced(_, _, _, _, let newLeaves, _)? = events.first { submitted += newLeaves - oldLeaves }
            default: break
            }
            for e in events {
                switch e {
                case .trade(let t): filledTwice += 2 * t.qty
                case .canceled(_, _, let q, _, _): canceled += q
                default: break
                }
            }
            if let bb = book.bestBid, let ba = book.bestAsk { #expect(bb.price < ba.price) }
        }
        var resting: Int64 = 0
        for side in [OrderSide.buy, .sell] {
            for level in book.depth(side, levels: 1_000) {
                let ids = book.queue(side, price: level.price)
                #expect(ids.count == level.orders)
                #expect(ids.reduce(0) { $0 + book.order($1)!.leaves } == level.qty)
                resting += level.qty
            }
        }
        // A replace changes what was "submitted" by the change in open quantity (counted above).
        #expect(submitted == filledTwice + canceled + resting)
    }

    @Test mutating func quantityIsConservedWithoutReplaces() {
        var submitted: Int64 = 0
        var filled: Int64 = 0
        var canceled: Int64 = 0
        var rng: UInt64 = 42
        func next(_ n: UInt64) -> Int64 {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int64((rng >> 33) % n)
        }
        var ids: [UInt64] = []
        for _ in 0..<2_000 {
            events.removeAll()
            if next(4) == 0, !ids.isEmpty {
                book.cancel(ids[Int(next(UInt64(ids.count)))], events: &events)
            } else {
                let q = 1 + next(50)
                let req = OrderBookRequest(
                    side: next(2) == 0 ? .buy : .sell, type: next(8) == 0 ? .market : .limit,
                    qty: q, price: px(100 + next(6)), tif: next(4) == 0 ? .ioc : .day, owner: 1)
                if let id = book.submit(req, events: &events) {
                    ids.append(id)
                    submitted += q
                }
            }
            for e in events {
                if case .trade(let t) = e { filled += 2 * t.qty }
                if case .canceled(_, _, let q, _, _) = e { canceled += q }
            }
        }
        let resting =
            book.depth(.buy, levels: 100).reduce(0) { $0 + $1.qty }
            + book.depth(.sell, levels: 100).reduce(0) { $0 + $1.qty }
        #expect(submitted == filled + canceled + resting)
    }
}

@Suite struct LiquidityProviderTests {
    @Test func ladderFillsUserOrdersAndConservesCash() {
        var book = OrderBook(symbolId: 0, configuration: .init(tickSize: 500))  // 0.05
        var lp = SimulatedLiquidityProvider(configuration: .init(levels: 3, sizePerLevel: 100, owner: 999))
        var events: [OrderBookEvent] = []
        lp.refresh(book: &book, referencePrice: 24_507_700, events: &events)  // 2450.77 -> 2450.75
        #expect(book.bestBid?.price == 24_507_000)
        #expect(book.bestAsk?.price == 24_508_000)
        #expect(book.depth(.sell, levels: 10).count == 3)
        events.removeAll()
        book.submit(OrderBookRequest(side: .buy, type: .market, qty: 150, owner: 1), events: &events)
        for e in events { lp.observe(e) }
        let t = trades(events)
        #expect(t.map(\.qty) == [100, 50])
        #expect(lp.position == -150)
        let userPaid = t.reduce(Int64(0)) {
            $0 + FixedPointDecimal.cashValue(price: $1.price, qty: $1.qty, rounding: .halfUp)!
        }
        #expect(lp.cash == userPaid)
        // A refresh replaces the ladder: no stale orders left behind.
        events.removeAll()
        lp.refresh(book: &book, referencePrice: 25_000_000, events: &events)
        #expect(book.orderCount == 6)
        #expect(book.bestAsk?.price == 25_000_500)
    }

    @Test func ladderTradesWithRestingUserOrderWhenPriceMovesThrough() {
        var book = OrderBook(symbolId: 0)
        var lp = SimulatedLiquidityProvider(configuration: .init(levels: 1, sizePerLevel: 10, owner: 999))
        var events: [OrderBookEvent] = []
        book.submit(OrderBookRequest(side: .buy, qty: 5, price: 1_000_000, owner: 1), events: &events)
        lp.refresh(book: &book, referencePrice: 900_000, events: &events)  // ask at 90.0001 crosses the 100 bid
        for e in events { lp.observe(e) }
        #expect(lp.position == -5)
        #expect(lp.cash == FixedPointDecimal.cashValue(price: 1_000_000, qty: 5, rounding: .halfUp))
        #expect(book.bestBid?.price == 899_999)
    }

    @Test func engineRoutesBySymbol() {
        var engine = MatchingEngine(symbolCount: 3)
        var events: [OrderBookEvent] = []
        let id = engine.submit(symbolId: 2, OrderBookRequest(side: .buy, qty: 1, price: 10, owner: 1), events: &events)!
        #expect(MatchingEngine.symbolId(ofOrder: id) == 2)
        engine.replace(id, qty: 2, price: 10, events: &events)
        engine.cancel(id, events: &events)
        engine.cancel(UInt64(77) << 32 | 1, events: &events)
        #expect(events.count == 4)
        #expect(events.last == .cancelRejected(orderId: UInt64(77) << 32 | 1, reason: .unknownOrder))
        #expect(engine.books[2].orderCount == 0)
    }
}
