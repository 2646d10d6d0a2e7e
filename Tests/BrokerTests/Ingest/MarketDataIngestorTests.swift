// The ingestor against the real exchange simulator over FIX loopback, on the embedded bus and cache:
// every quote of the subscribed symbols arrives in seq order, the cache holds the latest, latency
// is measured.
import FIX
import Synchronization
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct MarketDataIngestorTests {
    @Test func exchangeToIngestOverFIXReachesTheBusAndTheCache() throws {
        let rig = try LoopRig(name: "ingest-test")
        let symbols = SymbolUniverse.generated(count: 30)
        var xs = ExchangeSettings()
        xs.port = 0
        xs.rate = 20_000
        let bus = InProcessQuoteBus()
        let store = InMemoryQuoteStore()
        let received = Mutex<[Quote]>([])
        bus.subscribe(on: rig.loop) { batch in received.withLock { $0.append(contentsOf: batch) } }
        let (sim, ingestor) = try rig.sync { () -> (ExchangeSimulator, MarketDataIngestor) in
            let sim = try ExchangeSimulator(settings: xs, symbols: symbols, loop: rig.loop, logger: .init(label: "x"))
            sim.start()
            var s = IngestSettings()
            s.exchangePort = sim.port
            s.symbols = ["S0001", "S0002", "S0003"]
            s.redisFlushNanos = 1_000_000
            s.statsIntervalSeconds = 0
            let i = try MarketDataIngestor(settings: s, symbols: symbols, loop: rig.loop, publisher: bus, store: store,
                                           logger: .init(label: "i"))
            i.start()
            return (sim, i)
        }
        #expect(rig.wait { received.withLock { $0.count } > 500 })
        let quotes = received.withLock { $0 }
        #expect(Set(quotes.map(\.symbolId)) == [1, 2, 3])
        var last: [Int32: UInt64] = [:]
        for q in quotes {
            #expect(q.seq > last[q.symbolId, default: 0], "seq order for \(q.symbolId)")
            last[q.symbolId] = q.seq
            #expect(q.bid < q.ask && q.last > 0 && q.ts > 1_700_000_000_000_000_000)
        }
        // The cache converges on what the exchange holds once generation stops.
        try rig.sync { sim.stop() }
        #expect(rig.wait {
            (1...3).allSatisfy { id in store.latest(Int32(id)) == ingestor.latestQuote(Int32(id)) }
        })
        let l = try rig.sync { ingestor.latency.sinceStart }
        #expect(l.count >= UInt64(quotes.count) && l.p99 > 0 && l.p50 <= l.p99)
        #expect(try rig.sync { ingestor.renderMetrics().contains("ingest_latency_ns{quantile=\"0.99\"}") })
    }
}
