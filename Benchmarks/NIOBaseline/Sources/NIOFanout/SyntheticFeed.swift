// The synthetic market data feed: R updates/s spread uniformly over U symbols, generated in 1 ms
// ticks on a thread (event loop) of its own. Owns symbol names, the price random walk, per-symbol
// `seq`, and encoding each update's JSON exactly once. Delivery to connections is LoopFanout's job.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOWebSocket

/// The symbol universe `S0000`..`S{U-1}`: names and the name -> index lookup used by `subscribe`.
/// Immutable after init, so every event loop can share it.
struct SymbolTable: Sendable {
    /// Symbol names by dense index.
    let names: [String]
    /// Name -> dense index.
    let indexByName: [String: Int]

    /// Builds `count` names, zero-padded to at least 4 digits and wider only when needed
    /// (`S0007`, `S12345`): the same rule as the main server's `SymbolUniverse.generatedSymbol`.
    init(count: Int) {
        var names: [String] = []
        names.reserveCapacity(count)
        for index in 0..<count {
            let digits = String(index)
            names.append("S" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits)
        }
        self.names = names
        self.indexByName = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    }
}

/// One generated update, already encoded: the frame's payload is shared by every subscriber.
struct QuoteUpdate: Sendable {
    /// Dense symbol index.
    var symbol: Int
    /// A text frame over the quote's JSON; its ByteBuffer starts at reader index 0, so
    /// `WebSocketFrameEncoder` writes the header into a separate buffer instead of copying ours.
    var frame: WebSocketFrame
}

/// Counters owned by the feed loop.
struct FeedStats: Sendable {
    /// Updates generated since start.
    var updates = 0
    /// Updates never generated because the feed thread fell more than 100 ms behind.
    var skipped = 0
}

/// The feed. Every method runs on `eventLoop`; nothing else touches its state.
final class SyntheticFeed: @unchecked Sendable {  // confined to `eventLoop`
    /// The loop that ticks the feed.
    let eventLoop: any EventLoop
    private let rate: Int
    private let symbols: SymbolTable
    private let deliver: @Sendable ([QuoteUpdate]) -> Void
    private let allocator = ByteBufferAllocator()

    /// Last traded price per symbol, in cents (fixed point: never Double for money).
    private var ltpCents: [Int]
    /// Half the bid/ask spread per symbol, in cents.
    private var halfSpreadCents: [Int]
    /// Last `seq` sent per symbol; the first update of a symbol carries 1.
    private var seq: [UInt64]
    private var rng: SplitMix64

    private var start = NIODeadline.now()
    private(set) var stats = FeedStats()
    private var task: RepeatedTask?

    /// - Parameters:
    ///   - eventLoop: the loop the feed ticks on; keep it off the serving loops.
    ///   - rate: updates per second over all symbols.
    ///   - symbols: the universe.
    ///   - deliver: called on `eventLoop` once per tick that produced updates.
    init(
        eventLoop: any EventLoop, rate: Int, symbols: SymbolTable, seed: UInt64 = 0x5EED,
        deliver: @escaping @Sendable ([QuoteUpdate]) -> Void
    ) {
        self.eventLoop = eventLoop
        self.rate = rate
        self.symbols = symbols
        self.deliver = deliver
        self.rng = SplitMix64(seed: seed)
        self.seq = Array(repeating: 0, count: symbols.names.count)
        self.ltpCents = []
        self.halfSpreadCents = []
        for _ in 0..<symbols.names.count {
            self.ltpCents.append(1_000 + Int(self.rng.next() % 400_000))  // 10.00 ..< 4010.00
            self.halfSpreadCents.append(1 + Int(self.rng.next() % 5))  // 0.01 ... 0.05
        }
    }

    /// Starts ticking every millisecond.
    func start(tick: TimeAmount = .milliseconds(1)) {
        self.eventLoop.execute {
            self.start = .now()
            self.task = self.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
                self.tick()
            }
        }
    }

    /// Stops ticking; returns the final counters.
    func stop() -> EventLoopFuture<FeedStats> {
        self.eventLoop.submit {
            self.task?.cancel()
            self.task = nil
            return self.stats
        }
    }

    /// Current counters, read on the feed loop.
    func currentStats() -> EventLoopFuture<FeedStats> {
        self.eventLoop.submit { self.stats }
    }

    /// Generates what is due since start: `rate * elapsed`, so fractional remainders carry over from
    /// tick to tick and a late timer catches up instead of lowering the rate.
    private func tick() {
        let elapsedNanos = (NIODeadline.now() - self.start).nanoseconds
        let due = Int(Double(elapsedNanos) * Double(self.rate) / 1e9)
        var count = due - (self.stats.updates + self.stats.skipped)
        // Fell behind by more than 100 ms (stalled thread): skip the backlog rather than burst.
        let maxBurst = max(1, self.rate / 10)
        if count > maxBurst {
            self.stats.skipped += count - maxBurst
            count = maxBurst
        }
        guard count > 0 else { return }
        // Each update's ts is the moment it was due (update j at start + j/rate), as in the broker's
        // own synthetic feed: a late tick must not stamp its backlog as new.
        let realNow = Self.realtimeNanos()
        let nanosPerUpdate = 1e9 / Double(self.rate)
        var batch: [QuoteUpdate] = []
        batch.reserveCapacity(count)
        for k in 0..<count {
            let dueAfter = Int64(Double(due - count + 1 + k) * nanosPerUpdate)
            let late = max(0, elapsedNanos - dueAfter)
            batch.append(self.nextUpdate(ts: realNow - UInt64(late)))
        }
        self.stats.updates += count
        self.deliver(batch)
    }

    /// One update of a uniformly drawn symbol: random-walk the price, bump `seq`, stamp `ts`, encode.
    private func nextUpdate(ts: UInt64) -> QuoteUpdate {
        let symbol = Int(self.rng.next() % UInt64(self.symbols.names.count))
        let step = Int(self.rng.next() % 11) - 5  // -0.05 ... +0.05
        let ltp = max(100, self.ltpCents[symbol] + step)  // floor at 1.00
        self.ltpCents[symbol] = ltp
        self.seq[symbol] += 1
        let half = self.halfSpreadCents[symbol]
        let json =
            "{\"type\":\"quote\",\"symbol\":\"\(self.symbols.names[symbol])\",\"ltp\":\(Self.price(ltp))"
            + ",\"bid\":\(Self.price(ltp - half)),\"ask\":\(Self.price(ltp + half))"
            + ",\"ts\":\(ts),\"seq\":\(self.seq[symbol])}"
        var buffer = self.allocator.buffer(capacity: json.utf8.count)
        buffer.writeString(json)
        return QuoteUpdate(symbol: symbol, frame: WebSocketFrame(fin: true, opcode: .text, data: buffer))
    }

    /// Cents as a JSON number with exactly 2 decimals: 10125 -> "101.25", 5 -> "0.05".
    static func price(_ cents: Int) -> String {
        let fraction = cents % 100
        return "\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// CLOCK_REALTIME in nanoseconds since the Unix epoch: the `ts` every quote carries.
    static func realtimeNanos() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// A small seeded generator: the feed is the same from run to run, and cheap per update.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
