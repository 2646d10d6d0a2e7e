// Frame decoder rules (RFC 6455 §5.2-§5.5), each with a test that fails when the rule breaks.
import Testing
import Wire
@testable import WebSocket

@Suite struct WebSocketFrameDecoderTests {
    // MARK: RFC 6455 §5.7 examples

    @Test func rfcUnmaskedHello() throws {
        let events = try decodeAll([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], role: .client)
        #expect(events == [
            .dataFrame(WebSocketFrameHeader(fin: true, opcode: .text, maskingKey: nil, payloadLength: 5)),
            .payload(0..<5, frameOffset: 0, isLast: true),
        ])
    }

    @Test func rfcMaskedHello() throws {
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        let events = try decodeAll(bytes, role: .server)
        #expect(events.first == .dataFrame(WebSocketFrameHeader(
            fin: true, opcode: .text, maskingKey: WebSocketMaskingKey(0x37, 0xfa, 0x21, 0x3d), payloadLength: 5)))
        var payload = Array(bytes[6...])
        payload.withUnsafeMutableBytes { WebSocketMasking.apply(testKey, to: $0) }
        #expect(String(decoding: payload, as: UTF8.self) == "Hello")
    }

    @Test func rfcFragmentedUnmaskedText() throws {
        let events = try decodeAll([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f], role: .client)
        #expect(events == [
            .dataFrame(WebSocketFrameHeader(fin: false, opcode: .text, maskingKey: nil, payloadLength: 3)),
            .payload(0..<3, frameOffset: 0, isLast: true),
            .dataFrame(WebSocketFrameHeader(fin: true, opcode: .continuation, maskingKey: nil, payloadLength: 2)),
            .payload(0..<2, frameOffset: 0, isLast: true),
        ])
    }

    @Test func rfcPingAndMaskedPong() throws {
        let ping = try decodeAll([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], role: .client)
        #expect(ping == [.controlFrame(WebSocketFrameHeader(fin: true, opcode: .ping, maskingKey: nil,
                                                            payloadLength: 5), payload: 2..<7)])
        let pong = try decodeAll([0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58], role: .server)
        #expect(pong == [.controlFrame(WebSocketFrameHeader(fin: true, opcode: .pong, maskingKey: testKey,
                                                            payloadLength: 5), payload: 6..<11)])
    }

    @Test func rfc256ByteAnd64KiBBinary() throws {
        let short = try decodeAll([0x82, 0x7E, 0x01, 0x00] + [UInt8](repeating: 7, count: 256), role: .client)
        #expect(short.first == .dataFrame(WebSocketFrameHeader(fin: true, opcode: .binary, maskingKey: nil,
                                                               payloadLength: 256)))
        let long = try decodeAll([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 7, count: 65536),
                                 role: .client)
        #expect(long == [
            .dataFrame(WebSocketFrameHeader(fin: true, opcode: .binary, maskingKey: nil, payloadLength: 65536)),
            .payload(0..<65536, frameOffset: 0, isLast: true),
        ])
    }

    // MARK: Incremental decoding

    @Test func decodesFromByteBufferConsumingWhatItUses() throws {
        var d = WebSocketFrameDecoder(role: .client)
        var buffer = ByteBuffer([0x81, 0x05, 0x48, 0x65, 0x6c])
        #expect(try d.decode(&buffer) == .dataFrame(WebSocketFrameHeader(fin: true, opcode: .text, maskingKey: nil,
                                                                          payloadLength: 5)))
        #expect(try d.decode(&buffer) == .payload(0..<3, frameOffset: 0, isLast: false))
        #expect(buffer.isEmpty)
        #expect(try d.decode(&buffer) == .needMoreData)
    }

    @Test func headerSplitAnywhereNeedsMoreData() throws {
        let bytes: [UInt8] = [0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4]
        for cut in 0..<bytes.count {
            var d = WebSocketFrameDecoder(role: .server)
            let events = try decodeAll(&d, Array(bytes[..<cut]))
            #expect(events.isEmpty, "cut at \(cut)")
        }
    }

    @Test func payloadStreamsInPiecesWithOffsets() throws {
        var d = WebSocketFrameDecoder(role: .client)
        _ = try decodeAll(&d, [0x82, 0x0A])
        let first = try decodeAll(&d, [1, 2, 3])
        #expect(first == [.payload(0..<3, frameOffset: 0, isLast: false)])
        let second = try decodeAll(&d, [4, 5, 6, 7, 8, 9, 10, 0x82, 0x00])
        #expect(second == [
            .payload(0..<7, frameOffset: 3, isLast: true),
            .dataFrame(WebSocketFrameHeader(fin: true, opcode: .binary, maskingKey: nil, payloadLength: 0)),
            .payload(0..<0, frameOffset: 0, isLast: true),
        ])
    }

    @Test func controlFrameWaitsForWholePayload() throws {
        var d = WebSocketFrameDecoder(role: .client)
        #expect(try decodeAll(&d, [0x89, 0x05, 0x48, 0x65]).isEmpty)
    }

    @Test func controlFrameInterleavedInFragmentedMessage() throws {
        let bytes = frameBytes(.text, "Hel", fin: false, key: nil) + [0x89, 0x00]
            + frameBytes(.continuation, "lo", key: nil)
        let events = try decodeAll(bytes, role: .client)
        #expect(events.count == 5)
        if case .controlFrame(let h, _) = events[2] { #expect(h.opcode == .ping) } else { Issue.record("no ping") }
    }

    // MARK: Masking direction (§5.1)

    @Test func serverRequiresMask() {
        #expect(decodeError([0x81, 0x00], role: .server) == .maskRequired)
    }

    @Test func clientForbidsMask() {
        #expect(decodeError([0x81, 0x80, 1, 2, 3, 4], role: .client) == .maskForbidden)
    }

    // MARK: Lengths (§5.2)

    @Test func sixteenBitLengthMustBeMinimal() {
        #expect(decodeError([0x82, 0xFE, 0x00, 0x7D, 1, 2, 3, 4]) == .nonMinimalLength)
        #expect(decodeError([0x82, 0xFE, 0x00, 0x7E, 1, 2, 3, 4]) == nil)
    }

    @Test func sixtyFourBitLengthMustBeMinimal() {
        #expect(decodeError([0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4]) == .nonMinimalLength)
        let ok: [UInt8] = [0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]
        #expect(decodeError(ok, configuration: .init(maxFrameSize: 1 << 20)) == nil)
    }

    @Test func sixtyFourBitLengthHighBitRejected() {
        #expect(decodeError([0x82, 0xFF, 0x80, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]) == .lengthOverflow)
    }

    @Test func frameOverMaximumIs1009() {
        let config = WebSocketFrameDecoder.Configuration(maxFrameSize: 200)
        #expect(decodeError([0x82, 0xFE, 0x00, 0xC9, 1, 2, 3, 4], configuration: config) == .frameTooLarge)
        #expect(decodeError([0x82, 0xFE, 0x00, 0xC8, 1, 2, 3, 4], configuration: config) == nil)
        #expect(WebSocketProtocolError.frameTooLarge.closeCode == .messageTooBig)
    }

    // MARK: Control frames (§5.5)

    @Test func controlFrameOver125Rejected() {
        #expect(decodeError([0x89, 0xFE, 0x00, 0x7E, 1, 2, 3, 4]) == .controlFrameTooLong)
        #expect(decodeError(frameBytes(.ping, [UInt8](repeating: 0, count: 125))) == nil)
    }

    @Test func fragmentedControlFrameRejected() {
        #expect(decodeError(frameBytes(.ping, [], fin: false)) == .fragmentedControlFrame)
        #expect(decodeError(frameBytes(.close, [], fin: false)) == .fragmentedControlFrame)
    }

    // MARK: Reserved bits and opcodes

    @Test func rsvBitsRejectedWithoutExtension() {
        #expect(decodeError([0xC1, 0x80, 1, 2, 3, 4]) == .reservedBitsSet)  // RSV1
        #expect(decodeError([0xA1, 0x80, 1, 2, 3, 4]) == .reservedBitsSet)  // RSV2
        #expect(decodeError([0x91, 0x80, 1, 2, 3, 4]) == .reservedBitsSet)  // RSV3
    }

    @Test func rsv1AllowedOnlyOnFirstDataFrameWithDeflate() {
        let deflate = WebSocketFrameDecoder.Configuration(allowsRSV1: true)
        #expect(decodeError(frameBytes(.text, "x", rsv1: true), configuration: deflate) == nil)
        #expect(decodeError(frameBytes(.text, "x", fin: false, rsv1: true)
                            + frameBytes(.continuation, "y", rsv1: true), configuration: deflate) == .reservedBitsSet)
        #expect(decodeError(frameBytes(.ping, [], rsv1: true), configuration: deflate) == .reservedBitsSet)
        #expect(decodeError([0xA1, 0x80, 1, 2, 3, 4], configuration: deflate) == .reservedBitsSet)
    }

    @Test func reservedOpcodesRejected() {
        for op: UInt8 in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
            #expect(decodeError([0x80 | op, 0x80, 1, 2, 3, 4]) == .unknownOpcode(op))
        }
    }

    // MARK: Fragmentation (§5.4)

    @Test func continuationWithoutStartRejected() {
        #expect(decodeError(frameBytes(.continuation, "x")) == .unexpectedContinuation)
    }

    @Test func newMessageDuringFragmentedMessageRejected() {
        #expect(decodeError(frameBytes(.text, "a", fin: false) + frameBytes(.text, "b")) == .expectedContinuation)
        #expect(decodeError(frameBytes(.binary, "a", fin: false) + frameBytes(.binary, "b")) == .expectedContinuation)
    }

    @Test func fragmentsCompleteThenNewMessageAllowed() {
        #expect(decodeError(frameBytes(.text, "a", fin: false) + frameBytes(.continuation, "b", fin: false)
                            + frameBytes(.continuation, "c") + frameBytes(.binary, "d")) == nil)
    }
}
