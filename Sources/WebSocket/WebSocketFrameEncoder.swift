// Frame encoder (RFC 6455 §5.2): header + payload written into one ByteBuffer so a frame leaves
// in one piece of a gather write. Server frames are unmasked, client frames masked (§5.1).
//
// Owns: header layout, close-frame bodies, and the client's masking-key source.
public import Wire

/// Writes frames into ByteBuffers. Stateless; the caller chooses masking by role.
public enum WebSocketFrameEncoder {
    /// Largest header: 2 bytes + 8 length bytes + 4 mask bytes.
    public static let maxHeaderLength = 14

    /// Appends a frame header announcing `payloadLength` bytes, using the minimal length encoding.
    @inlinable public static func writeHeader(
        opcode: WebSocketOpcode, fin: Bool = true, rsv1: Bool = false, payloadLength: Int,
        maskingKey: WebSocketMaskingKey?, into buffer: inout ByteBuffer
    ) {
        var b0 = opcode.rawValue
        if fin { b0 |= 0x80 }
        if rsv1 { b0 |= 0x40 }
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        buffer.reserveWritable(maxHeaderLength)
        buffer.writeInteger(b0)
        if payloadLength < 126 {
            buffer.writeInteger(maskBit | UInt8(payloadLength))
        } else if payloadLength <= 0xFFFF {
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(payloadLength))
        } else {
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(payloadLength))
        }
        if let k = maskingKey {
            buffer.writeInteger(k.bytes.0)
            buffer.writeInteger(k.bytes.1)
            buffer.writeInteger(k.bytes.2)
            buffer.writeInteger(k.bytes.3)
        }
    }

    /// Appends a whole frame: header, then `payload` (masked with `maskingKey` when given).
    @inlinable public static func writeFrame(
        opcode: WebSocketOpcode, fin: Bool = true, rsv1: Bool = false, payload: UnsafeRawBufferPointer,
        maskingKey: WebSocketMaskingKey?, into buffer: inout ByteBuffer
    ) {
        writeHeader(opcode: opcode, fin: fin, rsv1: rsv1, payloadLength: payload.count, maskingKey: maskingKey,
                    into: &buffer)
        if let k = maskingKey {
            WebSocketMasking.appendUnmasked(payload, key: k, to: &buffer)
        } else {
            buffer.writeBytes(payload)
        }
    }

    /// Returns a new buffer holding one whole frame.
    @inlinable public static func frame(
        opcode: WebSocketOpcode, fin: Bool = true, rsv1: Bool = false, payload: UnsafeRawBufferPointer,
        maskingKey: WebSocketMaskingKey?
    ) -> ByteBuffer {
        var out = ByteBuffer(capacity: payload.count + maxHeaderLength)
        writeFrame(opcode: opcode, fin: fin, rsv1: rsv1, payload: payload, maskingKey: maskingKey, into: &out)
        return out
    }

    /// Returns a new buffer holding one whole frame whose payload is the readable bytes of `payload`.
    @inlinable public static func frame(
        opcode: WebSocketOpcode, fin: Bool = true, rsv1: Bool = false, payload: ByteBuffer,
        maskingKey: WebSocketMaskingKey?
    ) -> ByteBuffer {
        payload.withUnsafeReadableBytes {
            frame(opcode: opcode, fin: fin, rsv1: rsv1, payload: $0, maskingKey: maskingKey)
        }
    }

    /// A close frame (§5.5.1) carrying `code` and a UTF-8 `reason`, or an empty body when `code` is
    /// nil. The reason is truncated (on a character boundary) so the body fits in 125 bytes.
    public static func closeFrame(code: WebSocketCloseCode?, reason: String = "",
                                  maskingKey: WebSocketMaskingKey?) -> ByteBuffer {
        var body = ByteBuffer(capacity: 125)
        if let code {
            body.writeInteger(code.rawValue)
            var n = 0
            for ch in reason {
                let c = ch.utf8.count
                if n + c > 123 { break }
                n += c
            }
            body.writeBytes(reason.utf8.prefix(n))
        }
        return frame(opcode: .close, payload: body, maskingKey: maskingKey)
    }
}

/// Source of client masking keys (§5.3 wants them unpredictable per frame). A wyrand generator
/// seeded from the system RNG: one getrandom per connection instead of one per frame.
public struct WebSocketMaskingKeyGenerator: Sendable {
    @usableFromInline var state: UInt64

    /// Seeds from the system random number generator.
    public init() {
        var rng = SystemRandomNumberGenerator()
        state = rng.next()
    }

    /// Seeds deterministically, for tests.
    public init(seed: UInt64) { state = seed }

    /// The next key.
    @inlinable public mutating func next() -> WebSocketMaskingKey {
        state &+= 0xA076_1D64_78BD_642F
        let m = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return WebSocketMaskingKey(bigEndian: UInt32(truncatingIfNeeded: m.high ^ m.low))
    }
}
