// Interop with QuickFIX C++ 1.15.1 in both directions, over loopback: logon, heartbeats, an order
// and its execution report, a market-data snapshot, a sequence gap recovered by ResendRequest,
// and logout. Runs when the peers build (scripts/quickfix-peers.sh); skipped otherwise.
import Testing
import Wire

@testable import FIX

#if canImport(Glibc)
    import Glibc
#endif

/// The exchange side for the QuickFIX initiator: answers orders (after opening a sequence gap)
/// and market-data requests.
final class GapExchangeApp: FIXApplication, @unchecked Sendable {
    var received: [DecodedMessage] = []
    var disconnects: [FIXDisconnectReason?] = []
    var logons = 0

    func fixConnectionDidLogOn(_ connection: FIXConnection) { logons += 1 }

    func fixConnection(_ connection: FIXConnection, didReceive message: FIXMessageView) {
        received.append(decode(Array(message.bytes)))
        if message.msgType == .newOrderSingle, let order = try? FIXNewOrderSingle(message) {
            // Skip two outbound numbers: the peer must ask for them and get a GapFill.
            connection.store.setNextSenderMsgSeqNum(connection.store.nextSenderMsgSeqNum + 2)
            connection.send(
                FIXExecutionReport(
                    orderID: "O-\(order.clOrdID)", clOrdID: order.clOrdID, execID: "X-\(order.clOrdID)", execType: .new,
                    ordStatus: .new, symbol: order.symbol, side: order.side, orderQty: order.orderQty,
                    price: order.price, leavesQty: order.orderQty, cumQty: 0, avgPx: 0, transactTime: .now()))
        } else if message.msgType == .marketDataRequest, let req = try? FIXMarketDataRequest(message) {
            connection.send(.marketDataSnapshotFullRefresh) { e in
                FIXMarketData.encodeSnapshot(
                    into: &e, mdReqID: req.mdReqID, symbol: req.symbols[0],
                    entries: [
                        FIXMDEntry(entryType: .bid, price: 24_505_000, size: 100, time: .now()),
                        FIXMDEntry(entryType: .offer, price: 24_510_000, size: 50, time: .now()),
                    ])
            }
            connection.send(.marketDataIncrementalRefresh) { e in
                FIXMarketData.encodeIncremental(
                    into: &e, mdReqID: req.mdReqID,
                    entries: [
                        FIXMDEntry(
                            updateAction: .change, entryType: .bid, price: 24_506_000, size: 80,
                            symbol: req.symbols[0], time: .now()),
                        FIXMDEntry(
                            updateAction: .new, entryType: .trade, price: 24_507_500, size: 5,
                            symbol: req.symbols[0], time: .now()),
                    ], timePrecision: .microseconds)
            }
        }
    }

    func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?) {
        disconnects.append(reason)
    }
}

@Suite(.serialized, .enabled(if: QuickFIXPeers.available, "QuickFIX C++ peers could not be built"))
struct QuickFIXInteropTests {
    func freePort(_ r: FIXLoopRunner) throws -> Int {
        try r.sync { () -> Int in
            let l = try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { _ in }
            defer { l.close() }
            return l.port
        }
    }

    @Test func swiftInitiatorAgainstQuickFIXAcceptor() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let port = try freePort(r)
        let storeDir = "/tmp/fix-qf-store-\(getpid())-\(port)"
        let peer = PeerProcess.spawn([
            QuickFIXPeers.path("qf_acceptor"), "\(port)", "QFEXCH", "SWIFTCLIENT", "30", storeDir,
        ])
        defer {
            peer.terminate()
            _ = PeerProcess.run(["rm", "-rf", storeDir])
        }
        #expect(peer.waitForLine { $0 == "READY" }, "\(peer.output)")
        let app = RecordingApp()
        var settings = FIXSessionSettings(role: .initiator, senderCompID: "SWIFTCLIENT", targetCompID: "QFEXCH")
        settings.port = port
        settings.heartbeatInterval = 1
        let initiator = try r.sync { () -> FIXInitiator in
            let i = try FIXInitiator(settings: settings, loop: r.loop, application: app)
            i.start()
            return i
        }
        #expect(r.wait(seconds: 10) { app.logons == 1 }, "\(peer.output)")

        // An order and its execution report.
        _ = try r.sync {
            initiator.connection.send(
                FIXNewOrderSingle(
                    clOrdID: "c-1", symbol: "TCS", side: .buy, ordType: .limit, orderQty: 10, price: 35_002_500,
                    transactTime: .now()))
        }
        #expect(r.wait { app.received.contains { $0.msgType == "8" && $0[11] == "c-1" } }, "\(peer.output)")
        #expect(peer.lines.contains("ORDER c-1 TCS 10 3500.25"))

        // A market-data snapshot with two entries, read through the group walker.
        _ = try r.sync {
            initiator.connection.send(
                FIXMarketDataRequest(
                    mdReqID: "md-1", subscriptionRequestType: .snapshot, entryTypes: [.bid, .offer], symbols: ["TCS"]))
        }
        #expect(
            r.wait { app.received.contains { $0.msgType == "W" } },
            "\(peer.output) \((try? r.sync { app.received }) ?? [])")
        let snapshot = try #require(try r.sync { app.received.first { $0.msgType == "W" } })
        let entries = try withView(snapshot.raw) { v -> [FIXMDEntry] in
            var out: [FIXMDEntry] = []
            try FIXMarketData.forEachEntry(in: v) { out.append($0) }
            return out
        }
        #expect(entries.map(\.price) == [24_505_000, 24_510_000])
        #expect(entries.map(\.size) == [100, 50] && entries.allSatisfy { $0.symbol == "TCS" })

        // QuickFIX skips three numbers before this report: we must resend-request and recover.
        _ = try r.sync {
            initiator.connection.send(
                FIXNewOrderSingle(
                    clOrdID: "GAP", symbol: "TCS", side: .sell, ordType: .market, orderQty: 1, transactTime: .now()))
        }
        #expect(r.wait { app.received.contains { $0.msgType == "8" && $0[11] == "GAP" } }, "\(peer.output)")
        #expect(peer.waitForLine { $0.hasPrefix("RESENDREQ ") })
        let counters = try r.sync { initiator.connection.counters }
        #expect(counters.resendRequestsSent == 1)
        #expect(try r.sync { app.received.filter { $0[11] == "GAP" }.count } == 1)

        // Heartbeats both ways at HeartBtInt=1.
        #expect(peer.waitForLine { $0 == "HEARTBEAT" })
        let before = try r.sync { initiator.connection.counters.messagesReceived }
        #expect(r.wait(seconds: 5) { initiator.connection.counters.messagesReceived > before + 1 })

        try r.sync { initiator.stop() }
        #expect(r.wait { app.disconnects.count == 1 })
        #expect(try r.sync { app.disconnects.first! } == .logoutCompleted)
        #expect(peer.wait() == 0, "\(peer.output)")
        #expect(peer.lines.contains("LOGOUT"))
        #expect(!peer.lines.contains { $0.hasPrefix("REJECT") }, "\(peer.output)")
    }

    @Test func quickFIXInitiatorAgainstSwiftAcceptor() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let app = GapExchangeApp()
        var settings = FIXSessionSettings(role: .acceptor, senderCompID: "SWIFTEXCH", targetCompID: "QFCLIENT")
        settings.heartbeatInterval = 1
        let acceptor = try r.sync {
            try FIXAcceptor(
                sessions: [settings], host: "127.0.0.1", port: 0, loop: r.loop, application: app)
        }
        let peer = PeerProcess.spawn([
            QuickFIXPeers.path("qf_initiator"), "\(acceptor.port)", "QFCLIENT", "SWIFTEXCH", "30",
        ])
        defer { peer.terminate() }
        let status = peer.wait()
        let lines = peer.lines
        #expect(status == 0, "\(peer.output)")
        #expect(lines.contains("LOGON"))
        #expect(lines.contains("EXEC qf-1 0 O-qf-1"), "\(peer.output)")
        #expect(lines.contains("SNAP TCS 2 2450.5 2451"), "\(peer.output)")
        #expect(lines.contains("INCR 2 TCS 2450.75"), "\(peer.output)")
        #expect(lines.contains { $0.hasPrefix("SENT_RESENDREQ ") }, "\(peer.output)")
        #expect(lines.contains { $0.hasPrefix("SEQRESET ") }, "\(peer.output)")
        #expect(lines.contains("HEARTBEAT"))
        #expect(lines.contains("LOGOUT"))
        #expect(!lines.contains { $0.hasPrefix("REJECT") }, "\(peer.output)")
        #expect(r.wait { app.disconnects.count == 1 })
        let (types, reason, counters) = try r.sync {
            (
                app.received.map(\.msgType), app.disconnects.first!,
                acceptor.connection(senderCompID: "SWIFTEXCH", targetCompID: "QFCLIENT")!.counters
            )
        }
        #expect(Set(types) == ["D", "V"], "\((try? r.sync { app.received.filter { $0.msgType == "3" } }) ?? [])")
        #expect(reason == .logoutReceived(text: "done") || reason == .logoutReceived(text: nil))
        #expect(counters.gapFillsSent >= 1 && counters.messagesResent >= 1)
        try r.sync { acceptor.close() }
    }
}
