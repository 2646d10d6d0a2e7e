// permessage-deflate (RFC 7692): §7.2.3 examples, context takeover, the inflate bound, and
// negotiation rules of §7.1 (server accepts the first valid offer, declines invalid ones).
import Testing
import Wire
@testable import WebSocket

@Suite struct WebSocketDeflateTests {
    func client(_ p: WebSocketDeflateParameters = .init(), max: Int = 1 << 20) -> WebSocketStateMachine {
        WebSocketStateMachine(role: .client, configuration: .init(maxMessageSize: max), deflate: p, now: 0)
    }

    func compress(_ c: WebSocketDeflateCompressor, _ s: String) -> [UInt8] {
        var out = ByteBuffer(capacity: 0)
        Array(s.utf8).withUnsafeBytes { c.compress($0, into: &out) }
        return out.readableBytesArray
    }

    // MARK: RFC 7692 §7.2.3 examples (server-to-client, unmasked)

    @Test func rfcHelloSingleFrame() {
        var sm = client()
        #expect(feed(&sm, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
                == [.deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func rfcHelloFragmented() {
        var sm = client()
        #expect(feed(&sm, [0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00])
                == [.deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func rfcSharedWindowSecondMessage() {
        var sm = client()
        let actions = feed(&sm, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
                           + [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00])
        #expect(actions == [.deliverText(ByteBuffer(string: "Hello")), .deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func rfcStoredBlock() {
        var sm = client()
        #expect(feed(&sm, [0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00])
                == [.deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func rfcBFinalBlockThenNextMessage() {
        var sm = client()
        let actions = feed(&sm, [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]
                           + [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        #expect(actions == [.deliverText(ByteBuffer(string: "Hello")), .deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func rfcTwoBlocksInOneMessage() {
        var sm = client()
        #expect(feed(&sm, [0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00])
                == [.deliverText(ByteBuffer(string: "Hello"))])
    }

    @Test func compressorProducesRfcBytesAndStripsTail() {
        let c = WebSocketDeflateCompressor(noContextTakeover: false)
        #expect(compress(c, "Hello") == [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        // With context takeover the second "Hello" is a back reference (§7.2.3.2).
        #expect(compress(c, "Hello") == [0xf2, 0x00, 0x11, 0x00, 0x00])
    }

    @Test func noContextTakeoverMakesMessagesIndependent() {
        let c = WebSocketDeflateCompressor(noContextTakeover: true)
        #expect(compress(c, "Hello") == [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
        #expect(compress(c, "Hello") == [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00])
    }

    @Test func emptyMessageCompresses() {
        let c = WebSocketDeflateCompressor(noContextTakeover: true)
        let bytes = compress(c, "")
        #expect(bytes == [0x00])
        var sm = client()
        #expect(feed(&sm, [0xc1, UInt8(bytes.count)] + bytes) == [.deliverText(ByteBuffer(string: ""))])
    }

    // MARK: Round trips and bounds

    @Test func clientServerRoundTripWithContextTakeover() {
        let params = WebSocketDeflateParameters()
        var srv = WebSocketStateMachine(role: .server, deflate: params, now: 0)
        var cli = WebSocketStateMachine(role: .client, deflate: params, now: 0)
        let message = String(repeating: "{\"type\":\"quote\",\"symbol\":\"S0001\",\"ltp\":2450.75}", count: 5)
        for _ in 0..<3 {
            var down = ByteBuffer(capacity: 0)
            Array(message.utf8).withUnsafeBytes { _ = srv.writeMessage(.text, payload: $0, into: &down) }
            #expect(down.byte(at: 0)! & 0x40 != 0)  // RSV1: compressed
            #expect(down.readableBytes < message.utf8.count / 2)
            #expect(feed(&cli, down.readableBytesArray) == [.deliverText(ByteBuffer(string: message))])
            var up = ByteBuffer(capacity: 0)
            Array(message.utf8).withUnsafeBytes { _ = cli.writeMessage(.text, payload: $0, into: &up) }
            #expect(feed(&srv, up.readableBytesArray) == [.deliverText(ByteBuffer(string: message))])
        }
    }

    @Test func smallMessagesSentUncompressed() {
        var srv = WebSocketStateMachine(role: .server, deflate: WebSocketDeflateParameters(), now: 0)
        var out = ByteBuffer(capacity: 0)
        Array("hi".utf8).withUnsafeBytes { _ = srv.writeMessage(.text, payload: $0, into: &out) }
        #expect(out.readableBytesArray == [0x81, 0x02, 0x68, 0x69])
    }

    @Test func inflateBombStopsAtLimitWith1009() {
        // 4 MiB of zeros compresses to a few KiB; the limit is 64 KiB.
        let c = WebSocketDeflateCompressor(noContextTakeover: true)
        var compressed = ByteBuffer(capacity: 0)
        [UInt8](repeating: 0, count: 4 << 20).withUnsafeBytes { c.compress($0, into: &compressed) }
        #expect(compressed.readableBytes < 8192)
        var sm = client(max: 64 * 1024)
        let frame = WebSocketFrameEncoder.frame(opcode: .binary, rsv1: true, payload: compressed, maskingKey: nil)
        #expect(feed(&sm, frame.readableBytesArray) == [.sendClose(.messageTooBig, reason: "", closeTransport: true)])
        // Inflation stops near the limit: the output never grows far past it (memory bounded).
        var inflated = ByteBuffer(capacity: 0)
        let d = WebSocketDeflateDecompressor(noContextTakeover: true)
        compressed.withUnsafeReadableBytes { bytes in
            #expect(throws: WebSocketProtocolError.messageTooLarge) {
                try d.decompress(bytes, into: &inflated, limit: 64 * 1024)
            }
        }
        #expect(inflated.capacity <= 128 * 1024)
    }

    @Test func inflateExactlyAtLimitIsDelivered() {
        let c = WebSocketDeflateCompressor(noContextTakeover: true)
        var compressed = ByteBuffer(capacity: 0)
        [UInt8](repeating: 7, count: 40_000).withUnsafeBytes { c.compress($0, into: &compressed) }
        var sm = client(max: 40_000)
        let frame = WebSocketFrameEncoder.frame(opcode: .binary, rsv1: true, payload: compressed, maskingKey: nil)
        let expected = ByteBuffer([UInt8](repeating: 7, count: 40_000))
        #expect(feed(&sm, frame.readableBytesArray) == [.deliverBinary(expected)])
    }

    @Test func corruptCompressedDataFails() {
        var sm = client()
        #expect(feed(&sm, [0xc1, 0x03, 0xff, 0xff, 0xff]).first?.sentCloseCode == .invalidPayload)
    }

    @Test func compressedInvalidUTF8Is1007() {
        let c = WebSocketDeflateCompressor(noContextTakeover: true)
        var compressed = ByteBuffer(capacity: 0)
        [UInt8]([0x61, 0xFF, 0x62]).withUnsafeBytes { c.compress($0, into: &compressed) }
        var sm = client()
        let frame = WebSocketFrameEncoder.frame(opcode: .text, rsv1: true, payload: compressed, maskingKey: nil)
        #expect(feed(&sm, frame.readableBytesArray).first?.sentCloseCode == .invalidPayload)
    }

    @Test func rsv1WithoutNegotiationIs1002() {
        var sm = WebSocketStateMachine(role: .client, now: 0)
        #expect(feed(&sm, [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).first?.sentCloseCode
                == .protocolError)
    }

    // MARK: Negotiation (§7.1)

    func accept(_ offer: String,
                _ c: WebSocketDeflateConfiguration = .init(serverNoContextTakeover: false,
                                                           clientNoContextTakeover: false))
        -> WebSocketDeflateParameters? {
        WebSocketDeflateNegotiation.accept(offers: [offer], configuration: c)
    }

    @Test func plainOfferAccepted() {
        #expect(accept("permessage-deflate")?.responseHeaderValue == "permessage-deflate")
    }

    @Test func serverAddsNoContextTakeoverWhenConfigured() {
        let p = accept("permessage-deflate", .init(serverNoContextTakeover: true, clientNoContextTakeover: false))
        #expect(p?.serverNoContextTakeover == true)
        #expect(p?.responseHeaderValue == "permessage-deflate; server_no_context_takeover")
    }

    @Test func defaultsAskForNoContextBothWays() {
        // Both defaults on: shared prepared frames down, one shared inflate stream per loop up.
        #expect(WebSocketDeflateNegotiation.accept(offers: ["permessage-deflate"], configuration: .init())?
                .responseHeaderValue == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test func offeredParametersHonoured() {
        let p = accept("permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                       + "server_max_window_bits=10; client_max_window_bits")
        #expect(p?.serverNoContextTakeover == true && p?.clientNoContextTakeover == true)
        #expect(p?.serverMaxWindowBits == 10)
        #expect(p?.responseHeaderValue == "permessage-deflate; server_no_context_takeover; "
                + "client_no_context_takeover; server_max_window_bits=10")
    }

    @Test func clientMaxWindowBitsAnsweredOnlyWhenOffered() {
        let c = WebSocketDeflateConfiguration(serverNoContextTakeover: false, clientNoContextTakeover: false,
                                              clientMaxWindowBits: 12)
        #expect(accept("permessage-deflate", c)?.responseHeaderValue == "permessage-deflate")
        #expect(accept("permessage-deflate; client_max_window_bits", c)?.responseHeaderValue
                == "permessage-deflate; client_max_window_bits=12")
        #expect(accept("permessage-deflate; client_max_window_bits=10", c)?.clientMaxWindowBits == 10)
    }

    @Test func serverWindowNeverAboveOffer() {
        let c = WebSocketDeflateConfiguration(serverNoContextTakeover: false, clientNoContextTakeover: false,
                                              serverMaxWindowBits: 11)
        #expect(accept("permessage-deflate; server_max_window_bits=13", c)?.serverMaxWindowBits == 11)
        #expect(accept("permessage-deflate; server_max_window_bits=9", c)?.serverMaxWindowBits == 9)
        #expect(accept("permessage-deflate", c)?.responseHeaderValue == "permessage-deflate; server_max_window_bits=11")
    }

    @Test func invalidOffersDeclined() {
        #expect(accept("permessage-deflate; server_max_window_bits") == nil)        // value required
        #expect(accept("permessage-deflate; server_max_window_bits=16") == nil)
        #expect(accept("permessage-deflate; server_max_window_bits=7") == nil)
        #expect(accept("permessage-deflate; server_max_window_bits=010") == nil)    // leading zero
        #expect(accept("permessage-deflate; server_max_window_bits=8") == nil)      // zlib cannot do 8
        #expect(accept("permessage-deflate; client_max_window_bits=16") == nil)
        #expect(accept("permessage-deflate; server_no_context_takeover=1") == nil)
        #expect(accept("permessage-deflate; unknown_param") == nil)
        #expect(accept("permessage-deflate; client_no_context_takeover; client_no_context_takeover") == nil)
        #expect(accept("x-webkit-deflate-frame") == nil)
    }

    @Test func firstAcceptableOfferWins() {
        let p = accept("permessage-deflate; server_max_window_bits=20, permessage-deflate; server_max_window_bits=12, "
                       + "permessage-deflate")
        #expect(p?.serverMaxWindowBits == 12)
        #expect(accept("foo, permessage-deflate; client_max_window_bits=\"10\"")?.clientMaxWindowBits == 10)
    }

    @Test func offersAcrossSeveralHeaderLines() {
        let p = WebSocketDeflateNegotiation.accept(
            offers: ["permessage-deflate; bogus", "permessage-deflate; server_no_context_takeover"],
            configuration: .init(serverNoContextTakeover: false))
        #expect(p?.serverNoContextTakeover == true)
    }

    @Test func clientValidatesAnswer() throws {
        let offered = WebSocketDeflateConfiguration(serverNoContextTakeover: false, serverMaxWindowBits: 12)
        let p = try WebSocketDeflateNegotiation.validateResponse(
            ["permessage-deflate; server_max_window_bits=10; client_max_window_bits=11"], offered: offered)
        #expect(p?.serverMaxWindowBits == 10 && p?.clientMaxWindowBits == 11)
        #expect(throws: WebSocketHandshakeError.invalidExtensions) {
            try WebSocketDeflateNegotiation.validateResponse(["permessage-deflate; server_max_window_bits=13"],
                                                             offered: offered)
        }
        #expect(throws: WebSocketHandshakeError.invalidExtensions) {
            try WebSocketDeflateNegotiation.validateResponse(["x-other"], offered: offered)
        }
        #expect(throws: WebSocketHandshakeError.invalidExtensions) {
            try WebSocketDeflateNegotiation.validateResponse(["permessage-deflate; foo"], offered: offered)
        }
        #expect(try WebSocketDeflateNegotiation.validateResponse([], offered: offered) == nil)
    }

    @Test func clientOfferText() {
        #expect(WebSocketDeflateNegotiation.offer(.init(serverNoContextTakeover: true, clientNoContextTakeover: false,
                                                        serverMaxWindowBits: 12))
                == "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits")
    }

    @Test func sharedStreamsServeManyConnectionsAndSurviveErrors() {
        let shared = WebSocketSharedDeflate()
        let p = WebSocketDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true)
        var servers = (0..<3).map { _ in
            WebSocketStateMachine(role: .server, deflate: p, sharedDeflate: shared, now: 0)
        }
        var client = WebSocketStateMachine(role: .client, deflate: p, now: 0)
        let text = String(repeating: "subscribe S0001 S0002 ", count: 10)
        // A corrupt message on one connection must not poison the shared inflater for the others.
        #expect(feed(&servers[0], frameBytes(.text, [0xff, 0xff, 0xff], rsv1: true)).first?.sentCloseCode
                == .invalidPayload)
        for i in 1..<3 {
            var up = ByteBuffer(capacity: 0)
            Array(text.utf8).withUnsafeBytes { _ = client.writeMessage(.text, payload: $0, into: &up) }
            #expect(up.byte(at: 0)! & 0x40 != 0)
            #expect(feed(&servers[i], up.readableBytesArray) == [.deliverText(ByteBuffer(string: text))])
        }
        #expect(servers[1].decompressor === servers[2].decompressor)
        #expect(servers[1].decompressor === shared.decompressor)
        var down = ByteBuffer(capacity: 0)
        Array(text.utf8).withUnsafeBytes { _ = servers[1].writeMessage(.text, payload: $0, into: &down) }
        #expect(servers[1].compressor === shared.compressor(windowBits: 15))
        #expect(feed(&client, down.readableBytesArray) == [.deliverText(ByteBuffer(string: text))])
    }

    @Test func streamsAreCreatedOnlyWhenUsed() {
        var sm = WebSocketStateMachine(role: .server, deflate: WebSocketDeflateParameters(), now: 0)
        #expect(sm.compressor == nil && sm.decompressor == nil)
        _ = feed(&sm, frameBytes(.text, "uncompressed"))
        #expect(sm.decompressor == nil)
    }

    @Test func smallerWindowCompressorStillRoundTrips() {
        let p = WebSocketDeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: 9)
        var srv = WebSocketStateMachine(role: .server, deflate: p, now: 0)
        var cli = WebSocketStateMachine(role: .client, deflate: p, now: 0)
        let text = (0..<2000).map { String($0 % 97) }.joined(separator: ",")
        var down = ByteBuffer(capacity: 0)
        Array(text.utf8).withUnsafeBytes { _ = srv.writeMessage(.text, payload: $0, into: &down) }
        #expect(feed(&cli, down.readableBytesArray) == [.deliverText(ByteBuffer(string: text))])
    }
}
