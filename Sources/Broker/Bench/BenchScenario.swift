// BenchScenario: the load scenarios of DESIGN.md ("Benchmark scenarios") and the harness options.

/// What one harness run does.
public struct BenchScenario: Sendable, Equatable {
    /// Preset name (S1..S4) or "custom".
    public var name = "custom"
    /// Connections to open.
    public var connections = 1_000
    /// Symbols per connection (distinct, Zipf-distributed over the universe).
    public var symbolsPerConnection = 20
    /// Universe size U: symbols S0000..S{U-1}.
    public var universe = 1_000
    /// Zipf exponent.
    public var zipfExponent = 1.0
    /// The server's feed rate (updates/s, uniform over the universe): used for expected quotes/s
    /// and passed to a spawned server.
    public var feedRate = 10_000
    /// Offer permessage-deflate.
    public var deflate = false
    /// Seconds of warm-up after the last connection is established.
    public var warmupSeconds = 5.0
    /// Seconds measured.
    public var durationSeconds = 20.0
    /// New connections per second while ramping.
    public var rampPerSecond = 2_000
    /// Seed of the subscription draw.
    public var seed: UInt64 = 42

    /// Creates a custom scenario.
    public init() {}

    /// A preset of DESIGN.md, or nil for an unknown name.
    public static func preset(_ name: String) -> BenchScenario? {
        var s = BenchScenario()
        s.name = name.uppercased()
        switch s.name {
        case "S1":
            s.connections = 1_000
            s.feedRate = 10_000
        case "S2":
            s.connections = 10_000
            s.feedRate = 1_000
        case "S3":
            // The starting point (S2's feed); the harness doubles it step by step (BenchRole).
            s.connections = 10_000
            s.feedRate = 1_000
        case "S4":
            s.connections = 10_000
            s.feedRate = 1_000
            s.deflate = true
        default:
            return nil
        }
        return s
    }

    /// Quotes/s the subscriptions should receive from a uniform feed: R/U per subscription.
    public func expectedQuotesPerSecond(subscriptions: Int) -> Double {
        Double(feedRate) / Double(universe) * Double(subscriptions)
    }
}

/// S3's search for the highest feed rate a server keeps up with: double the rate from `start`
/// while trials pass (halve it while they fail, down to `start / 8`), then bisect the last
/// passing and first failing rates `refinements` times while they are more than 1/8 apart.
public struct FeedRateSearch {
    /// First rate tried.
    public var start: Int
    /// Highest rate tried.
    public var maxRate = 2_000_000
    /// Bisection steps after the bracket is found.
    public var refinements = 2

    /// Creates a search from `start`.
    public init(start: Int) { self.start = max(1, start) }

    /// Runs `trial` (true: the rate passed) at the rates the search picks; returns them in order
    /// with their outcomes.
    public func run(_ trial: (Int) throws -> Bool) rethrows -> [(rate: Int, passed: Bool)] {
        var tried: [(rate: Int, passed: Bool)] = []
        var pass: Int?, fail: Int?
        var rate = start
        let floor = max(1, start / 8)
        while true {
            let ok = try trial(rate)
            tried.append((rate, ok))
            if ok {
                pass = rate
                if fail != nil || rate * 2 > maxRate { break }
                rate *= 2
            } else {
                fail = rate
                if pass != nil || rate / 2 < floor { break }
                rate /= 2
            }
        }
        var left = refinements
        while left > 0, let p = pass, let f = fail, f - p > p / 8 {
            left -= 1
            let mid = (p + f) / 2
            let ok = try trial(mid)
            tried.append((mid, ok))
            if ok { pass = mid } else { fail = mid }
        }
        return tried
    }
}
