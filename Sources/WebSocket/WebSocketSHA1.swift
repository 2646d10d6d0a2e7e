// SHA-1 (FIPS 180-4 / RFC 3174) for Sec-WebSocket-Accept only (RFC 6455 §4.2.2 step 5.4).
//
// Owns: hashing one short handshake string. It is here instead of OpenSSL's EVP_Digest because
// the first EVP call initialises OpenSSL 3's provider machinery, which made ~2 MB of libcrypto
// resident in a node that never uses TLS (docs/profiling.md, "Memory"). The accept value is a
// protocol checksum, not a security property, so a plain implementation is enough.

/// SHA-1 of a byte string, one shot.
enum WebSocketSHA1 {
    /// The 20-byte digest of `message`.
    static func digest(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        // Padding (§5.1.1): 0x80, zeros, then the bit length as a big-endian 64-bit integer.
        let total = (message.count + 8) / 64 * 64 + 64
        var block = [UInt8](repeating: 0, count: total)
        for i in 0..<message.count { block[i] = message[i] }
        block[message.count] = 0x80
        let bits = UInt64(message.count) &* 8
        for i in 0..<8 { block[total - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        var w = [UInt32](repeating: 0, count: 80)
        var offset = 0
        while offset < total {
            for t in 0..<16 {
                let j = offset + 4 * t
                w[t] = UInt32(block[j]) << 24 | UInt32(block[j + 1]) << 16 | UInt32(block[j + 2]) << 8 | UInt32(block[j + 3])
            }
            for t in 16..<80 { w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
            var (a, b, c, d, e) = h
            for t in 0..<80 {
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[t]
                e = d; d = c; c = rotl(b, 30); b = a; a = temp
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
            offset += 64
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for v in [h.0, h.1, h.2, h.3, h.4] {
            out.append(UInt8(v >> 24)); out.append(UInt8(truncatingIfNeeded: v >> 16))
            out.append(UInt8(truncatingIfNeeded: v >> 8)); out.append(UInt8(truncatingIfNeeded: v))
        }
        return out
    }

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { x << n | x >> (32 - n) }
}
