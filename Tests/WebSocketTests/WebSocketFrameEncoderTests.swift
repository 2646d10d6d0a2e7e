// Encoder (RFC 6455 §5.2): minimal lengths, masking by role, close bodies; decoder round trip.
import Testing
import Wire
@testable import WebSocket

@Suite struct WebSocketFrameEncoderTests {
    @Test func rfcExamplesEncodeExactly() {
        #expect(frameBytes(.text, "Hello", key: nil) == [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])
        #expect(frameBytes(.text, "Hello", key: testKey)
                == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
        #expect(frameBytes(.text, "Hel", fin: false, key: nil) == [0x01, 0x03, 0x48, 0x65, 0x6c])
        #expect(frameBytes(.continuation, "lo", key: nil) == [0x80, 0x02, 0x6c, 0x6f])
    }

    @Test func lengthEncodingsAreMinimal() {
        #expect(Array(frameBytes(.binary, [UInt8](repeating: 0, count: 125), key: nil)[..<2]) == [0x82, 125])
        #expect(Array(frameBytes(.binary, [UInt8](repeating: 0, count: 126), key: nil)[..<4]) == [0x82, 126, 0, 126])
        #expect(Array(frameBytes(.binary, [UInt8](repeating: 0, count: 65535), key: nil)[..<4])
                == [0x82, 126, 0xFF, 0xFF])
        #expect(Array(frameBytes(.binary, [UInt8](repeating: 0, count: 65536), key: nil)[..<10])
                == [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0])
    }

    @Test func roundTripThroughDecoderAtEveryLengthClass() throws {
        for length in [0, 1, 125, 126, 65535, 65536] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
            var sm = WebSocketStateMachine(role: .server, configuration: .init(maxFrameSize: 1 << 17,
                                                                                maxMessageSize: 1 << 17), now: 0)
            #expect(feed(&sm, frameBytes(.binary, payload)) == [.deliverBinary(ByteBuffer(payload))], "len \(length)")
        }
    }

    @Test func closeFrameBodyAndTruncatedReason() {
        let f = WebSocketFrameEncoder.closeFrame(code: .normal, reason: "ok", maskingKey: nil)
        #expect(f.readableBytesArray == [0x88, 0x04, 0x03, 0xE8, 0x6F, 0x6B])
        let long = WebSocketFrameEncoder.closeFrame(code: .normal, reason: String(repeating: "é", count: 100),
                                                    maskingKey: nil)
        #expect(long.readableBytes <= 127)
        #expect(long.readableBytesArray[1] == 124)  // 2 + 61 two-byte characters, never a split one
        #expect(WebSocketFrameEncoder.closeFrame(code: nil, maskingKey: nil).readableBytesArray == [0x88, 0x00])
    }

    @Test func maskingKeysVary() {
        var g = WebSocketMaskingKeyGenerator(seed: 1)
        let keys = (0..<100).map { _ in g.next() }
        #expect(Set(keys.map { "\($0.bytes)" }).count == 100)
    }
}
