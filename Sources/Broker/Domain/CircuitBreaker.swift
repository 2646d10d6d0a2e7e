// Per-symbol circuit breaker: halt when the price moves too far within a window, resume after a
// cooldown. A state machine with time passed in; it returns actions and never does I/O.
//
// Window: `buckets` fixed slots of `window / buckets` ns, each keeping the min and max price seen
// in it, reused round-robin (no allocation after init). A move is measured as
// (max - min) / min over the live slots, so any move that happens within
// `window x (buckets - 1) / buckets` is always seen, and none spanning more than `window` is.

/// What the breaker decided.
public enum CircuitBreakerAction: Equatable, Sendable {
    /// Trading halts until `until` (ns).
    case halt(until: UInt64)
    /// Trading resumes.
    case resume
}

/// The breaker of one symbol.
public struct CircuitBreaker: Sendable {
    /// Thresholds.
    public struct Configuration: Sendable, Equatable {
        /// Halt when the move within the window exceeds this many basis points (default 1,000 = 10%).
        public let thresholdBps: Int64
        /// Window length in ns (default 5 minutes).
        public let windowNanos: UInt64
        /// Halt length in ns (default 5 minutes).
        public let cooldownNanos: UInt64
        /// Slots of the window (default 10; more is finer and costs more per update).
        public let buckets: Int

        /// Creates a configuration.
        /// - Throws: `RiskConfigurationError` for zero/negative values or fewer than 2 buckets.
        public init(
            thresholdBps: Int64 = 1_000, windowNanos: UInt64 = 300_000_000_000,
            cooldownNanos: UInt64 = 300_000_000_000, buckets: Int = 10
        ) throws(RiskConfigurationError) {
            guard thresholdBps > 0 else { throw .init(key: "circuit_breaker_bps", reason: "must be > 0") }
            guard (2...64).contains(buckets) else {
                throw .init(key: "circuit_breaker_buckets", reason: "must be 2...64")
            }
            guard windowNanos >= UInt64(buckets) else {
                throw .init(key: "circuit_breaker_window", reason: "too short")
            }
            guard cooldownNanos > 0 else { throw .init(key: "circuit_breaker_cooldown", reason: "must be > 0") }
            self.thresholdBps = thresholdBps
            self.windowNanos = windowNanos
            self.cooldownNanos = cooldownNanos
            self.buckets = buckets
        }

        /// The defaults above.
        public static let `default` = try! Configuration()
    }

    /// Thresholds.
    public let configuration: Configuration
    /// When the current halt ends (ns), or nil while trading.
    public private(set) var haltedUntil: UInt64?
    private var epochs: [UInt64]  // bucket number held by each slot; UInt64.max = empty
    private var mins: [Int64]
    private var maxs: [Int64]
    private let width: UInt64

    /// A breaker in the trading state with an empty window.
    public init(configuration: Configuration = .default) {
        self.configuration = configuration
        epochs = [UInt64](repeating: .max, count: configuration.buckets)
        mins = [Int64](repeating: 0, count: configuration.buckets)
        maxs = [Int64](repeating: 0, count: configuration.buckets)
        width = configuration.windowNanos / UInt64(configuration.buckets)
    }

    /// Whether trading is halted at `now` (a halt past its end counts as over even before `poll`).
    public func isHalted(now: UInt64) -> Bool {
        guard let until = haltedUntil else { return false }
        return now < until
    }

    /// Resumes a halt whose cooldown has passed. Call from a timer or before checks.
    public mutating func poll(now: UInt64) -> CircuitBreakerAction? {
        guard let until = haltedUntil, now >= until else { return nil }
        haltedUntil = nil
        for i in epochs.indices { epochs[i] = .max }  // the post-halt market starts a fresh window
        return .resume
    }

    /// Records a trade price at `now` and returns `.halt` when the move trips the breaker, `.resume`
    /// when a halt has just ended (the price then starts the new window), or nil.
    public mutating func observe(price: Int64, now: UInt64) -> CircuitBreakerAction? {
        guard price > 0 else { return nil }
        var action: CircuitBreakerAction?
        if haltedUntil != nil {
            guard let resumed = poll(now: now) else { return nil }  // prices during a halt are ignored
            action = resumed
        }
        let bucket = now / width
        let slot = Int(bucket % UInt64(configuration.buckets))
        if epochs[slot] != bucket {
            epochs[slot] = bucket
            mins[slot] = price
            maxs[slot] = price
        } else {
            mins[slot] = min(mins[slot], price)
            maxs[slot] = max(maxs[slot], price)
        }
        var lo = Int64.max
        var hi = Int64.min
        let oldest = bucket >= UInt64(configuration.buckets - 1) ? bucket - UInt64(configuration.buckets - 1) : 0
        for i in 0..<configuration.buckets where epochs[i] != .max && epochs[i] >= oldest && epochs[i] <= bucket {
            lo = min(lo, mins[i])
            hi = max(hi, maxs[i])
        }
        // (hi - lo) / lo > threshold / 10_000, in integers: prices are < 2^63 / 10_000 in practice
        // (1e-4 units), but compare via full width to stay exact for any Int64.
        let lhs = (hi - lo).multipliedFullWidth(by: 10_000)
        let rhs = lo.multipliedFullWidth(by: configuration.thresholdBps)
        if lhs.high > rhs.high || (lhs.high == rhs.high && lhs.low > rhs.low) {
            let until = now + configuration.cooldownNanos
            haltedUntil = until
            return .halt(until: until)
        }
        return action
    }
}
