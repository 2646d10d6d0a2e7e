// Stream framing for FIX tag=value: finds message boundaries in received bytes.
//
// Owns: locating `8=FIX.4.4<SOH>9=<len><SOH> ... 10=NNN<SOH>`, partial messages across reads,
// many messages per read, skipping (and counting) garbage before `8=FIX`, BodyLength and
// CheckSum verification. Leaves field splitting and validation to `FIXMessageView`.
//
// Framing is not parsing (QuickFIX `Parser.cpp`, quickfixgo `parser.go`): this file only jumps
// from BeginString over BodyLength to CheckSum, so a frame costs one pass for the checksum.
// Nothing is copied; frames are returned as ranges into the caller's bytes.

/// The FIX SOH field delimiter (0x01).
public let fixSOH: UInt8 = 0x01

/// Finds complete FIX 4.4 messages in a byte stream (FIX 4.4 Vol. 2, "Message format").
///
/// Usage from a read callback that must report how many bytes it consumed:
/// ```swift
/// var offset = 0
/// while true {
///     do { guard let frame = try framer.nextFrame(bytes, offset: &offset) else { break }; handle(frame) }
///     catch { count(error) }   // offset has moved past the bad bytes; keep going
/// }
/// return offset
/// ```
public struct FIXFramer: Sendable {
    /// Largest BodyLength(9) accepted; a larger one is rejected before buffering the body.
    public let maxBodyLength: Int
    /// Bytes skipped while looking for `8=FIX` (noise, binary garbage, resynchronisation).
    public private(set) var garbageBytesSkipped: Int = 0
    /// Complete, checksum-valid frames returned.
    public private(set) var framesDecoded: Int = 0
    /// Frames thrown away as garbled (bad BeginString, BodyLength or CheckSum).
    public private(set) var garbledFrames: Int = 0

    /// Creates a framer.
    /// - Parameter maxBodyLength: bound on BodyLength(9); defaults to 1 MiB, far above any
    ///   message this engine exchanges, yet bounding what a peer can make us buffer.
    public init(maxBodyLength: Int = 1 << 20) {
        precondition(maxBodyLength > 0 && maxBodyLength <= 9_999_999, "maxBodyLength must fit 7 digits")
        self.maxBodyLength = maxBodyLength
    }

    private static let beginString: StaticString = "8=FIX.4.4\u{01}9="

    /// Returns the next complete message in `bytes[offset...]`, or nil when more bytes are needed.
    ///
    /// - Parameters:
    ///   - bytes: everything received and not yet consumed.
    ///   - offset: where to start; on return, every byte before it may be discarded (it is
    ///     past the returned frame, past skipped garbage, or past a garbled frame's start).
    /// - Returns: the byte range of the message, from `8=` through the SOH after CheckSum.
    /// - Throws: a garbled `FIXParseError` (`isGarbled` is true); `offset` has advanced so the
    ///   caller can simply call again.
    public mutating func nextFrame(
        _ bytes: UnsafeRawBufferPointer, offset: inout Int
    ) throws(FIXParseError) -> Range<Int>? {
        let n = bytes.count
        let p = Self.findStart(bytes, from: offset)
        garbageBytesSkipped += p - offset
        offset = p
        // Match the fixed prefix "8=FIX.4.4<SOH>9=" as far as bytes are available.
        let prefix = Self.beginString
        let prefixCount = prefix.utf8CodeUnitCount
        var k = 0
        while k < prefixCount && p + k < n {
            if bytes[p + k] != prefix.utf8Start[k] {
                garbledFrames += 1
                offset = p + 1
                // Only "8=FIX" was matched by findStart, so a mismatch here is the version or the 9= tag.
                throw k < 10 ? .unsupportedBeginString : .invalidBodyLength
            }
            k += 1
        }
        if k < prefixCount { return nil }
        // BodyLength digits: 1...7 of them, no leading zero, then SOH.
        var i = p + prefixCount
        var bodyLength = 0
        var digits = 0
        while true {
            guard i < n else { return nil }
            let b = bytes[i]
            if b == fixSOH { break }
            let d = Int(b) &- 48
            if d < 0 || d > 9 || digits == 7 || (digits == 1 && bodyLength == 0) {
                garbledFrames += 1
                offset = p + 1
                throw .invalidBodyLength
            }
            bodyLength = bodyLength * 10 + d
            digits += 1
            i += 1
        }
        if digits == 0 || bodyLength == 0 {
            garbledFrames += 1
            offset = p + 1
            throw .invalidBodyLength
        }
        if bodyLength > maxBodyLength {
            garbledFrames += 1
            offset = p + 1
            throw .messageTooLarge(bodyLength)
        }
        let bodyStart = i + 1
        let checkSumAt = bodyStart + bodyLength
        let end = checkSumAt + 7  // "10=NNN<SOH>"
        guard end <= n else { return nil }
        // BodyLength counts through the SOH that ends the last body field (FIX 4.4 Vol. 2 "BodyLength").
        guard bytes[checkSumAt - 1] == fixSOH, bytes[checkSumAt] == UInt8(ascii: "1"),
            bytes[checkSumAt + 1] == UInt8(ascii: "0"), bytes[checkSumAt + 2] == UInt8(ascii: "=")
        else {
            garbledFrames += 1
            offset = p + 1
            throw .bodyLengthMismatch
        }
        let d0 = Int(bytes[checkSumAt + 3]) &- 48
        let d1 = Int(bytes[checkSumAt + 4]) &- 48
        let d2 = Int(bytes[checkSumAt + 5]) &- 48
        guard (0...9).contains(d0), (0...9).contains(d1), (0...9).contains(d2), bytes[checkSumAt + 6] == fixSOH else {
            garbledFrames += 1
            offset = p + 1
            throw .invalidCheckSumField
        }
        let received = d0 * 100 + d1 * 10 + d2
        let expected = Self.checkSum(bytes, p..<checkSumAt)
        // The frame was delimited correctly, so skip all of it rather than resynchronising inside.
        offset = end
        guard received == expected else {
            garbledFrames += 1
            throw .checkSumMismatch(expected: expected, received: received)
        }
        framesDecoded += 1
        return p..<end
    }

    /// FIX CheckSum: the byte sum of everything before `10=`, modulo 256 (FIX 4.4 Vol. 2, "CheckSum").
    @inlinable public static func checkSum(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
        var sum: UInt32 = 0
        for i in range { sum &+= UInt32(bytes[i]) }
        return Int(sum & 0xFF)
    }

    /// Index of the first possible message start at or after `from`: either a full "8=FIX" or,
    /// at the end of the bytes, a prefix of it that more bytes may complete.
    static func findStart(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        let n = bytes.count
        var i = from
        while i < n {
            if bytes[i] == UInt8(ascii: "8") {
                // Compare "=FIX" with what is available.
                var ok = true
                var k = 1
                let tail: (UInt8, UInt8, UInt8, UInt8) = (61, 70, 73, 88)  // "=FIX"
                while k < 5 && i + k < n {
                    let want: UInt8
                    switch k {
                    case 1: want = tail.0
                    case 2: want = tail.1
                    case 3: want = tail.2
                    default: want = tail.3
                    }
                    if bytes[i + k] != want {
                        ok = false
                        break
                    }
                    k += 1
                }
                if ok { return i }
            }
            i += 1
        }
        return n
    }
}
