// FIXParser: framing plus field parsing in one step, for readers that do not need a session
// (tools, replay, benchmarks). Sessions use FIXFramer and FIXSession, which parses itself.
//
// Owns: nothing new; composes `FIXFramer` and `FIXMessageView` over the caller's bytes.

/// Frames and parses FIX messages from a byte stream without copying or allocating per message.
///
/// ```swift
/// var parser = FIXParser()
/// var offset = 0
/// while true {
///     do { guard try parser.next(bytes, offset: &offset) else { break }; use(parser.message) }
///     catch where error.isGarbled { continue }   // skipped; offset moved on
///     catch { reject(parser.message.msgSeqNum, error) }
/// }
/// ```
public struct FIXParser {
    /// The framer (its counters tell garbage and garbled frames).
    public private(set) var framer: FIXFramer
    /// The last message parsed. Valid while the bytes passed to `next` are.
    public private(set) var message: FIXMessageView
    /// Field rules applied to each message.
    public var options: FIXValidationOptions

    /// Creates a parser.
    /// - Parameters:
    ///   - maxBodyLength: bound on BodyLength(9).
    ///   - maxFields: capacity of the reused field index.
    ///   - options: field rules.
    public init(maxBodyLength: Int = 1 << 20, maxFields: Int = 1024, options: FIXValidationOptions = .strict) {
        framer = FIXFramer(maxBodyLength: maxBodyLength)
        message = FIXMessageView(capacity: maxFields)
        self.options = options
    }

    /// Frames and parses the next message at or after `offset`.
    /// - Returns: true when `message` holds a new message; false when more bytes are needed.
    /// - Throws: a garbled `FIXParseError` (framing) or a field-rule error (then `message` holds
    ///   what was readable, e.g. `msgSeqNum` for a Reject). `offset` has moved past it either way.
    public mutating func next(_ bytes: UnsafeRawBufferPointer, offset: inout Int) throws(FIXParseError) -> Bool {
        guard let frame = try framer.nextFrame(bytes, offset: &offset) else { return false }
        try message.parse(UnsafeRawBufferPointer(rebasing: bytes[frame]), options: options)
        return true
    }
}
