// The order path's crash and reconnect windows against the real exchange simulator, on both storages: reports
// sent while the gateway is away reach it after it logs on again.
import FIX
import Foundation
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct OrderRecoveryTests {
    @Test func defaultConfigKeepsBothEndsOfTheOrderSessionOnDisk() throws {
        let c = try ConfigFile(text: "", name: "t.toml", schema: BrokerConfig.schema)
        #expect(try GatewaySettings(c).fixStoreDirectory == "data/fix")
        let sessions = try ExchangeSettings(c).sessions()
        #expect(sessions.map { "\($0.targetCompID) \($0.storeDirectory ?? "memory") \($0.resetOnLogon)" }
                == ["INGEST memory false", "GATEWAY data/fix false"])
        // Resetting on every logon would empty the store the resends come from.
        #expect(throws: ConfigError.self) {
            try ExchangeSettings(try ConfigFile(text: "[exchange.acceptor]\nreset_on_logon = true\n", name: "t.toml",
                                                schema: BrokerConfig.schema))
        }
        let memory = try ConfigFile(text: "[exchange]\norder_store_dir = \"\"\n[exchange_fix]\nstore_dir = \"\"\n",
                                    name: "t.toml", schema: BrokerConfig.schema)
        #expect(try ExchangeSettings(memory).sessions().allSatisfy { $0.storeDirectory == nil })
        #expect(try GatewaySettings(memory).fixStoreDirectory == "")
    }

    @Test(arguments: OrdersStorage.allCases)
    func fillWhileTheGatewayIsDownIsAppliedAfterItLogsOnAgain(_ storage: OrdersStorage) throws {
        let rig = try SimOrdersRig(storage, fixStores: true)
        defer { rig.shutdown() }
        try rig.user("bea", cash: 10_000_000)
        try rig.startGateway()
        let px = try rig.last("S0002")   // between the maker's best bid and ask: the best bid
        let id = try rig.place("bea", "c-1", "S0002", .buy, qty: 7, price: px).get().orderId
        #expect(rig.waitStatus(id, .new))
        rig.stopGateway()

        // Another participant sells into the resting bid while the gateway is away.
        let peer = try rig.runner.sync { try FIXTestPeer(loop: rig.runner.loop, port: rig.sim.port) }
        #expect(rig.runner.wait { peer.loggedOn })
        _ = try rig.runner.sync {
            peer.connection.send(FIXNewOrderSingle(clOrdID: "s1", symbol: "S0002", side: .sell, ordType: .limit,
                                                   orderQty: 7, price: px, transactTime: .seconds(1)))
        }
        #expect(rig.runner.wait { peer.reports.last?.ordStatus == .filled })
        #expect(try rig.order(id)?.status == .new)

        try rig.startGateway()   // same FIX store: the exchange resends the fill (PossDup)
        #expect(rig.waitStatus(id, .filled))
        let o = try #require(try rig.order(id))
        #expect(o.filled == 7 && o.avgPrice == px)
        let p = try rig.portfolio("bea")
        let value = FixedPointDecimal.cashValue(price: px, qty: 7, rounding: .halfUp)!
        #expect(p.cash == 10_000_000 - value && p.reserved == 0)
        #expect(p.holdings.map { "\($0.symbol) \($0.qty)" } == ["S0002 7"])
        #expect(try rig.replayDifferences("bea") == [])
        #expect(try rig.pending("bea", "S0002") == (0, 0))
        withExtendedLifetime(peer) {}
    }
}
