// Incremental UTF-8 validation for text messages and close reasons (RFC 6455 §8.1, RFC 3629 §4).
//
// Owns: a resumable validator that fails at the first byte that can never start or continue a
// valid sequence (so a bad fragment fails before the message completes: Autobahn 6.4 "fail
// fast"), with an 8-bytes-at-a-time ASCII path.

/// A resumable UTF-8 validator. Feed fragments with `validate(_:)`; at the end of the message
/// `isComplete` says whether the last code point was finished.
public struct WebSocketUTF8Validator: Sendable {
    /// Continuation bytes still expected for the current code point.
    @usableFromInline var remaining: UInt8 = 0
    /// Allowed range of the next continuation byte. Narrower than 80...BF right after E0, ED, F0,
    /// F4 to reject overlong forms, surrogates and code points above U+10FFFF (RFC 3629 §4).
    @usableFromInline var lower: UInt8 = 0x80
    @usableFromInline var upper: UInt8 = 0xBF

    /// A validator at the start of a message.
    @inlinable public init() {}

    /// True when every code point fed so far is complete.
    @inlinable public var isComplete: Bool { remaining == 0 }

    /// Forgets any partial code point, for the next message.
    @inlinable public mutating func reset() {
        remaining = 0
        lower = 0x80
        upper = 0xBF
    }

    /// Validates the next fragment. Returns false as soon as the bytes cannot be the prefix of
    /// valid UTF-8; the validator must then be reset before reuse.
    @inlinable public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return true }
        var i = 0
        while i < count {
            if remaining == 0 {
                // ASCII fast path: 8 bytes at a time while no high bit is set.
                // Invariant: i + 8 <= count keeps the load inside `bytes`.
                while i + 8 <= count,
                      base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                }
                guard i < count else { break }
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                if b < 0x80 { continue }
                switch b {
                case 0xC2...0xDF: remaining = 1
                case 0xE0: remaining = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: remaining = 2
                case 0xED: remaining = 2; upper = 0x9F
                case 0xF0: remaining = 3; lower = 0x90
                case 0xF1...0xF3: remaining = 3
                case 0xF4: remaining = 3; upper = 0x8F
                default: return false  // 80-C1 (continuation/overlong lead), F5-FF
                }
            } else {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                guard b >= lower && b <= upper else { return false }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Validates a complete byte sequence in one call.
    @inlinable public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var v = WebSocketUTF8Validator()
        return v.validate(bytes) && v.isComplete
    }
}
