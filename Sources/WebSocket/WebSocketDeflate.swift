// permessage-deflate compression and decompression (RFC 7692 §7.2) on zlib raw deflate streams.
//
// Owns: the two zlib stream owners, the 00 00 ff ff tail handling (§7.2.1 strips it, §7.2.2
// appends it), context takeover (reset after each message when "no_context_takeover" was
// agreed), and the hard bound on inflated size. Negotiation lives in
// WebSocketDeflateNegotiation.swift.
internal import CZlib
public import Wire

/// The four bytes a sync flush ends with; stripped on send and restored on receive (RFC 7692 §7.2.1-2).
@usableFromInline let deflateTail: (UInt8, UInt8, UInt8, UInt8) = (0x00, 0x00, 0xFF, 0xFF)

/// A raw deflate stream (negative windowBits: no zlib header, RFC 7692 §7.2.1 uses raw DEFLATE).
/// Heap-allocated because zlib keeps a back pointer to it; end it with `endRawDeflateStream`.
func makeRawDeflateStream(windowBits: Int, level: Int, memoryLevel: Int) -> UnsafeMutablePointer<z_stream> {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    stream.initialize(to: z_stream())
    let rc = deflateInit2_(stream, Int32(level), Z_DEFLATED, -Int32(windowBits), Int32(memoryLevel),
                           Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    precondition(rc == Z_OK, "deflateInit2 failed: \(rc)")  // only fails on bad arguments or no memory
    return stream
}

func endRawDeflateStream(_ stream: UnsafeMutablePointer<z_stream>) {
    deflateEnd(stream)
    stream.deinitialize(count: 1)
    stream.deallocate()
}

/// Appends `input` compressed with a sync flush to `out`, without the trailing 00 00 ff ff (§7.2.1).
func syncFlushDeflate(_ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeRawBufferPointer,
                      into out: inout ByteBuffer) {
    let start = out.readableBytes
    // Invariant: zlib only reads avail_in bytes from next_in, which point into `input`.
    stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
    stream.pointee.avail_in = UInt32(input.count)
    var room = Int(deflateBound(stream, UInt(input.count))) + 16
    while true {
        var rc: Int32 = Z_OK
        var full = false
        _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { buf in
            // Invariant: zlib writes at most avail_out bytes to next_out, inside `buf`.
            let n = min(buf.count, Int(UInt32.max))
            stream.pointee.next_out = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(n)
            rc = deflate(stream, Z_SYNC_FLUSH)
            full = stream.pointee.avail_out == 0
            return n - Int(stream.pointee.avail_out)
        }
        precondition(rc == Z_OK || rc == Z_BUF_ERROR, "deflate failed: \(rc)")
        // A sync flush is complete when zlib left output space unused (zlib.h, deflate()).
        if !full { break }
        room = 256
    }
    stream.pointee.next_in = nil
    stream.pointee.avail_in = 0
    // The sync flush always ends with an empty stored block: 00 00 ff ff.
    if out.readableBytes - start >= 4 { out.truncate(toReadable: out.readableBytes - 4) }
}

/// Compresses messages for one direction of one connection (or, with no context takeover, for many).
/// Not thread-safe: owned by one event loop.
public final class WebSocketDeflateCompressor {
    // Invariant: `stream` is heap-allocated and never moves (zlib keeps a back pointer to it),
    // initialised by deflateInit2 in init and ended in deinit.
    private let stream: UnsafeMutablePointer<z_stream>
    /// LZ77 window size in bits (9-15) this compressor never exceeds.
    public let windowBits: Int
    /// Whether the window is forgotten after each message (RFC 7692 §7.1.1).
    public let noContextTakeover: Bool

    /// Creates a compressor.
    /// - Parameters:
    ///   - windowBits: 9-15. zlib cannot produce an 8-bit window (it silently uses 9), so
    ///     negotiation never agrees to 8 for a direction we compress.
    ///   - level: zlib level 1-9; 1-6 is the useful range for small JSON.
    ///   - noContextTakeover: reset after each message, so every message stands alone.
    ///   - memoryLevel: zlib memLevel 1-9: hash table size. Every reset clears the table, so for
    ///     small messages without context a low level is much faster at almost the same ratio.
    public init(windowBits: Int = 15, level: Int = 6, noContextTakeover: Bool, memoryLevel: Int = 8) {
        precondition((9...15).contains(windowBits), "deflate windowBits must be 9...15")
        precondition((0...9).contains(level), "deflate level must be 0...9")
        precondition((1...9).contains(memoryLevel), "deflate memoryLevel must be 1...9")
        self.windowBits = windowBits
        self.noContextTakeover = noContextTakeover
        stream = makeRawDeflateStream(windowBits: windowBits, level: level, memoryLevel: memoryLevel)
    }

    deinit { endRawDeflateStream(stream) }

    /// Appends the compressed form of `input` to `out`, without the trailing 00 00 ff ff (§7.2.1).
    public func compress(_ input: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        syncFlushDeflate(stream, input, into: &out)
        if noContextTakeover { deflateReset(stream) }
    }
}

/// Compresses messages for many connections that each agreed to context takeover (no
/// server_no_context_takeover), keeping per connection only the last bytes it was sent (its
/// `history`, ~128 bytes) instead of a zlib stream (~10 KiB each even with a 512-byte window).
/// One stream per event loop serves every connection in turn.
///
/// Why this is RFC 7692 context takeover and not a preset dictionary: a client inflates all the
/// messages of its connection through one LZ77 window, which holds the last 2^w bytes of what it
/// inflated (§7.2.2, §8.1). `history` is a suffix of exactly those bytes, so a message compressed
/// after `deflateSetDictionary(history)` refers only to bytes the client holds: it is a message a
/// continuous compressor could have produced, one that simply remembers less. Back references
/// reach at most 2^w - 262 bytes (zlib's MAX_DIST), inside the negotiated server_max_window_bits.
/// Rules for the caller: every compressed message sent on the connection goes through here with
/// the connection's `history` (a second compressor would desynchronise it), and messages sent
/// with RSV1 clear leave `history` alone (they never enter the client's window).
/// Not thread-safe: owned by one event loop.
public final class WebSocketDeflateHistoryCompressor {
    // Invariant: exactly one of `stream` and `fixed` is set. The stream is heap-allocated, never
    // moves, made in init and ended in deinit.
    private let stream: UnsafeMutablePointer<z_stream>?
    private let fixed: FixedHuffmanDeflater?
    /// LZ77 window (9-15 bits): must not exceed any served connection's server_max_window_bits.
    public let windowBits: Int
    /// How many trailing bytes of its messages each connection keeps.
    public let historyBytes: Int

    /// Creates the shared coder.
    /// - Parameters:
    ///   - windowBits: 9-15, at most the negotiated server_max_window_bits of every connection served.
    ///   - level: zlib level 1-9 (the `.zlib` coder).
    ///   - memoryLevel: zlib memLevel; the hash is cleared for every message, so small is fast.
    ///   - historyBytes: 1...2^windowBits. Quote messages repeat their keys within ~120 bytes, so
    ///     128 bytes compress S4's batches as well as a continuous 512-byte window (32% of plain).
    ///   - fixedHuffman: code with `FixedHuffmanDeflater` (fixed codes, no per-message Huffman
    ///     trees: ~13x cheaper on quote-sized messages) instead of zlib; `level` and `memoryLevel`
    ///     are then unused.
    public init(windowBits: Int = 9, level: Int = 6, memoryLevel: Int = 1, historyBytes: Int = 128,
                fixedHuffman: Bool = false) {
        precondition((9...15).contains(windowBits), "deflate windowBits must be 9...15")
        precondition((1...9).contains(level), "deflate level must be 1...9")
        precondition((1...9).contains(memoryLevel), "deflate memoryLevel must be 1...9")
        precondition(historyBytes > 0 && historyBytes <= 1 << windowBits, "historyBytes must be 1...2^windowBits")
        self.windowBits = windowBits
        self.historyBytes = historyBytes
        if fixedHuffman {
            stream = nil
            fixed = FixedHuffmanDeflater(windowBits: windowBits)
        } else {
            stream = makeRawDeflateStream(windowBits: windowBits, level: level, memoryLevel: memoryLevel)
            fixed = nil
        }
    }

    deinit { if let stream { endRawDeflateStream(stream) } }

    /// Appends one message compressed against `history` to `out` (without the trailing
    /// 00 00 ff ff, §7.2.1) and moves `history` on to end with this message.
    public func compress(_ input: UnsafeRawBufferPointer, history: inout [UInt8], into out: inout ByteBuffer) {
        if let fixed {
            history.withUnsafeBytes { fixed.compress(input, history: $0, into: &out) }
            record(input, history: &history)
            return
        }
        let stream = stream.unsafelyUnwrapped
        deflateReset(stream)
        if !history.isEmpty {
            // Invariant: zlib copies the dictionary into its window during the call.
            let rc = history.withUnsafeBufferPointer { h in
                deflateSetDictionary(stream, h.baseAddress, UInt32(h.count))
            }
            precondition(rc == Z_OK, "deflateSetDictionary failed: \(rc)")  // only after a reset: never
        }
        syncFlushDeflate(stream, input, into: &out)
        record(input, history: &history)
    }

    /// Moves `history` on past a message the connection received compressed some other way (a
    /// shared no-context frame): the client inflated it, so it is in its window too.
    public func record(_ input: UnsafeRawBufferPointer, history: inout [UInt8]) {
        // The new history: the tail of (old history + input).
        let fromInput = min(input.count, historyBytes)
        let keep = historyBytes - fromInput
        if history.count > keep { history.removeFirst(history.count - keep) }
        if history.capacity < historyBytes { history.reserveCapacity(historyBytes) }
        history.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[(input.count - fromInput)...]))
    }
}

/// Decompresses messages for one direction of one connection, inflating in bounded chunks.
/// Not thread-safe: owned by one event loop.
public final class WebSocketDeflateDecompressor {
    // Invariant: heap-allocated, never moves; inflateInit2 in init, inflateEnd in deinit.
    private let stream: UnsafeMutablePointer<z_stream>
    /// Whether the window is forgotten after each message (the peer compresses without context).
    public let noContextTakeover: Bool
    /// Output is produced in steps of this many bytes, so memory grows with the real output only.
    static let chunk = 16 * 1024
    /// The first step for a message: enough for small requests at typical ratios.
    static let firstChunk = 512
    /// Compressed messages up to this size are inflated with their tail in one call.
    static let joinedInputLimit = 2048

    /// Creates a decompressor for a peer that compresses with at most a `windowBits` window
    /// (the negotiated server_ or client_max_window_bits; 15 when nothing was agreed). The
    /// window is what each context-takeover connection keeps (32 KiB at 15 bits, 512 bytes at 9).
    /// It never goes below 9: zlib makes 9-bit streams when asked for 8.
    public init(noContextTakeover: Bool, windowBits: Int = 15) {
        precondition((8...15).contains(windowBits), "deflate windowBits must be 8...15")
        self.noContextTakeover = noContextTakeover
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = inflateInit2_(stream, -Int32(max(9, windowBits)), zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(rc == Z_OK, "inflateInit2 failed: \(rc)")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Appends the inflated form of one whole compressed message to `out`.
    /// - Parameter limit: largest allowed inflated size; inflation stops as soon as it is exceeded.
    /// - Throws: `.messageTooLarge` past `limit`, `.invalidCompressedData` on corrupt input. After a
    ///   throw the connection is failed, so the stream state does not matter.
    public func decompress(_ input: UnsafeRawBufferPointer, into out: inout ByteBuffer,
                           limit: Int) throws(WebSocketProtocolError) {
        let start = out.readableBytes
        do {
            // §7.2.2: append 00 00 ff ff to the payload before inflating. A small message is
            // copied with its tail onto the stack and inflated in one call (half the zlib calls
            // for a quote); a large one is fed in two parts.
            if input.count <= Self.joinedInputLimit {
                try withUnsafeTemporaryAllocation(byteCount: input.count + 4, alignment: 1) {
                    (joined) throws(WebSocketProtocolError) in
                    if input.count > 0 { joined.baseAddress!.copyMemory(from: input.baseAddress!, byteCount: input.count) }
                    joined[input.count] = deflateTail.0
                    joined[input.count + 1] = deflateTail.1
                    joined[input.count + 2] = deflateTail.2
                    joined[input.count + 3] = deflateTail.3
                    try feed(UnsafeRawBufferPointer(joined), into: &out, start: start, limit: limit)
                }
            } else {
                try feed(input, into: &out, start: start, limit: limit)
                var tail = deflateTail
                try withUnsafeBytes(of: &tail) { (t) throws(WebSocketProtocolError) in
                    try feed(t, into: &out, start: start, limit: limit)
                }
            }
        } catch {
            // A shared stream serves other connections next: never leave it mid-message.
            inflateReset(stream)
            throw error
        }
        if noContextTakeover { inflateReset(stream) }
    }

    private func feed(_ input: UnsafeRawBufferPointer, into out: inout ByteBuffer, start: Int,
                      limit: Int) throws(WebSocketProtocolError) {
        // Invariant: zlib reads at most avail_in bytes from next_in, inside `input`.
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        // Small messages (a subscribe) get a small first step, not a 16 KiB buffer each.
        var step = min(Self.chunk, max(Self.firstChunk, input.count * 4))
        while true {
            let produced = out.readableBytes - start
            // One byte beyond the limit is allowed so "exactly at the limit" and "over" differ.
            let room = min(step, limit - produced + 1)
            step = Self.chunk
            if room <= 0 { throw .messageTooLarge }
            var rc: Int32 = Z_OK
            var full = false
            _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { buf in
                // Invariant: zlib writes at most avail_out (= room <= buf.count) bytes.
                stream.pointee.next_out = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(room)
                rc = inflate(stream, Z_SYNC_FLUSH)
                full = stream.pointee.avail_out == 0
                return room - Int(stream.pointee.avail_out)
            }
            if out.readableBytes - start > limit { throw .messageTooLarge }
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                // The peer ended the stream with a BFINAL block (§7.2.3.3 allows it); what follows,
                // at least our tail, starts a new raw stream.
                inflateReset(stream)
            default:
                throw .invalidCompressedData
            }
            if stream.pointee.avail_in == 0 && !full { return }
            if rc == Z_BUF_ERROR && !full { return }
        }
    }
}

/// zlib streams one event loop shares among its connections for every direction without context
/// takeover: such a stream is reset after each message, so one per loop serves them all and
/// 10,000 deflate connections cost two streams instead of 20,000 (~3 GiB at 15-bit windows).
/// Loop-confined: use only on the thread of the loop that owns it.
public final class WebSocketSharedDeflate {
    /// zlib level of the shared compressors.
    public let level: Int
    private var compressors: [WebSocketDeflateCompressor?] = Array(repeating: nil, count: 16)
    private var sharedDecompressor: WebSocketDeflateDecompressor?

    /// Creates an empty set; streams are made on first use.
    public init(level: Int = 6) {
        precondition((1...9).contains(level), "deflate level must be 1...9")
        self.level = level
    }

    /// The shared no-context compressor for `windowBits` (9...15). Also the one to build
    /// `WebSocketPreparedFrame`s with.
    public func compressor(windowBits: Int = 15) -> WebSocketDeflateCompressor {
        if let c = compressors[windowBits] { return c }
        let c = WebSocketDeflateCompressor(windowBits: windowBits, level: level, noContextTakeover: true)
        compressors[windowBits] = c
        return c
    }

    /// The shared no-context decompressor.
    public var decompressor: WebSocketDeflateDecompressor {
        if let d = sharedDecompressor { return d }
        let d = WebSocketDeflateDecompressor(noContextTakeover: true)
        sharedDecompressor = d
        return d
    }
}
