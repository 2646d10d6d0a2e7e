// QuoteBus: the small interfaces between the market-data roles, so `broker demo` runs the same
// ingest and fanout code over an in-process bus and an in-memory cache that the distributed roles
// run over Kafka and Redis.
//
//   ingest --QuotePublisher--> (Kafka market.quotes | InProcessQuoteBus) --> fanout's QuoteFeedSink
//   ingest --LatestQuoteStore--> (Redis quote:SYM | InMemoryQuoteStore)
public import Wire
import Synchronization

/// Where the ingestor hands normalized quotes (Kafka producer, or the in-process bus).
public protocol QuotePublisher: AnyObject {
    /// Publishes a batch (on the ingest loop's thread). Must not block.
    func publish(_ quotes: UnsafeBufferPointer<Quote>)
}

/// The latest quote per symbol (Redis `quote:SYMBOL`, or in memory).
public protocol LatestQuoteStore: AnyObject {
    /// Records `q` as the latest of its symbol; writes may be coalesced until `flush`.
    func put(_ q: Quote)
    /// Writes what `put` coalesced (called once per ingest loop iteration).
    func flush()
    /// Reads the latest quotes of `symbolIds` (any thread's callback lands on `loop`).
    func fetch(_ symbolIds: [Int32], on loop: EventLoop, _ done: @escaping ([Quote]) -> Void)
}

/// An in-process stand-in for Kafka's `market.quotes`: every subscriber gets every batch, in
/// order, on its own loop (one task per batch).
public final class InProcessQuoteBus: QuotePublisher, @unchecked Sendable {
    private let subscribers = Mutex<[(EventLoop, @Sendable ([Quote]) -> Void)]>([])
    /// Quotes published so far.
    public private(set) var published: UInt64 = 0

    /// Creates an empty bus.
    public init() {}

    /// Adds a subscriber whose `body` runs on `loop` with each batch. Setup-time only.
    public func subscribe(on loop: EventLoop, _ body: @escaping @Sendable ([Quote]) -> Void) {
        subscribers.withLock { $0.append((loop, body)) }
    }

    public func publish(_ quotes: UnsafeBufferPointer<Quote>) {
        guard !quotes.isEmpty else { return }
        published &+= UInt64(quotes.count)
        let batch = Array(quotes)
        // The subscriber list is fixed after setup; the lock is taken once per batch, not per quote.
        let subs = subscribers.withLock { $0 }
        for (loop, body) in subs {
            loop.execute { body(batch) }
        }
    }
}

/// An in-memory stand-in for Redis's `quote:SYMBOL` keys.
public final class InMemoryQuoteStore: LatestQuoteStore, @unchecked Sendable {
    private let latest: Mutex<[Int32: Quote]>
    private var pending: [Int32: Quote] = [:]

    /// Creates an empty store.
    public init() { latest = Mutex([:]) }

    public func put(_ q: Quote) { pending[q.symbolId] = q }

    public func flush() {
        guard !pending.isEmpty else { return }
        let p = pending
        pending.removeAll(keepingCapacity: true)
        latest.withLock { l in for (k, v) in p where (l[k]?.seq ?? 0) < v.seq { l[k] = v } }
    }

    public func fetch(_ symbolIds: [Int32], on loop: EventLoop, _ done: @escaping ([Quote]) -> Void) {
        let found = latest.withLock { l in symbolIds.compactMap { l[$0] } }
        nonisolated(unsafe) let d = done
        loop.execute { d(found) }
    }

    /// The latest quote of a symbol (tests, search hydration).
    public func latest(_ symbolId: Int32) -> Quote? { latest.withLock { $0[symbolId] } }
}

/// Turns quotes into encoded updates once and hands them to every fanout shard. Lives on one
/// loop (the feed loop); quotes added during an iteration leave as one batch before the shards drain.
public final class QuoteFeedSink {
    private var encoder: QuoteEncoder
    private let distributor: QuoteDistributor
    private let loop: EventLoop
    private var pending: [QuoteUpdate] = []
    /// Quotes received.
    public private(set) var received: UInt64 = 0

    /// Creates a sink encoding with `symbols` for `distributor`, running on `loop`; it flushes in a
    /// before-sleep hook that runs ahead of the shards' drains.
    public init(symbols: SymbolUniverse, distributor: QuoteDistributor, loop: EventLoop) {
        encoder = QuoteEncoder(symbols: symbols)
        self.distributor = distributor
        self.loop = loop
        loop.addBeforeSleepHook(first: true) { [weak self] in self?.flush() }
    }

    /// Encodes `q` into this iteration's batch (on `loop`).
    @inline(__always)
    public func add(_ q: Quote) {
        received &+= 1
        guard encoder.symbols.contains(q.symbolId) else { return }
        pending.append(encoder.encode(q))
    }

    /// Encodes and distributes a batch now (on `loop`).
    public func deliver(_ quotes: some Collection<Quote>) {
        for q in quotes { add(q) }
        flush()
    }

    /// Hands what was added to every shard.
    public func flush() {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        distributor.distribute(batch, from: loop)
    }
}
