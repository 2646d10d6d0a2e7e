// ByteBuffer: a growable byte buffer with reader/writer indices and cheap slices.
//
// Owns: the storage class, indices, copy-on-write, slicing and raw access.
// Integer, string and decimal helpers live in ByteBuffer+Integers.swift.
// Slices share storage (one retain, no copy); writing to a shared buffer copies it first.
// Unsafe pointers are confined to this file and ByteBuffer+Integers.swift.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The heap block behind one or more `ByteBuffer`s. Immutable once shared.
public final class ByteStorage: @unchecked Sendable {
    // Invariant: `base` points to `capacity` bytes allocated by malloc and owned by this object.
    @usableFromInline var base: UnsafeMutableRawPointer
    @usableFromInline var capacity: Int

    @usableFromInline init(capacity: Int) {
        let cap = max(capacity, 16)
        // Invariant: malloc only fails on exhaustion, which we treat as fatal like Swift arrays do.
        self.base = malloc(cap)!
        self.capacity = cap
    }

    @usableFromInline func grow(to newCapacity: Int) {
        // Invariant: realloc keeps the prefix and may move the block; nobody else holds `base`
        // because callers only grow uniquely referenced storage.
        base = realloc(base, newCapacity)!
        capacity = newCapacity
    }

    deinit { free(base) }

    /// The storage every capacity-0 buffer shares; never written (writes copy first, since it is
    /// never uniquely referenced).
    @usableFromInline static let empty = ByteStorage(capacity: 0)
}

/// A byte buffer: bytes in `readerIndex..<writerIndex` are readable, bytes after `writerIndex`
/// up to the capacity are writable.
public struct ByteBuffer: @unchecked Sendable {
    @usableFromInline var storage: ByteStorage
    /// Offset of the first readable byte within the storage.
    public var readerIndex: Int
    /// Offset one past the last written byte within the storage.
    public var writerIndex: Int

    /// Creates an empty buffer with room for `capacity` bytes. Capacity 0 allocates nothing: it
    /// shares one empty storage until the first write (so idle connections' spare buffers are free).
    @inlinable public init(capacity: Int = 256) {
        storage = capacity == 0 ? ByteStorage.empty : ByteStorage(capacity: capacity)
        readerIndex = 0
        writerIndex = 0
    }

    /// Creates a buffer holding a copy of `bytes`.
    @inlinable public init(bytes: some Sequence<UInt8>) {
        self.init(capacity: bytes.underestimatedCount)
        writeBytes(bytes)
    }

    /// Creates a buffer holding the UTF-8 of `string`.
    @inlinable public init(string: String) {
        self.init(capacity: string.utf8.count)
        writeString(string)
    }

    /// Number of readable bytes.
    @inlinable public var readableBytes: Int { writerIndex - readerIndex }
    /// Number of bytes that can be written before the buffer grows.
    @inlinable public var writableBytes: Int { storage.capacity - writerIndex }
    /// Storage capacity in bytes.
    @inlinable public var capacity: Int { storage.capacity }
    /// True when there is nothing to read.
    @inlinable public var isEmpty: Bool { writerIndex == readerIndex }

    /// Makes sure `count` more bytes can be written without reallocation, copying shared storage.
    @inlinable public mutating func reserveWritable(_ count: Int) {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = ByteStorage(capacity: max(readableBytes + count, 64))
            // Invariant: both ranges are in bounds of their storages.
            fresh.base.copyMemory(from: storage.base + readerIndex, byteCount: readableBytes)
            writerIndex = readableBytes
            readerIndex = 0
            storage = fresh
            return
        }
        if writerIndex + count > storage.capacity {
            var newCap = max(storage.capacity * 2, 64)
            while newCap < writerIndex + count { newCap *= 2 }
            storage.grow(to: newCap)
        }
    }

    /// Writes raw bytes.
    @inlinable public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserveWritable(bytes.count)
        // Invariant: reserveWritable made room for bytes.count bytes at writerIndex.
        (storage.base + writerIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    /// Writes a sequence of bytes.
    @inlinable public mutating func writeBytes(_ bytes: some Sequence<UInt8>) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ writeBytes(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        for b in bytes { writeInteger(b) }
    }

    /// Writes the readable bytes of another buffer.
    @inlinable public mutating func writeBuffer(_ other: ByteBuffer) {
        other.withUnsafeReadableBytes { writeBytes($0) }
    }

    /// Writes the UTF-8 bytes of `string`.
    @inlinable public mutating func writeString(_ string: String) {
        var s = string
        s.withUTF8 { writeBytes(UnsafeRawBufferPointer($0)) }
    }

    /// Writes the UTF-8 bytes of a static string.
    @inlinable public mutating func writeStaticString(_ string: StaticString) {
        writeBytes(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    /// Calls `body` with the writable region (at least `minimum` bytes); `body` returns how many
    /// bytes it wrote.
    @inlinable public mutating func writeWithUnsafeMutableBytes(
        minimumWritableBytes minimum: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows -> Int {
        reserveWritable(minimum)
        // Invariant: the region [writerIndex, capacity) is owned and uniquely referenced.
        let n = try body(UnsafeMutableRawBufferPointer(start: storage.base + writerIndex, count: writableBytes))
        precondition(n >= 0 && n <= writableBytes, "wrote more than the writable region")
        writerIndex += n
        return n
    }

    /// Calls `body` with the readable bytes. The pointer must not escape.
    @inlinable public func withUnsafeReadableBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        // Invariant: [readerIndex, writerIndex) is within the storage allocation.
        try body(UnsafeRawBufferPointer(start: storage.base + readerIndex, count: readableBytes))
    }

    /// Calls `body` with the readable bytes, mutable (copies shared storage first).
    @inlinable public mutating func withUnsafeMutableReadableBytes<R>(
        _ body: (UnsafeMutableRawBufferPointer) throws -> R
    ) rethrows -> R {
        reserveWritable(0)
        // Invariant: storage is uniquely referenced after reserveWritable.
        return try body(UnsafeMutableRawBufferPointer(start: storage.base + readerIndex, count: readableBytes))
    }

    /// Consumes `count` readable bytes.
    @inlinable public mutating func moveReaderIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= readableBytes, "moveReaderIndex past the readable bytes")
        readerIndex += count
        if readerIndex == writerIndex, isKnownUniquelyReferenced(&storage) {
            readerIndex = 0
            writerIndex = 0
        }
    }

    /// Shortens the readable region to `count` bytes.
    @inlinable public mutating func truncate(toReadable count: Int) {
        precondition(count >= 0 && count <= readableBytes)
        writerIndex = readerIndex + count
    }

    /// Drops everything.
    @inlinable public mutating func clear() {
        readerIndex = 0
        writerIndex = 0
    }

    /// Moves the readable bytes to the start of the storage so the space before them can be reused.
    @inlinable public mutating func discardReadBytes() {
        guard readerIndex > 0 else { return }
        if !isKnownUniquelyReferenced(&storage) {
            reserveWritable(0)
            return
        }
        let n = readableBytes
        // Invariant: both ranges lie inside the allocation; memmove semantics via copyMemory on
        // possibly overlapping regions is handled by memmove.
        memmove(storage.base, storage.base + readerIndex, n)
        readerIndex = 0
        writerIndex = n
    }

    /// A buffer sharing this buffer's storage, covering `length` readable bytes starting
    /// `offset` bytes after the reader index. No bytes are copied.
    @inlinable public func slice(offset: Int = 0, length: Int) -> ByteBuffer {
        precondition(offset >= 0 && length >= 0 && offset + length <= readableBytes, "slice out of range")
        var s = self
        s.readerIndex = readerIndex + offset
        s.writerIndex = s.readerIndex + length
        return s
    }

    /// Reads and consumes `length` bytes as a slice sharing storage.
    @inlinable public mutating func readSlice(length: Int) -> ByteBuffer? {
        guard length <= readableBytes else { return nil }
        let s = slice(length: length)
        readerIndex += length
        return s
    }

    /// The byte at `offset` after the reader index, or nil.
    @inlinable public func byte(at offset: Int) -> UInt8? {
        guard offset >= 0 && offset < readableBytes else { return nil }
        return storage.base.load(fromByteOffset: readerIndex + offset, as: UInt8.self)
    }

    /// A copy of the readable bytes, for tests and cold paths.
    public var readableBytesArray: [UInt8] {
        withUnsafeReadableBytes { Array($0) }
    }

    /// The readable bytes decoded as UTF-8 (repairing invalid sequences), for tests and cold paths.
    public var readableString: String {
        withUnsafeReadableBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Raw address of the readable bytes, for building iovecs. Valid while the storage lives.
    @inlinable public var unsafeReadableAddress: UnsafeRawPointer {
        UnsafeRawPointer(storage.base + readerIndex)
    }

    /// The storage object, so an owner can keep the bytes alive while the kernel reads them.
    @inlinable public var storageReference: AnyObject { storage }
}

extension ByteBuffer: Equatable {
    /// Two buffers are equal when their readable bytes are equal.
    public static func == (lhs: ByteBuffer, rhs: ByteBuffer) -> Bool {
        guard lhs.readableBytes == rhs.readableBytes else { return false }
        return lhs.withUnsafeReadableBytes { a in
            rhs.withUnsafeReadableBytes { b in
                a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
    }
}

extension ByteBuffer: CustomStringConvertible {
    public var description: String { "ByteBuffer(\(readableBytes) bytes)" }
}
