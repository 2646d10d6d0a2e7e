// QuoteUpdate: one quote, encoded once for every subscriber of one loop.
//
// `frame` is a complete unmasked WebSocket text frame carrying `{"type":"quote",...}`; it is sent
// as is when a connection has exactly one quote ready. `element` holds `,` followed by the same
// JSON object; a `quotes` batch is assembled from elements (the first without its comma) between a
// per-connection header and a static suffix, with one gather write. Both are slices of arena
// blocks shared by every connection that sends them: nothing is copied per connection.
public import Wire

/// An encoded quote ready to fan out.
public struct QuoteUpdate: Sendable {
    /// Dense symbol id.
    public var symbolId: Int32
    /// Per-symbol sequence number.
    public var seq: UInt64
    /// Feed timestamp (ns since the Unix epoch).
    public var ts: UInt64
    /// A ready WebSocket text frame with the single `quote` message.
    public var frame: ByteBuffer
    /// `,` + the quote JSON object, for batches.
    public var element: ByteBuffer
    /// A ready compressed frame (permessage-deflate, no context takeover), built on first use.
    public var deflatedFrame: ByteBuffer?

    /// Creates an update from its encodings.
    public init(symbolId: Int32, seq: UInt64, ts: UInt64, frame: ByteBuffer, element: ByteBuffer) {
        self.symbolId = symbolId
        self.seq = seq
        self.ts = ts
        self.frame = frame
        self.element = element
        self.deflatedFrame = nil
    }

    /// The quote JSON object alone (no frame header, no comma).
    public var json: ByteBuffer { element.slice(offset: 1, length: element.readableBytes - 1) }
}
