// WebSocket frame vocabulary (RFC 6455 §5.2): opcodes, the parsed frame header, masking keys,
// close codes and the protocol errors that map onto close codes.
//
// Owns: the value types every other WebSocket file speaks. Parsing lives in
// WebSocketFrameDecoder.swift, writing in WebSocketFrameEncoder.swift.

/// A frame opcode (RFC 6455 §5.2). Reserved opcodes 3-7 and 11-15 are rejected by the decoder.
public enum WebSocketOpcode: UInt8, Sendable {
    /// Continuation of a fragmented message (§5.4).
    case continuation = 0x0
    /// First frame of a text message.
    case text = 0x1
    /// First frame of a binary message.
    case binary = 0x2
    /// Close control frame (§5.5.1).
    case close = 0x8
    /// Ping control frame (§5.5.2).
    case ping = 0x9
    /// Pong control frame (§5.5.3).
    case pong = 0xA

    /// Control frames have the high bit of the opcode set (§5.5).
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// The 4-byte masking key of a client frame (RFC 6455 §5.3), in wire order.
public struct WebSocketMaskingKey: Sendable, Equatable {
    /// The key bytes as they appear on the wire, packed little-endian-in-memory order is not
    /// assumed: `bytes.0` is the first key byte on the wire.
    public var bytes: (UInt8, UInt8, UInt8, UInt8)

    /// Creates a key from its four wire bytes.
    @inlinable public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        bytes = (b0, b1, b2, b3)
    }

    /// Creates a key from the low 32 bits of `value`, first wire byte = most significant byte.
    @inlinable public init(bigEndian value: UInt32) {
        bytes = (
            UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)
        )
    }

    /// Key byte `i % 4`.
    @inlinable public subscript(i: Int) -> UInt8 {
        switch i & 3 {
        case 0: return bytes.0
        case 1: return bytes.1
        case 2: return bytes.2
        default: return bytes.3
        }
    }

    public static func == (a: WebSocketMaskingKey, b: WebSocketMaskingKey) -> Bool {
        a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 && a.bytes.2 == b.bytes.2 && a.bytes.3 == b.bytes.3
    }
}

/// A parsed frame header (RFC 6455 §5.2).
public struct WebSocketFrameHeader: Sendable, Equatable {
    /// FIN: this is the final fragment of a message.
    public var fin: Bool
    /// RSV1: set on the first frame of a compressed message when permessage-deflate is in use
    /// (RFC 7692 §6).
    public var rsv1: Bool
    /// The frame opcode.
    public var opcode: WebSocketOpcode
    /// The masking key, present exactly on client-to-server frames (§5.3).
    public var maskingKey: WebSocketMaskingKey?
    /// Payload length in bytes.
    public var payloadLength: Int

    /// Creates a header.
    public init(fin: Bool, rsv1: Bool = false, opcode: WebSocketOpcode, maskingKey: WebSocketMaskingKey?,
                payloadLength: Int) {
        self.fin = fin
        self.rsv1 = rsv1
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    /// Number of header bytes this header occupies on the wire (2, 4 or 10, plus 4 when masked).
    @inlinable public var encodedLength: Int {
        let base = payloadLength < 126 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return maskingKey == nil ? base : base + 4
    }
}

/// A close status code (RFC 6455 §7.4).
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The numeric code.
    public var rawValue: UInt16
    /// Wraps a numeric code without validating it.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Wraps a numeric code without validating it.
    public init(_ value: UInt16) { self.rawValue = value }

    /// 1000: normal closure.
    public static let normal = WebSocketCloseCode(1000)
    /// 1001: endpoint going away (server shutdown, page navigation).
    public static let goingAway = WebSocketCloseCode(1001)
    /// 1002: protocol error.
    public static let protocolError = WebSocketCloseCode(1002)
    /// 1003: data type the endpoint cannot accept.
    public static let unsupportedData = WebSocketCloseCode(1003)
    /// 1005: no status code was present (reported locally, never sent).
    public static let noStatusReceived = WebSocketCloseCode(1005)
    /// 1006: connection closed without a close frame (reported locally, never sent).
    public static let abnormalClosure = WebSocketCloseCode(1006)
    /// 1007: payload inconsistent with the message type (e.g. invalid UTF-8 in text).
    public static let invalidPayload = WebSocketCloseCode(1007)
    /// 1008: policy violation.
    public static let policyViolation = WebSocketCloseCode(1008)
    /// 1009: message too big to process.
    public static let messageTooBig = WebSocketCloseCode(1009)
    /// 1010: client expected an extension the server did not negotiate.
    public static let mandatoryExtension = WebSocketCloseCode(1010)
    /// 1011: unexpected server condition.
    public static let internalError = WebSocketCloseCode(1011)

    /// Whether the code may appear in a close frame on the wire (§7.4.1, §7.4.2 and the IANA
    /// registry): 1000-1003 and 1007-1011 are defined, 3000-4999 are for libraries and
    /// applications. 1004 is reserved; 1005, 1006 and 1015 must never be sent; 1012-1014 are
    /// registered by IANA but not RFC 6455, and we follow Autobahn in rejecting all of 1012-2999.
    @inlinable public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}

/// Why a peer's bytes were rejected. Each case maps onto the close code the connection sends
/// before failing (RFC 6455 §7.1.7, §7.4.1).
public enum WebSocketProtocolError: Error, Equatable, Sendable {
    /// A reserved opcode (3-7, 11-15).
    case unknownOpcode(UInt8)
    /// RSV2/RSV3 set, or RSV1 without a negotiated extension, on a continuation or on a control frame.
    case reservedBitsSet
    /// A client frame without a mask (§5.1: the server must fail the connection).
    case maskRequired
    /// A server frame with a mask (§5.1: the client must fail the connection).
    case maskForbidden
    /// A 16- or 64-bit length that would fit in fewer bytes (§5.2: "the minimal number of bytes MUST be used").
    case nonMinimalLength
    /// A 64-bit length with its most significant bit set (§5.2).
    case lengthOverflow
    /// A control frame with a payload over 125 bytes (§5.5).
    case controlFrameTooLong
    /// A control frame with FIN clear (§5.5: control frames must not be fragmented).
    case fragmentedControlFrame
    /// A continuation frame with no message in progress (§5.4).
    case unexpectedContinuation
    /// A new text/binary frame while a fragmented message is in progress (§5.4).
    case expectedContinuation
    /// A close frame with a one-byte payload (§5.5.1: a body starts with a 2-byte code).
    case invalidClosePayload
    /// A close code that may not be sent (§7.4).
    case invalidCloseCode(UInt16)
    /// Invalid UTF-8 in a text message or close reason (§8.1).
    case invalidUTF8
    /// A frame larger than the configured maximum.
    case frameTooLarge
    /// A message larger than the configured maximum (after inflation, when compressed).
    case messageTooLarge
    /// The compressed payload could not be inflated (RFC 7692 §7.2.2).
    case invalidCompressedData

    /// The close code to send when failing the connection for this error.
    public var closeCode: WebSocketCloseCode {
        switch self {
        case .invalidUTF8, .invalidCompressedData: return .invalidPayload
        case .frameTooLarge, .messageTooLarge: return .messageTooBig
        default: return .protocolError
        }
    }
}
