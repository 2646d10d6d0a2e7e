import Testing
@testable import Wire
#if canImport(Glibc)
import Glibc
#endif

/// TLS on Wire's own TCPConnection and TCPListener: the engine driven by the event loop.
@Suite(.serialized) struct TLSConnectionTests {
    @Test func pythonSSLClientEchoesThroughATLSListener() throws {
        let certs = TLSTestCertificates.shared
        let ctx = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: certs.privateKeyPath)
        let r = try LoopRunner()
        defer { r.shutdown() }
        let h = EchoHandler()
        let listener = try r.sync { () -> TCPListener in
            let l = try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h }
            l.tls = ctx
            return l
        }
        let out = TestProcess.run(["python3", "Tests/interop/tls/echo_client.py", "127.0.0.1", "\(listener.port)",
                                   certs.certificatePath, "localhost"])
        #expect(out.status == 0, "\(out.output)")
        #expect(out.output.hasPrefix("OK TLSv1.3"))
    }

    @Test func ourTLSClientTalksToOurTLSListener() throws {
        let certs = TLSTestCertificates.shared
        let ctx = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: certs.privateKeyPath)
        let clientConfig = try TLSClientConfig(verify: true, caPath: certs.certificatePath, serverName: "localhost")
        let r = try LoopRunner()
        defer { r.shutdown() }
        let server = LineHandler()
        let listener = try r.sync { () -> TCPListener in
            let l = try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = server }
            l.tls = ctx
            return l
        }
        final class Client: TCPConnectionHandler, @unchecked Sendable {
            let done = Semaphore()
            var got = ""
            var connectedBeforeData = false
            func connectionDidConnect(_ c: TCPConnection) {
                connectedBeforeData = got.isEmpty
                // Enough to span several TLS records.
                c.write(ByteBuffer(string: String(repeating: "a", count: 40_000) + "\nsecond\n"))
            }
            func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
                got += String(decoding: bytes, as: UTF8.self)
                if got.hasSuffix("<second>\n") { c.close() }
                return bytes.count
            }
            func connectionDidClose(_ c: TCPConnection, error: IOError?) { done.signal() }
        }
        let client = Client()
        _ = try r.sync {
            try TCPConnection.connect(host: "127.0.0.1", port: listener.port, on: r.loop, tls: clientConfig, handler: client)
        }
        #expect(client.done.wait(seconds: 10))
        #expect(client.connectedBeforeData)
        #expect(client.got == "<" + String(repeating: "a", count: 40_000) + ">\n<second>\n")
    }

    @Test func plainClientOnTLSPortIsClosedWithoutCrashing() throws {
        let certs = TLSTestCertificates.shared
        let ctx = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: certs.privateKeyPath)
        let r = try LoopRunner()
        defer { r.shutdown() }
        let h = EchoHandler()
        let listener = try r.sync { () -> TCPListener in
            let l = try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h }
            l.tls = ctx
            return l
        }
        let client = try BlockingClient(port: listener.port)
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let (_, eof) = client.readUntilEOF()
        #expect(eof)
        usleep(50_000)
        let closes = try r.sync { h.closes }
        #expect(closes.count == 1)
        #expect(closes.first??.errno == EPROTO)
        #expect(h.received == 0)
    }
}
