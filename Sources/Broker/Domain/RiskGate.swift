// The gateway's pre-trade gate: the stateful pieces of risk (rate limiter, circuit breakers,
// market hours) around the pure rules of RiskCheck.swift.
//
// Owns: the per-symbol breaker array and per-user limiter, and feeding them time. One gate per
// gateway loop; it is a value type and never shared across threads. Time is wall-clock ns since
// the epoch (quotes' `ts` and market hours use the same clock; a clock stepping back only delays refills).

/// Pre-trade gate for one gateway.
public struct RiskGate: Sendable {
    /// Order limits.
    public let limits: RiskLimits
    /// Trading hours.
    public let hours: MarketHours
    private var breakers: [CircuitBreaker]
    private var limiter: OrderRateLimiter<String>

    /// Creates a gate for `symbolCount` symbols.
    /// - Parameters:
    ///   - rateBurst: orders a user may send at once (default 20).
    ///   - ratePerSecond: sustained orders per second per user (default 10).
    public init(
        symbolCount: Int, limits: RiskLimits = .default, hours: MarketHours = .alwaysOpen,
        breaker: CircuitBreaker.Configuration = .default, rateBurst: Int64 = 20, ratePerSecond: Int64 = 10
    ) {
        self.limits = limits
        self.hours = hours
        self.breakers = [CircuitBreaker](repeating: CircuitBreaker(configuration: breaker), count: symbolCount)
        self.limiter = OrderRateLimiter(capacity: rateBurst, refillPerSecond: ratePerSecond)
    }

    /// Checks one order for `user` at `now`. Consumes a rate-limit token whatever the outcome (bad
    /// orders count against the limit too). On success, reserve `RiskApproval`'s amounts.
    public mutating func check(
        _ order: RiskOrder, user: String, lastPrice: Int64?, buyingPower: Int64,
        availableQty: Int64, now: UInt64
    ) -> Result<RiskApproval, RiskRejectCode> {
        let allowed = limiter.allow(user, now: now)
        var halted = false
        if let id = order.symbolId, id >= 0, Int(id) < breakers.count {
            _ = breakers[Int(id)].poll(now: now)
            halted = breakers[Int(id)].isHalted(now: now)
        }
        let inputs = RiskCheck.Inputs(
            symbolCount: breakers.count, lastPrice: lastPrice,
            marketOpen: hours.isOpen(nanosSinceEpoch: now), halted: halted,
            withinRateLimit: allowed, buyingPower: buyingPower, availableQty: availableQty)
        return RiskCheck.evaluate(order, inputs: inputs, limits: limits)
    }

    /// Feeds a last-trade price to the symbol's breaker; returns a halt/resume to publish, or nil.
    public mutating func observeTrade(symbolId: Int32, price: Int64, now: UInt64) -> CircuitBreakerAction? {
        guard symbolId >= 0, Int(symbolId) < breakers.count else { return nil }
        return breakers[Int(symbolId)].observe(price: price, now: now)
    }

    /// Whether the symbol is halted at `now`.
    public func isHalted(symbolId: Int32, now: UInt64) -> Bool {
        guard symbolId >= 0, Int(symbolId) < breakers.count else { return false }
        return breakers[Int(symbolId)].isHalted(now: now)
    }

    /// Forgets users whose rate buckets are full again (call now and then from a timer).
    public mutating func pruneRateLimiter(now: UInt64) { limiter.prune(now: now) }
}
