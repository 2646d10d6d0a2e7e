// The exchange simulator: rate accounting and the random walk with injected time, subscription
// state, and black-box FIX over loopback (35=V -> 35=W then 35=X; 35=D -> 35=8; 35=F unknown -> 35=9).
import FIX
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ExchangeMarketModelTests {
    @Test func pacerOwesExactlyTheRateWithoutDrift() {
        var p = ExchangeRatePacer(rate: 100_000, now: 0)
        var total = 0
        var t: UInt64 = 0
        for _ in 0..<1_000 {
            t += 1_000_333  // ticks a little late, as timers are
            total += p.due(now: t)
        }
        // 1.000333 s at 100k/s: 100,033 updates, give or take the carried fraction.
        #expect(total == 100_033)
        var slow = ExchangeRatePacer(rate: 3, now: 0)
        var few = 0
        for i in 1...1_000 { few += slow.due(now: UInt64(i) * 1_000_000) }
        #expect(few == 3)
    }

    @Test func pacerCapsTheBurstAfterAStall() {
        var p = ExchangeRatePacer(rate: 100_000, now: 0)
        #expect(p.due(now: 5_000_000_000) == 10_000)
    }

    @Test func randomWalkStaysOnTickWithOrderedTouchAndIncreasingSeq() {
        var m = ExchangeMarketModel(symbolCount: 10, tickSize: 100, seed: 7)
        var seqs = (0..<10).map { m.quote(Int32($0)).seq }
        #expect(seqs.allSatisfy { $0 == 1 })  // the opening state already has a seq: snapshots never send 0
        for i in 0..<10_000 {
            let s = m.randomSymbol()
            let q = m.advance(s, ts: UInt64(i))
            #expect(q.seq == seqs[Int(s)] + 1)
            seqs[Int(s)] = q.seq
            #expect(q.bid < q.last && q.last < q.ask && q.bid > 0)
            #expect(q.last % 100 == 0 && q.bid % 100 == 0 && q.ask % 100 == 0)
            #expect(q.ts == UInt64(i) && q.bidSize > 0 && q.askSize > 0 && q.lastSize > 0)
        }
        #expect(seqs.allSatisfy { $0 > 500 })  // uniform over 10 symbols
        let t = m.trade(3, price: 123_400, qty: 77, ts: 99)
        #expect(t.last == 123_400 && t.lastSize == 77 && t.bid < t.last && t.ask > t.last && t.seq == seqs[3] + 1)
    }

    @Test func subscriptionsHonourSymbolsAllAndUnsubscribe() {
        var s = ExchangeSubscriptions(symbolCount: 5)
        s.subscribe(session: 1, mdReqID: "a", symbolIds: [1, 3])
        #expect(s.wants(session: 1, symbolId: 1) && s.wants(session: 1, symbolId: 3))
        #expect(!s.wants(session: 1, symbolId: 2) && !s.wants(session: 0, symbolId: 1))
        s.subscribe(session: 0, mdReqID: "all", symbolIds: nil)
        #expect((0..<5).allSatisfy { s.wants(session: 0, symbolId: Int32($0)) })
        s.subscribe(session: 1, mdReqID: "b", symbolIds: [2])
        #expect(s.wants(session: 1, symbolId: 2) && s.wants(session: 1, symbolId: 1))
        let removed = s.unsubscribe(session: 1, mdReqID: "a")
        #expect(removed)
        #expect(!s.wants(session: 1, symbolId: 1) && s.wants(session: 1, symbolId: 2))
        s.drop(session: 0)
        #expect(!s.isSubscribed(session: 0) && s.isSubscribed(session: 1))
    }
}

@Suite(.serialized) struct ExchangeSimulatorTests {
    func start(rate: Int, symbols: Int = 50) throws -> (LoopRig, ExchangeSimulator) {
        let rig = try LoopRig(name: "exchange-test")
        var s = ExchangeSettings()
        s.port = 0
        s.rate = rate
        s.updatesPerMessage = 8
        let universe = SymbolUniverse.generated(count: symbols)
        let sim = try rig.sync { () -> ExchangeSimulator in
            let sim = try ExchangeSimulator(settings: s, symbols: universe, loop: rig.loop, logger: .init(label: "x"))
            sim.start()
            return sim
        }
        return (rig, sim)
    }

    @Test func subscriberGetsSnapshotsThenOnlyItsSymbolsInSeqOrderWithNanosecondTimes() throws {
        let (rig, sim) = try start(rate: 20_000)
        let peer = try rig.sync { try FIXTestPeer(loop: rig.loop, port: sim.port) }
        #expect(rig.wait { peer.loggedOn })
        try rig.sync {
            peer.connection.send(FIXMarketDataRequest(mdReqID: "md1", subscriptionRequestType: .subscribe,
                                                      mdUpdateType: 1, entryTypes: [.bid, .offer, .trade],
                                                      symbols: ["S0003", "S0007"]))
        }
        #expect(rig.wait { peer.entries.filter { $0.msgType == "X" }.count > 300 })
        let entries = try rig.sync { peer.entries }
        // Snapshots first: 3 entries per symbol, before any incremental.
        #expect(entries.prefix(6).allSatisfy { $0.msgType == "W" })
        #expect(Set(entries.prefix(6).map(\.symbol)) == ["S0003", "S0007"])
        #expect(Set(entries.map(\.symbol)) == ["S0003", "S0007"])
        var last: [String: Int] = [:]
        for e in entries {
            // Three entries per update share one RptSeq; sequences never go back.
            #expect(e.seq >= last[e.symbol, default: 0], "\(e)")
            last[e.symbol] = e.seq
            #expect(e.timeNanos > 1_700_000_000_000_000_000)
        }
        #expect(entries.contains { $0.timeNanos % 1_000_000 != 0 })  // sub-millisecond digits travel
        let generated = try rig.sync { sim.stats.updatesGenerated }
        #expect(generated > 1_000)
        // Market data is not kept for resends: the store empties, sequence numbers carry on, the peer stays on.
        let (stored, next) = try rig.sync { () -> (Int, Int) in
            let c = sim.connection(peer: "INGEST")!
            sim.trimMarketDataStores()
            return ((c.store as! FIXMemoryStore).savedCount, c.store.nextSenderMsgSeqNum)
        }
        #expect(stored == 0 && next > 10)
        let before = try rig.sync { peer.entries.count }
        #expect(rig.wait { peer.entries.count > before + 30 && peer.loggedOn })
        #expect(try rig.sync { peer.connection.store.nextTargetMsgSeqNum > next })
        withExtendedLifetime(peer) {}
    }

    @Test func unsubscribeStopsTheFlowAndWildcardSubscribesToEverySymbol() throws {
        let (rig, sim) = try start(rate: 20_000, symbols: 20)
        let peer = try rig.sync { try FIXTestPeer(loop: rig.loop, port: sim.port) }
        #expect(rig.wait { peer.loggedOn })
        try rig.sync {
            peer.connection.send(FIXMarketDataRequest(mdReqID: "all", subscriptionRequestType: .subscribe,
                                                      entryTypes: [.bid, .offer, .trade], symbols: ["*"]))
        }
        #expect(rig.wait { Set(peer.entries.filter { $0.msgType == "X" }.map(\.symbol)).count == 20 })
        #expect(try rig.sync { peer.entries.prefix(60).allSatisfy { $0.msgType == "W" } })  // 20 snapshots first
        try rig.sync {
            peer.connection.send(FIXMarketDataRequest(mdReqID: "all", subscriptionRequestType: .unsubscribe,
                                                      entryTypes: [], symbols: ["*"]))
        }
        usleep(100_000)  // updates already on the wire may still land
        let settled = try rig.sync { peer.entries.count }
        usleep(200_000)
        #expect(try rig.sync { peer.entries.count } == settled)
        #expect(try rig.sync { sim.stats.updatesGenerated } > 4_000)  // the market kept moving
    }

    @Test func unknownSymbolRequestIsRejectedWith35Y() throws {
        let (rig, sim) = try start(rate: 1_000)
        let peer = try rig.sync { try FIXTestPeer(loop: rig.loop, port: sim.port) }
        #expect(rig.wait { peer.loggedOn })
        try rig.sync {
            peer.connection.send(FIXMarketDataRequest(mdReqID: "bad", subscriptionRequestType: .subscribe,
                                                      entryTypes: [.bid], symbols: ["NOPE"]))
        }
        #expect(rig.wait { !peer.mdRejects.isEmpty })
        #expect(try rig.sync { peer.mdRejects.first?.contains("NOPE") == true && peer.entries.isEmpty })
    }

    @Test func ordersOverFIXFillAgainstTheMakerMoveTheLastPriceAndUnknownCancelGets9() throws {
        let (rig, sim) = try start(rate: 0)
        let peer = try rig.sync { try FIXTestPeer(loop: rig.loop, port: sim.port, sender: "GATEWAY") }
        #expect(rig.wait { peer.loggedOn })
        let before = try rig.sync { sim.quote(2) }
        try rig.sync {
            peer.connection.send(FIXNewOrderSingle(clOrdID: "o1", symbol: "S0002", side: .buy, ordType: .market,
                                                   orderQty: 1_500, transactTime: .seconds(1)))
            peer.connection.send(FIXOrderCancelRequest(origClOrdID: "ghost", clOrdID: "c9", symbol: "S0002",
                                                       side: .buy, orderQty: 1, transactTime: .seconds(1)))
        }
        #expect(rig.wait { peer.reports.count >= 3 && peer.cancelRejects.count == 1 })
        let reports = try rig.sync { peer.reports }
        #expect(reports.map(\.execType) == [.new, .trade, .trade])
        #expect(reports.last?.ordStatus == .filled && reports.last?.cumQty == 1_500)
        #expect(try rig.sync { peer.cancelRejects[0].reason == 1 })
        let after = try rig.sync { sim.quote(2) }
        #expect(after.last == reports.last?.lastPx && after.seq == before.seq + 2)
        #expect(try rig.sync { sim.stats.trades == 2 && sim.liquidityProvider(2).position == -1_500 })
        // An order session keeps every report for resends.
        let kept = try rig.sync { () -> Int in
            sim.trimMarketDataStores()
            return (sim.connection(peer: "GATEWAY")!.store as! FIXMemoryStore).savedCount
        }
        #expect(kept == 4)  // three 35=8 and one 35=9
    }
}
