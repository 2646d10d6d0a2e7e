// Tests for TLSEngine, TLSServerContext and TLSClientConfig: in-memory handshakes between a client and
// a server engine, data both ways, close_notify, verification and configuration errors.
import Testing

@testable import Wire

/// A client and a server engine joined by in-memory "wires".
private final class TLSPair {
    let client: TLSEngine
    let server: TLSEngine
    var clientPlain = ByteBuffer()
    var serverPlain = ByteBuffer()
    var clientResult: TLSReadResult = .wouldBlock
    var serverResult: TLSReadResult = .wouldBlock

    init(clientConfig: TLSClientConfig? = nil, serverName: String? = "localhost") throws {
        let certs = TLSTestCertificates.shared
        let context = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: certs.privateKeyPath)
        let config = try clientConfig ?? TLSClientConfig(verify: true, caPath: certs.certificatePath)
        client = try TLSEngine(client: config, serverName: serverName)
        server = try TLSEngine(server: context)
    }

    /// Moves ciphertext both ways, `chunk` bytes per feed, until neither side has anything to send.
    func pump(chunk: Int = Int.max) throws(TLSError) {
        for _ in 0..<10_000 {
            var moved = false
            var wire = ByteBuffer()
            if client.takeCiphertext(into: &wire) > 0 {
                moved = true
                try deliver(wire, to: server, plain: &serverPlain, result: &serverResult, chunk: chunk)
            }
            wire.clear()
            if server.takeCiphertext(into: &wire) > 0 {
                moved = true
                try deliver(wire, to: client, plain: &clientPlain, result: &clientResult, chunk: chunk)
            }
            if !moved { return }
        }
        Issue.record("pump did not settle")
    }

    private func deliver(
        _ wire: ByteBuffer, to engine: TLSEngine, plain: inout ByteBuffer, result: inout TLSReadResult,
        chunk: Int
    ) throws(TLSError) {
        var offset = 0
        while offset < wire.readableBytes {
            let n = min(chunk, wire.readableBytes - offset)
            wire.slice(offset: offset, length: n).withUnsafeReadableBytes { engine.feedCiphertext($0) }
            offset += n
            let r = try engine.readPlaintext(into: &plain)
            if r != .wouldBlock { result = r }
        }
    }
}

@Suite struct TLSEngineTests {
    @Test func handshakeAndDataBothWays() throws {
        let pair = try TLSPair()
        #expect(!pair.client.isHandshakeComplete)
        #expect(try !pair.client.advanceHandshake())
        #expect(pair.client.pendingCiphertextBytes > 0)  // the ClientHello
        try pair.pump()
        #expect(pair.client.isHandshakeComplete && pair.server.isHandshakeComplete)
        #expect(pair.client.protocolVersion == "TLSv1.3")
        #expect(pair.server.cipherSuite != nil)

        try pair.client.writePlaintext(ByteBuffer(string: "{\"action\":\"subscribe\"}"))
        try pair.pump()
        #expect(pair.serverPlain.readableString == "{\"action\":\"subscribe\"}")
        #expect(pair.serverResult == .bytes(22))

        // 100 KiB spans several 16 KiB records (RFC 8446 section 5.1).
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try pair.server.writePlaintext(ByteBuffer(bytes: big))
        try pair.pump()
        #expect(pair.clientPlain.readableBytesArray == big)
    }

    @Test func byteAtATimeDelivery() throws {
        let pair = try TLSPair()
        try pair.client.advanceHandshake()
        try pair.pump(chunk: 1)
        #expect(pair.server.isHandshakeComplete)
        try pair.server.writePlaintext(ByteBuffer(string: "quote"))
        try pair.pump(chunk: 1)
        #expect(pair.clientPlain.readableString == "quote")
    }

    @Test func plaintextWrittenBeforeHandshakeArrivesInOrder() throws {
        let pair = try TLSPair()
        try pair.client.writePlaintext(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        try pair.client.writePlaintext(ByteBuffer(string: "Host: x\r\n\r\n"))
        try pair.pump()
        #expect(pair.serverPlain.readableString == "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    }

    @Test func closeNotifyEndsTheStream() throws {
        let pair = try TLSPair()
        try pair.client.advanceHandshake()
        try pair.pump()
        try pair.client.writePlaintext(ByteBuffer(string: "bye"))
        pair.client.close()
        pair.client.close()  // idempotent
        try pair.pump()
        #expect(pair.serverPlain.readableString == "bye")
        #expect(pair.server.peerClosed)
        var more = ByteBuffer()
        #expect(try pair.server.readPlaintext(into: &more) == .closed)
        #expect(throws: TLSError(.closed, "write after close")) {
            try pair.client.writePlaintext(ByteBuffer(string: "late"))
        }
        // The server answers with its own close_notify; the client sees the end too.
        pair.server.close()
        try pair.pump()
        #expect(pair.client.peerClosed)
    }

    @Test func verifiesHostNamesAndIPAddresses() throws {
        let byIP = try TLSPair(serverName: "127.0.0.1")
        try byIP.client.advanceHandshake()
        try byIP.pump()
        #expect(byIP.client.isHandshakeComplete)

        let wrongName = try TLSPair(serverName: "quotes.example.com")
        try wrongName.client.advanceHandshake()
        do {
            try wrongName.pump()
            Issue.record("expected a verification error")
        } catch {
            #expect(error.kind == .verification)
            #expect(error.message.hasPrefix("certificate verification failed: hostname mismatch"))
        }
        // The client's alert tells the server why.
        #expect(wrongName.client.pendingCiphertextBytes > 0)
    }

    @Test func untrustedCertificateIsRejected() throws {
        let pair = try TLSPair(clientConfig: TLSClientConfig(verify: true, caPath: nil))
        try pair.client.advanceHandshake()
        #expect {
            try pair.pump()
        } throws: { error in
            let e = error as! TLSError
            return e.kind == .verification && e.message.contains("self-signed certificate")
        }
    }

    @Test func noVerificationAcceptsSelfSigned() throws {
        let pair = try TLSPair(clientConfig: TLSClientConfig(verify: false), serverName: nil)
        try pair.client.advanceHandshake()
        try pair.pump()
        #expect(pair.client.isHandshakeComplete)
    }

    @Test func plainHTTPOnATLSPortIsNamed() throws {
        let pair = try TLSPair()
        Array("GET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { pair.server.feedCiphertext($0) }
        var plain = ByteBuffer()
        #expect {
            _ = try pair.server.readPlaintext(into: &plain)
        } throws: { error in
            let e = error as! TLSError
            return e.kind == .protocolFailure && e.message.hasPrefix("handshake failed: ")
                && e.message.contains("http request")
        }
    }

    @Test func malformedHandshakeGetsAnAlert() throws {
        let pair = try TLSPair()
        // A handshake record (RFC 8446 section 5.1) holding a message of an unknown type 0xFF.
        let record: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x04, 0xFF, 0x00, 0x00, 0x00]
        record.withUnsafeBytes { pair.server.feedCiphertext($0) }
        var plain = ByteBuffer()
        #expect {
            _ = try pair.server.readPlaintext(into: &plain)
        } throws: { error in
            (error as! TLSError).kind == .protocolFailure
        }
        // The fatal alert (section 6.2) is waiting to be sent before the socket closes.
        var alert = ByteBuffer()
        #expect(pair.server.takeCiphertext(into: &alert) > 0)
        #expect(alert.byte(at: 0) == 0x15)  // content type alert
    }

    @Test func configurationErrorsNameTheFile() throws {
        let certs = TLSTestCertificates.shared
        #expect {
            _ = try TLSServerContext(certificatePath: "/nonexistent/cert.pem", privateKeyPath: certs.privateKeyPath)
        } throws: { error in
            let e = error as! TLSError
            return e.kind == .configuration
                && e.message.hasPrefix("cannot load certificate chain '/nonexistent/cert.pem': ")
                && e.message.contains("No such file or directory")
        }
        #expect {
            _ = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: "/nonexistent/key.pem")
        } throws: { error in
            (error as! TLSError).message.hasPrefix("cannot load private key '/nonexistent/key.pem': ")
        }
        #expect {
            _ = try TLSServerContext(certificatePath: certs.privateKeyPath, privateKeyPath: certs.privateKeyPath)
        } throws: { error in
            (error as! TLSError).message.hasPrefix("cannot load certificate chain '\(certs.privateKeyPath)': ")
        }
        #expect {
            _ = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: certs.otherKeyPath)
        } throws: { error in
            let e = error as! TLSError
            return e.message.hasPrefix("cannot load private key '\(certs.otherKeyPath)': ")
                || e.message.hasPrefix("private key '\(certs.otherKeyPath)' does not match certificate")
        }
        #expect {
            _ = try TLSClientConfig(verify: true, caPath: "/nonexistent/ca.pem")
        } throws: { error in
            (error as! TLSError).message.hasPrefix("cannot load CA '/nonexistent/ca.pem': ")
        }
        #expect(throws: TLSError(.configuration, "verification needs a server name (TLSClientConfig or TLSEngine)")) {
            _ = try TLSEngine(client: TLSClientConfig(verify: true, caPath: certs.certificatePath))
        }
        #expect(TLSError(.configuration, "x").description == "TLS configuration: x")
    }

    @Test func configuredServerNameWins() throws {
        let certs = TLSTestCertificates.shared
        let config = try TLSClientConfig(verify: true, caPath: certs.directory + "/cert.pem", serverName: "localhost")
        let pair = try TLSPair(clientConfig: config, serverName: "ignored.example.com")
        try pair.client.advanceHandshake()
        try pair.pump()
        #expect(pair.client.isHandshakeComplete)
    }
}

@Suite struct TLSConfigTests {
    private let schema = ConfigSchema(keys: TLSServerContext.configKeys(table: "fanout.tls"))

    @Test func emptyCertificateMeansPlainTCP() throws {
        let c = try ConfigFile(text: "", name: "t", schema: schema)
        #expect(try TLSServerContext.make(config: c, table: "fanout.tls") == nil)
    }

    @Test func certificateAndKeyFromConfig() throws {
        let certs = TLSTestCertificates.shared
        let c = try ConfigFile(
            text: "[fanout.tls]\ncertificate = \"\(certs.certificatePath)\"\n"
                + "private_key = \"\(certs.privateKeyPath)\"\nrelease_idle_buffers = true\n",
            name: "t", schema: schema)
        #expect(try TLSServerContext.make(config: c, table: "fanout.tls") != nil)
    }

    @Test func halfConfiguredIsAnError() throws {
        let c = try ConfigFile(text: "[fanout.tls]\ncertificate = \"/x.pem\"\n", name: "t", schema: schema)
        #expect(
            throws: TLSError(
                .configuration,
                "fanout.tls.certificate and fanout.tls.private_key must be set together")
        ) {
            _ = try TLSServerContext.make(config: c, table: "fanout.tls")
        }
    }
}

@Suite struct TLSGatherWriteTests {
    /// TLS 1.3 record overhead with AES-GCM or ChaCha20-Poly1305: 5-byte header, 1-byte inner
    /// content type, 16-byte tag (RFC 8446 section 5.2).
    private static let recordOverhead = 22

    private func connectedPair() throws -> TLSPair {
        let pair = try TLSPair()
        try pair.client.advanceHandshake()
        try pair.pump()
        var drain = ByteBuffer()
        pair.server.takeCiphertext(into: &drain)  // nothing pending after the pump
        return pair
    }

    @Test func smallBuffersBecomeOneRecord() throws {
        let pair = try connectedPair()
        let parts = (0..<10).map { ByteBuffer(string: String(repeating: Character("\($0)"), count: 30 + $0)) }
        let total = parts.reduce(0) { $0 + $1.readableBytes }
        try pair.server.writePlaintext(gathering: parts)
        #expect(pair.server.pendingCiphertextBytes == total + Self.recordOverhead)
        try pair.pump()
        #expect(pair.clientPlain.readableString == parts.map(\.readableString).joined())

        // The same buffers one by one: one record each.
        for p in parts { try pair.server.writePlaintext(p) }
        #expect(pair.server.pendingCiphertextBytes == total + 10 * Self.recordOverhead)
    }

    @Test func recordsAreFilledUpToTheLimitAndLargeBuffersPassThrough() throws {
        let pair = try connectedPair()
        let limit = TLSEngine.maxRecordPlaintext
        let parts = [
            ByteBuffer(bytes: [UInt8](repeating: 1, count: limit - 100)),
            ByteBuffer(bytes: [UInt8](repeating: 2, count: 200)),  // does not fit: starts record 2
            ByteBuffer(bytes: [UInt8](repeating: 3, count: 0)),  // empty: ignored
            ByteBuffer(bytes: [UInt8](repeating: 4, count: 2 * limit)),  // direct: two full records
            ByteBuffer(bytes: [UInt8](repeating: 5, count: 10)),
        ]
        try pair.server.writePlaintext(gathering: parts)
        let total = parts.reduce(0) { $0 + $1.readableBytes }
        #expect(pair.server.pendingCiphertextBytes == total + 5 * Self.recordOverhead)
        try pair.pump()
        #expect(pair.clientPlain.readableBytesArray == parts.flatMap(\.readableBytesArray))
    }

    @Test func gatherBeforeHandshakeIsHeldInOrder() throws {
        let pair = try TLSPair()
        try pair.client.writePlaintext(gathering: [ByteBuffer(string: "a"), ByteBuffer(string: "bc")])
        try pair.client.writePlaintext(ByteBuffer(string: "d"))
        try pair.pump()
        #expect(pair.serverPlain.readableString == "abcd")
    }
}
