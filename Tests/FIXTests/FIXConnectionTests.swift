// FIXConnection, FIXInitiator and FIXAcceptor over loopback TCP on a real Wire loop.
import Foundation
import Testing
import Wire

@testable import FIX

@Suite(.serialized) struct FIXConnectionTests {
    func acceptorSettings(_ theirs: String = "CLIENT") -> FIXSessionSettings {
        var s = FIXSessionSettings(role: .acceptor, senderCompID: "EXCH", targetCompID: theirs)
        s.heartbeatInterval = 30
        return s
    }

    func initiatorSettings(port: Int, sender: String = "CLIENT") -> FIXSessionSettings {
        var s = FIXSessionSettings(role: .initiator, senderCompID: sender, targetCompID: "EXCH")
        s.port = port
        s.heartbeatInterval = 30
        return s
    }

    @Test func initiatorAndAcceptorLogOnTradeAndLogOut() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let exchangeApp = RecordingApp()
        exchangeApp.answerOrders = true
        let clientApp = RecordingApp()
        let (acceptor, initiator) = try r.sync { () -> (FIXAcceptor, FIXInitiator) in
            let a = try FIXAcceptor(
                sessions: [self.acceptorSettings(), self.acceptorSettings("OTHER")],
                host: "127.0.0.1", port: 0, loop: r.loop, application: exchangeApp)
            let i = try FIXInitiator(
                settings: self.initiatorSettings(port: a.port), loop: r.loop,
                application: clientApp)
            i.start()
            return (a, i)
        }
        #expect(r.wait { clientApp.logons == 1 && exchangeApp.logons == 1 })
        let seq = try r.sync {
            initiator.connection.send(
                FIXNewOrderSingle(
                    clOrdID: "c-1", symbol: "TCS", side: .buy, ordType: .limit, orderQty: 10, price: 35_000_000,
                    transactTime: .now()))
        }
        #expect(seq == 2)
        #expect(r.wait { clientApp.received.count == 1 })
        let report = try r.sync { clientApp.received.first }
        #expect(report?.msgType == "8" && report?[11] == "c-1" && report?[37] == "O-c-1")
        #expect(try r.sync { exchangeApp.received.map(\.msgType) } == ["D"])
        try r.sync { initiator.stop() }
        #expect(r.wait { clientApp.disconnects.count == 1 && exchangeApp.disconnects.count == 1 })
        #expect(try r.sync { clientApp.disconnects.first! } == .logoutCompleted)
        #expect(try r.sync { exchangeApp.disconnects.first! } == .logoutReceived(text: nil))
        let other = try r.sync { acceptor.connection(senderCompID: "EXCH", targetCompID: "OTHER")!.isConnected }
        #expect(!other)
        try r.sync { acceptor.close() }
    }

    @Test func unknownCompIDIsRefused() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let app = RecordingApp()
        let (acceptor, initiator) = try r.sync { () -> (FIXAcceptor, FIXInitiator) in
            let a = try FIXAcceptor(
                sessions: [self.acceptorSettings()], host: "127.0.0.1", port: 0, loop: r.loop,
                application: nil)
            let i = try FIXInitiator(
                settings: self.initiatorSettings(port: a.port, sender: "STRANGER"), loop: r.loop,
                application: app)
            i.start()
            return (a, i)
        }
        #expect(r.wait { acceptor.refusedConnections == 1 && app.disconnects.count == 1 })
        #expect(try r.sync { app.logons } == 0)
        try r.sync {
            initiator.stop()
            acceptor.close()
        }
    }

    @Test func initiatorReconnectsWhenAcceptorComesUp() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        // Find a free port, then leave it closed so the first attempts fail.
        let port = try r.sync { () -> Int in
            let l = try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { _ in }
            let p = l.port
            l.close()
            return p
        }
        let app = RecordingApp()
        let initiator = try r.sync { () -> FIXInitiator in
            let i = try FIXInitiator(
                settings: self.initiatorSettings(port: port), loop: r.loop, application: app)
            i.start()
            return i
        }
        #expect(r.wait { initiator.failedAttempts >= 1 })
        let acceptor = try r.sync {
            try FIXAcceptor(
                sessions: [self.acceptorSettings()], host: "127.0.0.1", port: port, loop: r.loop,
                application: nil)
        }
        #expect(r.wait(seconds: 8) { app.logons == 1 })
        #expect(try r.sync { initiator.failedAttempts } == 0)
        try r.sync {
            initiator.stop()
            acceptor.close()
        }
    }

    @Test func backoffIsCappedExponential() {
        #expect((1...7).map { FIXInitiator.backoff(attempt: $0, initial: 1, maximum: 30) } == [1, 2, 4, 8, 16, 30, 30])
        #expect(FIXInitiator.backoff(attempt: 1, initial: 5, maximum: 5) == 5)
    }

    @Test func garbageBeforeLogonIsSkippedAndSecondConnectionRefused() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let app = RecordingApp()
        let acceptor = try r.sync {
            try FIXAcceptor(
                sessions: [self.acceptorSettings()], host: "127.0.0.1", port: 0, loop: r.loop,
                application: app)
        }
        let client = try RawClient(port: acceptor.port)
        var logon = ByteBuffer()
        logon.writeFIXTimestamp(.now(), precision: .milliseconds)
        client.send(soh("noise|") + fixMessage("35=A|49=CLIENT|56=EXCH|34=1|52=\(logon.readableString)|98=0|108=30|"))
        let reply = client.readMessage()
        #expect(reply?.msgType == "A" && reply?[49] == "EXCH")
        #expect(r.wait { app.logons == 1 })
        let second = try RawClient(port: acceptor.port)
        second.send(fixMessage("35=A|49=CLIENT|56=EXCH|34=1|52=\(logon.readableString)|98=0|108=30|"))
        #expect(second.readMessage() == nil)  // closed without an answer
        #expect(r.wait { acceptor.refusedConnections == 1 })
        try r.sync { acceptor.close() }
    }
}

extension FIXConnectionTests {
    @Test func garbledMessagesAreIgnoredWithoutConsumingSequenceNumbers() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let acceptor = try r.sync {
            try FIXAcceptor(
                sessions: [self.acceptorSettings()], host: "127.0.0.1", port: 0, loop: r.loop,
                application: nil)
        }
        let client = try RawClient(port: acceptor.port)
        var ts = ByteBuffer()
        ts.writeFIXTimestamp(.now(), precision: .milliseconds)
        let h = "49=CLIENT|56=EXCH|52=\(ts.readableString)|"
        client.send(fixMessage("35=A|34=1|" + h + "98=0|108=30|"))
        #expect(client.readMessage()?.msgType == "A")
        // Bad checksum, bad body length, binary noise: all dropped (FIX 4.4 Vol. 2 test case 2.d),
        // so seq 2 is still expected and no ResendRequest follows.
        client.send(
            fixMessage("35=1|34=2|" + h + "112=BAD|", checkSumDelta: 3)
                + fixMessage("35=1|34=2|" + h + "112=BAD|", bodyLengthDelta: 4)
                + [0x00, 0xFF, 0x38, 0x3D, 0x46, 0x00]
                + fixMessage("35=1|34=2|" + h + "112=GOOD|"))
        let reply = client.readMessage()
        #expect(reply?.msgType == "0" && reply?[112] == "GOOD")
        let (counters, framing) = try r.sync {
            let c = acceptor.connection(senderCompID: "EXCH", targetCompID: "CLIENT")!
            return (c.counters, c.framingStats)
        }
        #expect(counters.resendRequestsSent == 0 && counters.rejectsSent == 0)
        #expect(framing.garbledFrames >= 2)
        try r.sync { acceptor.close() }
    }
}

extension FIXConnectionTests {
    @Test func acceptorRestartedOnItsFileStoreResumesSequenceNumbers() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let dir = NSTemporaryDirectory() + "fix-restart-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var accSettings = acceptorSettings()
        accSettings.storeDirectory = dir
        let exchangeApp = RecordingApp()
        exchangeApp.answerOrders = true
        let clientApp = RecordingApp()
        let (first, initiator) = try r.sync { () -> (FIXAcceptor, FIXInitiator) in
            let a = try FIXAcceptor(
                sessions: [accSettings], host: "127.0.0.1", port: 0, loop: r.loop,
                application: exchangeApp)
            let i = try FIXInitiator(
                settings: self.initiatorSettings(port: a.port), loop: r.loop,
                application: clientApp)
            i.start()
            return (a, i)
        }
        let port = first.port
        #expect(r.wait { clientApp.logons == 1 })
        try r.sync {
            for k in 1...2 {
                initiator.connection.send(
                    FIXNewOrderSingle(
                        clOrdID: "c-\(k)", symbol: "TCS", side: .buy,
                        ordType: .market, orderQty: 1, transactTime: .now()))
            }
        }
        #expect(r.wait { clientApp.received.count == 2 })
        // The exchange process dies: no Logout, the socket is reset, the objects are dropped.
        try r.sync { first.connection(senderCompID: "EXCH", targetCompID: "CLIENT")!.tcp?.reset() }
        #expect(r.wait { clientApp.disconnects.count == 1 && exchangeApp.disconnects.count == 1 })
        try r.sync { first.close() }
        let second = try r.sync {
            try FIXAcceptor(
                sessions: [accSettings], host: "127.0.0.1", port: port, loop: r.loop,
                application: exchangeApp)
        }
        let store = try r.sync { second.connection(senderCompID: "EXCH", targetCompID: "CLIENT")!.store }
        // Logon 1 and two execution reports were sent; Logon 1 and two orders received.
        let resumed = try r.sync { (store.nextSenderMsgSeqNum, store.nextTargetMsgSeqNum) }
        #expect(resumed == (4, 4), "\(resumed)")
        #expect(r.wait(seconds: 8) { clientApp.logons == 2 })
        let (counters, sender, target) = try r.sync {
            (initiator.connection.counters, store.nextSenderMsgSeqNum, store.nextTargetMsgSeqNum)
        }
        #expect(sender == 5 && target == 5)  // both Logons numbered 4: no reset, no gap
        #expect(counters.resendRequestsSent == 0)
        try r.sync {
            initiator.stop()
            second.close()
        }
    }
}

extension FIXConnectionTests {
    @Test func silentPeerGetsTestRequestThenIsDisconnected() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let app = RecordingApp()
        let acceptor = try r.sync {
            try FIXAcceptor(
                sessions: [self.acceptorSettings()], host: "127.0.0.1", port: 0, loop: r.loop, application: app)
        }
        let client = try RawClient(port: acceptor.port)
        var ts = ByteBuffer()
        ts.writeFIXTimestamp(.now(), precision: .milliseconds)
        client.send(fixMessage("35=A|34=1|49=CLIENT|56=EXCH|52=\(ts.readableString)|98=0|108=1|"))
        #expect(client.readMessage()?.msgType == "A")
        // HeartBtInt=1 and we say nothing: heartbeats, a TestRequest, then the session gives up.
        var seen: [String] = []
        while let m = client.readMessage() { seen.append(m.msgType) }
        #expect(seen.contains("1"), "\(seen)")
        #expect(r.wait { app.disconnects.count == 1 })
        #expect(try r.sync { app.disconnects.first! } == .heartbeatTimeout)
        try r.sync { acceptor.close() }
    }

    @Test func oneAcceptorServesTwoSessionsAtOnce() throws {
        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let exchangeApp = RecordingApp()
        exchangeApp.answerOrders = true
        let apps = [RecordingApp(), RecordingApp()]
        let (acceptor, initiators) = try r.sync { () -> (FIXAcceptor, [FIXInitiator]) in
            let a = try FIXAcceptor(
                sessions: [self.acceptorSettings(), self.acceptorSettings("OTHER")], host: "127.0.0.1", port: 0,
                loop: r.loop, application: exchangeApp)
            let i = try zip(["CLIENT", "OTHER"], apps).map { sender, app in
                let i = try FIXInitiator(
                    settings: self.initiatorSettings(port: a.port, sender: sender), loop: r.loop, application: app)
                i.start()
                return i
            }
            return (a, i)
        }
        #expect(r.wait { apps.allSatisfy { $0.logons == 1 } && exchangeApp.logons == 2 })
        _ = try r.sync {
            for (k, i) in initiators.enumerated() {
                i.connection.send(
                    FIXNewOrderSingle(
                        clOrdID: "o-\(k)", symbol: "TCS", side: .buy, ordType: .market, orderQty: 1,
                        transactTime: .now()))
            }
        }
        #expect(r.wait { apps.allSatisfy { $0.received.count == 1 } })
        #expect(try r.sync { apps.map { $0.received.first?[11] } } == ["o-0", "o-1"])
        try r.sync {
            for i in initiators { i.stop() }
            acceptor.close()
        }
    }
}

/// A blocking loopback client speaking raw bytes.
final class RawClient {
    let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(rc == 0, "connect failed")
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The next complete FIX message, or nil on EOF/timeout.
    func readMessage() -> DecodedMessage? {
        while true {
            if let m = frames(pending).first {
                if let start = firstIndex(of: m) { pending.removeFirst(start + m.count) }
                return decode(m)
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            pending += chunk[0..<n]
        }
    }

    private func firstIndex(of m: [UInt8]) -> Int? {
        guard pending.count >= m.count else { return nil }
        for i in 0...(pending.count - m.count) where Array(pending[i..<(i + m.count)]) == m { return i }
        return nil
    }
}
