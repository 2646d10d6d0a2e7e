// The synthetic feed stamps each quote with the moment it was due, so a loop that is late to tick
// shows up as latency instead of being hidden by fresh timestamps.
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SyntheticFeedTests {
    /// A feed at 1,000 updates/s on a loop of its own, each batch handed to `sink` on that loop.
    final class Rig {
        let group: EventLoopGroup
        var loop: EventLoop { group.loops[0] }
        nonisolated(unsafe) var feed: SyntheticFeed?

        init(sink: @escaping ([Quote]) -> Void) throws {
            group = try EventLoopGroup(count: 1, name: "feed-test")
            group.start()
            let loop = group.loops[0]
            nonisolated(unsafe) var made: SyntheticFeed?
            try loop.submitAndWait {
                made = SyntheticFeed(loop: loop, symbolCount: 50, rate: 1_000, sink: sink)
                made!.start()
            }
            feed = made
        }

        /// Stops the feed; its counters (generated, skipped).
        func stop() throws -> (UInt64, UInt64) {
            nonisolated(unsafe) let f = feed!
            return try loop.submitAndWait { () -> (UInt64, UInt64) in
                f.stop()
                return (f.generated, f.skipped)
            }
        }

        deinit {
            group.stop()
            group.join()
        }
    }

    @Test func quotesCarryTheirDueTimeAcrossAStalledLoop() throws {
        nonisolated(unsafe) var batches: [(readAt: UInt64, ts: [UInt64])] = []
        let rig = try Rig { quotes in batches.append((Syscalls.realtimeNanos(), quotes.map(\.ts))) }
        let loop = rig.loop
        usleep(50_000)
        // Block the loop for 60 ms: the ~60 updates due meanwhile come in the first tick after it.
        let stallStart = Syscalls.realtimeNanos()
        try loop.submitAndWait { _ = usleep(60_000) }
        usleep(50_000)
        let (generated, skipped) = try rig.stop()
        let all = try loop.submitAndWait { batches }
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
        nonisolated(unsafe) var sizes: [Int] = []
        let rig = try Rig { sizes.append($0.count) }
        usleep(20_000)
        try rig.loop.submitAndWait { _ = usleep(300_000) }
        usleep(20_000)
        let (generated, skipped) = try rig.stop()
        let maxBatch = try rig.loop.submitAndWait { sizes.max() }
        // ~300 due during the stall, at most 100 (100 ms worth) sent: ~200 skipped.
        #expect(maxBatch == 100)
        #expect(skipped >= 150 && skipped <= 500, "skipped \(skipped)")
        #expect(generated + skipped >= 320 && generated + skipped <= 600, "due \(generated + skipped)")
    }
}
