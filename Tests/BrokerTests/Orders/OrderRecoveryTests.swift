// The order path's crash and reconnect windows against the real exchange simulator, on both storages: an order
// committed but never sent reaches the exchange exactly once after a restart, a resent order the exchange knows
// is not doubled, and reports sent while the gateway is away reach it after it logs on again.
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
    func orderCommittedButNeverSentReachesTheExchangeOnceAfterRestart(_ storage: OrdersStorage) throws {
        let rig = try SimOrdersRig(storage)
        defer { rig.shutdown() }
        try rig.user("ann", cash: 10_000_000)
        let px = try rig.last("S0001") - 500   // below the maker's best bid: it rests
        // The gateway's place transaction committed, then the process died before 35=D left.
        let o = StoredOrder(orderId: "77", userId: "ann", clientOrderId: "c-77", symbol: "S0001", side: .buy,
                            type: .limit, tif: .day, qty: 10, price: px, reservePrice: px)
        let placed = LedgerEvent(eventId: "p:77", userId: "ann", ts: 1,
                                 body: .orderPlaced(orderId: "77", symbol: "S0001", side: .buy, qty: 10, reservePrice: px))
        final class Box: @unchecked Sendable { var r: Result<PlaceOutcome, OrderStoreError>? }
        let box = Box()
        try rig.runner.sync { rig.store.place(o, event: placed) { box.r = $0 } }
        #expect(rig.runner.wait { box.r != nil })
        #expect(try rig.runner.sync { try box.r!.get() } == .placed(o))
        #expect(try rig.runner.sync { rig.sim.stats.orderRequests } == 0)

        try rig.startGateway()   // loads it as pending_new, resends its D at logon
        #expect(rig.waitStatus("77", .new))
        #expect(try rig.runner.sync { rig.gateway.stats.resentToExchange } == 1)
        #expect(try rig.runner.sync { (rig.sim.stats.orderRequests, rig.sim.orderRecordsHeld) } == (1, 1))
        let reserve = LedgerAccount.buyReservation(qty: 10, reservePrice: px)!
        #expect(try rig.portfolio("ann").reserved == reserve)   // the outbox's ORDER_PLACED reached the ledger

        // The ack was lost instead (a crash after the D left): the resend finds the order at the exchange.
        try rig.runner.sync {
            rig.gateway.live["77"]?.order.status = .pendingNew
            rig.gateway.resendUnacknowledged()
        }
        #expect(rig.runner.wait { rig.gateway.stats.reports == 2 && rig.sim.stats.orderRequests == 2 })
        #expect(try rig.runner.sync { rig.sim.orderRecordsHeld } == 1)   // no second order
        #expect(rig.waitStatus("77", .new))
        #expect(try rig.runner.sync { rig.gateway.live["77"]?.order.status } == .new)
        let p = try rig.portfolio("ann")
        #expect(p.reserved == reserve && p.cash == 10_000_000)
        // A restart with nothing unacknowledged resends nothing.
        rig.stopGateway()
        try rig.startGateway()
        usleep(100_000)
        #expect(try rig.runner.sync { (rig.gateway.stats.resentToExchange, rig.sim.stats.orderRequests) } == (0, 2))
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
