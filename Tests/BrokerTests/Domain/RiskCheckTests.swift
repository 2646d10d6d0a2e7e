// Tests for every risk rule (failing and passing), the evaluation order, and the gate.
import Testing

@testable import Broker

private func px(_ s: String) -> Int64 { try! FixedPointDecimal.parsePrice(s) }

@Suite struct RiskCheckTests {
    let limits = try! RiskLimits(
        minQty: 1, maxQty: 1_000, tickSize: 500, priceBandBps: 1_000, marketCollarBps: 500,
        maxOrderValue: 10_000_000)  // tick 0.05, band 10%, max 100,000.00

    func inputs(
        last: Int64? = px("100"), open: Bool = true, halted: Bool = false, rate: Bool = true,
        bp: Int64 = 100_000_000, avail: Int64 = 0
    ) -> RiskCheck.Inputs {
        RiskCheck.Inputs(
            symbolCount: 10, lastPrice: last, marketOpen: open, halted: halted, withinRateLimit: rate,
            buyingPower: bp, availableQty: avail)
    }

    func buy(_ qty: Int64 = 10, _ price: String? = "100", symbol: Int32? = 1) -> RiskOrder {
        RiskOrder(
            symbolId: symbol, side: .buy, type: price == nil ? .market : .limit, qty: qty, limitPrice: price.map(px))
    }

    func code(_ r: Result<RiskApproval, RiskRejectCode>) -> RiskRejectCode? {
        if case .failure(let e) = r { e } else { nil }
    }

    @Test func eachRulePassesAndFails() {
        #expect(RiskCheck.symbolExists(3, symbolCount: 10) == nil)
        #expect(RiskCheck.symbolExists(nil, symbolCount: 10) == .unknownSymbol)
        #expect(RiskCheck.symbolExists(10, symbolCount: 10) == .unknownSymbol)
        #expect(RiskCheck.symbolExists(-1, symbolCount: 10) == .unknownSymbol)
        #expect(RiskCheck.quantity(1, limits: limits) == nil && RiskCheck.quantity(1_000, limits: limits) == nil)
        #expect(RiskCheck.quantity(0, limits: limits) == .invalidQuantity)
        #expect(RiskCheck.quantity(-5, limits: limits) == .invalidQuantity)
        #expect(RiskCheck.quantity(1_001, limits: limits) == .invalidQuantity)
        #expect(RiskCheck.priceShape(buy()) == nil && RiskCheck.priceShape(buy(10, nil)) == nil)
        #expect(RiskCheck.priceShape(buy(10, "0")) == .invalidPrice)
        #expect(
            RiskCheck.priceShape(RiskOrder(symbolId: 1, side: .buy, type: .market, qty: 1, limitPrice: 5))
                == .invalidPrice)
        #expect(RiskCheck.tick(px("100.05"), limits: limits) == nil)
        #expect(RiskCheck.tick(px("100.01"), limits: limits) == .offTick)
        #expect(RiskCheck.priceBand(px("110"), last: px("100"), limits: limits) == nil)
        #expect(RiskCheck.priceBand(px("90"), last: px("100"), limits: limits) == nil)
        #expect(RiskCheck.priceBand(px("110.05"), last: px("100"), limits: limits) == .priceOutOfBand)
        #expect(RiskCheck.priceBand(px("89.95"), last: px("100"), limits: limits) == .priceOutOfBand)
        #expect(RiskCheck.priceBand(px("5000"), last: nil, limits: limits) == nil)
        #expect(RiskCheck.marketReference(buy(10, nil), last: nil) == .noReferencePrice)
        #expect(RiskCheck.marketReference(buy(10, nil), last: px("1")) == nil)
        #expect(RiskCheck.marketOpen(true) == nil && RiskCheck.marketOpen(false) == .marketClosed)
        #expect(RiskCheck.notHalted(false) == nil && RiskCheck.notHalted(true) == .tradingHalted)
        #expect(RiskCheck.rateLimit(true) == nil && RiskCheck.rateLimit(false) == .rateLimited)
        #expect(RiskCheck.orderValue(10_000_000, limits: limits) == nil)
        #expect(RiskCheck.orderValue(10_000_001, limits: limits) == .maxOrderValue)
        #expect(RiskCheck.orderValue(nil, limits: limits) == .maxOrderValue)
        #expect(RiskCheck.buyingPower(reservation: 100, buyingPower: 100) == nil)
        #expect(RiskCheck.buyingPower(reservation: 101, buyingPower: 100) == .insufficientFunds)
        #expect(RiskCheck.holdings(qty: 5, availableQty: 5) == nil)
        #expect(RiskCheck.holdings(qty: 6, availableQty: 5) == .insufficientHoldings)
    }

    @Test func evaluateApprovesWithReservation() {
        let r = RiskCheck.evaluate(buy(10, "100.05"), inputs: inputs(), limits: limits)
        #expect(
            r
                == .success(
                    RiskApproval(
                        reservePrice: px("100.05"), reservedCash: 100_050, reservedQty: 0,
                        orderValue: 100_050)))
        let sell = RiskOrder(symbolId: 1, side: .sell, type: .market, qty: 4, limitPrice: nil)
        #expect(
            RiskCheck.evaluate(sell, inputs: inputs(avail: 4), limits: limits)
                == .success(RiskApproval(reservePrice: px("100"), reservedCash: 0, reservedQty: 4, orderValue: 40_000)))
        // Market buy reserves at last + 5% collar, rounded up to the tick: 100 -> 105.00; 100.03 -> 105.05.
        #expect(
            RiskCheck.evaluate(buy(2, nil), inputs: inputs(), limits: limits)
                == .success(
                    RiskApproval(reservePrice: px("105"), reservedCash: 21_000, reservedQty: 0, orderValue: 21_000)))
        #expect(RiskCheck.collarPrice(side: .buy, last: px("100.03"), limits: limits) == px("105.05"))
    }

    @Test func evaluateRejectsEachRuleWithItsCode() {
        let cases: [(RiskOrder, RiskCheck.Inputs, RiskRejectCode)] = [
            (buy(), inputs(rate: false), .rateLimited),
            (buy(symbol: nil), inputs(), .unknownSymbol),
            (buy(0), inputs(), .invalidQuantity),
            (buy(10, "0"), inputs(), .invalidPrice),
            (buy(10, "100.01"), inputs(), .offTick),
            (buy(), inputs(open: false), .marketClosed),
            (buy(), inputs(halted: true), .tradingHalted),
            (buy(10, nil), inputs(last: nil), .noReferencePrice),
            (buy(10, "120"), inputs(), .priceOutOfBand),
            (buy(1_000, "100.05"), inputs(), .maxOrderValue),
            (buy(10, "100"), inputs(bp: 99_999), .insufficientFunds),
            (
                RiskOrder(symbolId: 1, side: .sell, type: .limit, qty: 3, limitPrice: px("100")), inputs(avail: 2),
                .insufficientHoldings
            ),
        ]
        for (order, inp, expected) in cases {
            #expect(code(RiskCheck.evaluate(order, inputs: inp, limits: limits)) == expected)
        }
        // Every code is reachable and documented.
        #expect(Set(cases.map(\.2)).count == RiskRejectCode.allCases.count)
        #expect(RiskRejectCode.rateLimited.httpStatus == 429 && RiskRejectCode.offTick.httpStatus == 422)
        #expect(RiskRejectCode.insufficientFunds.rawValue == "insufficient_funds")
    }

    @Test func reservationMatchesLedger() {
        guard case .success(let a) = RiskCheck.evaluate(buy(7, "104.35"), inputs: inputs(), limits: limits) else {
            Issue.record("expected approval")
            return
        }
        #expect(a.reservedCash == LedgerAccount.buyReservation(qty: 7, reservePrice: a.reservePrice))
    }

    @Test func limitsValidation() {
        #expect(throws: RiskConfigurationError(key: "max_qty", reason: "must be >= min_qty")) {
            try RiskLimits(minQty: 10, maxQty: 5)
        }
        #expect(throws: RiskConfigurationError.self) { try RiskLimits(tickSize: 0) }
        #expect(throws: RiskConfigurationError.self) { try RiskLimits(priceBandBps: 0) }
        #expect(throws: RiskConfigurationError.self) { try RiskLimits(maxOrderValue: 0) }
    }
}

@Suite struct TokenBucketTests {
    @Test func burstThenSteadyRefill() {
        var b = TokenBucket(capacity: 3, refillPerSecond: 2, now: 0)
        func take(_ now: UInt64) -> Bool { b.tryConsume(now: now) }
        func available(_ now: UInt64) -> Int64 { b.available(now: now) }
        #expect(take(0) && take(0) && take(0))
        #expect(!take(0))
        #expect(!take(499_999_999))  // 0.999 tokens
        #expect(take(500_000_000))
        #expect(available(100_000_000_000) == 3)  // capped at capacity after a long pause
        #expect(available(50) == 3)  // time going back adds nothing and takes nothing
    }

    @Test func perUserLimiterIsolatesUsersAndPrunes() {
        var l = OrderRateLimiter<String>(capacity: 2, refillPerSecond: 1)
        func allow(_ k: String, _ now: UInt64) -> Bool { l.allow(k, now: now) }
        #expect(allow("a", 0) && allow("a", 0))
        #expect(!allow("a", 0))
        #expect(allow("b", 0))
        #expect(l.trackedKeys == 2)
        l.prune(now: 10_000_000_000)
        #expect(l.trackedKeys == 0)
        #expect(allow("a", 10_000_000_000))
    }
}

@Suite struct CircuitBreakerTests {
    let config = try! CircuitBreaker.Configuration(
        thresholdBps: 1_000, windowNanos: 10_000, cooldownNanos: 5_000, buckets: 10)

    @Test func haltsOnLargeMoveWithinWindowAndResumesAfterCooldown() {
        var cb = CircuitBreaker(configuration: config)
        #expect(cb.observe(price: 1_000_000, now: 100) == nil)
        #expect(cb.observe(price: 1_090_000, now: 3_000) == nil)  // +9%
        #expect(cb.observe(price: 1_100_000, now: 5_000) == nil)  // exactly +10% is not "more than"
        #expect(cb.observe(price: 1_100_100, now: 6_000) == .halt(until: 11_000))
        #expect(cb.isHalted(now: 10_999))
        #expect(cb.observe(price: 2_000_000, now: 8_000) == nil)  // ignored while halted
        #expect(!cb.isHalted(now: 11_000))
        #expect(cb.observe(price: 1_100_000, now: 11_000) == .resume)
        #expect(cb.observe(price: 1_150_000, now: 11_500) == nil)  // fresh window: +4.5% from 1.1
    }

    @Test func slowDriftOutsideWindowDoesNotHalt() {
        var cb = CircuitBreaker(configuration: config)
        var price: Int64 = 1_000_000
        for step in 0..<100 {
            price += 5_000  // +0.5% per 1,000 ns: ~5% per window, 50% overall
            #expect(cb.observe(price: price, now: UInt64(step) * 1_000) == nil)
        }
    }

    @Test func downMovesCountToo() {
        var cb = CircuitBreaker(configuration: config)
        #expect(cb.observe(price: 1_000_000, now: 0) == nil)
        #expect(cb.observe(price: 880_000, now: 1_000) == .halt(until: 6_000))
    }

    @Test func pollResumesWithoutAPrice() {
        var cb = CircuitBreaker(configuration: config)
        _ = cb.observe(price: 100, now: 0)
        #expect(cb.observe(price: 200, now: 10) == .halt(until: 5_010))
        #expect(cb.poll(now: 5_000) == nil)
        #expect(cb.poll(now: 5_010) == .resume)
        #expect(cb.haltedUntil == nil)
    }

    @Test func configurationValidation() {
        #expect(throws: RiskConfigurationError.self) { try CircuitBreaker.Configuration(thresholdBps: 0) }
        #expect(throws: RiskConfigurationError.self) { try CircuitBreaker.Configuration(buckets: 1) }
    }
}

@Suite struct MarketHoursTests {
    // 2026-11-27 (a Friday) 00:00 UTC in ns.
    let friday: UInt64 = 1_795_737_600 * 1_000_000_000
    let minute: UInt64 = 60_000_000_000

    @Test func nseHoursInIST() throws {
        let h = try MarketHours(open: "09:15", close: "15:30", utcOffset: "+05:30")
        // 09:15 IST = 03:45 UTC
        #expect(!h.isOpen(nanosSinceEpoch: friday + 224 * minute))
        #expect(h.isOpen(nanosSinceEpoch: friday + 225 * minute))
        #expect(h.isOpen(nanosSinceEpoch: friday + 599 * minute))  // 15:29 IST
        #expect(!h.isOpen(nanosSinceEpoch: friday + 600 * minute))  // 15:30 IST closes
        // Saturday same time: closed.
        #expect(!h.isOpen(nanosSinceEpoch: friday + 1_440 * minute + 300 * minute))
        // Monday open.
        #expect(h.isOpen(nanosSinceEpoch: friday + 3 * 1_440 * minute + 300 * minute))
    }

    @Test func negativeOffsetCrossesUTCMidnight() throws {
        let h = try MarketHours(open: "09:30", close: "16:00", utcOffset: "-05:00")
        // Friday 15:59 New York = Friday 20:59 UTC; Friday 16:30 NY = Friday 21:30 UTC.
        #expect(h.isOpen(nanosSinceEpoch: friday + (20 * 60 + 59) * minute))
        #expect(!h.isOpen(nanosSinceEpoch: friday + (21 * 60 + 30) * minute))
        // Saturday 01:00 UTC is Friday 20:00 NY: closed by the clock, still a weekday.
        #expect(!h.isOpen(nanosSinceEpoch: friday + (25 * 60) * minute))
    }

    @Test func validationAndAlwaysOpen() {
        #expect(MarketHours.alwaysOpen.isOpen(nanosSinceEpoch: 0))
        #expect(throws: RiskConfigurationError.self) { try MarketHours(open: "9:15", close: "15:30") }
        #expect(throws: RiskConfigurationError.self) { try MarketHours(open: "16:00", close: "15:30") }
        #expect(throws: RiskConfigurationError.self) {
            try MarketHours(open: "09:00", close: "10:00", utcOffset: "05:30")
        }
        #expect(throws: RiskConfigurationError.self) { try MarketHours(open: "09:00", close: "10:00", weekdays: 0) }
    }
}

@Suite struct RiskGateTests {
    @Test func gateCombinesLimiterBreakerAndHours() throws {
        var gate = RiskGate(
            symbolCount: 2, limits: try RiskLimits(tickSize: 1),
            breaker: try .init(thresholdBps: 500, windowNanos: 1_000, cooldownNanos: 1_000, buckets: 4),
            rateBurst: 2, ratePerSecond: 1)
        let order = RiskOrder(symbolId: 0, side: .buy, type: .limit, qty: 1, limitPrice: 1_000_000)
        func check(_ now: UInt64, user: String = "u") -> Result<RiskApproval, RiskRejectCode> {
            gate.check(order, user: user, lastPrice: 1_000_000, buyingPower: 1_000_000, availableQty: 0, now: now)
        }
        #expect((try? check(0).get()) != nil)
        #expect(gate.observeTrade(symbolId: 0, price: 1_000_000, now: 1) == nil)
        #expect(gate.observeTrade(symbolId: 0, price: 1_100_000, now: 2) == .halt(until: 1_002))
        #expect(check(3) == .failure(.tradingHalted))
        #expect(check(4) == .failure(.rateLimited))  // burst of 2 used up (halted orders count)
        #expect((try? check(2_000_000_000).get()) != nil)  // refilled and resumed
        #expect(!gate.isHalted(symbolId: 0, now: 2_000_000_000))
        #expect((try? check(5, user: "other").get()) != nil)

        var closed = RiskGate(symbolCount: 1, hours: try MarketHours(open: "09:00", close: "10:00"))
        #expect(
            closed.check(order, user: "u", lastPrice: nil, buyingPower: 10_000_000, availableQty: 0, now: 0)
                == .failure(.marketClosed))
    }
}
