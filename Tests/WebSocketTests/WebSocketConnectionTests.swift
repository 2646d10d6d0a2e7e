// WebSocketConnection on real loopback sockets: handshake, echo, close handshake, router,
// refusals, and the bad-peer cases (slowloris, reset mid-frame, never-reading client).
import Testing
import Wire
@testable import WebSocket
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct WebSocketConnectionTests {
    @Test func clientEchoAndCloseHandshake() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let client = RecordingWebSocketHandler()
        let ws = try rig.runner.sync { [rig] in
            try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/echo?x=1", on: rig.runner.loop,
                                        handler: client)
        }
        #expect(rig.runner.wait { client.connected })
        try rig.runner.sync {
            ws.send(text: "hello")
            [UInt8](repeating: 9, count: 70_000).withUnsafeBytes { _ = ws.send(.binary, payload: $0) }
        }
        #expect(rig.runner.wait { client.texts == ["hello"] && client.binaries.count == 1 })
        #expect(try rig.runner.sync { client.binaries.first?.count } == 70_000)
        #expect(try rig.runner.sync { rig.echo.paths } == ["/echo?x=1"])
        try rig.runner.sync { ws.close(code: .goingAway, reason: "bye") }
        #expect(rig.runner.wait { client.closes == [.goingAway] && rig.echo.closes == [.goingAway] })
    }

    @Test func deflateNegotiatedEndToEnd() throws {
        let config = WebSocketServerConfiguration(handshake: .init(deflate: .init()))
        let rig = try EchoServerRig(configuration: config)
        defer { rig.shutdown() }
        let client = RecordingWebSocketHandler()
        let ws = try rig.runner.sync { [rig] in
            try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/echo", on: rig.runner.loop,
                                        configuration: .init(deflate: .init(serverNoContextTakeover: false)),
                                        handler: client)
        }
        #expect(rig.runner.wait { client.connected })
        #expect(try rig.runner.sync { ws.deflate?.serverNoContextTakeover } == true)
        let text = String(repeating: "{\"type\":\"quote\",\"symbol\":\"TCS\"}", count: 100)
        try rig.runner.sync {
            for _ in 0..<3 { ws.send(text: text) }
        }
        #expect(rig.runner.wait { client.texts.count == 3 })
        #expect(try rig.runner.sync { client.texts.allSatisfy { $0 == text } })
    }

    @Test func routerAnswersPlainRequestsWithKeepAlive() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        s.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = s.read(until: "ok\n")
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
        s.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let rest = String(decoding: s.readUntilEOF().bytes, as: UTF8.self)
        #expect(rest.hasPrefix("HTTP/1.1 404 "))
    }

    @Test func badHandshakeGets400AndUnknownPath404() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let bad = try RawSocket(port: rig.port)
        bad.send("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 + "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let answer = String(decoding: bad.readUntilEOF().bytes, as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 400 "))
        #expect(answer.contains("Sec-WebSocket-Key"))
        let version = try RawSocket(port: rig.port)
        version.send("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
        let v = String(decoding: version.readUntilEOF().bytes, as: UTF8.self)
        #expect(v.hasPrefix("HTTP/1.1 426 ") && v.contains("Sec-WebSocket-Version: 13"))
        let noUpgrade = try RawSocket(port: rig.port)
        noUpgrade.send("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                       + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let n = String(decoding: noUpgrade.readUntilEOF().bytes, as: UTF8.self)
        #expect(n.hasPrefix("HTTP/1.1 400 ") && n.hasSuffix("missing Upgrade: websocket\n"))
        let unknown = try RawSocket(port: rig.port)
        #expect(unknown.upgrade(path: "/nope").hasPrefix("HTTP/1.1 404 "))
    }

    @Test func requestLimitsAndMissingHostRefused() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let noHost = try RawSocket(port: rig.port)
        noHost.send("GET /echo HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(String(decoding: noHost.readUntilEOF().bytes, as: UTF8.self).hasPrefix("HTTP/1.1 400 "))
        let longLine = try RawSocket(port: rig.port)
        longLine.send("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n")
        #expect(String(decoding: longLine.readUntilEOF().bytes, as: UTF8.self).hasPrefix("HTTP/1.1 414 "))
        let manyHeaders = try RawSocket(port: rig.port)
        manyHeaders.send("GET /echo HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-A: b\r\n", count: 70) + "\r\n")
        #expect(String(decoding: manyHeaders.readUntilEOF().bytes, as: UTF8.self).hasPrefix("HTTP/1.1 431 "))
        #expect(try rig.runner.sync { rig.echo.paths.isEmpty })
    }

    @Test func rawClientFramesAndPingPong() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        let head = s.upgrade()
        #expect(head.hasPrefix("HTTP/1.1 101 ") && head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        s.send([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])  // RFC 6455 §5.7
        #expect(s.read(count: 7) == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        s.send(frameBytes(.ping, "abc"))
        #expect(s.read(count: 5) == [0x8A, 0x03] + Array("abc".utf8))
        s.send(frameBytes(.close, [0x03, 0xE8]))
        let rest = s.readUntilEOF()
        #expect(rest.eof && rest.bytes == [0x88, 0x02, 0x03, 0xE8])
        #expect(rig.runner.wait { rig.echo.closes == [.normal] })
    }

    @Test func readyFramesQueuedUntilCloseStarts() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        _ = s.upgrade()
        #expect(rig.runner.wait { rig.echo.connections.count == 1 })
        let frame = WebSocketFrameEncoder.frame(opcode: .text, payload: ByteBuffer(string: "batch"), maskingKey: nil)
        let results = try rig.runner.sync { () -> [WebSocketSendResult] in
            let ws = rig.echo.connections[0]
            let first = ws.send(frame: frame)
            ws.close(code: .goingAway)
            return [first, ws.send(frame: frame), ws.send(text: "late")]
        }
        #expect(results == [.queued, .dropped, .dropped])
        #expect(s.read(count: 11) == frame.readableBytesArray + [0x88, 0x02, 0x03, 0xE9])
    }

    @Test func protocolErrorClosesWith1002() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        _ = s.upgrade()
        s.send([0x81, 0x05] + Array("Hello".utf8))  // unmasked client frame
        let rest = s.readUntilEOF()
        #expect(rest.bytes == [0x88, 0x02, 0x03, 0xEA])
        #expect(rig.runner.wait { rig.echo.closes == [.protocolError] })
    }

    @Test func idlePeerIsPingedAndDroppedWhenSilent() throws {
        let config = WebSocketServerConfiguration(connection: .init(pingIntervalNanos: 50_000_000,
                                                                    pingTimeoutNanos: 100_000_000))
        let rig = try EchoServerRig(configuration: config)
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        _ = s.upgrade()
        #expect(s.read(count: 2) == [0x89, 0x00])  // keepalive ping
        s.send(frameBytes(.pong, []))
        #expect(s.read(count: 2) == [0x89, 0x00])  // the next interval pings again
        let rest = s.readUntilEOF()                 // no pong this time: dropped
        #expect(rest.eof && rest.bytes.isEmpty)
        #expect(rig.runner.wait { rig.echo.closes == [.abnormalClosure] })
    }

    @Test func closeTimeoutDropsPeerThatNeverAnswers() throws {
        let config = WebSocketServerConfiguration(connection: .init(closeTimeoutNanos: 100_000_000))
        let rig = try EchoServerRig(configuration: config)
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        _ = s.upgrade()
        #expect(rig.runner.wait { rig.echo.connections.count == 1 })
        try rig.runner.sync { rig.echo.connections[0].close(code: .goingAway, reason: "drain") }
        let rest = s.readUntilEOF()
        #expect(rest.eof)
        #expect(rest.bytes == [0x88, 0x07, 0x03, 0xE9] + Array("drain".utf8))
        #expect(rig.runner.wait { rig.echo.closes == [.goingAway] })
    }

    @Test func slowlorisHandshakeTimesOut() throws {
        let rig = try EchoServerRig(configuration: .init(handshakeTimeoutNanos: 200_000_000))
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        s.send("GET /echo HTTP/1.1\r\nHost: x\r\n")
        s.send("X-Drip: 1\r\n")
        let answer = s.readUntilEOF()
        #expect(answer.eof)
        #expect(String(decoding: answer.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 408 "))
        #expect(try rig.runner.sync { rig.echo.paths.isEmpty })
    }

    @Test func resetMidFrameReports1006Once() throws {
        let rig = try EchoServerRig()
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        _ = s.upgrade()
        #expect(rig.runner.wait { rig.echo.paths.count == 1 })
        s.send(Array(frameBytes(.binary, [UInt8](repeating: 1, count: 1000)).prefix(300)))
        s.reset()
        #expect(rig.runner.wait { rig.echo.closes == [.abnormalClosure] })
        usleep(20_000)
        #expect(try rig.runner.sync { rig.echo.closes.count } == 1)
    }

    @Test func neverReadingClientIsBoundedByMaxBufferedBytes() throws {
        let config = WebSocketServerConfiguration(maxBufferedBytes: 512 << 10, highWatermark: 128 << 10,
                                                  lowWatermark: 32 << 10)
        let rig = try EchoServerRig(configuration: config)
        defer { rig.shutdown() }
        let s = try RawSocket(port: rig.port)
        s.shrinkReceiveBuffer()
        _ = s.upgrade()
        #expect(rig.runner.wait { rig.echo.connections.count == 1 })
        let results = try rig.runner.sync { () -> [WebSocketSendResult] in
            let ws = rig.echo.connections[0]
            let chunk = [UInt8](repeating: 0x41, count: 64 << 10)
            return (0..<16).map { _ in chunk.withUnsafeBytes { ws.send(.binary, payload: $0) } }
        }
        // Corked within one loop iteration: backpressure past 128 KiB, dropped past 512 KiB.
        #expect(results.first == .queued)
        #expect(results.contains(.backpressure))
        #expect(results.last == .dropped)
        #expect(rig.runner.wait { rig.echo.closes == [.abnormalClosure] })
    }

    @Test func preparedFrameBroadcastToMixedClients() throws {
        let config = WebSocketServerConfiguration(handshake: .init(deflate: .init(serverNoContextTakeover: true)))
        let rig = try EchoServerRig(configuration: config)
        defer { rig.shutdown() }
        let plain = RecordingWebSocketHandler()
        let deflated = RecordingWebSocketHandler()
        let windowed = RecordingWebSocketHandler()
        try rig.runner.sync { [rig] in
            _ = try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/echo", on: rig.runner.loop,
                                            handler: plain)
            _ = try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/echo", on: rig.runner.loop,
                                            configuration: .init(deflate: .init()), handler: deflated)
            _ = try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/echo", on: rig.runner.loop,
                                            configuration: .init(deflate: .init(serverMaxWindowBits: 10)),
                                            handler: windowed)
        }
        #expect(rig.runner.wait { rig.echo.connections.count == 3 })
        let text = String(repeating: "{\"type\":\"quote\",\"symbol\":\"S0001\",\"ltp\":12.5}", count: 20)
        let delivered = try rig.runner.sync { () -> Int in
            let compressor = WebSocketDeflateCompressor(noContextTakeover: true)
            let frame = WebSocketPreparedFrame(text: text, compressor: compressor)
            // The compressed frame is the same storage for every deflate client (no copy).
            let conns = rig.echo.connections
            let shared = conns.filter {
                frame.frame(for: $0.deflate).storageReference === frame.compressed!.storageReference
            }
            #expect(shared.count == 1)  // the 10-bit-window client gets the uncompressed frame
            return WebSocketConnection.broadcast(frame, to: conns)
        }
        #expect(delivered == 3)
        #expect(rig.runner.wait { [plain, deflated, windowed].allSatisfy { $0.texts == [text] } })
    }
}
