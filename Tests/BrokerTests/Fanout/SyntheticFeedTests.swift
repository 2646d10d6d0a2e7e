// The synthetic feed stamps each quote with the moment it was due, so a loop that is late to tick
// shows up as latency instead of being hidden by fresh timestamps.
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SyntheticFeedTests {
    @Test func quotesCarryTheirDueTimeAcrossAStalledLoop() throws {
        let group = try EventLoopGroup(count: 1, name: "feed-test")
        group.start()
        defer {
            group.stop()
            group.join()
        }
        let loop = group.loops[0]
        nonisolated(unsafe) var batches: [(readAt: UInt64, ts: [UInt64])] = []
        nonisolated(unsafe) var feed: SyntheticFeed?
        try loop.submitAndWait {
            let f = SyntheticFeed(loop: loop, symbolCount: 50, rate: 1_000) { quotes in
                batches.append((Syscalls.realtimeNanos(), quotes.map(\.ts)))
            }
            f.start()
            feed = f
        }
        usleep(50_000)
        // Block the loop for 60 ms: the ~60 updates due meanwhile come in the first tick after it.
        let stallStart = Syscalls.realtimeNanos()
        try loop.submitAndWait { usleep(60_000) }
        usleep(50_000)
        let (all, generated, skipped) = try loop.submitAndWait { () -> ([(readAt: UInt64, ts: [UInt64])], UInt64, UInt64) in
            feed!.stop()
            return (batches, feed!.generated, feed!.skipped)
        }
        #expect(skipped == 0)  // a 60 ms stall is under the 100 ms cap
        #expect(generated == UInt64(all.reduce(0) { $0 + $1.ts.count }))
        // Every quote's ts is at or before the tick that sent it, and never decreases.
        let stamps = all.flatMap(\.ts)
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(all.allSatisfy { b in b.ts.allSatisfy { $0 <= b.readAt } })
        // The catch-up batch: ~60 quotes whose stamps spread back over the stall at 1 ms apart
        // (not one stamp for all), the oldest ~60 ms before the batch left.
        let catchUp = try #require(all.max { $0.ts.count < $1.ts.count })
        #expect(catchUp.ts.count >= 40, "largest batch \(catchUp.ts.count)")
        #expect(catchUp.ts.first! >= stallStart - 5_000_000)
        #expect(catchUp.readAt - catchUp.ts.first! >= 40_000_000)
        let gaps = zip(catchUp.ts, catchUp.ts.dropFirst()).map { $1 - $0 }
        #expect(gaps.allSatisfy { $0 >= 900_000 && $0 <= 1_100_000 }, "\(gaps.prefix(5))")
    }

    @Test func aStallBeyondTheCapSkipsTheOldestUpdates() throws {
        let group = try EventLoopGroup(count: 1, name: "feed-test")
        group.start()
        defer {
            group.stop()
            group.join()
        }
        let loop = group.loops[0]
        nonisolated(unsafe) var feed: SyntheticFeed?
        nonisolated(unsafe) var sizes: [Int] = []
        try loop.submitAndWait {
            let f = SyntheticFeed(loop: loop, symbolCount: 50, rate: 1_000) { sizes.append($0.count) }
            f.start()
            feed = f
        }
        usleep(20_000)
        try loop.submitAndWait { usleep(300_000) }
        usleep(20_000)
        let (generated, skipped) = try loop.submitAndWait { () -> (UInt64, UInt64) in
            feed!.stop()
            return (feed!.generated, feed!.skipped)
        }
        // ~300 due during the stall, at most 100 (100 ms worth) sent: ~200 skipped.
        #expect(sizes.max() == 100)
        #expect(skipped >= 150 && skipped <= 500, "skipped \(skipped)")
        #expect(generated + skipped >= 320 && generated + skipped <= 600, "due \(generated + skipped)")
    }
}
