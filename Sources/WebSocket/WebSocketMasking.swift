// Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, 8 bytes at a time.
//
// Owns: masking/unmasking in place and while copying. Never reads or writes past the given
// ranges (the tail is done byte-wise), so no receive slack is needed.
public import Wire

/// Word-wise XOR masking. Masking and unmasking are the same operation.
public enum WebSocketMasking {
    /// The key rotated so that byte 0 applies at payload offset `offset`, repeated to 8 bytes, as it
    /// lies in memory (so one unaligned 8-byte load XORs 8 payload bytes on any endianness).
    @inlinable static func pattern(_ key: WebSocketMaskingKey, offset: Int) -> UInt64 {
        var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
            key[offset], key[offset + 1], key[offset + 2], key[offset + 3],
            key[offset], key[offset + 1], key[offset + 2], key[offset + 3]
        )
        return withUnsafeBytes(of: &bytes) { $0.loadUnaligned(as: UInt64.self) }
    }

    /// XORs `bytes` in place with `key`, where `bytes[0]` is payload byte number `offset` of the frame
    /// (so a payload that arrives in pieces is unmasked piece by piece).
    @inlinable public static func apply(_ key: WebSocketMaskingKey, to bytes: UnsafeMutableRawBufferPointer,
                                        offset: Int = 0) {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return }
        let p = pattern(key, offset: offset)
        var i = 0
        // Invariant: every access below is within [base, base + count).
        while i + 8 <= count {
            let w = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            base.storeBytes(of: w ^ p, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count {
            base.storeBytes(of: base.load(fromByteOffset: i, as: UInt8.self) ^ key[offset + i], toByteOffset: i,
                            as: UInt8.self)
            i += 1
        }
    }

    /// Appends `source` XORed with `key` to `buffer` in one pass (copy and unmask together), where
    /// `source[0]` is payload byte number `offset` of the frame.
    @inlinable public static func appendUnmasked(_ source: UnsafeRawBufferPointer, key: WebSocketMaskingKey,
                                                 offset: Int = 0, to buffer: inout ByteBuffer) {
        let count = source.count
        guard count > 0, let src = source.baseAddress else { return }
        let p = pattern(key, offset: offset)
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { out in
            // Invariant: `out` has at least `count` writable bytes; `src` has exactly `count`.
            let dst = out.baseAddress!
            var i = 0
            while i + 8 <= count {
                let w = src.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                dst.storeBytes(of: w ^ p, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count {
                dst.storeBytes(of: src.load(fromByteOffset: i, as: UInt8.self) ^ key[offset + i], toByteOffset: i,
                               as: UInt8.self)
                i += 1
            }
            return count
        }
    }

    /// Masks the readable bytes of `buffer` in place.
    @inlinable public static func apply(_ key: WebSocketMaskingKey, to buffer: inout ByteBuffer, offset: Int = 0) {
        buffer.withUnsafeMutableReadableBytes { apply(key, to: $0, offset: offset) }
    }
}
