// QuoteEncoder: turns a Quote into a QuoteUpdate (ready frame + batch element) once, in arena
// blocks, so that encoding costs one small memcpy per quote and one malloc per 32 KiB.
import Wire
import WebSocket

/// Encodes quotes for fanout. One per producing thread (it owns an arena).
public struct QuoteEncoder {
    private var arena: ByteBufferArena
    private var scratch = ByteBuffer(capacity: Quote.maxJSONMessageBytes)
    /// The universe that names symbol ids.
    public let symbols: SymbolUniverse

    /// Creates an encoder for `symbols`.
    /// - Parameter blockSize: arena block size. A block lives as long as any of its quotes is some
    ///   symbol's latest value, and with a uniform feed a block of k quotes stays pinned for about
    ///   ln(k) feed-seconds: 32 KiB blocks (~140 quotes) pinned ~1 MB at S2's feed where 256 KiB
    ///   blocks pinned ~2.6 MB, for one malloc per ~140 quotes instead of ~1,100.
    public init(symbols: SymbolUniverse, blockSize: Int = 32 * 1024) {
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
            arena.encode { out in
                WebSocketFrameEncoder.writeFrame(opcode: .text, payload: json, maskingKey: nil, into: &out)
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
