// A parsed FIX message as (tag, value range) pairs over the received bytes: nothing copied.
//
// Owns: splitting a framed message into fields, the fixed-capacity field index reused between
// messages, header order, duplicate tags, repeating groups, required fields, and typed access.
// Leaves framing to `FIXFramer` and session rules (CompIDs, sequence numbers) to `FIXSession`.
//
// Zero-copy: the view keeps the frame's pointer; it is valid only while the caller's bytes
// are (one read callback). Anyone who keeps a message copies its bytes (DESIGN.md, STYLE.md 5).

/// One field: tag and the byte range of its value inside the frame.
public struct FIXField: Sendable, Equatable {
    /// The tag number.
    public let tag: Int32
    /// Offset of the first value byte within the frame.
    public let start: Int32
    /// Offset one past the last value byte (the SOH).
    public let end: Int32
    /// Index of the repeating group holding the field, or -1 at the top level.
    public let group: Int16

    /// The value's byte range within the frame.
    @inlinable public var range: Range<Int> { Int(start)..<Int(end) }
}

/// A repeating group found in the message.
public struct FIXGroup: Sendable, Equatable {
    /// The NumInGroup tag.
    public let countTag: Int
    /// The entry delimiter tag.
    public let delimiter: Int
    /// Field indexes of the entries: from the first entry field to one past the last.
    public let fields: Range<Int>
    /// Number of entries (equal to the NumInGroup value once validated).
    public let count: Int
}

/// One entry of a repeating group: a field index range within the view.
public struct FIXGroupEntry: Sendable, Equatable {
    /// Field indexes of this entry.
    public let fields: Range<Int>

    /// Wraps a field index range.
    @inlinable public init(fields: Range<Int>) { self.fields = fields }
}

/// What `FIXMessageView.parse` checks beyond syntax (QuickFIX `ValidateFieldsHaveValues`,
/// `ValidateFieldsOutOfOrder`, `ValidateUserDefinedFields`-like switches).
public struct FIXValidationOptions: Sendable, Equatable {
    /// Reject a tag repeated outside a repeating group (SessionRejectReason 13).
    public var rejectDuplicateTags = true
    /// Check the standard header fields and the required body fields (SessionRejectReason 1).
    public var checkRequiredFields = true
    /// Check NumInGroup against the entries found (SessionRejectReason 16).
    public var checkGroupCounts = true

    /// Every check on.
    public static let strict = FIXValidationOptions()
    /// Syntax and header order only.
    public static let lenient = FIXValidationOptions(
        rejectDuplicateTags: false, checkRequiredFields: false, checkGroupCounts: false)

    /// Creates options.
    public init(rejectDuplicateTags: Bool = true, checkRequiredFields: Bool = true, checkGroupCounts: Bool = true) {
        self.rejectDuplicateTags = rejectDuplicateTags
        self.checkRequiredFields = checkRequiredFields
        self.checkGroupCounts = checkGroupCounts
    }
}

/// A reusable, fixed-capacity index of one FIX message's fields. Parse a frame, then read
/// fields by tag; parsing the next frame reuses the same storage (no allocation per message).
public struct FIXMessageView {
    /// Most fields one message may have.
    public let capacity: Int
    @usableFromInline var fields: [FIXField]
    @usableFromInline var count = 0
    // Direct index for tags below 1024: slot[tag] is the field index of the first top-level
    // occurrence, valid only when stamp[tag] == generation, so nothing is cleared per message.
    @usableFromInline var slot: [Int32]
    @usableFromInline var stamp: [UInt32]
    @usableFromInline var generation: UInt32 = 0
    @usableFromInline var groups: [FIXGroup] = []

    /// The frame the fields point into. Valid only as long as the bytes passed to `parse` are.
    public private(set) var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
    /// MsgType(35), or nil if absent or invalid.
    public private(set) var msgType: FIXMsgType?
    /// MsgSeqNum(34), or 0 if absent or invalid. Filled even when `parse` throws, so a Reject
    /// can carry RefSeqNum(45).
    public private(set) var msgSeqNum = 0

    /// Creates an empty view able to hold `capacity` fields.
    public init(capacity: Int = 1024) {
        precondition(capacity > 3 && capacity < Int(Int16.max), "capacity must be in 4..<32767")
        self.capacity = capacity
        fields = [FIXField](repeating: FIXField(tag: 0, start: 0, end: 0, group: -1), count: capacity)
        slot = [Int32](repeating: 0, count: 1024)
        stamp = [UInt32](repeating: 0, count: 1024)
        groups.reserveCapacity(8)
    }

    /// Number of fields in the current message.
    @inlinable public var fieldCount: Int { count }

    /// The field at `index` (0 is BeginString).
    @inlinable public func field(at index: Int) -> FIXField {
        precondition(index < count)
        return fields[index]
    }

    /// Repeating groups of the current message, in order.
    @inlinable public var repeatingGroups: ArraySlice<FIXGroup> { groups[...] }

    /// Splits `frame` (one whole message, as returned by `FIXFramer`) into fields and validates it.
    ///
    /// On error the view still holds the fields before the failure plus `msgType` and
    /// `msgSeqNum` when they were readable, so the session can answer with a Reject.
    /// - Throws: `FIXParseError` naming the first rule broken.
    public mutating func parse(
        _ frame: UnsafeRawBufferPointer, options: FIXValidationOptions = .strict
    ) throws(FIXParseError) {
        bytes = frame
        count = 0
        msgType = nil
        msgSeqNum = 0
        groups.removeAll(keepingCapacity: true)
        generation &+= 1
        if generation == 0 {
            for i in 0..<stamp.count { stamp[i] = 0 }
            generation = 1
        }
        let gen = generation
        let n = frame.count
        var firstError: FIXParseError?
        var i = 0
        var openGroup: FIXGroupSpec?
        var groupStart = 0
        var groupCountField = 0
        var groupDeclared = 0
        var groupEntries = 0
        var lastLengthTag = 0
        var lastLengthValue = -1

        @inline(__always) func note(_ e: FIXParseError) { if firstError == nil { firstError = e } }

        while i < n {
            // Tag: decimal digits, no leading zero, ended by '='.
            var tag = 0
            var digits = 0
            var badTag = false
            while i < n {
                let b = frame[i]
                if b == UInt8(ascii: "=") { break }
                let d = Int(b) &- 48
                if d < 0 || d > 9 || digits == 9 || (digits == 0 && d == 0) { badTag = true }
                tag = tag &* 10 &+ d
                digits += 1
                i += 1
                if b == fixSOH { break }
            }
            if badTag || digits == 0 || i >= n || frame[i] != UInt8(ascii: "=") {
                // Not tag=value: skip to the next SOH and carry on to read the header fields.
                note(.invalidTagNumber(offset: i))
                while i < n && frame[i] != fixSOH { i += 1 }
                i += 1
                continue
            }
            i += 1
            let vs = i
            var ve: Int
            let lengthTag = FIXMessageRules.lengthTag(forDataTag: tag)
            if lengthTag != 0 && lengthTag == lastLengthTag && lastLengthValue >= 0 && vs + lastLengthValue < n
                && frame[vs + lastLengthValue] == fixSOH
            {
                ve = vs + lastLengthValue  // data field: may contain SOH
            } else {
                ve = vs
                while ve < n && frame[ve] != fixSOH { ve += 1 }
            }
            i = ve + 1
            if ve == vs { note(.tagWithoutValue(tag: tag)) }
            lastLengthTag = tag
            // Only length fields of data fields need their value now (FIX 4.4 Vol. 1 "data").
            lastLengthValue = FIXMessageRules.isDataLengthTag(tag) ? (FIXValue.int(frame, vs..<ve) ?? -1) : -1

            let index = count
            guard index < capacity else { throw .tooManyFields(limit: capacity) }

            // Standard header order: 8, 9, 35 first (FIX 4.4 Vol. 2 "Standard Message Header").
            if index < 3 {
                let want = index == 0 ? 8 : (index == 1 ? 9 : 35)
                if tag != want { note(.tagOutOfOrder(tag: index == 2 ? 35 : tag)) }
            }
            if tag == 35 {
                msgType = FIXMsgType(bytes: UnsafeRawBufferPointer(rebasing: frame[vs..<ve]))
                if msgType == nil { note(.invalidMsgType) }
            } else if tag == 34 && msgSeqNum == 0 {
                if let v = FIXValue.int(frame, vs..<ve), v > 0 {
                    msgSeqNum = v
                } else {
                    note(.incorrectDataFormat(tag: 34))
                }
            }

            // Inside a repeating group: members belong to the current entry.
            if let spec = openGroup {
                if spec.members.contains(tag) {
                    if tag == spec.delimiter {
                        groupEntries += 1
                    } else if groupEntries == 0 {
                        note(.repeatingGroupOutOfOrder(tag: spec.countTag))
                    }
                    fields[index] = FIXField(
                        tag: Int32(tag), start: Int32(vs), end: Int32(ve), group: Int16(groups.count))
                    count += 1
                    continue
                }
                closeGroup(spec, groupStart, index, groupDeclared, groupEntries, options, &firstError)
                openGroup = nil
            }

            // Top level: duplicates are an error outside groups (SessionRejectReason 13).
            if tag < 1024 {
                if stamp[tag] == gen {
                    if options.rejectDuplicateTags { note(.duplicateTag(tag: tag)) }
                } else {
                    stamp[tag] = gen
                    slot[tag] = Int32(index)
                }
            } else if options.rejectDuplicateTags {
                for k in 0..<index where fields[k].tag == Int32(tag) && fields[k].group < 0 {
                    note(.duplicateTag(tag: tag))
                    break
                }
            }
            fields[index] = FIXField(tag: Int32(tag), start: Int32(vs), end: Int32(ve), group: -1)
            count += 1

            if FIXMessageRules.isGroupCountTag(tag), let type = msgType,
                let spec = FIXMessageRules.group(countTag: tag, msgType: type)
            {
                guard let declared = FIXValue.int(frame, vs..<ve), declared >= 0 else {
                    note(.incorrectDataFormat(tag: tag))
                    continue
                }
                openGroup = spec
                groupCountField = index
                groupStart = index + 1
                groupDeclared = declared
                groupEntries = 0
            }
        }
        _ = groupCountField
        if let spec = openGroup {
            closeGroup(spec, groupStart, count, groupDeclared, groupEntries, options, &firstError)
        }
        if let e = firstError { throw e }
        if count < 4 || fields[count - 1].tag != 10 { throw .tagOutOfOrder(tag: 10) }
        guard let type = msgType else { throw .requiredTagMissing(tag: 35) }
        if options.checkRequiredFields {
            for t in FIXMessageRules.requiredHeader where !has(t) { throw .requiredTagMissing(tag: t) }
            for t in FIXMessageRules.requiredBody(type) where !has(t) { throw .requiredTagMissing(tag: t) }
        }
    }

    private mutating func closeGroup(
        _ spec: FIXGroupSpec, _ start: Int, _ end: Int, _ declared: Int, _ entries: Int,
        _ options: FIXValidationOptions, _ firstError: inout FIXParseError?
    ) {
        if options.checkGroupCounts && declared != entries && firstError == nil {
            firstError = .incorrectNumInGroupCount(tag: spec.countTag)
        }
        groups.append(FIXGroup(countTag: spec.countTag, delimiter: spec.delimiter, fields: start..<end, count: entries))
    }

    // MARK: Top-level access

    /// Field index of the first top-level occurrence of `tag`, or nil.
    @inlinable public func index(of tag: Int) -> Int? {
        if tag > 0 && tag < 1024 {
            return stamp[tag] == generation ? Int(slot[tag]) : nil
        }
        for k in 0..<count where fields[k].tag == Int32(tag) && fields[k].group < 0 { return k }
        return nil
    }

    /// True when the message has `tag` at the top level.
    @inlinable public func has(_ tag: Int) -> Bool { index(of: tag) != nil }

    /// Byte range of `tag`'s value within `bytes`, or nil.
    @inlinable public func range(_ tag: Int) -> Range<Int>? {
        guard let k = index(of: tag) else { return nil }
        return fields[k].range
    }

    /// `tag` as an int; nil when absent or malformed.
    @inlinable public func int(_ tag: Int) -> Int? {
        guard let r = range(tag) else { return nil }
        return FIXValue.int(bytes, r)
    }

    /// `tag` as a fixed-point price scaled by 1e-4; nil when absent or malformed.
    @inlinable public func price(_ tag: Int) -> Int64? {
        guard let r = range(tag) else { return nil }
        return FIXValue.fixedPoint(bytes, r)
    }

    /// `tag` as a UTCTimestamp; nil when absent or malformed.
    @inlinable public func timestamp(_ tag: Int) -> FIXTimestamp? {
        guard let r = range(tag) else { return nil }
        return FIXValue.timestamp(bytes, r)
    }

    /// `tag` as a single character; nil when absent or longer than one byte.
    @inlinable public func char(_ tag: Int) -> UInt8? {
        guard let r = range(tag), r.count == 1 else { return nil }
        return bytes[r.lowerBound]
    }

    /// `tag` as a FIX Boolean (`Y`/`N`); nil when absent or anything else.
    @inlinable public func bool(_ tag: Int) -> Bool? {
        switch char(tag) {
        case UInt8(ascii: "Y"): return true
        case UInt8(ascii: "N"): return false
        default: return nil
        }
    }

    /// `tag`'s value as a String (allocates: for cold paths and tests).
    public func string(_ tag: Int) -> String? {
        guard let r = range(tag) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    /// Calls `body` with `tag`'s value bytes; nil when absent.
    @inlinable public func withValue<R>(_ tag: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let r = range(tag) else { return nil }
        return try body(UnsafeRawBufferPointer(rebasing: bytes[r]))
    }

    /// True when `tag` is present and its value equals `expected` byte for byte.
    @inlinable public func value(_ tag: Int, equals expected: [UInt8]) -> Bool {
        guard let r = range(tag), r.count == expected.count else { return false }
        var k = 0
        for i in r {
            if bytes[i] != expected[k] { return false }
            k += 1
        }
        return true
    }

    /// `tag` as an int, throwing when it is missing or malformed.
    @inlinable public func requiredInt(_ tag: Int) throws(FIXParseError) -> Int {
        guard let r = range(tag) else { throw .requiredTagMissing(tag: tag) }
        guard let v = FIXValue.int(bytes, r) else { throw .incorrectDataFormat(tag: tag) }
        return v
    }

    /// `tag` as a price, throwing when it is missing or malformed.
    @inlinable public func requiredPrice(_ tag: Int) throws(FIXParseError) -> Int64 {
        guard let r = range(tag) else { throw .requiredTagMissing(tag: tag) }
        guard let v = FIXValue.fixedPoint(bytes, r) else { throw .incorrectDataFormat(tag: tag) }
        return v
    }

    /// `tag` as a String, throwing when it is missing.
    public func requiredString(_ tag: Int) throws(FIXParseError) -> String {
        guard let s = string(tag) else { throw .requiredTagMissing(tag: tag) }
        return s
    }

    // MARK: Repeating groups

    /// The first repeating group opened by NumInGroup `countTag`, or nil.
    @inlinable public func group(_ countTag: Int) -> FIXGroup? {
        for g in groups where g.countTag == countTag { return g }
        return nil
    }

    /// Calls `body` with each entry of `group`, in order.
    @inlinable public func forEachEntry<E: Error>(
        of group: FIXGroup, _ body: (FIXGroupEntry) throws(E) -> Void
    ) throws(E) {
        var start = -1
        for k in group.fields {
            if fields[k].tag == Int32(group.delimiter) {
                if start >= 0 { try body(FIXGroupEntry(fields: start..<k)) }
                start = k
            }
        }
        if start >= 0 { try body(FIXGroupEntry(fields: start..<group.fields.upperBound)) }
    }

    /// Byte range of `tag`'s value within a group entry, or nil.
    @inlinable public func range(_ tag: Int, in entry: FIXGroupEntry) -> Range<Int>? {
        for k in entry.fields where fields[k].tag == Int32(tag) { return fields[k].range }
        return nil
    }

    /// `tag` of a group entry as an int.
    @inlinable public func int(_ tag: Int, in entry: FIXGroupEntry) -> Int? {
        guard let r = range(tag, in: entry) else { return nil }
        return FIXValue.int(bytes, r)
    }

    /// `tag` of a group entry as a fixed-point price scaled by 1e-4.
    @inlinable public func price(_ tag: Int, in entry: FIXGroupEntry) -> Int64? {
        guard let r = range(tag, in: entry) else { return nil }
        return FIXValue.fixedPoint(bytes, r)
    }

    /// `tag` of a group entry as one character.
    @inlinable public func char(_ tag: Int, in entry: FIXGroupEntry) -> UInt8? {
        guard let r = range(tag, in: entry), r.count == 1 else { return nil }
        return bytes[r.lowerBound]
    }

    /// `tag` of a group entry as a String (allocates).
    public func string(_ tag: Int, in entry: FIXGroupEntry) -> String? {
        guard let r = range(tag, in: entry) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    /// The whole message as a String with SOH shown as `|` (logging and tests only).
    public var debugDescription: String {
        String(decoding: bytes.map { $0 == fixSOH ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
    }
}
