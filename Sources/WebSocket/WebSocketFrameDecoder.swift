// Incremental frame decoder (RFC 6455 §5.2-§5.5) over whatever bytes the socket has delivered.
//
// Owns: header parsing and every per-frame rule (masking direction, minimal lengths, control
// frame limits, reserved bits, opcode validity, fragmentation order, maximum frame size).
// Data payloads are streamed out as ranges of the input as they arrive, so a large frame never
// has to sit whole in the receive buffer; control frames (<= 125 bytes) are returned whole.
// Unmasking, UTF-8, inflation and message assembly are the connection core's job
// (WebSocketStateMachine.swift).
public import Wire

/// Parses frames from a byte stream, one event per call.
///
/// ```swift
/// var offset = 0
/// while true {
///     let (event, used) = try decoder.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
///     offset += used
///     if case .needMoreData = event { break }
///     // handle event
/// }
/// ```
public struct WebSocketFrameDecoder: Sendable {
    /// Which side of the connection we are: servers require masked frames, clients forbid them (§5.1).
    public enum Role: Sendable { case server, client }

    /// Decoder limits and negotiated options.
    public struct Configuration: Sendable {
        /// Largest accepted frame payload; larger frames fail with 1009. Default 16 MiB: bounds the
        /// work per frame while allowing any realistic JSON message.
        public var maxFrameSize: Int
        /// Whether RSV1 may be set (permessage-deflate negotiated, RFC 7692 §6).
        public var allowsRSV1: Bool

        /// Creates a configuration.
        public init(maxFrameSize: Int = 16 << 20, allowsRSV1: Bool = false) {
            precondition(maxFrameSize > 0, "maxFrameSize must be positive")
            self.maxFrameSize = maxFrameSize
            self.allowsRSV1 = allowsRSV1
        }
    }

    /// What one call to `decode` found.
    public enum Event: Equatable, Sendable {
        /// Not enough bytes for the next step; call again when more arrive.
        case needMoreData
        /// The header of a text, binary or continuation frame. One or more `.payload` events follow.
        case dataFrame(WebSocketFrameHeader)
        /// The next piece of the current data frame's payload (still masked): `range` indexes the
        /// input, `frameOffset` is the position of its first byte within the frame's payload, and
        /// `isLast` marks the end of the frame. A zero-length frame yields one empty last piece.
        case payload(Range<Int>, frameOffset: Int, isLast: Bool)
        /// A complete control frame; `payload` indexes the input (still masked).
        case controlFrame(WebSocketFrameHeader, payload: Range<Int>)
    }

    /// The side we decode for.
    public let role: Role
    /// Limits and negotiated options.
    public var configuration: Configuration

    /// Bytes of the current data frame's payload not yet returned; nil between frames.
    @usableFromInline var payloadRemaining: Int? = nil
    /// Bytes of the current data frame's payload already returned.
    @usableFromInline var payloadOffset: Int = 0
    /// A fragmented message has started and its final frame has not yet arrived (§5.4).
    @usableFromInline var inFragmentedMessage = false

    /// Creates a decoder for one connection.
    public init(role: Role, configuration: Configuration = Configuration()) {
        self.role = role
        self.configuration = configuration
    }

    /// Decodes the next event from `bytes`.
    /// - Returns: the event and how many bytes of `bytes` it consumed (the caller drops them and
    ///   presents the rest, plus whatever arrives later, on the next call).
    /// - Throws: `WebSocketProtocolError` when the bytes break RFC 6455; the connection must then be
    ///   failed with the error's `closeCode`.
    @inlinable public mutating func decode(
        _ bytes: UnsafeRawBufferPointer
    ) throws(WebSocketProtocolError) -> (event: Event, consumed: Int) {
        if let remaining = payloadRemaining {
            let n = min(remaining, bytes.count)
            if n == 0 && remaining > 0 { return (.needMoreData, 0) }
            let offset = payloadOffset
            payloadOffset += n
            let last = n == remaining
            payloadRemaining = last ? nil : remaining - n
            return (.payload(0..<n, frameOffset: offset, isLast: last), n)
        }
        guard let (header, headerLength) = try parseHeader(bytes) else { return (.needMoreData, 0) }
        if header.opcode.isControl {
            let end = headerLength + header.payloadLength
            guard bytes.count >= end else { return (.needMoreData, 0) }
            return (.controlFrame(header, payload: headerLength..<end), end)
        }
        payloadRemaining = header.payloadLength
        payloadOffset = 0
        return (.dataFrame(header), headerLength)
    }

    /// Decodes the next event from the readable bytes of `buffer` and consumes what it used, so
    /// ranges in the event index the bytes as they were before the call.
    @inlinable public mutating func decode(
        _ buffer: inout ByteBuffer
    ) throws(WebSocketProtocolError) -> Event {
        let (event, used) = try buffer.withUnsafeReadableBytes { (b) throws(WebSocketProtocolError) in
            try decode(b)
        }
        buffer.moveReaderIndex(forwardBy: used)
        return event
    }

    /// Parses and validates one header at the start of `bytes`, or returns nil when it is not all there.
    @inlinable mutating func parseHeader(
        _ bytes: UnsafeRawBufferPointer
    ) throws(WebSocketProtocolError) -> (WebSocketFrameHeader, Int)? {
        guard bytes.count >= 2 else { return nil }
        let b0 = bytes[0]
        let b1 = bytes[1]
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else { throw .unknownOpcode(b0 & 0x0F) }
        let fin = b0 & 0x80 != 0
        let rsv1 = b0 & 0x40 != 0
        // §5.2: RSV2/RSV3 need an extension defining them; we negotiate none.
        if b0 & 0x30 != 0 { throw .reservedBitsSet }
        // RFC 7692 §6.1: RSV1 marks a compressed message, only on its first frame, never on control frames.
        if rsv1 && (!configuration.allowsRSV1 || opcode == .continuation || opcode.isControl) {
            throw .reservedBitsSet
        }
        let masked = b1 & 0x80 != 0
        switch role {
        case .server: if !masked { throw .maskRequired }
        case .client: if masked { throw .maskForbidden }
        }
        let len7 = Int(b1 & 0x7F)
        var headerLength = 2
        var length: Int
        if len7 == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            if length < 126 { throw .nonMinimalLength }
            headerLength = 4
        } else if len7 == 127 {
            guard bytes.count >= 10 else { return nil }
            var v: UInt64 = 0
            for i in 2..<10 { v = v << 8 | UInt64(bytes[i]) }
            if v & (1 << 63) != 0 { throw .lengthOverflow }
            if v <= 0xFFFF { throw .nonMinimalLength }
            headerLength = 10
            length = v > UInt64(Int.max) ? Int.max : Int(v)
        } else {
            length = len7
        }
        if opcode.isControl {
            // §5.5: control frames carry at most 125 bytes and are never fragmented.
            if length > 125 { throw .controlFrameTooLong }
            if !fin { throw .fragmentedControlFrame }
        } else if length > configuration.maxFrameSize {
            throw .frameTooLarge
        }
        var key: WebSocketMaskingKey? = nil
        if masked {
            guard bytes.count >= headerLength + 4 else { return nil }
            key = WebSocketMaskingKey(bytes[headerLength], bytes[headerLength + 1], bytes[headerLength + 2],
                                      bytes[headerLength + 3])
            headerLength += 4
        }
        // §5.4: fragments of one message arrive in order, only control frames may interleave.
        switch opcode {
        case .continuation:
            if !inFragmentedMessage { throw .unexpectedContinuation }
            if fin { inFragmentedMessage = false }
        case .text, .binary:
            if inFragmentedMessage { throw .expectedContinuation }
            if !fin { inFragmentedMessage = true }
        default:
            break
        }
        return (WebSocketFrameHeader(fin: fin, rsv1: rsv1, opcode: opcode, maskingKey: key, payloadLength: length),
                headerLength)
    }
}
