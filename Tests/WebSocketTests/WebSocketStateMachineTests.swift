// Connection core (RFC 6455 §5-§7): message assembly, UTF-8, limits, control frames, close
// handshake with timeout, keepalive, outbound encoding. Time is injected.
import Testing
import Wire
@testable import WebSocket

@Suite struct WebSocketStateMachineTests {
    func server(_ config: WebSocketConnectionConfiguration = .init(), deflate: WebSocketDeflateParameters? = nil)
        -> WebSocketStateMachine {
        WebSocketStateMachine(role: .server, configuration: config, deflate: deflate, now: 0)
    }

    // MARK: Messages

    @Test func deliversMaskedText() {
        var sm = server()
        let actions = feed(&sm, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        #expect(actions == [.deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func deliversBinaryIncludingEmpty() {
        var sm = server()
        let actions = feed(&sm, frameBytes(.binary, [1, 2, 3]) + frameBytes(.binary, []))
        #expect(actions == [.deliverBinary(ByteBuffer([1, 2, 3])), .deliverBinary(ByteBuffer([]))])
    }

    @Test func fragmentedMessageWithInterleavedPing() {
        let bytes = frameBytes(.text, "Hel", fin: false) + frameBytes(.ping, "p")
            + frameBytes(.continuation, "l", fin: false) + frameBytes(.continuation, "o")
        for chunk in [nil, 1, 3, 7] as [Int?] {
            var sm = server()
            let actions = feed(&sm, bytes, chunk: chunk)
            #expect(actions == [.sendPong(ByteBuffer(string: "p")), .deliverText(ByteBuffer(string: "Hello"))],
                    "chunk \(String(describing: chunk))")
        }
    }

    @Test func largeMessageFedByteByByte() {
        let payload = (0..<70_000).map { UInt8(truncatingIfNeeded: $0) }
        var sm = server()
        let actions = feed(&sm, frameBytes(.binary, payload), chunk: 997)
        #expect(actions == [.deliverBinary(ByteBuffer(payload))])
    }

    @Test func keptMessageIsNotOverwrittenByNextOne() {
        var sm = server()
        let actions = feed(&sm, frameBytes(.text, "first") + frameBytes(.text, "second"))
        #expect(actions == [.deliverText(ByteBuffer(string: "first")), .deliverText(ByteBuffer(string: "second"))])
    }

    // MARK: UTF-8 (§8.1)

    @Test func invalidUTF8FailsFastBeforeMessageEnds() {
        var sm = server()
        // The first fragment already holds ED A0 (a surrogate): no need to wait for FIN.
        let actions = feed(&sm, frameBytes(.text, [0x61, 0xED, 0xA0, 0x80], fin: false))
        #expect(actions == [.sendClose(.invalidPayload, reason: "", closeTransport: true)])
        #expect(sm.closeCode == .invalidPayload)
    }

    @Test func truncatedUTF8AtEndFails() {
        var sm = server()
        let actions = feed(&sm, frameBytes(.text, [0x61, 0xE2, 0x82]))
        #expect(actions.first?.sentCloseCode == .invalidPayload)
    }

    @Test func codePointSplitAcrossFragmentsIsFine() {
        let euro = Array("€".utf8)
        var sm = server()
        let actions = feed(&sm, frameBytes(.text, Array(euro[..<1]), fin: false)
                           + frameBytes(.continuation, Array(euro[1...])))
        #expect(actions == [.deliverText(ByteBuffer(string: "€"))])
    }

    @Test func binaryIsNotValidated() {
        var sm = server()
        #expect(feed(&sm, frameBytes(.binary, [0xFF, 0xFE])) == [.deliverBinary(ByteBuffer([0xFF, 0xFE]))])
    }

    // MARK: Limits

    @Test func messageOverMaximumIs1009() {
        var sm = server(.init(maxFrameSize: 100, maxMessageSize: 150))
        let actions = feed(&sm, frameBytes(.binary, [UInt8](repeating: 1, count: 100), fin: false)
                           + frameBytes(.continuation, [UInt8](repeating: 1, count: 51)))
        #expect(actions == [.sendClose(.messageTooBig, reason: "", closeTransport: true)])
    }

    @Test func messageAtMaximumIsDelivered() {
        var sm = server(.init(maxFrameSize: 100, maxMessageSize: 150))
        let actions = feed(&sm, frameBytes(.binary, [UInt8](repeating: 1, count: 100), fin: false)
                           + frameBytes(.continuation, [UInt8](repeating: 1, count: 50)))
        #expect(actions.count == 1)
        if case .deliverBinary(let b) = actions[0] { #expect(b.readableBytes == 150) }
    }

    @Test func frameOverMaximumIs1009() {
        var sm = server(.init(maxFrameSize: 100))
        #expect(feed(&sm, frameBytes(.binary, [UInt8](repeating: 1, count: 101))).first?.sentCloseCode
                == .messageTooBig)
    }

    // MARK: Protocol errors

    @Test func protocolErrorSendsCloseThenIgnoresInput() {
        var sm = server()
        let actions = feed(&sm, [0x81, 0x05] + frameBytes(.text, "later"))  // unmasked client frame
        #expect(actions == [.sendClose(.protocolError, reason: "", closeTransport: true)])
        #expect(sm.state == .closed)
        #expect(feed(&sm, frameBytes(.text, "more")).isEmpty)
    }

    // MARK: Close handshake (§5.5.1, §7)

    @Test func serverEchoesPeerCloseAndClosesTransport() {
        var sm = server()
        let actions = feed(&sm, frameBytes(.close, [0x03, 0xE8] + Array("bye".utf8)))
        #expect(actions == [.sendClose(.normal, reason: "", closeTransport: true)])
        #expect(sm.closeCode == .normal && sm.closeReason == "bye")
    }

    @Test func emptyCloseIsAnsweredEmptyAndReports1005() {
        var sm = server()
        #expect(feed(&sm, frameBytes(.close, [])) == [.sendClose(nil, reason: "", closeTransport: true)])
        #expect(sm.closeCode == .noStatusReceived)
    }

    @Test func oneByteCloseBodyIs1002() {
        var sm = server()
        #expect(feed(&sm, frameBytes(.close, [0x03])).first?.sentCloseCode == .protocolError)
    }

    @Test func closeCodesValidated() {
        let valid: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
        let invalid: [UInt16] = [0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
        for code in valid {
            var sm = server()
            let actions = feed(&sm, frameBytes(.close, [UInt8(code >> 8), UInt8(code & 0xFF)]))
            #expect(actions.first?.sentCloseCode == WebSocketCloseCode(code), "code \(code)")
        }
        for code in invalid {
            var sm = server()
            let actions = feed(&sm, frameBytes(.close, [UInt8(code >> 8), UInt8(code & 0xFF)]))
            #expect(actions.first?.sentCloseCode == .protocolError, "code \(code)")
        }
    }

    @Test func closeReasonMustBeUTF8() {
        var sm = server()
        #expect(feed(&sm, frameBytes(.close, [0x03, 0xE8, 0xFF])).first?.sentCloseCode == .invalidPayload)
    }

    @Test func localCloseWaitsForPeerCloseThenClosesTransport() {
        var sm = server()
        #expect(sm.close(code: .goingAway, reason: "restart", now: 10)
                == .sendClose(.goingAway, reason: "restart", closeTransport: false))
        #expect(sm.close(now: 11) == nil)  // only one close frame (§5.5.1)
        #expect(!sm.isOpen)
        // Data after our close is dropped, pings are not answered.
        #expect(feed(&sm, frameBytes(.text, "late") + frameBytes(.ping, [])).isEmpty)
        #expect(feed(&sm, frameBytes(.close, [0x03, 0xE9])) == [.closeTransport])
    }

    @Test func unsendableLocalCloseCodeBecomes1000() {
        var sm = server()
        #expect(sm.close(code: .abnormalClosure, now: 0)?.sentCloseCode == .normal)
    }

    @Test func protocolErrorAfterOurCloseSendsNoSecondClose() {
        var sm = server()
        _ = sm.close(now: 0)
        #expect(feed(&sm, [0x81, 0x05] + Array("Hello".utf8)) == [.closeTransport])
    }

    @Test func closeTimeoutClosesTransport() {
        var sm = server(.init(closeTimeoutNanos: 1_000))
        _ = sm.close(now: 100)
        #expect(sm.nextDeadline == 1_100)
        #expect(sm.tick(now: 1_099) == nil)
        #expect(sm.tick(now: 1_100) == .closeTransport)
        #expect(sm.state == .closed)
    }

    @Test func clientAnswersServerCloseAndWaitsForTransport() {
        var sm = WebSocketStateMachine(role: .client, configuration: .init(closeTimeoutNanos: 500), now: 0)
        let actions = feed(&sm, frameBytes(.close, [0x03, 0xE8], key: nil), now: 50)
        #expect(actions == [.sendClose(.normal, reason: "", closeTransport: false)])
        #expect(sm.tick(now: 549) == nil)
        #expect(sm.tick(now: 550) == .closeTransport)
    }

    // MARK: Keepalive

    @Test func idlePeerIsPingedThenDropped() {
        var sm = server(.init(pingIntervalNanos: 1_000, pingTimeoutNanos: 300))
        #expect(sm.tick(now: 999) == nil)
        #expect(sm.tick(now: 1_000) == .sendPing(ByteBuffer([])))
        #expect(sm.nextDeadline == 1_300)
        #expect(sm.tick(now: 1_299) == nil)
        #expect(sm.tick(now: 1_300) == .closeTransport)
    }

    @Test func pongKeepsPeerAlive() {
        var sm = server(.init(pingIntervalNanos: 1_000, pingTimeoutNanos: 300))
        #expect(sm.tick(now: 1_000) == .sendPing(ByteBuffer([])))
        #expect(feed(&sm, frameBytes(.pong, []), now: 1_200).isEmpty)
        #expect(sm.tick(now: 1_500) == nil)
        #expect(sm.nextDeadline == 2_200)
    }

    @Test func trafficPostponesPing() {
        var sm = server(.init(pingIntervalNanos: 1_000))
        _ = feed(&sm, frameBytes(.text, "hi"), now: 800)
        #expect(sm.tick(now: 1_000) == nil)
        #expect(sm.tick(now: 1_800) == .sendPing(ByteBuffer([])))
    }

    // MARK: Outbound

    @Test func serverFramesUnmaskedClientFramesMaskedAndRoundTrip() {
        var srv = server()
        var cli = WebSocketStateMachine(role: .client, now: 0)
        var out = ByteBuffer(capacity: 0)
        "hello".utf8.withContiguousStorageIfAvailable {
            _ = srv.writeMessage(.text, payload: UnsafeRawBufferPointer($0), into: &out)
        }
        #expect(out.readableBytesArray == [0x81, 0x05] + Array("hello".utf8))
        #expect(feed(&cli, out.readableBytesArray) == [.deliverText(ByteBuffer(string: "hello"))])
        var up = ByteBuffer(capacity: 0)
        [UInt8](repeating: 0x41, count: 300).withUnsafeBytes { _ = cli.writeMessage(.binary, payload: $0, into: &up) }
        #expect(up.byte(at: 1)! & 0x80 != 0)  // MASK bit
        #expect(feed(&srv, up.readableBytesArray) == [.deliverBinary(ByteBuffer([UInt8](repeating: 0x41, count: 300)))])
    }

    @Test func noSendAfterClose() {
        var sm = server()
        _ = sm.close(now: 0)
        var out = ByteBuffer(capacity: 0)
        let ok = [UInt8(1)].withUnsafeBytes { sm.writeMessage(.binary, payload: $0, into: &out) }
        #expect(!ok && out.isEmpty)
    }
}

/// Seeded randomized checks: any split of the input gives the same actions; garbage never traps.
@Suite struct WebSocketStateMachineRandomTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func anyChunkingGivesTheSameActions() {
        var rng = SplitMix(state: 42)
        for round in 0..<20 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let length = [0, 1, 5, 125, 126, 300, 70_000].randomElement(using: &rng)!
                let seed = Int.random(in: 1...1000, using: &rng)
                let payload = (0..<length).map { UInt8(0x20 + ($0 &* seed) % 95) }
                if Bool.random(using: &rng) {
                    bytes += frameBytes(.text, Array(payload.prefix(length / 2)), fin: false)
                    bytes += frameBytes(.ping, Array(payload.prefix(3)))
                    bytes += frameBytes(.continuation, Array(payload.dropFirst(length / 2)))
                } else {
                    bytes += frameBytes(.binary, payload)
                }
            }
            var whole = WebSocketStateMachine(role: .server, now: 0)
            let expected = feed(&whole, bytes)
            var pieces = WebSocketStateMachine(role: .server, now: 0)
            let chunk = Int.random(in: 61...4096, using: &rng)
            #expect(feed(&pieces, bytes, chunk: chunk) == expected, "round \(round) chunk \(chunk)")
        }
    }

    @Test func randomGarbageNeverTraps() {
        var rng = SplitMix(state: 7)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for role in [WebSocketFrameDecoder.Role.server, .client] {
                var sm = WebSocketStateMachine(role: role, deflate: WebSocketDeflateParameters(), now: 0)
                let actions = feed(&sm, bytes, chunk: Int.random(in: 1...8, using: &rng))
                // Whatever happened, at most one close frame is ever sent.
                #expect(actions.filter { $0.sentCloseCode != nil }.count <= 1)
            }
        }
    }
}
