// FIX over TLS: the same initiator/acceptor pair with the session encrypted by Wire's TLS.
import Foundation
import Testing
import Wire

@testable import FIX

@Suite(.serialized) struct FIXTLSTests {
    @Test func sessionLogsOnAndTradesOverTLS() throws {
        let dir = NSTemporaryDirectory() + "fix-tls-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                       "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", "\(dir)/key.pem",
                       "-out", "\(dir)/cert.pem"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let server = try TLSServerContext(certificatePath: "\(dir)/cert.pem", privateKeyPath: "\(dir)/key.pem")
        let client = try TLSClientConfig(verify: true, caPath: "\(dir)/cert.pem", serverName: "localhost")

        let r = try FIXLoopRunner()
        defer { r.shutdown() }
        let exchangeApp = RecordingApp()
        exchangeApp.answerOrders = true
        let clientApp = RecordingApp()
        let (acceptor, initiator) = try r.sync { () -> (FIXAcceptor, FIXInitiator) in
            var a = FIXSessionSettings(role: .acceptor, senderCompID: "EXCH", targetCompID: "CLIENT")
            a.heartbeatInterval = 30
            let acc = try FIXAcceptor(sessions: [a], host: "127.0.0.1", port: 0, loop: r.loop, application: exchangeApp,
                                      tls: server)
            var s = FIXSessionSettings(role: .initiator, senderCompID: "CLIENT", targetCompID: "EXCH")
            s.port = acc.port
            s.heartbeatInterval = 30
            let i = try FIXInitiator(settings: s, loop: r.loop, application: clientApp)
            i.tls = client
            i.start()
            return (acc, i)
        }
        #expect(r.wait { clientApp.logons == 1 && exchangeApp.logons == 1 })
        _ = try r.sync {
            initiator.connection.send(
                FIXNewOrderSingle(clOrdID: "t-1", symbol: "TCS", side: .buy, ordType: .limit, orderQty: 1,
                                  price: 35_000_000, transactTime: .now()))
        }
        #expect(r.wait { clientApp.received.count == 1 })
        #expect(try r.sync { clientApp.received.first?[11] } == "t-1")
        try r.sync {
            initiator.stop()
            acceptor.close()
        }
    }
}
