// Token buckets for per-user order rate limits, with time passed in.
//
// Owns: `TokenBucket` (integer arithmetic in nano-tokens, no floating point) and
// `OrderRateLimiter`, one bucket per key. Callers pass monotonic `now` in nanoseconds
// (EventLoop.now), so tests drive time explicitly.

/// A token bucket: holds up to `capacity` tokens, refilled continuously at `refillPerSecond`.
public struct TokenBucket: Sendable, Equatable {
    /// Maximum tokens (the burst).
    public let capacity: Int64
    /// Tokens added per second.
    public let refillPerSecond: Int64
    // Tokens x 1e9, so refill at any nanosecond granularity is exact in integers.
    private var scaled: Int64
    private var last: UInt64

    /// A full bucket at time `now`.
    /// - Precondition: capacity in 1...1_000_000_000 and refillPerSecond in 1...1_000_000_000 (keeps
    ///   the nano-token arithmetic inside Int64).
    public init(capacity: Int64, refillPerSecond: Int64, now: UInt64) {
        precondition((1...1_000_000_000).contains(capacity) && (1...1_000_000_000).contains(refillPerSecond))
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.scaled = capacity * 1_000_000_000
        self.last = now
    }

    /// Whole tokens available at `now` (after refill).
    public mutating func available(now: UInt64) -> Int64 {
        refill(now)
        return scaled / 1_000_000_000
    }

    /// Takes `tokens` if available at `now`; returns whether it did.
    public mutating func tryConsume(now: UInt64, tokens: Int64 = 1) -> Bool {
        refill(now)
        let need = tokens * 1_000_000_000
        guard scaled >= need else { return false }
        scaled -= need
        return true
    }

    /// Whether the bucket is full at `now` (so it can be forgotten).
    public mutating func isFull(now: UInt64) -> Bool {
        refill(now)
        return scaled == capacity * 1_000_000_000
    }

    private mutating func refill(_ now: UInt64) {
        guard now > last else { return }  // a clock that steps back adds nothing
        let full = capacity * 1_000_000_000
        // Enough time to fill from empty; capping elapsed keeps elapsed x rate inside Int64.
        let fillTime = UInt64(full / refillPerSecond) + 1
        let elapsed = min(now - last, fillTime)
        scaled = min(full, scaled + Int64(elapsed) * refillPerSecond)
        last = now
    }
}

/// One token bucket per key (user id), created full on first use.
public struct OrderRateLimiter<Key: Hashable & Sendable>: Sendable {
    /// Burst size per key.
    public let capacity: Int64
    /// Sustained orders per second per key.
    public let refillPerSecond: Int64
    private var buckets: [Key: TokenBucket] = [:]

    /// Creates a limiter (e.g. burst 20, 10 orders/s per user).
    public init(capacity: Int64, refillPerSecond: Int64) {
        precondition(capacity > 0 && refillPerSecond > 0)
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
    }

    /// Admits one order for `key` at `now` if its bucket has a token.
    public mutating func allow(_ key: Key, now: UInt64) -> Bool {
        if buckets[key] == nil {
            buckets[key] = TokenBucket(capacity: capacity, refillPerSecond: refillPerSecond, now: now)
        }
        return buckets[key]!.tryConsume(now: now)
    }

    /// Drops buckets that are full again (they behave exactly like new ones), bounding memory.
    public mutating func prune(now: UInt64) {
        for key in Array(buckets.keys) where buckets[key]!.isFull(now: now) { buckets[key] = nil }
    }

    /// Keys currently tracked.
    public var trackedKeys: Int { buckets.count }
}
