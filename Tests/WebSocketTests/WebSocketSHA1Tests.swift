// SHA-1 used for Sec-WebSocket-Accept: FIPS 180-2 appendix vectors and the padding boundaries.
import Testing
@testable import WebSocket

@Suite struct WebSocketSHA1Tests {
    func hex(_ s: String) -> String {
        var input = s
        let d = input.withUTF8 { WebSocketSHA1.digest(UnsafeRawBufferPointer($0)) }
        return d.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    @Test func knownVectors() {
        #expect(hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        // 56 bytes: the length no longer fits the first block (two blocks of padding).
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(String(repeating: "a", count: 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func paddingBoundaries() {
        // 55, 63 and 64 bytes straddle the one-block / two-block padding edge.
        #expect(hex(String(repeating: "a", count: 55)) == "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        #expect(hex(String(repeating: "a", count: 63)) == "03f09f5b158a7a8cdad920bddc29b81c18a551f5")
        #expect(hex(String(repeating: "a", count: 64)) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }
}
