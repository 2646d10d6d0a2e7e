// The harness's bookkeeping without a server: per-connection sequence tracking (gaps, reordering,
// symbols never subscribed), the owed-quotes arithmetic over a measurement window, and S3's
// feed-rate search.
import Testing
@testable import Broker

@Suite struct BenchAccountingTests {
    /// A loop state over the universe S0000..S0009 and a client subscribed to S0001 and S0002.
    func rig() -> (BenchLoopState, BenchClient) {
        let st = BenchLoopState()
        for i in 0..<10 { st.symbolIndex[QuoteScanner.symbolHash(SymbolUniverse.generatedSymbol(i))] = Int32(i) }
        st.latestSeq = Array(repeating: 0, count: 10)
        st.firstSeqInWindow = st.latestSeq
        return (st, BenchClient(state: st, symbols: ["S0001", "S0002"]))
    }

    func send(_ c: BenchClient, _ quotes: [(String, UInt64)]) {
        var text = "{\"type\":\"quotes\",\"data\":["
        text += quotes.map { "{\"symbol\":\"\($0.0)\",\"ts\":1000,\"seq\":\($0.1)}" }.joined(separator: ",")
        text += "]}"
        text.withUTF8 { c.received(UnsafeRawBufferPointer($0), nowMicros: 5, arrivedMicros: 4) }
    }

    @Test func countsGapsReorderingAndUnsubscribedSymbolsOnlyWhileMeasuring() {
        let (st, c) = rig()
        // Before the window: a gap is not counted, but the last seq is remembered.
        send(c, [("S0001", 3), ("S0001", 7)])
        #expect(st.missing == 0 && st.quotes == 0 && c.lastSeq == [7, 0])
        st.startSeq = st.latestSeq
        st.measuring = true
        send(c, [("S0001", 8), ("S0001", 11), ("S0002", 4), ("S0002", 4), ("S0001", 9), ("S0005", 1), ("ZZZ", 1)])
        #expect(st.quotes == 7 && st.messages == 1)
        #expect(st.missing == 2)        // 9 and 10 of S0001 (S0002's first quote has no predecessor)
        #expect(st.outOfOrder == 2)     // S0002 4 again, S0001 9 after 11
        #expect(st.unsubscribed == 2)   // S0005 is not this client's, ZZZ not in the universe
        #expect(c.lastSeq == [11, 4])
        #expect(st.latestSeq[1] == 11 && st.firstSeqInWindow[1] == 8 && st.firstSeqInWindow[2] == 4)
        #expect(st.histogram.totalCount == 7 && st.arrivalHistogram.totalCount == 7)
    }

    @Test func owedQuotesFollowTheUpdatesEachSymbolHadInTheWindow() {
        var a = SequenceWindow(universe: 4), b = SequenceWindow(universe: 4)
        // Symbol 0: seq 10 -> 30 (20 updates), seen by both loops (the freshest counts).
        a.start[0] = 10; a.end[0] = 29; a.first[0] = 11; a.subscribers[0] = 3
        b.start[0] = 9; b.end[0] = 30; b.first[0] = 11; b.subscribers[0] = 2
        // Symbol 1: nothing before the window (no snapshot): counted from its first quote, 5..8.
        a.end[1] = 8; a.first[1] = 5; a.subscribers[1] = 1
        // Symbol 2: subscribed, no update at all. Symbol 3: updates, but nobody holds it.
        b.subscribers[2] = 4
        b.start[3] = 1; b.end[3] = 100
        a.missing = 2; b.outOfOrder = 1
        a.merge(b)
        #expect(a.updates(0) == 20 && a.updates(1) == 4 && a.updates(2) == 0)
        var s = BenchScenario()
        s.feedRate = 40
        s.universe = 4
        var r = BenchResult(scenario: s, target: "ws://x/")
        r.deliveredPerSecond = 52
        a.fill(&r, seconds: 2)
        // Feed: 24 updates of the 3 subscribed symbols in 2 s = 12/s, against 40 * 3/4 = 30/s.
        #expect(r.feedUpdatesPerSecond == 12 && r.feedPace == 0.4)
        // Owed: 20 * 5 + 4 * 1 = 104 in 2 s.
        #expect(r.owedPerSecond == 52 && r.owedDeliveryRatio == 1)
        #expect(r.missingQuotes == 2 && r.outOfOrderQuotes == 1 && r.unsubscribedQuotes == 0)
        #expect(r.table.contains("owed 52 quotes/s") && r.json.contains("\"owed_per_s\":52.0"))
    }

    @Test func aStepKeepsUpOnlyWithinLatencyLossAndFeedPace() {
        var r = BenchResult(scenario: BenchScenario(), target: "ws://x/")
        r.seconds = 10
        r.latencyMicros["p99"] = 90_000
        r.deliveredPerSecond = 1_000
        r.owedPerSecond = 1_030  // a burst cut by the window's end: not a reason to fail
        r.feedPace = 0.995
        r.missingQuotes = 100  // 1% of the 10,000 delivered
        #expect(r.keptUp(p99Micros: 100_000))
        r.latencyMicros["p99"] = 100_001
        #expect(!r.keptUp(p99Micros: 100_000))
        #expect(r.keptUp(p99Micros: .max))
        r.latencyMicros["p99"] = 90_000
        r.missingQuotes = 101
        #expect(!r.keptUp(p99Micros: 100_000))
        r.missingQuotes = 0
        r.feedPace = 0.98
        #expect(!r.keptUp(p99Micros: 100_000))
        // No seq from the server: the configured rate's expectation decides.
        r.feedPace = nil
        r.expectedPerSecond = 1_000
        #expect(r.keptUp(p99Micros: 100_000))
        r.deliveredPerSecond = 980
        #expect(!r.keptUp(p99Micros: 100_000))
    }

    @Test func feedRateSearchBracketsAndBisects() {
        // Passes up to 700: 250, 500 pass, 1000 fails, then 750 fails, 625 passes.
        let up = FeedRateSearch(start: 250).run { $0 <= 700 }
        #expect(up.map(\.rate) == [250, 500, 1000, 750, 625])
        #expect(up.map(\.passed) == [true, true, false, false, true])
        // Fails from the start: halves down to the floor (start / 8), then bisects.
        let down = FeedRateSearch(start: 800).run { $0 <= 120 }
        #expect(down.map(\.rate) == [800, 400, 200, 100, 150, 125])
        // Never fails: stops at the ceiling.
        var s = FeedRateSearch(start: 100)
        s.maxRate = 1_000
        #expect(s.run { _ in true }.map(\.rate) == [100, 200, 400, 800])
        // Nothing passes: stops at the floor.
        #expect(FeedRateSearch(start: 80).run { _ in false }.map(\.rate) == [80, 40, 20, 10])
    }
}
