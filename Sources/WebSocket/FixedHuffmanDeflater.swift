// FixedHuffmanDeflater: DEFLATE for short messages (RFC 1951 §3.2.6 fixed Huffman codes, one
// block per message) with LZ77 back references into a short history and the message itself,
// ended the way a sync flush ends a message (RFC 7692 §7.2.1, tail stripped).
//
// Why not zlib here: zlib builds dynamic Huffman trees at every flush, a fixed cost of ~3 us per
// message whatever the level; for S4's 100-300 byte quote messages that was a third of the
// server's CPU. Fixed codes need no trees and no block header, and on quote JSON the ratio stays
// close to zlib's because the history supplies the repeated keys (docs/benchmarks.md, S4).
public import Wire

/// Compresses one message at a time against the bytes that precede it in the peer's window.
/// Allocation-free after warm-up (buffers grow to the largest message seen). Not thread-safe:
/// owned by one event loop.
public final class FixedHuffmanDeflater {
    // 1,024 heads (4 KiB, stays in L1): 12 bits took 0.92 us for a two-quote message, 10 bits
    // with 8-deep chains 0.52 us, at 43.0 instead of 42.3 wire bytes per quote in S4.
    private static let hashBits = 10
    private static let minMatch = 4
    private static let maxMatch = 258
    private static let maxIndexedMatch = 8

    /// Largest back-reference distance: the peer's LZ77 window (2^windowBits bytes).
    public let maxDistance: Int
    private let maxChain: Int
    // Invariant: `head` has 1 << hashBits entries. An entry is `base + position` of the last
    // position with that hash; entries below `base` belong to earlier messages and are empty.
    private let head: UnsafeMutablePointer<Int32>
    // Invariant: `prev` and `work` have `capacity` entries; `prev[p]` is the previous position
    // (as `base + position`) with the hash of position p, valid for positions inserted this call.
    private var prev: UnsafeMutablePointer<Int32>
    private var work: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var base: Int32 = 1
    // Packed codes (bits | count << 24) copied from FixedHuffmanTables, so the hot loop reads
    // plain memory (no lazy-global check, no bounds check, no retain).
    private let literalCodes: UnsafeMutablePointer<UInt32>
    private let lengthCodes: UnsafeMutablePointer<UInt32>

    /// - Parameters:
    ///   - windowBits: the peer's window (9-15): no reference reaches further back.
    ///   - maxChain: candidates examined per position (more: better ratio, slower).
    public init(windowBits: Int = 15, maxChain: Int = 8) {
        precondition((8...15).contains(windowBits), "deflate windowBits must be 8...15")
        maxDistance = 1 << windowBits
        self.maxChain = max(1, maxChain)
        head = .allocate(capacity: 1 << Self.hashBits)
        head.initialize(repeating: 0, count: 1 << Self.hashBits)
        capacity = 1024
        prev = .allocate(capacity: capacity)
        work = .allocate(capacity: capacity)
        literalCodes = .allocate(capacity: 256)
        lengthCodes = .allocate(capacity: 259)
        for (i, c) in FixedHuffmanTables.literal.enumerated() { literalCodes[i] = c.bits | UInt32(c.count) << 24 }
        for (i, c) in FixedHuffmanTables.length.enumerated() { lengthCodes[i] = c.bits | UInt32(c.count) << 24 }
    }

    deinit {
        literalCodes.deallocate()
        lengthCodes.deallocate()
        head.deallocate()
        prev.deallocate()
        work.deallocate()
    }

    /// Appends `input` compressed to `out`: one fixed-Huffman block and the start of an empty
    /// stored block, padded to a byte (a sync flush without its 00 00 ff ff, RFC 7692 §7.2.1).
    /// `history` must be the bytes the peer's inflater holds just before this message, oldest
    /// first (only its last `maxDistance` bytes are used).
    public func compress(_ input: UnsafeRawBufferPointer, history: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                         into out: inout ByteBuffer) {
        let h = min(history.count, maxDistance)
        let m = input.count
        let n = h + m
        reserve(n)
        if h > 0 { UnsafeMutableRawPointer(work).copyMemory(from: history.baseAddress! + (history.count - h), byteCount: h) }
        if m > 0 { UnsafeMutableRawPointer(work + h).copyMemory(from: input.baseAddress!, byteCount: m) }
        if Int(base) > Int(Int32.max) - n - 1 {
            head.update(repeating: 0, count: 1 << Self.hashBits)
            base = 1
        }
        let work = self.work, prev = self.prev, head = self.head, base = self.base
        let literalCodes = self.literalCodes, lengthCodes = self.lengthCodes
        let maxChain = self.maxChain, maxDistance = self.maxDistance
        var p = 0
        while p < min(h, n - Self.minMatch + 1) {
            Self.insert(p, work, prev, head, base)
            p += 1
        }
        // Bound: 3 header bits, at most 9 bits per input byte (a match is never dearer than its
        // literals), 7 end-of-block bits, 3 stored-block bits, padding.
        let bound = (3 + 9 * m + 7 + 3 + 7) / 8 + 8
        _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { buf in
            var w = BitWriter(buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
            w.put(0b010, 3)  // BFINAL 0, BTYPE 01 (fixed Huffman)
            var p = h
            while p < n {
                var best = 0
                var bestDist = 0
                if p + Self.minMatch <= n {
                    let limit = min(Self.maxMatch, n - p)
                    var cand = Self.insert(p, work, prev, head, base)
                    var chain = maxChain
                    while cand >= base && chain > 0 {
                        let c = Int(cand - base)
                        let dist = p - c
                        if dist > maxDistance { break }
                        if work[c + best] == work[p + best] {
                            let len = Self.matchLength(work + c, work + p, limit)
                            if len > best {
                                best = len
                                bestDist = dist
                                if len == limit { break }
                            }
                        }
                        cand = prev[c]
                        chain -= 1
                    }
                }
                if best >= Self.minMatch {
                    let l = lengthCodes[best]
                    w.put(l & 0xFF_FFFF, Int(l >> 24))
                    let d = FixedHuffmanTables.distance(bestDist)
                    w.put(d.bits, d.count)
                    var q = p + 1
                    p += best
                    // Positions inside a long match are not indexed (as zlib's fast levels do):
                    // what they would find, the match's source already offers.
                    if best <= Self.maxIndexedMatch {
                        while q < p {
                            if q + Self.minMatch <= n { Self.insert(q, work, prev, head, base) }
                            q += 1
                        }
                    }
                } else {
                    let lit = literalCodes[Int(work[p])]
                    w.put(lit & 0xFF_FFFF, Int(lit >> 24))
                    p += 1
                }
            }
            w.put(0, 7)  // end of block (256: seven zero bits)
            w.put(0, 3)  // BFINAL 0, BTYPE 00: the empty stored block whose 00 00 ff ff is stripped
            return w.finish()
        }
        self.base = base + Int32(n)
    }

    /// Records position `p` in the hash chains; returns the previous entry for its hash.
    @inline(__always)
    @discardableResult
    private static func insert(_ p: Int, _ work: UnsafeMutablePointer<UInt8>, _ prev: UnsafeMutablePointer<Int32>,
                               _ head: UnsafeMutablePointer<Int32>, _ base: Int32) -> Int32 {
        let v = UnsafeRawPointer(work + p).loadUnaligned(as: UInt32.self)
        let hv = Int((v &* 2_654_435_761) >> (32 - UInt32(hashBits)))
        let old = head[hv]
        prev[p] = old
        head[hv] = base + Int32(truncatingIfNeeded: p)
        return old
    }

    /// Length of the common prefix of `a` and `b`, at most `limit` (both readable that far).
    @inline(__always)
    private static func matchLength(_ a: UnsafeMutablePointer<UInt8>, _ b: UnsafeMutablePointer<UInt8>, _ limit: Int) -> Int {
        var len = 0
        while len + 8 <= limit {
            let x = UnsafeRawPointer(a + len).loadUnaligned(as: UInt64.self)
                ^ UnsafeRawPointer(b + len).loadUnaligned(as: UInt64.self)
            if x != 0 { return len + x.littleEndian.trailingZeroBitCount >> 3 }
            len += 8
        }
        while len < limit && a[len] == b[len] { len += 1 }
        return len
    }

    private func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = capacity
        while c < n { c *= 2 }
        prev.deallocate()
        work.deallocate()
        prev = .allocate(capacity: c)
        work = .allocate(capacity: c)
        capacity = c
    }
}

/// LSB-first bit packing into a buffer known to be large enough.
struct BitWriter {
    private let start: UnsafeMutablePointer<UInt8>
    private var out: UnsafeMutablePointer<UInt8>
    private var acc: UInt64 = 0
    private var count: Int = 0

    init(_ p: UnsafeMutablePointer<UInt8>) {
        start = p
        out = p
    }

    /// Appends the low `n` bits of `bits` (n <= 32).
    @inline(__always)
    mutating func put(_ bits: UInt32, _ n: Int) {
        acc |= UInt64(bits) << UInt64(count)
        count += n
        if count >= 32 {
            UnsafeMutableRawPointer(out).storeBytes(of: UInt32(truncatingIfNeeded: acc).littleEndian, as: UInt32.self)
            out += 4
            acc >>= 32
            count -= 32
        }
    }

    /// Writes the remaining bits, padded with zeros to a byte; returns the bytes written.
    mutating func finish() -> Int {
        while count > 0 {
            out.pointee = UInt8(truncatingIfNeeded: acc)
            out += 1
            acc >>= 8
            count -= 8
        }
        count = 0
        return out - start
    }
}

/// Fixed Huffman codes of RFC 1951 §3.2.6, bit-reversed for LSB-first packing, with each
/// length's and distance's extra bits already appended.
enum FixedHuffmanTables {
    struct Code {
        var bits: UInt32
        var count: Int
    }

    @inline(__always)
    static func reversed(_ v: UInt32, _ n: Int) -> UInt32 {
        var r: UInt32 = 0
        var x = v
        for _ in 0..<n {
            r = r << 1 | (x & 1)
            x >>= 1
        }
        return r
    }

    /// Literal/length symbol 0...287 -> its code.
    static func symbol(_ s: Int) -> Code {
        switch s {
        case 0...143: Code(bits: reversed(0x30 + UInt32(s), 8), count: 8)
        case 144...255: Code(bits: reversed(0x190 + UInt32(s - 144), 9), count: 9)
        case 256...279: Code(bits: reversed(UInt32(s - 256), 7), count: 7)
        default: Code(bits: reversed(0xC0 + UInt32(s - 280), 8), count: 8)
        }
    }

    /// Byte -> its literal code.
    static let literal: [Code] = (0..<256).map { symbol($0) }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]

    /// Match length 3...258 -> length code plus extra bits (index by length; 0-2 unused).
    static let length: [Code] = (0...258).map { len in
        guard len >= 3 else { return Code(bits: 0, count: 0) }
        var i = lengthBase.count - 1
        while lengthBase[i] > len { i -= 1 }
        let c = symbol(257 + i)
        return Code(bits: c.bits | UInt32(len - lengthBase[i]) << UInt32(c.count), count: c.count + lengthExtra[i])
    }

    /// Distance 1...32768 -> 5-bit distance code plus extra bits.
    @inline(__always)
    static func distance(_ dist: Int) -> Code {
        let v = UInt32(dist - 1)
        if v < 4 { return Code(bits: reversed5(v), count: 5) }
        let hb = 31 - v.leadingZeroBitCount
        let code = UInt32(2 * hb) + ((v >> UInt32(hb - 1)) & 1)
        let extraBits = hb - 1
        let extra = v & ((1 << UInt32(extraBits)) - 1)
        return Code(bits: reversed5(code) | extra << 5, count: 5 + extraBits)
    }

    @inline(__always)
    static func reversed5(_ v: UInt32) -> UInt32 {
        (v & 1) << 4 | (v & 2) << 2 | (v & 4) | (v & 8) >> 2 | (v & 16) >> 4
    }
}
