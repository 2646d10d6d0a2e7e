// The fanout load harness (`broker bench`) against a real node over loopback, at a small scale
// (debug build): every figure of a run is filled and consistent, with and without deflate.
import Logging
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct BenchHarnessTests {
    func scenario(deflate: Bool) -> BenchScenario {
        var s = BenchScenario()
        s.connections = 40
        s.symbolsPerConnection = 5
        s.universe = 100
        s.feedRate = 2_000
        s.deflate = deflate
        s.warmupSeconds = 0.3
        s.durationSeconds = 1.5
        return s
    }

    @Test(arguments: [false, true])
    func runMeasuresDeliveryLatencyAndTheServer(deflate: Bool) throws {
        let rig = try FanoutRig(rate: 2_000, symbols: 100)
        let harness = try BenchHarness(target: rig.url, loops: 2, logger: Logger(label: "bench-test"))
        harness.serverPID = getpid()  // the node runs in this process
        let r = try harness.run(scenario(deflate: deflate))
        #expect(r.connectionsEstablished == 40 && r.connectionsFailed == 0, "\(r.table)")
        #expect(r.subscriptions == 200)
        // 2,000 updates/s over 100 symbols, 200 subscriptions: 4,000 quotes/s expected.
        #expect(r.expectedPerSecond == 4_000)
        #expect(r.deliveryRatio > 0.6 && r.deliveryRatio < 1.6, "\(r.table)")
        // The quotes' seq: every quote arrived, in order, only for subscribed symbols, and the
        // feed's own count (owed) is met - not only the configured rate's expectation.
        #expect(r.missingQuotes == 0 && r.outOfOrderQuotes == 0 && r.unsubscribedQuotes == 0, "\(r.table)")
        let owed = try #require(r.owedDeliveryRatio, "no seq figures: \(r.table)")
        #expect(owed > 0.97 && owed < 1.03, "\(r.table)")
        #expect((r.feedPace ?? 0) > 0.9 && (r.feedPace ?? 0) < 1.1, "\(r.table)")
        #expect(r.wireBytesPerSecond > 0 && r.payloadBytesPerSecond > 0)
        if deflate {
            #expect(r.wireBytesPerSecond < r.payloadBytesPerSecond, "compressed: \(r.table)")
        } else {
            #expect(r.wireBytesPerSecond > r.payloadBytesPerSecond, "frame headers: \(r.table)")
        }
        let p50 = try #require(r.latencyMicros["p50"]), p99 = try #require(r.latencyMicros["p99"])
        #expect(p50 > 0 && p50 <= p99 && p99 <= r.latencyMicros["max"]!)
        // Arrival (kernel timestamp) is never later than the harness's read of the same quote.
        let a50 = try #require(r.arrivalLatencyMicros["p50"], "no kernel timestamps: \(r.table)")
        #expect(a50 > 0 && a50 <= p50 + 1)
        #expect((r.serverCPUSeconds ?? 0) > 0 && (r.serverRSSBytes ?? 0) > 0)
        #expect(r.table.contains("arrival ms") && r.json.contains("\"arrival_latency_us_p99\""))
        #expect(r.json.contains("\"delivered_per_s\"") && r.json.contains("\"missing\":0") && !r.json.contains("\n"))
    }
}
