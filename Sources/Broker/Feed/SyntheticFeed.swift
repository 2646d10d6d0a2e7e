// SyntheticFeed: the load-test feed of DESIGN.md: R updates/s spread uniformly over U symbols,
// each a random walk with bid/ask/last and sizes, `ts` taken when generated, `seq` per symbol.
// Generated in 1 ms ticks on one loop, so a tick's updates leave as one batch.
public import Wire

/// Generates quotes at a fixed rate for a universe of symbols.
public struct SyntheticQuoteGenerator {
    private var rng: UInt64
    private var last: [Int64]
    private var seqs: [UInt64]
    /// Number of symbols.
    public let symbolCount: Int

    /// Creates a generator over `symbolCount` symbols with start prices between 10 and 1000.
    public init(symbolCount: Int, seed: UInt64 = 0x5EED) {
        self.symbolCount = symbolCount
        rng = seed | 1
        last = []
        last.reserveCapacity(symbolCount)
        seqs = Array(repeating: 0, count: symbolCount)
        for _ in 0..<symbolCount { last.append(Int64(100_000 + Int64(Self.step(&rng) % 9_900_000))) }
    }

    @inline(__always)
    static func step(_ s: inout UInt64) -> UInt64 {
        // xorshift64*: fast, good enough for load generation (not for anything else).
        s ^= s >> 12
        s ^= s << 25
        s ^= s >> 27
        return s &* 2_685_821_657_736_338_717
    }

    /// The next quote of a uniformly chosen symbol, stamped with `ts`.
    public mutating func next(ts: UInt64) -> Quote {
        let r = Self.step(&rng)
        let sym = Int(r % UInt64(symbolCount))
        return next(symbol: sym, ts: ts, random: r >> 20)
    }

    /// The next quote of `symbol`.
    public mutating func next(symbol sym: Int, ts: UInt64, random: UInt64? = nil) -> Quote {
        let r = random ?? (Self.step(&rng) >> 20)
        var px = last[sym]
        // Move by -5..+5 ticks of 0.01 (100 in 1e-4 units), never below 1.00.
        px += (Int64(r % 11) - 5) * 100
        if px < 10_000 { px = 10_000 }
        last[sym] = px
        seqs[sym] &+= 1
        let spread: Int64 = 100 * Int64(1 + (r >> 8) % 3)
        return Quote(
            symbolId: Int32(sym), bid: px - spread, ask: px + spread, last: px,
            bidSize: Int64(100 * (1 + (r >> 12) % 50)), askSize: Int64(100 * (1 + (r >> 18) % 50)),
            lastSize: Int64(1 + (r >> 24) % 500), ts: ts, seq: seqs[sym])
    }
}

/// Runs a `SyntheticQuoteGenerator` on a loop at `rate` updates/s and hands each 1 ms tick's
/// quotes to `sink` as one batch. Each quote's `ts` is the moment it was due (update m of the run at
/// start + m/rate), not the tick that produced it: a tick delayed by a busy loop would otherwise
/// stamp the quotes that piled up during the delay as new, hiding that delay from latency.
public final class SyntheticFeed {
    private let loop: EventLoop
    private var generator: SyntheticQuoteGenerator
    private let rate: Double
    private let sink: ([Quote]) -> Void
    private var startNanos: UInt64 = 0
    private var stopped = false
    private var batch: [Quote] = []
    /// Quotes generated so far.
    public private(set) var generated: UInt64 = 0
    /// Quotes not generated because the loop stalled for more than 100 ms (the backlog is skipped
    /// rather than sent as one burst).
    public private(set) var skipped: UInt64 = 0

    /// Creates a feed; call `start()` on the loop's thread.
    public init(loop: EventLoop, symbolCount: Int, rate: Double, seed: UInt64 = 0x5EED, sink: @escaping ([Quote]) -> Void) {
        self.loop = loop
        self.rate = rate
        self.sink = sink
        generator = SyntheticQuoteGenerator(symbolCount: symbolCount, seed: seed)
    }

    /// Starts ticking.
    public func start() {
        startNanos = Syscalls.monotonicNanos()
        schedule()
    }

    /// Stops after the current tick.
    public func stop() { stopped = true }

    private func schedule() {
        loop.schedule(afterNanos: 1_000_000) { [weak self] in self?.tick() }
    }

    private func tick() {
        guard !stopped else { return }
        let now = Syscalls.monotonicNanos()
        let realNow = Syscalls.realtimeNanos()
        let due = UInt64(rate * Double(now &- startNanos) / 1e9)
        var n = Int(due &- generated &- skipped)
        // After a stall, do not burst more than 100 ms worth at once: the oldest are skipped.
        let cap = max(1, Int(rate / 10))
        if n > cap {
            skipped &+= UInt64(n - cap)
            n = cap
        }
        if n > 0 {
            batch.removeAll(keepingCapacity: true)
            let nanosPerUpdate = 1e9 / rate
            for k in 0..<n {
                // Update number m (1-based) was due at start + m/rate; ts is that moment on the realtime clock.
                let m = Double(due) - Double(n - 1 - k)
                let dueAt = startNanos &+ UInt64(m * nanosPerUpdate)
                batch.append(generator.next(ts: realNow &- (now &- min(dueAt, now))))
            }
            generated &+= UInt64(n)
            sink(batch)
        }
        schedule()
    }
}
