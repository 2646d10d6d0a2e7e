// Zipf: seeded, repeatable Zipf(s) sampling over ranks 0..<n, for the load harness's choice of
// which symbols each simulated client watches (DESIGN.md "Benchmark scenarios").

/// A seeded pseudo-random generator (SplitMix64): repeatable across runs and machines.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// Creates a generator from `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Zipf(s) over ranks 0..<n: P(rank k) proportional to 1/(k+1)^s. Sampling is a binary search
/// over the precomputed cumulative distribution.
public struct ZipfDistribution: Sendable {
    private let cdf: [Double]

    /// Creates the distribution.
    public init(count n: Int, exponent s: Double = 1.0) {
        precondition(n > 0)
        var acc = 0.0
        var c: [Double] = []
        c.reserveCapacity(n)
        for k in 1...n {
            acc += 1.0 / pow(Double(k), s)
            c.append(acc)
        }
        cdf = c.map { $0 / acc }
    }

    /// Number of ranks.
    public var count: Int { cdf.count }

    /// Draws one rank.
    public func sample(_ rng: inout some RandomNumberGenerator) -> Int {
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Draws `k` distinct ranks (k <= count).
    public func sampleDistinct(_ k: Int, _ rng: inout some RandomNumberGenerator) -> [Int] {
        precondition(k <= count)
        var seen = Set<Int>()
        var out: [Int] = []
        out.reserveCapacity(k)
        while out.count < k {
            let r = sample(&rng)
            if seen.insert(r).inserted { out.append(r) }
        }
        return out
    }

    /// Probability of rank `k`.
    public func probability(of k: Int) -> Double { k == 0 ? cdf[0] : cdf[k] - cdf[k - 1] }
}

#if canImport(Glibc)
import Glibc
#endif
