// Writes FIX 4.4 messages straight into a Wire ByteBuffer.
//
// Owns: BeginString, BodyLength(9) computed after the body is written, CheckSum(10), and the
// typed field writers. Leaves header contents (CompIDs, MsgSeqNum, SendingTime) to the session.
//
// BodyLength is not known until the body is written, so `beginMessage` reserves seven digits
// and `finishMessage` slides the body left over the unused ones: one short move of the body
// instead of a second buffer (the body is small; the prefix never moves).

public import Wire

/// Encodes FIX messages into `buffer`, one after another (several messages may share a buffer).
///
/// ```swift
/// var enc = FIXEncoder()
/// enc.beginMessage(.heartbeat)
/// enc.field(49, "CLIENT"); enc.field(56, "EXCHANGE"); enc.field(34, 7)
/// enc.field(52, timestamp: now, precision: .milliseconds)
/// enc.finishMessage()
/// connection.write(enc.takeBuffer())
/// ```
public struct FIXEncoder {
    /// The bytes written so far; finished messages are complete and checksummed.
    public var buffer: ByteBuffer
    @usableFromInline var messageStart = -1
    @usableFromInline var lengthSlot = 0
    @usableFromInline static let reservedLengthDigits = 7

    /// Creates an encoder writing into `buffer` (appending after what it holds).
    public init(buffer: ByteBuffer = ByteBuffer(capacity: 1024)) {
        self.buffer = buffer
    }

    /// True between `beginMessage` and `finishMessage`.
    @inlinable public var inMessage: Bool { messageStart >= 0 }

    /// Starts a message: writes `8=FIX.4.4`, a BodyLength placeholder and MsgType(35).
    @inlinable public mutating func beginMessage(_ msgType: FIXMsgType) {
        precondition(messageStart < 0, "beginMessage inside a message")
        messageStart = buffer.readableBytes
        buffer.writeStaticString("8=FIX.4.4\u{01}9=")
        lengthSlot = buffer.readableBytes
        buffer.writeStaticString("0000000\u{01}35=")
        buffer.writeInteger(msgType.first)
        if msgType.length == 2 { buffer.writeInteger(UInt8(truncatingIfNeeded: msgType.rawValue >> 8)) }
        buffer.writeInteger(fixSOH)
    }

    /// Completes the message: fills in BodyLength and appends CheckSum.
    /// - Returns: the message's byte range relative to `buffer`'s reader index.
    @discardableResult
    @inlinable public mutating func finishMessage() -> Range<Int> {
        precondition(messageStart >= 0, "finishMessage without beginMessage")
        let bodyStart = lengthSlot + Self.reservedLengthDigits + 1
        let end = buffer.readableBytes
        let bodyLength = end - bodyStart
        var digits = 1
        var p = 10
        while bodyLength >= p {
            digits += 1
            p *= 10
        }
        precondition(digits <= Self.reservedLengthDigits, "message body too large")
        let shift = Self.reservedLengthDigits - digits
        let slot = lengthSlot
        buffer.withUnsafeMutableReadableBytes { bytes in
            if shift > 0 {
                // Forward copy is safe: the destination lies before the source.
                for k in bodyStart..<end { bytes[k - shift] = bytes[k] }
            }
            var v = bodyLength
            var k = digits
            while k > 0 {
                k -= 1
                bytes[slot + k] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
            }
            bytes[slot + digits] = fixSOH
        }
        let newEnd = end - shift
        buffer.truncate(toReadable: newEnd)
        let start = messageStart
        let sum = buffer.withUnsafeReadableBytes { FIXFramer.checkSum($0, start..<newEnd) }
        buffer.writeStaticString("10=")
        buffer.writeInteger(UInt8(truncatingIfNeeded: sum / 100) &+ 48)
        buffer.writeInteger(UInt8(truncatingIfNeeded: (sum / 10) % 10) &+ 48)
        buffer.writeInteger(UInt8(truncatingIfNeeded: sum % 10) &+ 48)
        buffer.writeInteger(fixSOH)
        messageStart = -1
        return start..<buffer.readableBytes
    }

    /// Abandons a message begun but not finished.
    public mutating func cancelMessage() {
        guard messageStart >= 0 else { return }
        buffer.truncate(toReadable: messageStart)
        messageStart = -1
    }

    /// Returns the bytes written and starts a fresh buffer of the same capacity.
    public mutating func takeBuffer() -> ByteBuffer {
        precondition(messageStart < 0, "takeBuffer inside a message")
        let out = buffer
        buffer = ByteBuffer(capacity: max(256, out.capacity))
        return out
    }

    @inlinable mutating func tag(_ tag: Int) {
        buffer.writeDecimal(tag)
        buffer.writeInteger(UInt8(ascii: "="))
    }

    /// Writes `tag=<decimal>`.
    @inlinable public mutating func field(_ tag: Int, _ value: Int) {
        self.tag(tag)
        buffer.writeDecimal(value)
        buffer.writeInteger(fixSOH)
    }

    /// Writes `tag=<value>`; the value must not contain SOH.
    @inlinable public mutating func field(_ tag: Int, _ value: String) {
        assert(!value.utf8.contains(fixSOH), "SOH inside the value of tag \(tag)")
        self.tag(tag)
        buffer.writeString(value)
        buffer.writeInteger(fixSOH)
    }

    /// Writes `tag=<literal>`.
    @inlinable public mutating func field(_ tag: Int, literal: StaticString) {
        self.tag(tag)
        buffer.writeStaticString(literal)
        buffer.writeInteger(fixSOH)
    }

    /// Writes `tag=<bytes>` (copying a value from a received message, or a stored CompID).
    @inlinable public mutating func field(_ tag: Int, bytes: UnsafeRawBufferPointer) {
        self.tag(tag)
        buffer.writeBytes(bytes)
        buffer.writeInteger(fixSOH)
    }

    /// Writes `tag=<bytes>` from an array.
    @inlinable public mutating func field(_ tag: Int, bytes: [UInt8]) {
        bytes.withUnsafeBytes { field(tag, bytes: $0) }
    }

    /// Writes a one-character field such as Side(54) or OrdType(40).
    @inlinable public mutating func field(_ tag: Int, char: UInt8) {
        self.tag(tag)
        buffer.writeInteger(char)
        buffer.writeInteger(fixSOH)
    }

    /// Writes a Boolean field as `Y` or `N`.
    @inlinable public mutating func field(_ tag: Int, bool: Bool) {
        field(tag, char: bool ? UInt8(ascii: "Y") : UInt8(ascii: "N"))
    }

    /// Writes a fixed-point price (scaled by 1e-4) with the fraction digits it needs ("2450.75", "100").
    @inlinable public mutating func field(_ tag: Int, price: Int64) {
        self.tag(tag)
        buffer.writeFixedPoint(price, scale: 4, minFraction: 0)
        buffer.writeInteger(fixSOH)
    }

    /// Writes a UTCTimestamp.
    @inlinable public mutating func field(_ tag: Int, timestamp: FIXTimestamp, precision: FIXTimestampPrecision) {
        self.tag(tag)
        buffer.writeFIXTimestamp(timestamp, precision: precision)
        buffer.writeInteger(fixSOH)
    }

    /// Writes a UTCDateOnly field such as MDEntryDate(272).
    @inlinable public mutating func field(_ tag: Int, date: FIXTimestamp) {
        self.tag(tag)
        buffer.writeFIXDate(date)
        buffer.writeInteger(fixSOH)
    }

    /// Writes a UTCTimeOnly field such as MDEntryTime(273).
    @inlinable public mutating func field(_ tag: Int, timeOnly: FIXTimestamp, precision: FIXTimestampPrecision) {
        self.tag(tag)
        buffer.writeFIXTimeOnly(timeOnly, precision: precision)
        buffer.writeInteger(fixSOH)
    }

    /// Writes MsgType-valued fields such as RefMsgType(372).
    @inlinable public mutating func field(_ tag: Int, msgType: FIXMsgType) {
        self.tag(tag)
        buffer.writeInteger(msgType.first)
        if msgType.length == 2 { buffer.writeInteger(UInt8(truncatingIfNeeded: msgType.rawValue >> 8)) }
        buffer.writeInteger(fixSOH)
    }
}
