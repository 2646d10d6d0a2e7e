// QuoteEncoder: turns a Quote into a QuoteUpdate (ready frame + batch element) once, in arena
// blocks, so that encoding costs one small memcpy per quote and one malloc per 256 KiB.
public import Wire

/// Encodes quotes for fanout. One per producing thread (it owns an arena).
public struct QuoteEncoder {
    private var arena: ByteBufferArena
    private var scratch = ByteBuffer(capacity: Quote.maxJSONMessageBytes)
    /// The universe that names symbol ids.
    public let symbols: SymbolUniverse

    /// Creates an encoder for `symbols`.
    public init(symbols: SymbolUniverse, blockSize: Int = 256 * 1024) {
        self.symbols = symbols
        arena = ByteBufferArena(blockSize: blockSize)
    }

    /// Arena blocks allocated so far.
    public var blocksAllocated: Int { arena.blocksAllocated }

    /// Encodes `q` as a single-quote WebSocket text frame and as a batch element.
    public mutating func encode(_ q: Quote) -> QuoteUpdate {
        scratch.clear()
        q.writeJSONMessage(into: &scratch, symbols: symbols)
        let frame = scratch.withUnsafeReadableBytes { json in
            arena.make(maxLength: json.count + 4) { dst in
                // RFC 6455 5.2: FIN + text, unmasked server frame, 7- or 16-bit length.
                var h = 0
                dst[0] = 0x81
                if json.count < 126 {
                    dst[1] = UInt8(json.count)
                    h = 2
                } else {
                    dst[1] = 126
                    dst[2] = UInt8(json.count >> 8)
                    dst[3] = UInt8(json.count & 0xFF)
                    h = 4
                }
                UnsafeMutableRawBufferPointer(rebasing: dst[h...]).copyMemory(from: json)
                return h + json.count
            }
        }
        let element = scratch.withUnsafeReadableBytes { json in
            arena.make(maxLength: json.count + 1) { dst in
                dst[0] = UInt8(ascii: ",")
                UnsafeMutableRawBufferPointer(rebasing: dst[1...]).copyMemory(from: json)
                return json.count + 1
            }
        }
        return QuoteUpdate(symbolId: q.symbolId, seq: q.seq, ts: q.ts, frame: frame, element: element)
    }
}
