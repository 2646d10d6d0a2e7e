// ByteBufferArena: carves many small immutable ByteBuffers out of large shared blocks, so code
// that encodes one message per event (a quote, a frame header) costs one malloc per block, not
// per message. Each returned buffer is a slice that keeps its block alive; a block is freed when
// the last slice of it is gone (for fanout: when the last connection has written it).
//
// Appending into a block that slices already point at is safe because slices cover only bytes
// written before them and the block is never reallocated; that is why this type exists instead
// of ByteBuffer's copy-on-write path.

/// Bump allocator handing out immutable `ByteBuffer` slices of shared blocks. Not thread-safe:
/// one per thread (per loop, per feed).
public struct ByteBufferArena {
    @usableFromInline var block: ByteStorage
    @usableFromInline var used = 0
    private var scratch = ByteBuffer(capacity: 4096)
    /// Size of each block in bytes.
    public let blockSize: Int
    /// Blocks allocated so far (for allocation-count tests and metrics).
    public private(set) var blocksAllocated = 1

    /// Creates an arena with blocks of `blockSize` bytes.
    public init(blockSize: Int = 64 * 1024) {
        self.blockSize = blockSize
        block = ByteStorage(capacity: blockSize)
    }

    /// Returns a buffer of at most `maxLength` bytes filled by `fill`, which returns how many it wrote.
    @inlinable
    public mutating func make(maxLength: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Int) -> ByteBuffer {
        if used + maxLength > currentCapacity {
            newBlock(atLeast: maxLength)
        }
        let n = withCurrentBlock { base in
            // Invariant: [used, used + maxLength) lies inside the block and no slice covers it yet.
            fill(UnsafeMutableRawBufferPointer(start: base + used, count: maxLength))
        }
        precondition(n >= 0 && n <= maxLength, "arena fill wrote outside its region")
        let buf = sliceOfCurrent(offset: used, length: n)
        used += n
        return buf
    }

    /// Returns a buffer holding a copy of `bytes`.
    @inlinable
    public mutating func copy(_ bytes: UnsafeRawBufferPointer) -> ByteBuffer {
        make(maxLength: bytes.count) { dst in
            if bytes.count > 0 { dst.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            return bytes.count
        }
    }

    /// Encodes with ByteBuffer's writers into a reused scratch buffer, then copies the result into
    /// the arena (one small memcpy per message, once, instead of a malloc).
    public mutating func encode(_ body: (inout ByteBuffer) -> Void) -> ByteBuffer {
        scratch.clear()
        body(&scratch)
        return scratch.withUnsafeReadableBytes { copy($0) }
    }

    @usableFromInline var currentCapacity: Int { block.capacity }

    @usableFromInline func withCurrentBlock<R>(_ body: (UnsafeMutableRawPointer) -> R) -> R { body(block.base) }

    @usableFromInline func sliceOfCurrent(offset: Int, length: Int) -> ByteBuffer {
        ByteBuffer(unsafeArenaSlice: block, offset: offset, length: length)
    }

    @usableFromInline mutating func newBlock(atLeast n: Int) {
        block = ByteStorage(capacity: max(blockSize, n))
        used = 0
        blocksAllocated += 1
    }
}

extension ByteBuffer {
    /// A read-only slice of `storage` (arena use only).
    @usableFromInline init(unsafeArenaSlice storage: ByteStorage, offset: Int, length: Int) {
        self.storage = storage
        self.readerIndex = offset
        self.writerIndex = offset + length
    }

    @usableFromInline func sharesStorage(with s: ByteStorage) -> Bool { storage === s }
}
