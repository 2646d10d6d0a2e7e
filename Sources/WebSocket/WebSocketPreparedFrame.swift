// A message encoded once, sent to many connections (RFC 7692 §7.1.1 makes sharing a compressed
// frame possible when the server takes over no context).
//
// Owns: building the ready frames (header + payload in one ByteBuffer, uncompressed and
// optionally compressed) and choosing which one a connection may receive. Queueing them is
// WebSocketConnection.send(prepared:), which shares the buffer: no per-connection copy.
public import Wire

/// One server-to-client message as ready frames. Immutable and cheap to copy (shared storage).
public struct WebSocketPreparedFrame: Sendable {
    /// The message opcode (text or binary).
    public let opcode: WebSocketOpcode
    /// The frame with the payload as is (RSV1 clear): valid for every connection.
    public let uncompressed: ByteBuffer
    /// The frame with a deflated payload (RSV1 set), compressed without context; nil when not made.
    public let compressed: ByteBuffer?
    /// Window size the compressed frame was made with; a connection must allow at least this.
    public let compressedWindowBits: Int

    /// Encodes `payload` as a final unmasked frame, and also compressed when `compressor` is given.
    /// - Parameter compressor: must have `noContextTakeover` (each prepared frame stands alone).
    ///   Payloads below `minimumCompressSize` are not compressed.
    public init(opcode: WebSocketOpcode = .text, payload: UnsafeRawBufferPointer,
                compressor: WebSocketDeflateCompressor? = nil, minimumCompressSize: Int = 0) {
        precondition(opcode == .text || opcode == .binary, "prepared frames carry text or binary messages")
        self.opcode = opcode
        uncompressed = WebSocketFrameEncoder.frame(opcode: opcode, payload: payload, maskingKey: nil)
        if let c = compressor, payload.count >= minimumCompressSize {
            precondition(c.noContextTakeover, "shared frames need a compressor without context takeover")
            var body = ByteBuffer(capacity: payload.count / 2 + 16)
            c.compress(payload, into: &body)
            compressed = WebSocketFrameEncoder.frame(opcode: opcode, rsv1: true, payload: body, maskingKey: nil)
            compressedWindowBits = c.windowBits
        } else {
            compressed = nil
            compressedWindowBits = 15
        }
    }

    /// Encodes the readable bytes of `payload`.
    public init(opcode: WebSocketOpcode = .text, payload: ByteBuffer, compressor: WebSocketDeflateCompressor? = nil,
                minimumCompressSize: Int = 0) {
        self = payload.withUnsafeReadableBytes {
            WebSocketPreparedFrame(opcode: opcode, payload: $0, compressor: compressor,
                                   minimumCompressSize: minimumCompressSize)
        }
    }

    /// Encodes the UTF-8 of `text` as a text message.
    public init(text: String, compressor: WebSocketDeflateCompressor? = nil, minimumCompressSize: Int = 0) {
        self.init(opcode: .text, payload: ByteBuffer(string: text), compressor: compressor,
                  minimumCompressSize: minimumCompressSize)
    }

    /// The frame a connection with these agreed parameters (nil: no deflate) may receive: the
    /// compressed one only when the client agreed to server_no_context_takeover (otherwise its
    /// inflater's window would no longer match our per-connection compressor) and allows our window.
    @inlinable public func frame(for deflate: WebSocketDeflateParameters?) -> ByteBuffer {
        if let c = compressed, let d = deflate, d.serverNoContextTakeover,
           compressedWindowBits <= d.serverMaxWindowBits {
            return c
        }
        return uncompressed
    }
}
