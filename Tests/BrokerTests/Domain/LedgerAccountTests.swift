// Tests for ledger event application, idempotency, replay, conservation and event JSON.
import Testing

@testable import Broker

private func money(_ s: String) -> Int64 { try! FixedPointDecimal.parse(s, scale: 2, allowNegative: true) }
private func price(_ s: String) -> Int64 { try! FixedPointDecimal.parsePrice(s) }

@Suite struct LedgerAccountTests {
    var account = LedgerAccount(userId: "u1")
    var n = 0

    mutating func ev(_ body: LedgerEvent.Body, user: String = "u1") -> LedgerEvent {
        n += 1
        return LedgerEvent(eventId: "e\(n)", userId: user, ts: UInt64(n), body: body)
    }

    @discardableResult
    mutating func apply(_ body: LedgerEvent.Body) -> LedgerApplyOutcome { account.apply(ev(body)) }

    @Test mutating func depositsAndWithdrawals() {
        #expect(apply(.deposit(amount: money("1000.00"))) == .applied)
        #expect(apply(.withdrawal(amount: money("250.50"))) == .applied)
        #expect(account.cash == money("749.50"))
        #expect(apply(.withdrawal(amount: money("749.51"))) == .refused(.insufficientFunds))
        #expect(apply(.deposit(amount: 0)) == .refused(.invalidAmount))
        #expect(apply(.withdrawal(amount: -5)) == .refused(.invalidAmount))
        #expect(account.cash == money("749.50"))
        #expect(account.apply(ev(.deposit(amount: 1), user: "u2")) == .refused(.wrongUser))
        #expect(account.invariantViolations().isEmpty)
    }

    @Test mutating func buyLifecycleReservesAndReleases() {
        apply(.deposit(amount: money("100000.00")))
        #expect(
            apply(.orderPlaced(orderId: "o1", symbol: "TCS", side: .buy, qty: 10, reservePrice: price("2450.50")))
                == .applied)
        #expect(account.reservedCash == money("24505.00"))
        #expect(account.buyingPower == money("75495.00"))
        #expect(apply(.orderPartiallyFilled(orderId: "o1", execId: "x1", price: price("2450.00"), qty: 4)) == .applied)
        #expect(account.cash == money("90200.00"))
        #expect(account.reservedCash == money("14703.00"))  // 6 x 2450.50 still reserved
        #expect(apply(.orderFilled(orderId: "o1", execId: "x2", price: price("2450.25"), qty: 6)) == .applied)
        #expect(account.cash == money("75498.50"))
        #expect(account.reservedCash == 0)
        #expect(account.openOrders.isEmpty)
        let h = account.holdings["TCS"]!
        #expect(h.qty == 10 && h.costBasis == money("24501.50"))
        #expect(h.averagePrice == price("2450.15"))
        #expect(account.invariantViolations().isEmpty)
    }

    @Test mutating func sellRealisesPnLAgainstAverageCost() {
        apply(.deposit(amount: money("10000.00")))
        apply(.orderPlaced(orderId: "b1", symbol: "X", side: .buy, qty: 3, reservePrice: price("100")))
        apply(.orderFilled(orderId: "b1", execId: "x1", price: price("100"), qty: 3))
        apply(.orderPlaced(orderId: "b2", symbol: "X", side: .buy, qty: 1, reservePrice: price("104")))
        apply(.orderFilled(orderId: "b2", execId: "x2", price: price("104"), qty: 1))
        #expect(account.holdings["X"]!.averagePrice == price("101"))
        #expect(
            apply(.orderPlaced(orderId: "s1", symbol: "X", side: .sell, qty: 5, reservePrice: 0))
                == .refused(.insufficientHoldings))
        #expect(apply(.orderPlaced(orderId: "s1", symbol: "X", side: .sell, qty: 2, reservePrice: 0)) == .applied)
        #expect(account.holdings["X"]!.reservedQty == 2)
        #expect(
            apply(.orderPlaced(orderId: "s2", symbol: "X", side: .sell, qty: 3, reservePrice: 0))
                == .refused(.insufficientHoldings))
        apply(.orderFilled(orderId: "s1", execId: "x3", price: price("110"), qty: 2))
        var h = account.holdings["X"]!
        #expect(h.qty == 2 && h.reservedQty == 0)
        #expect(h.realisedPnL == money("18.00"))  // 220 - 2 x 101
        apply(.orderPlaced(orderId: "s3", symbol: "X", side: .sell, qty: 2, reservePrice: 0))
        apply(.orderFilled(orderId: "s3", execId: "x4", price: price("90"), qty: 2))
        h = account.holdings["X"]!
        #expect(h.qty == 0 && h.costBasis == 0)
        #expect(h.realisedPnL == money("-4.00"))  // 18 + (180 - 202)
        #expect(account.cash == money("10000.00") + account.realisedPnL)
        #expect(account.invariantViolations().isEmpty)
    }

    @Test mutating func cancelAndRejectReleaseReservations() {
        apply(.deposit(amount: money("1000.00")))
        apply(.orderPlaced(orderId: "o1", symbol: "A", side: .buy, qty: 5, reservePrice: price("10")))
        apply(.orderPartiallyFilled(orderId: "o1", execId: "x1", price: price("10"), qty: 2))
        #expect(apply(.orderCanceled(orderId: "o1")) == .applied)
        #expect(account.reservedCash == 0 && account.cash == money("980.00"))
        apply(.orderPlaced(orderId: "o2", symbol: "A", side: .sell, qty: 2, reservePrice: 0))
        #expect(account.holdings["A"]!.reservedQty == 2)
        #expect(apply(.orderRejected(orderId: "o2", reason: "market_closed")) == .applied)
        #expect(account.holdings["A"]!.reservedQty == 0)
        #expect(apply(.orderCanceled(orderId: "o2")) == .refused(.unknownOrder))
        #expect(apply(.orderFilled(orderId: "nope", execId: "x9", price: 1, qty: 1)) == .refused(.unknownOrder))
        #expect(account.invariantViolations().isEmpty)
    }

    @Test mutating func reservationLimitsAndOverfill() {
        apply(.deposit(amount: money("100.00")))
        #expect(
            apply(.orderPlaced(orderId: "o1", symbol: "A", side: .buy, qty: 11, reservePrice: price("10")))
                == .refused(.insufficientFunds))
        #expect(
            apply(.orderPlaced(orderId: "o1", symbol: "A", side: .buy, qty: 10, reservePrice: price("10"))) == .applied)
        #expect(
            apply(.orderPlaced(orderId: "o1", symbol: "A", side: .buy, qty: 1, reservePrice: price("1")))
                == .refused(.duplicateOrder))
        #expect(apply(.withdrawal(amount: 1)) == .refused(.insufficientFunds))
        #expect(
            apply(.orderPartiallyFilled(orderId: "o1", execId: "x1", price: price("10"), qty: 11))
                == .refused(.overfill))
        #expect(account.reservedCash == money("100.00"))
    }

    @Test mutating func replaceRecomputesReservation() {
        apply(.deposit(amount: money("1000.00")))
        apply(.orderPlaced(orderId: "o1", symbol: "A", side: .buy, qty: 10, reservePrice: price("50")))
        apply(.orderPartiallyFilled(orderId: "o1", execId: "x1", price: price("50"), qty: 4))
        #expect(apply(.orderReplaced(orderId: "o1", qty: 20, reservePrice: price("45"))) == .applied)
        #expect(account.reservedCash == money("720.00"))  // 16 open x 45
        #expect(
            apply(.orderReplaced(orderId: "o1", qty: 40, reservePrice: price("50"))) == .refused(.insufficientFunds))
        #expect(apply(.orderReplaced(orderId: "o1", qty: 4, reservePrice: price("50"))) == .refused(.invalidAmount))
        #expect(apply(.orderReplaced(orderId: "o1", qty: 5, reservePrice: price("50"))) == .applied)
        #expect(account.reservedCash == money("50.00"))
        #expect(account.invariantViolations().isEmpty)
    }

    @Test mutating func idempotentByEventIdAndExecId() {
        let deposit = ev(.deposit(amount: money("500.00")))
        #expect(account.apply(deposit) == .applied)
        #expect(account.apply(deposit) == .duplicate)
        #expect(account.cash == money("500.00"))
        apply(.orderPlaced(orderId: "o1", symbol: "A", side: .buy, qty: 10, reservePrice: price("10")))
        #expect(apply(.orderPartiallyFilled(orderId: "o1", execId: "x1", price: price("10"), qty: 3)) == .applied)
        // Same execution republished under a new event id (gateway retry): still applied once.
        #expect(apply(.orderPartiallyFilled(orderId: "o1", execId: "x1", price: price("10"), qty: 3)) == .duplicate)
        #expect(account.holdings["A"]!.qty == 3)
        // A refused event stays refused when redelivered, even once it would now fit.
        let big = ev(.withdrawal(amount: money("1000.00")))
        #expect(account.apply(big) == .refused(.insufficientFunds))
        apply(.deposit(amount: money("5000.00")))
        #expect(account.apply(big) == .duplicate)
    }

    /// A seeded stream of plausible events with redeliveries mixed in: applying it one by one,
    /// replaying it, and replaying it without the redeliveries all give the same account.
    @Test func replayEqualsIncremental() {
        let stream = LedgerTestStream.make(seed: 7, count: 600, users: ["u1"])
        var incremental = LedgerAccount(userId: "u1")
        var applied = 0
        var refused = 0
        for e in stream.events {
            switch incremental.apply(e) {
            case .applied: applied += 1
            case .refused: refused += 1
            case .duplicate: break
            }
        }
        #expect(refused < 40)  // the stream is mostly valid, so replay exercises real fills
        #expect(applied > 200)
        #expect(incremental.invariantViolations().isEmpty)
        #expect(LedgerAccount.replay(userId: "u1", events: stream.events) == incremental)
        #expect(LedgerAccount.replay(userId: "u1", events: stream.unique) == incremental)
        #expect(incremental.holdings.values.contains { $0.realisedPnL != 0 })
    }

    @Test func manyAccountsReplayFromOneStream() throws {
        let stream = LedgerTestStream.make(seed: 11, count: 500, users: ["a", "b", "c"])
        var live = LedgerAccounts()
        for e in stream.events { live.apply(e) }
        #expect(live.accounts.count == 3)
        #expect(LedgerAccounts(replaying: stream.unique) == live)
        #expect(live["a"] == LedgerAccount.replay(userId: "a", events: stream.events))
        #expect(live["nobody"].cash == 0)
        // Through JSON and back (the journal/Kafka form), the replay is the same.
        let decoded = try stream.events.map { try LedgerEvent(json: $0.jsonBytes()) }
        #expect(LedgerAccounts(replaying: decoded) == live)
        #expect(live.accounts.values.allSatisfy { $0.invariantViolations().isEmpty })
    }

    @Test func eventJSONRoundTrips() throws {
        let bodies: [LedgerEvent.Body] = [
            .deposit(amount: money("10000.00")), .withdrawal(amount: 5),
            .orderPlaced(orderId: "o-1", symbol: "M&M", side: .buy, qty: 10, reservePrice: price("3500.05")),
            .orderPlaced(orderId: "o-2", symbol: "TCS", side: .sell, qty: 1, reservePrice: 0),
            .orderReplaced(orderId: "o-1", qty: 12, reservePrice: price("3490")),
            .orderPartiallyFilled(orderId: "o-1", execId: "x\"1", price: price("0.0001"), qty: 2),
            .orderFilled(orderId: "o-1", execId: "x2", price: price("3490.10"), qty: 10),
            .orderCanceled(orderId: "o-1"), .orderRejected(orderId: "o-1", reason: "off_tick"),
        ]
        for body in bodies {
            let e = LedgerEvent(eventId: "e/1", userId: "u1", ts: 1_795_788_017_526_000_000, body: body)
            #expect(try LedgerEvent(json: e.jsonBytes()) == e)
        }
        let json = String(
            decoding: LedgerEvent(eventId: "e1", userId: "u1", body: .deposit(amount: 1_000_000)).jsonBytes(),
            as: UTF8.self)
        #expect(json == #"{"amount":"10000.00","event_id":"e1","ts":0,"type":"DEPOSIT","user_id":"u1"}"#)
    }

    @Test func eventJSONErrors() {
        #expect(throws: LedgerEventDecodingError.unknownType("BONUS")) {
            try LedgerEvent(json: Array(#"{"event_id":"e","user_id":"u","type":"BONUS"}"#.utf8))
        }
        #expect(throws: LedgerEventDecodingError.badDecimal(field: "amount", .exponent)) {
            try LedgerEvent(json: Array(#"{"event_id":"e","user_id":"u","type":"DEPOSIT","amount":"1e9"}"#.utf8))
        }
        #expect(throws: LedgerEventDecodingError.self) { try LedgerEvent(json: Array("{not json".utf8)) }
        #expect(throws: LedgerEventDecodingError.self) {
            try LedgerEvent(json: Array(#"{"event_id":"e","user_id":"u","type":"ORDER_CANCELED"}"#.utf8))
        }
    }
}

/// Seeded event streams for replay and conservation tests.
enum LedgerTestStream {
    struct Stream {
        var events: [LedgerEvent]
        var unique: [LedgerEvent]
    }

    static func make(seed: UInt64, count: Int, users: [String]) -> Stream {
        var rng = seed
        func next(_ n: Int) -> Int {
            rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((rng >> 33) % UInt64(n))
        }
        var unique: [LedgerEvent] = []
        var all: [LedgerEvent] = []
        var open: [(user: String, order: String, side: OrderSide, left: Int64, symbol: String)] = []
        var held: [String: Int64] = [:]  // user/symbol -> shares bought and not promised to a sell
        var k = 0
        func emit(_ user: String, _ body: LedgerEvent.Body) {
            k += 1
            let e = LedgerEvent(eventId: "e\(k)", userId: user, body: body)
            unique.append(e)
            all.append(e)
            if next(8) == 0 { all.append(e) }  // redelivery
        }
        for u in users { emit(u, .deposit(amount: 100_000_000)) }
        let symbols = ["A", "B", "C"]
        for _ in 0..<count {
            let u = users[next(users.count)]
            switch next(10) {
            case 0: emit(u, .deposit(amount: Int64(1 + next(100_000))))
            case 1: emit(u, .withdrawal(amount: Int64(1 + next(50_000))))
            case 2...4:
                k += 1
                let oid = "o\(k)"
                var side: OrderSide = next(2) == 0 ? .sell : .buy
                let symbol = symbols[next(3)]
                var qty = Int64(1 + next(20))
                if side == .sell {
                    qty = min(qty, held[u + symbol] ?? 0)
                    if qty == 0 {
                        side = .buy
                        qty = 5
                    } else {
                        held[u + symbol]! -= qty
                    }
                }
                emit(
                    u,
                    .orderPlaced(
                        orderId: oid, symbol: symbol, side: side, qty: qty,
                        reservePrice: Int64(900_000 + next(200_000))))
                open.append((u, oid, side, qty, symbol))
            case 5...8 where !open.isEmpty:
                let i = next(open.count)
                let q = Int64(1 + next(Int(open[i].left)))
                let final = q == open[i].left
                let px = Int64(900_000 + next(100_000))
                let execId = "x\(k)"
                emit(
                    open[i].user,
                    final
                        ? .orderFilled(orderId: open[i].order, execId: execId, price: px, qty: q)
                        : .orderPartiallyFilled(orderId: open[i].order, execId: execId, price: px, qty: q))
                if open[i].side == .buy { held[open[i].user + open[i].symbol, default: 0] += q }
                if final { open.remove(at: i) } else { open[i].left -= q }
            case 9 where !open.isEmpty:
                let i = next(open.count)
                if open[i].side == .sell { held[open[i].user + open[i].symbol, default: 0] += open[i].left }
                emit(
                    open[i].user,
                    next(2) == 0
                        ? .orderCanceled(orderId: open[i].order)
                        : .orderRejected(orderId: open[i].order, reason: "r"))
                open.remove(at: i)
            default: break
            }
        }
        return Stream(events: all, unique: unique)
    }
}
