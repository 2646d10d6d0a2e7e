// ExchangeMarketModel: the simulated market of every symbol (pure state, no I/O, no clock).
//
// Owns: per-symbol random-walk bid/ask/last with sizes, the per-symbol sequence (FIX RptSeq 83),
// the generation time of each symbol's latest update, trades moving the last price, and the
// integer rate accounting that turns elapsed time into a number of updates (`ExchangeRatePacer`).
// Leaves FIX encoding and sessions to ExchangeSimulator / ExchangeMarketDataWriter.
//
// Prices are 1e-4 fixed point on the configured tick (DESIGN.md: never Double for money).

/// Per-symbol simulated prices. Arrays indexed by symbol id (hot path: no dictionaries).
public struct ExchangeMarketModel: Sendable {
    /// Number of symbols.
    public let symbolCount: Int
    /// Price increment in 1e-4 units.
    public let tickSize: Int64
    private var rng: UInt64
    private var quotes: [Quote]

    /// Creates a market where symbol `i` starts at a deterministic price between 10.00 and 1000.00.
    /// - Parameters:
    ///   - symbolCount: symbols (ids 0..<symbolCount).
    ///   - tickSize: price increment in 1e-4 units (> 0).
    ///   - seed: random-walk seed.
    ///   - now: realtime nanoseconds stamped on the initial quotes (seq 0).
    public init(symbolCount: Int, tickSize: Int64 = 100, seed: UInt64 = 0x5EED, now: UInt64 = 0) {
        precondition(symbolCount > 0 && tickSize > 0)
        self.symbolCount = symbolCount
        self.tickSize = tickSize
        rng = seed | 1
        quotes = []
        quotes.reserveCapacity(symbolCount)
        for i in 0..<symbolCount {
            let ticks = 1_000 + Int64(Self.step(&rng) % 99_000)  // 10.00 ... 1000.00 at a 0.01 tick
            let px = max(tickSize, ticks * 100 / tickSize * tickSize)
            quotes.append(Quote(symbolId: Int32(i), bid: px - tickSize, ask: px + tickSize, last: px,
                                bidSize: 500, askSize: 500, lastSize: 100, ts: now, seq: 1))
        }
    }

    @inline(__always)
    static func step(_ s: inout UInt64) -> UInt64 {
        // xorshift64*: fast, deterministic; good enough for a simulated market.
        s ^= s >> 12
        s ^= s << 25
        s ^= s >> 27
        return s &* 2_685_821_657_736_338_717
    }

    /// The latest quote of `symbolId` (seq 1 = the opening state, before any update).
    @inline(__always)
    public func quote(_ symbolId: Int32) -> Quote { quotes[Int(symbolId)] }

    /// A uniformly chosen symbol id.
    @inline(__always)
    public mutating func randomSymbol() -> Int32 {
        Int32(truncatingIfNeeded: Self.step(&rng) % UInt64(symbolCount))
    }

    /// Moves `symbolId` one random-walk step (last by -3...+3 ticks, spread 1...3 ticks each side,
    /// new sizes), stamps it with `ts` and the next sequence number, and returns it.
    @inline(__always)
    public mutating func advance(_ symbolId: Int32, ts: UInt64) -> Quote {
        let r = Self.step(&rng) >> 16
        let i = Int(symbolId)
        var q = quotes[i]
        var px = q.last + (Int64(r % 7) - 3) * tickSize
        if px < tickSize * 2 { px = tickSize * 2 }
        q.last = px
        q.bid = px - tickSize * Int64(1 + (r >> 4) % 3)
        q.ask = px + tickSize * Int64(1 + (r >> 6) % 3)
        q.bidSize = Int64(100 * (1 + (r >> 8) % 50))
        q.askSize = Int64(100 * (1 + (r >> 14) % 50))
        q.lastSize = Int64(1 + (r >> 20) % 500)
        q.ts = ts
        q.seq &+= 1
        quotes[i] = q
        return q
    }

    /// A trade on the simulated exchange: the last price becomes `price`, the touch re-centres
    /// around it, and the symbol gets a new sequence number. Returns the updated quote.
    public mutating func trade(_ symbolId: Int32, price: Int64, qty: Int64, ts: UInt64) -> Quote {
        let i = Int(symbolId)
        var q = quotes[i]
        let px = max(tickSize, price - price % tickSize)
        q.last = px
        q.lastSize = qty
        if q.bid >= px || q.bid <= 0 { q.bid = max(tickSize, px - tickSize) }
        if q.ask <= px { q.ask = px + tickSize }
        q.ts = ts
        q.seq &+= 1
        quotes[i] = q
        return q
    }
}

/// Turns elapsed monotonic time into a whole number of updates at `rate` per second, carrying the
/// remainder exactly (integer nanosecond-updates, no drift), and capping a burst after a stall.
public struct ExchangeRatePacer: Sendable {
    /// Updates per second.
    public let rate: UInt64
    /// Most updates one call may return (100 ms worth): a stalled loop does not burst seconds of data.
    public let maxBurst: Int
    private var last: UInt64
    private var remainder: UInt64 = 0

    /// Creates a pacer starting at monotonic time `now`.
    public init(rate: Int, now: UInt64) {
        precondition(rate >= 0)
        self.rate = UInt64(rate)
        maxBurst = max(1, rate / 10)
        last = now
    }

    /// Updates owed since the previous call.
    public mutating func due(now: UInt64) -> Int {
        guard now > last, rate > 0 else { return 0 }
        let elapsed = min(now &- last, 1_000_000_000)
        last = now
        let total = elapsed &* rate &+ remainder
        remainder = total % 1_000_000_000
        return min(Int(total / 1_000_000_000), maxBurst)
    }
}
