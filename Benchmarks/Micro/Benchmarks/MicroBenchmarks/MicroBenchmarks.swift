// Entry point of the microbenchmarks (package-benchmark discovers `benchmarks`).
//
// Names are `Module_operation_size`. `_1k` benchmarks run 1,000 operations per measured
// iteration (scalingFactor .kilo), so their raw malloc counts are "per 1,000 operations"; the
// others run one operation per iteration. Only `mallocCountTotal` is gated (Thresholds/6.3/):
// wall-clock time on a shared 2-core machine is reported, never gated.
import Benchmark

/// Allowed absolute deviation of the p90 malloc count per measured iteration, per benchmark
/// (README "Thresholds"): steady-state paths are exact, so the tolerance only absorbs rare
/// container growth, while one extra allocation per operation (+1,000 on a `_1k` benchmark) fails.
func allocationGate(_ tolerance: Int) -> [BenchmarkMetric: BenchmarkThresholds] {
    [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: tolerance])]
}

/// Metrics recorded by every benchmark.
let microMetrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .mallocBytesCount]

/// Configuration of a benchmark doing 1,000 operations per measured iteration.
func perKilo(tolerance: Int = 10, maxDuration: Duration = .seconds(1)) -> Benchmark.Configuration {
    .init(metrics: microMetrics, warmupIterations: 5, scalingFactor: .kilo, maxDuration: maxDuration,
          maxIterations: 10_000, thresholds: allocationGate(tolerance))
}

/// Configuration of a benchmark doing one (large) operation per measured iteration.
func perOne(tolerance: Int = 1, warmup: Int = 20, maxDuration: Duration = .seconds(1)) -> Benchmark.Configuration {
    .init(metrics: microMetrics, warmupIterations: warmup, scalingFactor: .one, maxDuration: maxDuration,
          maxIterations: 100_000, thresholds: allocationGate(tolerance))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = perKilo()
    registerFIXBenchmarks()
    registerWebSocketBenchmarks()
    registerBrokerBenchmarks()
}

/// State that lives across measured iterations (buffers, parsers, codecs), so that only the
/// operation is measured and steady-state reuse is what the malloc counts show. `with` moves the
/// value out for the duration of the body, so buffers inside stay uniquely referenced (no
/// copy-on-write) and the loop runs on a local without exclusivity checks.
final class Held<T> {
    private var value: T?
    init(_ value: T) { self.value = value }

    @inline(__always)
    func with<R>(_ body: (inout T) throws -> R) rethrows -> R {
        var v = value.take()!
        defer { value = v }
        return try body(&v)
    }
}
