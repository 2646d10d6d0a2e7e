// The connection core after the handshake (RFC 6455 §5-§7, RFC 7692 §6): no sockets, no clocks.
//
// Owns: message assembly across fragments, unmasking, UTF-8 validation (fail fast), inflation
// with a size bound, control frames (ping -> pong, close handshake with a timeout), keepalive
// pings for idle peers, and outbound message encoding (compression, client masking).
// It returns actions; WebSocketConnection.swift performs them. Time is passed in as monotonic
// nanoseconds.
public import Wire

/// One thing the connection must do, returned by the state machine.
public enum WebSocketAction: Equatable, Sendable {
    /// A complete text message (valid UTF-8). The buffer is only valid until the next call
    /// unless the handler keeps it (keeping it is safe: the next message then uses fresh storage).
    case deliverText(ByteBuffer)
    /// A complete binary message.
    case deliverBinary(ByteBuffer)
    /// Send a pong echoing this ping payload (§5.5.2).
    case sendPong(ByteBuffer)
    /// Send a keepalive ping with this payload.
    case sendPing(ByteBuffer)
    /// Send a close frame (empty body when `code` is nil); then, when `closeTransport` is set,
    /// close the TCP connection after the frame is flushed (§7.1.1: the server closes first).
    case sendClose(WebSocketCloseCode?, reason: String, closeTransport: Bool)
    /// Close the TCP connection now (close handshake done, close timeout, or dead peer).
    case closeTransport
}

/// Limits and timers of a connection core.
public struct WebSocketConnectionConfiguration: Sendable {
    /// Largest frame payload. Default 1 MiB: client messages here are small JSON requests, and
    /// 10,000 connections each buffering one frame must fit in memory.
    public var maxFrameSize: Int
    /// Largest message (after inflation). Larger ones fail with 1009. Default 1 MiB, same reason.
    public var maxMessageSize: Int
    /// How long to wait for the peer's close frame (or TCP close) after ours. Default 5 s.
    public var closeTimeoutNanos: UInt64
    /// Ping a peer that has sent nothing for this long; 0 disables keepalive. Default 30 s,
    /// below common 60 s proxy idle timeouts.
    public var pingIntervalNanos: UInt64
    /// Close the connection when nothing (not even the pong) arrives this long after a ping. Default 30 s.
    public var pingTimeoutNanos: UInt64

    /// Creates a configuration, trapping on values that make no sense (checked at startup).
    public init(maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 1 << 20,
                closeTimeoutNanos: UInt64 = 5_000_000_000, pingIntervalNanos: UInt64 = 30_000_000_000,
                pingTimeoutNanos: UInt64 = 30_000_000_000) {
        precondition(maxFrameSize > 0 && maxMessageSize > 0, "sizes must be positive")
        precondition(closeTimeoutNanos > 0, "closeTimeoutNanos must be positive")
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
        self.closeTimeoutNanos = closeTimeoutNanos
        self.pingIntervalNanos = pingIntervalNanos
        self.pingTimeoutNanos = pingTimeoutNanos
    }
}

/// The protocol core of one open WebSocket connection.
public struct WebSocketStateMachine {
    /// Where the close handshake stands (§7).
    public enum State: Equatable, Sendable {
        /// Messages flow both ways.
        case open
        /// We sent a close frame at the given time and wait for the peer's (§7.1.2).
        case closeSent(at: UInt64)
        /// (Client) we answered the server's close and wait for it to close TCP (§7.1.1).
        case awaitingTransportClose(since: UInt64)
        /// Nothing more to do; the transport is closing.
        case closed
    }

    /// Which side we are.
    public let role: WebSocketFrameDecoder.Role
    /// Limits and timers.
    public let configuration: WebSocketConnectionConfiguration
    /// Agreed permessage-deflate parameters, nil when not negotiated.
    public var deflate: WebSocketDeflateParameters? { deflateState?.parameters }
    /// Everything permessage-deflate needs, in one box that connections without it do not pay
    /// for (~70 bytes inline on each of 10,000 connections otherwise).
    let deflateState: DeflateState?

    final class DeflateState {
        let parameters: WebSocketDeflateParameters
        let shared: WebSocketSharedDeflate?
        var compressor: WebSocketDeflateCompressor?
        var decompressor: WebSocketDeflateDecompressor?
        init(_ parameters: WebSocketDeflateParameters, shared: WebSocketSharedDeflate?) {
            self.parameters = parameters
            self.shared = shared
        }
    }
    /// Close handshake state.
    public private(set) var state: State = .open
    /// The close code to report to the application: the peer's (1005 for an empty close body),
    /// the one we failed the connection with, or nil when the transport just went away (1006).
    public private(set) var closeCode: WebSocketCloseCode?
    /// The peer's close reason, if any.
    public private(set) var closeReason: String = ""

    var decoder: WebSocketFrameDecoder
    /// Unmasked payload of the message in progress (compressed bytes when `messageCompressed`).
    var message = ByteBuffer(capacity: 0)
    var messageOpcode: WebSocketOpcode = .binary
    /// A message was delivered since the last `releaseIdleBuffers` (the connection's timer).
    var talkedSinceTimer = false
    var messageCompressed = false
    var utf8 = WebSocketUTF8Validator()
    /// The current data frame.
    var frameKey: WebSocketMaskingKey?
    var frameFin = false

    var lastReceiveAt: UInt64
    var pingSentAt: UInt64?
    /// This side's compressor, once made (see `makeCompressor`).
    var compressor: WebSocketDeflateCompressor? { deflateState?.compressor }
    /// The peer's decompressor, once made (see `makeDecompressor`).
    var decompressor: WebSocketDeflateDecompressor? { deflateState?.decompressor }
    var keys = WebSocketMaskingKeyGenerator()

    /// Buffers above this capacity are dropped after each message, so one big message does not
    /// pin memory on an idle connection.
    static let retainedBufferCapacity = 64 * 1024

    /// Creates the core of a connection whose handshake completed at `now`.
    /// - Parameter sharedDeflate: the loop's zlib streams for directions without context takeover
    ///   (nil: each connection makes its own when first needed).
    public init(role: WebSocketFrameDecoder.Role, configuration: WebSocketConnectionConfiguration = .init(),
                deflate: WebSocketDeflateParameters? = nil, sharedDeflate: WebSocketSharedDeflate? = nil,
                now: UInt64) {
        self.role = role
        self.configuration = configuration
        self.deflateState = deflate.map { DeflateState($0, shared: sharedDeflate) }
        self.decoder = WebSocketFrameDecoder(
            role: role,
            configuration: .init(maxFrameSize: configuration.maxFrameSize, allowsRSV1: deflate != nil))
        self.lastReceiveAt = now
    }

    /// This side's compressor, created on first use: a fanout connection that only receives
    /// shared prepared frames never pays for one (~256 KiB of zlib state at 15 bits). When this
    /// direction has no context takeover, the loop's shared stream serves every connection.
    mutating func makeCompressor(_ d: WebSocketDeflateParameters) -> WebSocketDeflateCompressor {
        if let c = compressor { return c }
        let bits = role == .server ? d.serverMaxWindowBits : max(9, d.clientMaxWindowBits)
        let noContext = role == .server ? d.serverNoContextTakeover : d.clientNoContextTakeover
        let shared = deflateState?.shared
        let c = noContext && shared != nil
            ? shared!.compressor(windowBits: bits)
            : WebSocketDeflateCompressor(windowBits: bits, level: d.compressionLevel, noContextTakeover: noContext)
        deflateState?.compressor = c
        return c
    }

    /// The peer's decompressor, created on the first compressed message (~7 KiB of zlib state and
    /// the peer's window: 512 bytes to 32 KiB);
    /// shared per loop when the peer compresses without context.
    mutating func makeDecompressor(_ d: WebSocketDeflateParameters) -> WebSocketDeflateDecompressor {
        if let c = decompressor { return c }
        let noContext = role == .server ? d.clientNoContextTakeover : d.serverNoContextTakeover
        let peerBits = role == .server ? d.clientMaxWindowBits : d.serverMaxWindowBits
        let shared = deflateState?.shared
        let c = noContext && shared != nil
            ? shared!.decompressor : WebSocketDeflateDecompressor(noContextTakeover: noContext, windowBits: peerBits)
        deflateState?.decompressor = c
        return c
    }

    /// Whether application messages may still be sent.
    public var isOpen: Bool { state == .open }

    /// When `tick` next has something to do, or nil when nothing is pending.
    public var nextDeadline: UInt64? {
        switch state {
        case .open:
            guard configuration.pingIntervalNanos > 0 else { return nil }
            if let sent = pingSentAt { return sent &+ configuration.pingTimeoutNanos }
            return lastReceiveAt &+ configuration.pingIntervalNanos
        case .closeSent(let at), .awaitingTransportClose(let at):
            return at &+ configuration.closeTimeoutNanos
        case .closed:
            return nil
        }
    }

    // MARK: Inbound

    /// Processes received bytes until one action is due or more data is needed.
    /// - Returns: the action (nil when the bytes are used up or more are needed) and how many bytes
    ///   were consumed. Call again with the rest while an action comes back.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, now: UInt64) -> (action: WebSocketAction?,
                                                                                  consumed: Int) {
        if bytes.count > 0 {
            lastReceiveAt = now
            pingSentAt = nil  // any traffic proves the peer alive
        }
        if state == .closed { return (nil, bytes.count) }
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let event: WebSocketFrameDecoder.Event
            let used: Int
            do {
                (event, used) = try decoder.decode(rest)
            } catch {
                return (fail(error), bytes.count)
            }
            offset += used
            switch event {
            case .needMoreData:
                return (nil, offset)
            case .dataFrame(let header):
                if let error = beginFrame(header) { return (fail(error), bytes.count) }
            case .payload(let range, let frameOffset, let isLast):
                let piece = UnsafeRawBufferPointer(rebasing: rest[range])
                do {
                    if let action = try payload(piece, frameOffset: frameOffset, isLast: isLast) {
                        return (action, offset)
                    }
                } catch {
                    return (fail(error), bytes.count)
                }
            case .controlFrame(let header, let range):
                let piece = UnsafeRawBufferPointer(rebasing: rest[range])
                do {
                    if let action = try control(header, piece, now: now) { return (action, offset) }
                } catch {
                    return (fail(error), bytes.count)
                }
                if state == .closed { return (nil, bytes.count) }
            }
        }
    }

    mutating func beginFrame(_ h: WebSocketFrameHeader) -> WebSocketProtocolError? {
        frameKey = h.maskingKey
        frameFin = h.fin
        if h.opcode != .continuation {
            messageOpcode = h.opcode
            messageCompressed = h.rsv1
            if message.capacity > Self.retainedBufferCapacity { message = ByteBuffer(capacity: 0) }
            message.clear()
            utf8.reset()
        }
        // Compressed bytes are bounded by the same limit as the inflated message.
        if message.readableBytes + h.payloadLength > configuration.maxMessageSize { return .messageTooLarge }
        return nil
    }

    mutating func payload(_ piece: UnsafeRawBufferPointer, frameOffset: Int,
                          isLast: Bool) throws(WebSocketProtocolError) -> WebSocketAction? {
        if piece.count > 0 {
            let before = message.readableBytes
            if let key = frameKey {
                WebSocketMasking.appendUnmasked(piece, key: key, offset: frameOffset, to: &message)
            } else {
                message.writeBytes(piece)
            }
            if messageOpcode == .text && !messageCompressed {
                // Validate each piece as it arrives so invalid text fails before the message ends (§8.1).
                let ok = message.withUnsafeReadableBytes {
                    utf8.validate(UnsafeRawBufferPointer(rebasing: $0[before...]))
                }
                if !ok { throw .invalidUTF8 }
            }
        }
        guard isLast && frameFin else { return nil }
        if state != .open {
            // §7.1.2 after our close: keep reading for the peer's close, drop data.
            message.clear()
            return nil
        }
        var out = message
        if !talkedSinceTimer {
            // The first message since the connection's last timer tick takes the buffer with it,
            // so a connection that says one thing (a fanout subscribe) keeps no receive memory and
            // frees it while its neighbours are still being allocated (freed later, the chunks
            // stay as holes in the heap). A connection that keeps talking keeps its buffer.
            talkedSinceTimer = true
            message = ByteBuffer(capacity: 0)
        }
        if messageCompressed {
            guard let params = deflate else { throw .reservedBitsSet }
            let d = makeDecompressor(params)
            var inflated = ByteBuffer(capacity: 0)
            try out.withUnsafeReadableBytes { (bytes) throws(WebSocketProtocolError) in
                try d.decompress(bytes, into: &inflated, limit: configuration.maxMessageSize)
            }
            out = inflated
            if messageOpcode == .text {
                let ok = out.withUnsafeReadableBytes { WebSocketUTF8Validator.isValid($0) }
                if !ok { throw .invalidUTF8 }
            }
        } else if messageOpcode == .text && !utf8.isComplete {
            throw .invalidUTF8
        }
        return messageOpcode == .text ? .deliverText(out) : .deliverBinary(out)
    }

    mutating func control(_ h: WebSocketFrameHeader, _ piece: UnsafeRawBufferPointer,
                          now: UInt64) throws(WebSocketProtocolError) -> WebSocketAction? {
        var body = ByteBuffer(capacity: piece.count)
        if let key = h.maskingKey {
            WebSocketMasking.appendUnmasked(piece, key: key, to: &body)
        } else {
            body.writeBytes(piece)
        }
        switch h.opcode {
        case .ping:
            return state == .open ? .sendPong(body) : nil
        case .pong:
            return nil  // receive() already cleared the outstanding ping
        case .close:
            let (code, reason) = try Self.parseCloseBody(body)
            closeCode = code ?? .noStatusReceived
            closeReason = reason
            switch state {
            case .open:
                // §5.5.1: answer with a close frame, echoing the status code.
                switch role {
                case .server:
                    state = .closed
                    return .sendClose(code, reason: "", closeTransport: true)
                case .client:
                    state = .awaitingTransportClose(since: now)
                    return .sendClose(code, reason: "", closeTransport: false)
                }
            case .closeSent:
                state = .closed
                return .closeTransport
            case .awaitingTransportClose, .closed:
                return nil
            }
        default:
            return nil
        }
    }

    /// Parses a close body (§5.5.1): empty, or a 2-byte valid code and a UTF-8 reason.
    public static func parseCloseBody(
        _ body: ByteBuffer
    ) throws(WebSocketProtocolError) -> (WebSocketCloseCode?, String) {
        if body.readableBytes == 0 { return (nil, "") }
        guard let raw = body.getInteger(at: 0, as: UInt16.self) else { throw .invalidClosePayload }
        let code = WebSocketCloseCode(raw)
        guard code.isValidOnWire else { throw .invalidCloseCode(raw) }
        let reasonBytes = body.slice(offset: 2, length: body.readableBytes - 2)
        let ok = reasonBytes.withUnsafeReadableBytes { WebSocketUTF8Validator.isValid($0) }
        guard ok else { throw .invalidUTF8 }
        return (code, reasonBytes.readableString)
    }

    /// Fails the connection (§7.1.7): send a close with the error's code, then close the transport.
    mutating func fail(_ error: WebSocketProtocolError) -> WebSocketAction? {
        let wasOpen = state == .open
        state = .closed
        closeCode = error.closeCode
        message.clear()
        // After our close frame went out, the frame must not be sent twice (§5.5.1).
        return wasOpen ? .sendClose(error.closeCode, reason: "", closeTransport: true) : .closeTransport
    }

    // MARK: Time and local requests

    /// Drops the message buffer when no message is arriving. The connection calls it from its
    /// timer: a connection that keeps talking reuses its buffer (no allocation per message), one
    /// that went quiet holds none (10,000 fanout clients each keeping the buffer of their last
    /// subscribe cost ~2 MB).
    public mutating func releaseIdleBuffers() {
        talkedSinceTimer = false
        guard decoder.payloadRemaining == nil, !decoder.inFragmentedMessage else { return }
        message = ByteBuffer(capacity: 0)
    }

    /// Advances timers: close timeout, keepalive ping, dead-peer detection.
    public mutating func tick(now: UInt64) -> WebSocketAction? {
        switch state {
        case .open:
            guard configuration.pingIntervalNanos > 0 else { return nil }
            if let sent = pingSentAt {
                if now >= sent &+ configuration.pingTimeoutNanos {
                    // The peer neither answered nor sent anything: treat as gone (reported as 1006).
                    state = .closed
                    return .closeTransport
                }
            } else if now >= lastReceiveAt &+ configuration.pingIntervalNanos {
                pingSentAt = now
                return .sendPing(ByteBuffer(capacity: 0))
            }
            return nil
        case .closeSent(let at), .awaitingTransportClose(let at):
            if now >= at &+ configuration.closeTimeoutNanos {
                state = .closed
                return .closeTransport
            }
            return nil
        case .closed:
            return nil
        }
    }

    /// Starts the close handshake (§7.1.2). Returns the close frame to send, or nil when closing already.
    /// A code that may not be sent (1005, 1006, 1015, ...; see `isValidOnWire`) becomes 1000, since
    /// peers fail the connection on it (§7.4.1).
    public mutating func close(code: WebSocketCloseCode = .normal, reason: String = "",
                               now: UInt64) -> WebSocketAction? {
        guard state == .open else { return nil }
        let code = code.isValidOnWire ? code : .normal
        state = .closeSent(at: now)
        closeCode = code
        return .sendClose(code, reason: reason, closeTransport: false)
    }

    // MARK: Outbound

    /// Whether a prepared compressed frame made with `windowBits` and no context may be sent here:
    /// we are a server, the client agreed to server_no_context_takeover (else its window would
    /// disagree with our compressor's), and the client's window is large enough.
    public func acceptsSharedCompressedFrames(windowBits: Int) -> Bool {
        guard role == .server, let d = deflate else { return false }
        return d.serverNoContextTakeover && windowBits <= d.serverMaxWindowBits
    }

    /// Appends one frame carrying a whole message: compressed when negotiated and large enough,
    /// masked when we are the client.
    /// - Returns: false (and writes nothing) when the connection is no longer open.
    @discardableResult
    public mutating func writeMessage(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer,
                                      into out: inout ByteBuffer) -> Bool {
        guard state == .open else { return false }
        let key: WebSocketMaskingKey? = role == .client ? keys.next() : nil
        if let d = deflate, payload.count >= d.minimumCompressSize {
            let c = makeCompressor(d)
            // Not kept between messages: per-connection sends are rare next to shared frames.
            var compressScratch = ByteBuffer(capacity: payload.count / 2 + 64)
            c.compress(payload, into: &compressScratch)
            compressScratch.withUnsafeReadableBytes {
                WebSocketFrameEncoder.writeFrame(opcode: opcode, rsv1: true, payload: $0, maskingKey: key, into: &out)
            }
        } else {
            WebSocketFrameEncoder.writeFrame(opcode: opcode, payload: payload, maskingKey: key, into: &out)
        }
        return true
    }

    /// Appends a control frame (ping, pong, close) with the given body, masked for clients.
    public mutating func writeControl(_ opcode: WebSocketOpcode, payload: ByteBuffer, into out: inout ByteBuffer) {
        let key: WebSocketMaskingKey? = role == .client ? keys.next() : nil
        payload.withUnsafeReadableBytes {
            WebSocketFrameEncoder.writeFrame(opcode: opcode, payload: UnsafeRawBufferPointer(rebasing: $0.prefix(125)),
                                             maskingKey: key, into: &out)
        }
    }

    /// Appends the close frame an action asked for.
    public mutating func writeClose(_ code: WebSocketCloseCode?, reason: String, into out: inout ByteBuffer) {
        let key: WebSocketMaskingKey? = role == .client ? keys.next() : nil
        out.writeBuffer(WebSocketFrameEncoder.closeFrame(code: code, reason: reason, maskingKey: key))
    }
}
