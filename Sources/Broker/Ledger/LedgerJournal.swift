// LedgerJournal: a crash-safe append-only record file, the embedded default's stand-in for PostgreSQL.
//
// Owns: framing (`u32 length | u32 CRC-32C of the payload | payload`, little-endian), appending with a
// configurable fsync policy, and recovery: records are read back in order until the first short or corrupt
// frame, which is where a crash tore the tail; the file is truncated there so the next append starts clean.
// A record is durable once `flush` returned under `always`/`batch`; under `none` the OS decides.
// Leaves what records mean to JournalOrderStore.
#if canImport(Glibc)
import Glibc
#endif
import Wire

/// When the journal calls fsync.
public enum JournalFsyncPolicy: String, Sendable {
    /// After every record (slowest, loses nothing acknowledged).
    case always
    /// Once per `flush` (the owner calls it once per loop iteration, before answering clients).
    case batch
    /// Never (tests, throwaway demos).
    case none
}

/// Why the journal could not be opened or written.
public struct LedgerJournalError: Error, Sendable, CustomStringConvertible {
    /// What failed, with errno text.
    public let description: String
}

/// An append-only file of checksummed records.
public final class LedgerJournal {
    /// Largest record accepted (a record is one order operation: far smaller).
    public static let maxRecordBytes = 1 << 20
    private let fd: CInt
    private let policy: JournalFsyncPolicy
    private var pending = ByteBuffer(capacity: 64 * 1024)
    /// Bytes the recovery dropped from a torn tail at open.
    public private(set) var truncatedBytes = 0
    /// Records appended since open.
    public private(set) var appended = 0

    /// Opens (creating) `path`, replays every intact record into `body` in order, and truncates a torn tail.
    /// - Throws: `LedgerJournalError` when the file cannot be opened, read or truncated.
    public init(path: String, policy: JournalFsyncPolicy, replay body: (UnsafeRawBufferPointer) -> Void) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LedgerJournalError(description: "open \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.policy = policy
        var contents = ByteBuffer(capacity: 1 << 16)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                close(fd)
                throw LedgerJournalError(description: "read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            chunk.withUnsafeBytes { contents.writeBytes(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        let total = contents.readableBytes
        let good = contents.withUnsafeReadableBytes { Self.scan($0, body) }
        if good < total {
            truncatedBytes = total - good
            guard ftruncate(fd, off_t(good)) == 0 else {
                close(fd)
                throw LedgerJournalError(description: "truncate \(path): \(String(cString: strerror(errno)))")
            }
            _ = fsync(fd)
        }
        _ = lseek(fd, 0, SEEK_END)
    }

    deinit {
        try? flush()
        close(fd)
    }

    /// Walks intact frames, calling `body` with each payload; returns the offset after the last intact one.
    static func scan(_ b: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        var off = 0
        while b.count - off >= 8 {
            let len = Int(b.loadUnaligned(fromByteOffset: off, as: UInt32.self).littleEndian)
            let crc = b.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self).littleEndian
            guard len <= maxRecordBytes, b.count - off - 8 >= len else { break }
            let payload = UnsafeRawBufferPointer(rebasing: b[(off + 8)..<(off + 8 + len)])
            guard CRC32C.checksum(payload) == crc else { break }
            body(payload)
            off += 8 + len
        }
        return off
    }

    /// Appends one record (written at the next `flush`, or now under `always`).
    /// - Throws: `LedgerJournalError` when writing fails under `always`.
    public func append(_ payload: UnsafeRawBufferPointer) throws {
        precondition(payload.count <= Self.maxRecordBytes, "journal record too large")
        pending.writeInteger(UInt32(payload.count), littleEndian: true)
        pending.writeInteger(CRC32C.checksum(payload), littleEndian: true)
        pending.writeBytes(payload)
        appended += 1
        if policy == .always { try flush() }
    }

    /// Appends one record from a String.
    public func append(_ text: String) throws {
        var t = text
        try t.withUTF8 { try append(UnsafeRawBufferPointer($0)) }
    }

    /// Whether records wait for `flush`.
    public var hasPending: Bool { !pending.isEmpty }

    /// Writes pending records and (unless `none`) fsyncs.
    /// - Throws: `LedgerJournalError` on a write or fsync failure (the records are then not durable).
    public func flush() throws {
        guard !pending.isEmpty else { return }
        while !pending.isEmpty {
            let n = pending.withUnsafeReadableBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LedgerJournalError(description: "write: \(String(cString: strerror(errno)))")
            }
            pending.moveReaderIndex(forwardBy: n)
        }
        pending.clear()
        if policy != .none && fdatasync(fd) != 0 {
            throw LedgerJournalError(description: "fdatasync: \(String(cString: strerror(errno)))")
        }
    }
}

/// CRC-32C (Castagnoli), table-driven: detects torn and corrupted records.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum(_ b: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for byte in b { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}
