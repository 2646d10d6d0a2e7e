// What FIX 4.4 requires of the messages this engine speaks.
//
// Owns: required fields per message type, the repeating groups we understand (count tag,
// delimiter, members), and the length-prefixed data fields. This is a deliberately small
// hand-written subset of the FIX 4.4 data dictionary (QuickFIX `FIX44.xml`), covering the
// session messages and the application messages in FIXApplicationMessages.swift.

/// A set of tag numbers below 1024 as a 1024-bit bitmap (no hashing on the hot path).
public struct FIXTagSet: Sendable {
    @usableFromInline var words: [UInt64]

    /// Creates a set; tags of 1024 and above are not representable and trap.
    public init(_ tags: [Int]) {
        words = [UInt64](repeating: 0, count: 16)
        for t in tags {
            precondition(t > 0 && t < 1024, "FIXTagSet holds tags 1...1023")
            words[t >> 6] |= 1 << UInt64(t & 63)
        }
    }

    /// True when `tag` is in the set.
    @inlinable public func contains(_ tag: Int) -> Bool {
        tag > 0 && tag < 1024 && words[tag >> 6] & (1 << UInt64(tag & 63)) != 0
    }
}

/// A repeating group (FIX 4.4 Vol. 1 "Repeating Groups"): NumInGroup tag, the field that must
/// start every entry, and the fields an entry may hold.
public struct FIXGroupSpec: Sendable {
    /// The NumInGroup field, e.g. NoMDEntries(268).
    public let countTag: Int
    /// The first field of every entry, e.g. MDEntryType(269) in 35=W.
    public let delimiter: Int
    /// Fields that may appear inside an entry.
    public let members: FIXTagSet

    /// Creates a group description.
    public init(countTag: Int, delimiter: Int, members: [Int]) {
        self.countTag = countTag
        self.delimiter = delimiter
        self.members = FIXTagSet(members + [delimiter])
    }
}

/// The FIX 4.4 rules the codec checks.
public enum FIXMessageRules {
    // MDEntries members in 35=W/X (FIX 4.4 Vol. 3 "Market Data"): the entry fields plus the
    // Instrument block fields that 35=X carries per entry.
    static let mdEntryMembers = [
        279, 285, 269, 278, 280, 55, 48, 22, 65, 207, 167, 200, 541, 270, 15, 271, 272, 273, 274,
        275, 336, 625, 276, 277, 282, 283, 284, 286, 59, 432, 126, 110, 18, 287, 37, 299, 288,
        289, 346, 290, 546, 811, 58, 354, 355, 451, 291, 292, 83, 1023, 1070,
    ].filter { $0 < 1024 }

    /// NoMDEntries(268) in 35=W: entries start with MDEntryType(269).
    public static let mdEntriesSnapshot = FIXGroupSpec(countTag: 268, delimiter: 269, members: mdEntryMembers)
    /// NoMDEntries(268) in 35=X: entries start with MDUpdateAction(279).
    public static let mdEntriesIncremental = FIXGroupSpec(countTag: 268, delimiter: 279, members: mdEntryMembers)
    /// NoMDEntryTypes(267) in 35=V.
    public static let mdEntryTypes = FIXGroupSpec(countTag: 267, delimiter: 269, members: [269])
    /// NoRelatedSym(146) in 35=V (and others): entries start with Symbol(55).
    public static let relatedSym = FIXGroupSpec(
        countTag: 146, delimiter: 55, members: [55, 65, 48, 22, 460, 461, 167, 200, 541, 207, 15, 711, 555])
    /// NoPartyIDs(453), the Parties block.
    public static let parties = FIXGroupSpec(countTag: 453, delimiter: 448, members: [448, 447, 452])
    /// NoMsgTypes(384) in Logon(A).
    public static let msgTypes = FIXGroupSpec(countTag: 384, delimiter: 372, members: [372, 385])

    /// The group a NumInGroup tag opens in a message type, or nil when the tag is not a known count.
    @inlinable public static func group(countTag: Int, msgType: FIXMsgType) -> FIXGroupSpec? {
        switch countTag {
        case 268: return msgType == .marketDataIncrementalRefresh ? mdEntriesIncremental : mdEntriesSnapshot
        case 267: return mdEntryTypes
        case 146: return relatedSym
        case 453: return parties
        case 384: return msgTypes
        default: return nil
        }
    }

    /// True for the NumInGroup tags `group(countTag:msgType:)` knows: a cheap test run per field
    /// before the lookup.
    @inlinable public static func isGroupCountTag(_ tag: Int) -> Bool {
        tag == 268 || tag == 267 || tag == 146 || tag == 453 || tag == 384
    }

    /// True for the length fields of data fields (95, 93, 90, 212, 354, 350, 348).
    @inlinable public static func isDataLengthTag(_ tag: Int) -> Bool {
        switch tag {
        case 95, 93, 90, 212, 354, 350, 348: return true
        default: return false
        }
    }

    /// The length field that must precede a data field (FIX 4.4 Vol. 1 "data" type), or 0.
    /// The value of a data field may contain SOH, so its extent comes from the length field.
    @inlinable public static func lengthTag(forDataTag tag: Int) -> Int {
        switch tag {
        case 96: return 95
        case 89: return 93
        case 91: return 90
        case 213: return 212
        case 355: return 354
        case 351: return 350
        case 349: return 348
        default: return 0
        }
    }

    /// Standard header fields every message carries (FIX 4.4 Vol. 2 "Standard Message Header").
    public static let requiredHeader: [Int] = [49, 56, 34, 52]

    /// Body fields required per message type (FIX 4.4 Vol. 2-5 message tables, Required = Y,
    /// including required component fields such as Instrument.Symbol(55)). Static arrays, so the
    /// per-message check allocates nothing.
    @inlinable public static func requiredBody(_ t: FIXMsgType) -> [Int] {
        switch t {
        case .logon: return Required.logon
        case .testRequest: return Required.testRequest
        case .resendRequest: return Required.resendRequest
        case .reject: return Required.reject
        case .sequenceReset: return Required.sequenceReset
        case .businessMessageReject: return Required.businessMessageReject
        case .marketDataRequest: return Required.marketDataRequest
        case .marketDataSnapshotFullRefresh: return Required.snapshot
        case .marketDataIncrementalRefresh: return Required.incremental
        case .newOrderSingle: return Required.newOrderSingle
        case .orderCancelRequest: return Required.cancel
        case .orderCancelReplaceRequest: return Required.cancelReplace
        case .executionReport: return Required.executionReport
        case .orderCancelReject: return Required.cancelReject
        default: return Required.none
        }
    }

    @usableFromInline enum Required {
        @usableFromInline static let logon = [98, 108]
        @usableFromInline static let testRequest = [112]
        @usableFromInline static let resendRequest = [7, 16]
        @usableFromInline static let reject = [45]
        @usableFromInline static let sequenceReset = [36]
        @usableFromInline static let businessMessageReject = [45, 380]
        @usableFromInline static let marketDataRequest = [262, 263, 264, 267]
        @usableFromInline static let snapshot = [55, 268]
        @usableFromInline static let incremental = [268]
        @usableFromInline static let newOrderSingle = [11, 55, 54, 60, 40]
        @usableFromInline static let cancel = [41, 11, 55, 54, 60]
        @usableFromInline static let cancelReplace = [41, 11, 55, 54, 60, 40]
        @usableFromInline static let executionReport = [37, 17, 150, 39, 55, 54, 151, 14, 6]
        @usableFromInline static let cancelReject = [37, 11, 41, 39, 434]
        @usableFromInline static let none: [Int] = []
    }
}
