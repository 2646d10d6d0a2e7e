// The md-bench harness itself runs (at a small rate, in the debug build): rates and latencies are filled.
import Logging
import Testing
import Wire
@testable import Broker

@Suite struct MarketDataBenchmarkTests {
    @Test func harnessMeasuresRatesAndLatency() throws {
        let config = try ConfigFile(text: "", name: "test.toml", schema: BrokerConfig.schema)
        let r = try MarketDataBenchmark.run(config: config, rate: 5_000, seconds: 0.6, warmup: 0.4,
                                            symbols: SymbolUniverse.generated(count: 100), kafka: nil, redis: nil,
                                            logger: Logger(label: "md-bench"))
        #expect(r.generatedPerSecond > 1_000 && r.generatedPerSecond < 7_500, "\(r.text)")
        #expect(r.ingestedPerSecond > 1_000, "\(r.text)")
        #expect(r.ingestLatency.count > 500 && r.ingestLatency.p99 >= r.ingestLatency.p50)
        #expect(r.feedLatency.count > 500 && r.text.contains("ingest latency"))
    }
}
