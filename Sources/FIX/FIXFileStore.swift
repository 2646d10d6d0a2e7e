// A durable FIX message store: append-only message log plus a two-slot sequence-number file.
//
// Owns: the on-disk format, recovery after a crash (a torn last record is cut off), and the
// sync policy. Leaves the decision of when to flush to the owner (FIXConnection flushes once
// per loop tick, before the tick's socket writes leave).
//
// Files, per session, in `directory`:
//   <Sender>-<Target>.body     header record, then one record per outbound application message
//   <Sender>-<Target>.seqnums  two 32-byte slots, written alternately
// Record: u32 length of payload | payload | u32 CRC-32 of payload (little-endian).
//   header payload:  "FIXSTORE1" | i64 creation time (ns)
//   message payload: u64 MsgSeqNum | message bytes
// Slot: u64 generation | u64 next sender | u64 next target | u32 CRC-32 of the 24 bytes | u32 0.
// Inbound messages move the target number at market-data rates, so the numbers live in a
// fixed-size file rewritten in place (like QuickFIX's `.seqnums`) rather than in the log; two
// slots with a generation make a torn slot write fall back to the previous one.
// Glibc file calls are confined to this file.

import Wire

#if canImport(Glibc)
    import Glibc
#endif

/// A failed file operation of the store.
public struct FIXStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// errno of the failed call.
    public let errno: Int32
    /// The call that failed.
    public let call: String
    /// The file concerned.
    public let path: String
    public var description: String { "\(call)(\(path)): errno \(errno)" }
}

/// The durable `FIXMessageStore`.
public final class FIXFileStore: FIXMessageStore {
    public private(set) var nextSenderMsgSeqNum = 1
    public private(set) var nextTargetMsgSeqNum = 1
    public private(set) var creationTime: FIXTimestamp
    /// The first write error since opening, if any; the store keeps serving from memory.
    public private(set) var lastError: FIXStoreError?
    /// Bytes cut off the end of the log on open because the last record was torn.
    public let recoveredTornBytes: Int

    private let policy: FIXStoreSyncPolicy
    private let bodyPath: String
    private let seqPath: String
    private var bodyFD: Int32
    private var seqFD: Int32
    private var bodyEnd: Int  // file offset where the next record goes
    private var index: [Int: (offset: Int, length: Int)] = [:]  // seq -> message bytes in the file
    private var pending = ByteBuffer(capacity: 64 * 1024)  // records not yet written
    private var pendingSeqNums = false
    private var senderChanged = false  // since the last flush: decides whether the flush fsyncs
    private var generation: UInt64 = 0
    private static let magic: [UInt8] = Array("FIXSTORE1".utf8)

    /// Opens (or creates) the store of session `senderCompID` -> `targetCompID` in `directory`.
    /// - Throws: `FIXStoreError` when the directory or files cannot be created or read.
    public init(
        directory: String, senderCompID: String, targetCompID: String,
        policy: FIXStoreSyncPolicy = .fsyncOnFlush, now: FIXTimestamp
    ) throws(FIXStoreError) {
        self.policy = policy
        bodyPath = "\(directory)/\(senderCompID)-\(targetCompID).body"
        seqPath = "\(directory)/\(senderCompID)-\(targetCompID).seqnums"
        creationTime = now
        try Self.makeDirectories(directory)
        bodyFD = open(bodyPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard bodyFD >= 0 else { throw FIXStoreError(errno: errno, call: "open", path: bodyPath) }
        seqFD = open(seqPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard seqFD >= 0 else {
            let e = errno
            close(bodyFD)
            throw FIXStoreError(errno: e, call: "open", path: seqPath)
        }
        let body = try Self.readAll(bodyFD, bodyPath)
        var torn = 0
        // Replay the log: records until the first incomplete or corrupt one.
        var offset = 0
        var sawHeader = false
        var lastSeq = 0
        while true {
            guard let (payload, next) = Self.record(in: body, at: offset) else { break }
            if !sawHeader {
                guard payload.count == Self.magic.count + 8, Array(body[payload.prefix(Self.magic.count)]) == Self.magic
                else { break }
                creationTime = FIXTimestamp(
                    nanoseconds: Int64(bitPattern: Self.u64(body, payload.lowerBound + Self.magic.count)))
                sawHeader = true
            } else {
                guard payload.count >= 8 else { break }
                let seq = Int(Self.u64(body, payload.lowerBound))
                index[seq] = (payload.lowerBound + 8, payload.count - 8)
                lastSeq = max(lastSeq, seq)
            }
            offset = next
        }
        torn = body.count - offset
        bodyEnd = offset
        recoveredTornBytes = sawHeader ? torn : 0
        if !sawHeader {
            // New (or unreadable) log: start it with a header.
            bodyEnd = 0
            index.removeAll()
            if ftruncate(bodyFD, 0) != 0 { throw FIXStoreError(errno: errno, call: "ftruncate", path: bodyPath) }
            appendHeader()
            writePending()
        } else if torn > 0 {
            if ftruncate(bodyFD, off_t(offset)) != 0 {
                throw FIXStoreError(errno: errno, call: "ftruncate", path: bodyPath)
            }
        }
        // Sequence numbers: the valid slot with the highest generation.
        let slots = try Self.readAll(seqFD, seqPath)
        for s in 0..<2 where slots.count >= (s + 1) * 32 {
            let base = s * 32
            let crc = UInt32(truncatingIfNeeded: Self.u64(slots, base + 24) & 0xFFFF_FFFF)
            guard FIXCRC32.checksum(slots[base..<(base + 24)]) == crc else { continue }
            let gen = Self.u64(slots, base)
            if gen >= generation && gen > 0 {
                generation = gen
                nextSenderMsgSeqNum = Int(Self.u64(slots, base + 8))
                nextTargetMsgSeqNum = Int(Self.u64(slots, base + 16))
            }
        }
        // A message may be in the log whose sequence-number slot never made it to disk.
        nextSenderMsgSeqNum = max(nextSenderMsgSeqNum, lastSeq + 1)
        if policy == .fsyncOnFlush || policy == .fsyncEveryRecord { _ = fdatasync(bodyFD) }
    }

    deinit {
        flush()
        close(bodyFD)
        close(seqFD)
    }

    public func setNextSenderMsgSeqNum(_ value: Int) {
        nextSenderMsgSeqNum = value
        senderChanged = true
        seqNumsChanged()
    }

    public func setNextTargetMsgSeqNum(_ value: Int) {
        nextTargetMsgSeqNum = value
        seqNumsChanged()
    }

    public func save(seqNum: Int, message: UnsafeRawBufferPointer) {
        let payloadStart = bodyEnd + pending.readableBytes + 4 + 8
        pending.writeInteger(UInt32(8 + message.count), littleEndian: true)
        let crcStart = pending.readableBytes
        pending.writeInteger(UInt64(seqNum), littleEndian: true)
        pending.writeBytes(message)
        let crc = pending.withUnsafeReadableBytes {
            FIXCRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[crcStart...]))
        }
        pending.writeInteger(crc, littleEndian: true)
        index[seqNum] = (payloadStart, message.count)
        nextSenderMsgSeqNum = seqNum + 1
        pendingSeqNums = true
        senderChanged = true
        switch policy {
        case .buffered, .fsyncOnFlush: break
        case .writeThrough:
            writePending()
            writeSeqNums()
        case .fsyncEveryRecord:
            writePending()
            _ = fdatasync(bodyFD)
            writeSeqNums()
            _ = fdatasync(seqFD)
        }
    }

    public func forEachMessage(in range: ClosedRange<Int>, _ body: (Int, UnsafeRawBufferPointer) -> Void) {
        writePending()  // resends read from the file
        var scratch = [UInt8]()
        for seq in index.keys.sorted() where range.contains(seq) {
            let (offset, length) = index[seq]!
            scratch = [UInt8](repeating: 0, count: length)
            let n = scratch.withUnsafeMutableBytes { pread(bodyFD, $0.baseAddress, length, off_t(offset)) }
            guard n == length else {
                noteError("pread", bodyPath)
                continue
            }
            scratch.withUnsafeBytes { body(seq, $0) }
        }
    }

    public func reset(now: FIXTimestamp) {
        pending.clear()
        index.removeAll()
        creationTime = now
        nextSenderMsgSeqNum = 1
        nextTargetMsgSeqNum = 1
        if ftruncate(bodyFD, 0) != 0 { noteError("ftruncate", bodyPath) }
        bodyEnd = 0
        appendHeader()
        writePending()
        writeSeqNums()
        if policy != .buffered && policy != .writeThrough {
            _ = fdatasync(bodyFD)
            _ = fdatasync(seqFD)
        }
    }

    /// Writes what is buffered. With `.fsyncOnFlush` it syncs only when something we sent
    /// changed: a lost inbound number only makes the peer resend (PossDup) after a crash, while
    /// a lost outbound message or number would make us reuse a sequence number. So a tick that
    /// only received market data costs one pwrite of 32 bytes and no fsync.
    public func flush() {
        let hadBody = pending.readableBytes > 0
        writePending()
        if pendingSeqNums { writeSeqNums() }
        if policy == .fsyncOnFlush && (hadBody || senderChanged) {
            if hadBody { _ = fdatasync(bodyFD) }
            _ = fdatasync(seqFD)
        }
        senderChanged = false
    }

    /// Number of messages the store can resend.
    public var messageCount: Int { index.count }

    // MARK: Private

    private func seqNumsChanged() {
        switch policy {
        case .buffered, .fsyncOnFlush: pendingSeqNums = true
        case .writeThrough: writeSeqNums()
        case .fsyncEveryRecord:
            writeSeqNums()
            _ = fdatasync(seqFD)
        }
    }

    private func appendHeader() {
        pending.writeInteger(UInt32(Self.magic.count + 8), littleEndian: true)
        let start = pending.readableBytes
        pending.writeBytes(Self.magic)
        pending.writeInteger(UInt64(bitPattern: creationTime.nanoseconds), littleEndian: true)
        let crc = pending.withUnsafeReadableBytes { FIXCRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        pending.writeInteger(crc, littleEndian: true)
    }

    private func writePending() {
        guard pending.readableBytes > 0 else { return }
        let n = pending.readableBytes
        let ok = pending.withUnsafeReadableBytes { raw -> Bool in
            var done = 0
            while done < raw.count {
                let r = pwrite(bodyFD, raw.baseAddress! + done, raw.count - done, off_t(bodyEnd + done))
                if r < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                done += r
            }
            return true
        }
        if !ok { noteError("pwrite", bodyPath) }
        bodyEnd += n
        pending.clear()
    }

    private func writeSeqNums() {
        pendingSeqNums = false
        generation += 1
        var slot = ByteBuffer(capacity: 32)
        slot.writeInteger(generation, littleEndian: true)
        slot.writeInteger(UInt64(nextSenderMsgSeqNum), littleEndian: true)
        slot.writeInteger(UInt64(nextTargetMsgSeqNum), littleEndian: true)
        let crc = slot.withUnsafeReadableBytes { FIXCRC32.checksum($0) }
        slot.writeInteger(crc, littleEndian: true)
        slot.writeInteger(UInt32(0), littleEndian: true)
        let at = off_t(Int(generation % 2) * 32)
        let r = slot.withUnsafeReadableBytes { pwrite(seqFD, $0.baseAddress, 32, at) }
        if r != 32 { noteError("pwrite", seqPath) }
    }

    private func noteError(_ call: String, _ path: String) {
        if lastError == nil { lastError = FIXStoreError(errno: errno, call: call, path: path) }
    }

    /// Creates `path` and any missing parents (`mkdir -p`), so a default such as `data/fix` works on a fresh
    /// checkout.
    static func makeDirectories(_ path: String) throws(FIXStoreError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw FIXStoreError(errno: errno, call: "mkdir", path: prefix)
            }
            prefix += "/"
        }
    }

    private static func readAll(_ fd: Int32, _ path: String) throws(FIXStoreError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FIXStoreError(errno: errno, call: "pread", path: path)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
            offset += n
        }
    }

    /// The payload range and the next offset of the record at `offset`, or nil if it is
    /// incomplete or its CRC does not match (a torn write).
    private static func record(in bytes: [UInt8], at offset: Int) -> (Range<Int>, Int)? {
        guard offset + 4 <= bytes.count else { return nil }
        let length = Int(UInt32(truncatingIfNeeded: u64(bytes, offset, width: 4)))
        let payload = (offset + 4)..<(offset + 4 + length)
        guard length > 0, payload.upperBound + 4 <= bytes.count else { return nil }
        let crc = UInt32(truncatingIfNeeded: u64(bytes, payload.upperBound, width: 4))
        guard FIXCRC32.checksum(bytes[payload]) == crc else { return nil }
        return (payload, payload.upperBound + 4)
    }

    private static func u64(_ bytes: [UInt8], _ at: Int, width: Int = 8) -> UInt64 {
        var v: UInt64 = 0
        for k in (0..<width).reversed() { v = v << 8 | UInt64(bytes[at + k]) }
        return v
    }
}

/// CRC-32 (IEEE 802.3 polynomial, reflected), for torn-write detection in the store.
enum FIXCRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
