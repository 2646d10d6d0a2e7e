// Metrics: counters, gauges and histograms that cost a few plain instructions on the hot path.
//
// Owns: the registry (metric families, their label sets and slot numbers), per-loop shards holding
// the values, and the handles the hot path uses. Rendering the Prometheus text format is in
// MetricsExposition.swift.
//
// How it stays cheap: each event loop owns one `MetricsShard`, a block of 64-bit slots only that
// loop's thread writes. An increment is a relaxed atomic load plus a relaxed store of the same slot
// (no read-modify-write, so no `lock` prefix: on x86-64 and arm64 these are ordinary loads and
// stores) and no allocation, lock, existential or dictionary lookup. A scrape, on any thread, sums
// each slot over the shards with relaxed loads. Relaxed atomics make the cross-thread read defined
// behaviour; the values are monotonic per shard so a scrape sees a consistent-enough snapshot.
public import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A counter (monotonic). Cheap to copy; use it with the loop's `MetricsShard`.
public struct MetricsCounter: Sendable {
    @usableFromInline let slot: Int
}

/// A gauge. Its exposed value is the sum of every shard's contribution (connections per loop add up).
public struct MetricsGauge: Sendable {
    @usableFromInline let slot: Int
}

/// A histogram with fixed inclusive upper bounds in integer units (e.g. nanoseconds).
public struct MetricsHistogram: Sendable {
    /// Slots: one per bound, one for +Inf, then the sum.
    @usableFromInline let firstSlot: Int
    @usableFromInline let bounds: [Int64]
}

/// The 64-bit slots one shard owns, aligned and padded to 128 bytes so two loops' shards never
/// share a cache line (or an adjacent-line prefetch pair).
@usableFromInline final class MetricsSlots: @unchecked Sendable {
    // Invariant: `base` points to `capacity` initialised atomics, allocated here and freed in deinit.
    @usableFromInline let base: UnsafeMutablePointer<Atomic<UInt64>>
    let capacity: Int

    init(capacity: Int) {
        let bytes = (capacity * 8 + 127) & ~127
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 128)
        base = raw.bindMemory(to: Atomic<UInt64>.self, capacity: capacity)
        for i in 0..<capacity { (base + i).initialize(to: Atomic<UInt64>(0)) }
        self.capacity = capacity
    }

    deinit {
        // Atomic<UInt64> is trivially destructible; freeing the block is enough.
        UnsafeMutableRawPointer(base).deallocate()
    }

    @inline(__always) func load(_ slot: Int) -> UInt64 {
        base[slot].load(ordering: .relaxed)
    }
}

/// One event loop's metric values. Use a shard only on the thread that owns it.
public struct MetricsShard: @unchecked Sendable {
    @usableFromInline let slots: MetricsSlots

    /// Adds `amount` to a counter.
    @inlinable @inline(__always)
    public func add(_ counter: MetricsCounter, _ amount: UInt64) {
        // Single writer per slot: load + store is an increment without a locked instruction.
        let p = slots.base + counter.slot
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// Adds one to a counter.
    @inlinable @inline(__always)
    public func increment(_ counter: MetricsCounter) { add(counter, 1) }

    /// Sets this shard's contribution to a gauge.
    @inlinable @inline(__always)
    public func set(_ gauge: MetricsGauge, _ value: Int64) {
        slots.base[gauge.slot].store(UInt64(bitPattern: value), ordering: .relaxed)
    }

    /// Adds `delta` (may be negative) to this shard's contribution to a gauge.
    @inlinable @inline(__always)
    public func add(_ gauge: MetricsGauge, _ delta: Int64) {
        let p = slots.base + gauge.slot
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ UInt64(bitPattern: delta), ordering: .relaxed)
    }

    /// Records one observation (in the histogram's integer unit).
    @inlinable @inline(__always)
    public func observe(_ histogram: MetricsHistogram, _ value: Int64) {
        // Linear scan: bucket lists are short (<= ~20) and the common case hits early buckets.
        var i = 0
        let n = histogram.bounds.count
        while i < n && value > histogram.bounds[i] { i += 1 }
        let bucket = slots.base + histogram.firstSlot + i
        bucket.pointee.store(bucket.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        let sum = slots.base + histogram.firstSlot + n + 1
        sum.pointee.store(sum.pointee.load(ordering: .relaxed) &+ UInt64(bitPattern: value), ordering: .relaxed)
    }
}

/// The kind of a metric family (Prometheus `# TYPE`).
public enum MetricsKind: Sendable, Equatable {
    case counter, gauge, histogram
}

/// All metrics of one process, in shards (one per event loop).
///
/// ```swift
/// let metrics = MetricsRegistry(shardCount: group.loops.count)
/// let sent = metrics.counter("fanout_quotes_sent_total", help: "Quotes written to clients.")
/// // on loop i:  let shard = metrics.shard(i);  shard.increment(sent)
/// // on scrape:  HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: metrics.render())
/// ```
public final class MetricsRegistry: Sendable {
    /// The `Content-Type` of `render()`'s output (Prometheus text format 0.0.4).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    struct Series: Sendable {
        var labels: [(String, String)]
        var slot: Int
        var bounds: [Int64]  // histograms only
        var read: (@Sendable () -> Double)?  // callback gauges only
    }

    struct Family: Sendable {
        var name: String
        var help: String
        var kind: MetricsKind
        var scale: Double  // histograms: integer unit per exposed unit (1e9 for ns -> seconds)
        var series: [Series]
    }

    struct State: Sendable {
        var families: [Family] = []
        var nextSlot = 0
    }

    let shards: [MetricsSlots]
    let state = Mutex(State())
    /// Slots per shard: the most counters + gauges + histogram buckets this registry can hold.
    public let capacity: Int

    /// Creates a registry.
    ///
    /// - Parameters:
    ///   - shardCount: one per event loop (plus any other writer thread), 1...256.
    ///   - capacity: slots per shard (a counter or gauge is one slot, a histogram bounds + 2);
    ///     default 4096 = 32 KiB per shard. Registering beyond it is a programming error.
    public init(shardCount: Int, capacity: Int = 4096) {
        precondition((1...256).contains(shardCount), "shardCount out of 1...256")
        precondition((1...(1 << 20)).contains(capacity), "capacity out of 1...1048576")
        self.capacity = capacity
        self.shards = (0..<shardCount).map { _ in MetricsSlots(capacity: capacity) }
    }

    /// Number of shards.
    public var shardCount: Int { shards.count }

    /// The shard for loop `index`. Write to it only from that loop's thread.
    public func shard(_ index: Int) -> MetricsShard {
        MetricsShard(slots: shards[index])
    }

    /// Registers (or finds) a counter series.
    ///
    /// - Parameters:
    ///   - name: metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`; by convention counters end in `_total`.
    ///   - help: one-line description for `# HELP`.
    ///   - labels: label pairs fixed for this series (`[("code", "200")]`).
    public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> MetricsCounter {
        MetricsCounter(
            slot: register(
                name, help: help, kind: .counter, labels: labels, bounds: [], scale: 1,
                read: nil))
    }

    /// Registers a counter read at scrape time from a monotonic source owned elsewhere (CPU seconds).
    /// `read` runs on the scraping thread and must be thread-safe.
    public func counter(
        _ name: String, help: String, labels: [(String, String)] = [],
        read: @escaping @Sendable () -> Double
    ) {
        _ = register(name, help: help, kind: .counter, labels: labels, bounds: [], scale: 1, read: read)
    }

    /// Registers (or finds) a gauge series whose value is the sum of the shards' contributions.
    public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> MetricsGauge {
        MetricsGauge(slot: register(name, help: help, kind: .gauge, labels: labels, bounds: [], scale: 1, read: nil))
    }

    /// Registers a gauge computed at scrape time (RSS, queue depth owned elsewhere). `read` runs on
    /// the scraping thread and must be thread-safe.
    public func gauge(
        _ name: String, help: String, labels: [(String, String)] = [],
        read: @escaping @Sendable () -> Double
    ) {
        _ = register(name, help: help, kind: .gauge, labels: labels, bounds: [], scale: 1, read: read)
    }

    /// Registers (or finds) a histogram series.
    ///
    /// - Parameters:
    ///   - bounds: strictly increasing inclusive upper bounds in the observed integer unit; +Inf is implicit.
    ///   - scale: how many observed units make one exposed unit; bounds and sum are divided by it
    ///     (observe nanoseconds, expose seconds with `scale: 1e9`, per Prometheus base-unit convention).
    public func histogram(
        _ name: String, help: String, labels: [(String, String)] = [], bounds: [Int64],
        scale: Double = 1
    ) -> MetricsHistogram {
        precondition(
            !bounds.isEmpty && zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 },
            "histogram bounds must be non-empty and strictly increasing")
        precondition(scale > 0, "histogram scale must be positive")
        precondition(!labels.contains { $0.0 == "le" }, "'le' is reserved for histogram buckets")
        let slot = register(
            name, help: help, kind: .histogram, labels: labels, bounds: bounds, scale: scale,
            read: nil)
        return MetricsHistogram(firstSlot: slot, bounds: bounds)
    }

    private func register(
        _ name: String, help: String, kind: MetricsKind, labels: [(String, String)],
        bounds: [Int64], scale: Double, read: (@Sendable () -> Double)?
    ) -> Int {
        precondition(MetricsRegistry.isValidName(name, colons: true), "invalid metric name '\(name)'")
        for (l, _) in labels {
            precondition(
                MetricsRegistry.isValidName(l, colons: false) && !l.hasPrefix("__"),
                "invalid label name '\(l)'")
        }
        precondition(Set(labels.map(\.0)).count == labels.count, "duplicate label name in \(name)")
        let capacity = self.capacity
        return state.withLock { s -> Int in
            var f: Int
            if let existing = s.families.firstIndex(where: { $0.name == name }) {
                f = existing
                precondition(s.families[f].kind == kind, "metric \(name) registered as two kinds")
                precondition(s.families[f].scale == scale, "histogram \(name) registered with two scales")
                if let series = s.families[f].series.first(where: { $0.labels.elementsEqual(labels, by: ==) }) {
                    precondition(
                        series.bounds == bounds && read == nil && series.read == nil,
                        "metric \(name) re-registered differently")
                    return series.slot
                }
            } else {
                s.families.append(Family(name: name, help: help, kind: kind, scale: scale, series: []))
                f = s.families.count - 1
            }
            let width = read != nil ? 0 : (kind == .histogram ? bounds.count + 2 : 1)
            precondition(s.nextSlot + width <= capacity, "metrics registry capacity \(capacity) exhausted")
            let slot = s.nextSlot
            s.nextSlot += width
            s.families[f].series.append(Series(labels: labels, slot: slot, bounds: bounds, read: read))
            return slot
        }
    }

    static func isValidName(_ name: String, colons: Bool) -> Bool {
        guard let first = name.utf8.first else { return false }
        func letter(_ c: UInt8) -> Bool {
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || (colons && c == 0x3A)
        }
        return letter(first) && name.utf8.allSatisfy { letter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// The value of slot `slot` summed over all shards (wrapping, as the counters do).
    func total(_ slot: Int) -> UInt64 {
        var sum: UInt64 = 0
        for s in shards { sum &+= s.load(slot) }
        return sum
    }
}

extension MetricsRegistry {
    /// Histogram bounds `start, start*factor, ...` (`count` of them), rounded to integers and kept
    /// strictly increasing: e.g. latency buckets in ns from 10 µs by factor 2.
    public static func exponentialBounds(start: Int64, factor: Double, count: Int) -> [Int64] {
        precondition(start > 0 && factor > 1 && count > 0, "exponential bounds need start > 0, factor > 1")
        var out: [Int64] = []
        var v = Double(start)
        for _ in 0..<count {
            let b = max(Int64(v.rounded()), (out.last ?? 0) + 1)
            out.append(b)
            v *= factor
        }
        return out
    }

    /// Histogram bounds `start, start+width, ...` (`count` of them).
    public static func linearBounds(start: Int64, width: Int64, count: Int) -> [Int64] {
        precondition(width > 0 && count > 0, "linear bounds need width > 0")
        return (0..<count).map { start + Int64($0) * width }
    }
}
