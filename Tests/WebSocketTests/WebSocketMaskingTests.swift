// Masking (RFC 6455 §5.3): word-wise XOR equals the byte-wise definition at every offset and length.
import Testing
import Wire
@testable import WebSocket

@Suite struct WebSocketMaskingTests {
    func reference(_ bytes: [UInt8], _ key: WebSocketMaskingKey, offset: Int) -> [UInt8] {
        bytes.enumerated().map { $1 ^ key[offset + $0] }
    }

    @Test func inPlaceMatchesDefinition() {
        let key = WebSocketMaskingKey(0x01, 0x23, 0x45, 0x67)
        let data = (0..<67).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for length in [0, 1, 3, 7, 8, 9, 15, 16, 17, 67] {
            for offset in 0..<4 {
                var buf = Array(data[..<length])
                buf.withUnsafeMutableBytes { WebSocketMasking.apply(key, to: $0, offset: offset) }
                #expect(buf == reference(Array(data[..<length]), key, offset: offset), "len \(length) off \(offset)")
            }
        }
    }

    @Test func copyingMatchesDefinitionAndAppends() {
        let key = WebSocketMaskingKey(0xAA, 0x55, 0x0F, 0xF0)
        let data = (0..<41).map { UInt8($0) }
        for offset in 0..<5 {
            var out = ByteBuffer(bytes: [9, 9])
            data.withUnsafeBytes { WebSocketMasking.appendUnmasked($0, key: key, offset: offset, to: &out) }
            #expect(out.readableBytesArray == [9, 9] + reference(data, key, offset: offset))
        }
    }

    @Test func pieceWiseUnmaskEqualsWhole() {
        let key = testKey
        let data = (0..<100).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var whole = ByteBuffer(capacity: 0)
        data.withUnsafeBytes { WebSocketMasking.appendUnmasked($0, key: key, to: &whole) }
        var pieces = ByteBuffer(capacity: 0)
        var offset = 0
        for size in [3, 1, 13, 8, 75] {
            data[offset..<offset + size].withUnsafeBytes {
                WebSocketMasking.appendUnmasked($0, key: key, offset: offset, to: &pieces)
            }
            offset += size
        }
        #expect(whole == pieces)
    }

    @Test func rfcHelloUnmasks() {
        var bytes: [UInt8] = [0x7f, 0x9f, 0x4d, 0x51, 0x58]
        bytes.withUnsafeMutableBytes { WebSocketMasking.apply(testKey, to: $0) }
        #expect(bytes == Array("Hello".utf8))
    }
}
