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
