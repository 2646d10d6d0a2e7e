// FIX 4.4 tag numbers and message types used by the codec and the session layer.
//
// Owns: the tag constants (FIX 4.4 Volume 6, "Fields by tag") and `FIXMsgType`, a two-byte
// packed MsgType(35) value so message types compare as integers on the hot path.
// Leaves to others: which fields a message requires (FIXMessageRules.swift).

/// Tag numbers of the FIX 4.4 fields this engine reads or writes.
public enum FIXTag {
    public static let account = 1
    public static let avgPx = 6
    public static let beginSeqNo = 7
    public static let beginString = 8
    public static let bodyLength = 9
    public static let checkSum = 10
    public static let clOrdID = 11
    public static let cumQty = 14
    public static let endSeqNo = 16
    public static let execID = 17
    public static let msgSeqNum = 34
    public static let msgType = 35
    public static let newSeqNo = 36
    public static let orderID = 37
    public static let orderQty = 38
    public static let ordStatus = 39
    public static let ordType = 40
    public static let origClOrdID = 41
    public static let possDupFlag = 43
    public static let price = 44
    public static let refSeqNum = 45
    public static let senderCompID = 49
    public static let sendingTime = 52
    public static let side = 54
    public static let symbol = 55
    public static let targetCompID = 56
    public static let text = 58
    public static let timeInForce = 59
    public static let transactTime = 60
    public static let signatureLength = 93
    public static let signature = 89
    public static let secureDataLen = 90
    public static let secureData = 91
    public static let rawDataLength = 95
    public static let rawData = 96
    public static let possResend = 97
    public static let encryptMethod = 98
    public static let cxlRejReason = 102
    public static let heartBtInt = 108
    public static let testReqID = 112
    public static let origSendingTime = 122
    public static let gapFillFlag = 123
    public static let resetSeqNumFlag = 141
    public static let noRelatedSym = 146
    public static let execType = 150
    public static let leavesQty = 151
    public static let xmlDataLen = 212
    public static let xmlData = 213
    public static let mdReqID = 262
    public static let subscriptionRequestType = 263
    public static let marketDepth = 264
    public static let mdUpdateType = 265
    public static let noMDEntryTypes = 267
    public static let noMDEntries = 268
    public static let mdEntryType = 269
    public static let mdEntryPx = 270
    public static let mdEntrySize = 271
    public static let mdEntryDate = 272
    public static let mdEntryTime = 273
    public static let mdUpdateAction = 279
    public static let encodedTextLen = 354
    public static let encodedText = 355
    public static let refTagID = 371
    public static let refMsgType = 372
    public static let sessionRejectReason = 373
    public static let businessRejectReason = 380
    public static let cxlRejResponseTo = 434
    public static let noPartyIDs = 453
    public static let partyID = 448
    public static let partyIDSource = 447
    public static let partyRole = 452
    public static let noMsgTypes = 384
    public static let msgDirection = 385
    public static let username = 553
    public static let password = 554
    public static let lastPx = 31
    public static let lastQty = 32
    public static let nextExpectedMsgSeqNum = 789
}

/// A MsgType(35) value of one or two ASCII characters, packed into an integer
/// (first character in the low byte) so the hot path compares message types without strings.
public struct FIXMsgType: Hashable, Sendable, CustomStringConvertible {
    /// The packed characters: `first | second << 8`; `second` is 0 for one-character types.
    public let rawValue: UInt16

    /// Wraps an already packed value.
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Packs a one- or two-character ASCII message type such as `"A"` or `"AE"`.
    public init(_ text: StaticString) {
        precondition(text.utf8CodeUnitCount == 1 || text.utf8CodeUnitCount == 2, "MsgType is 1 or 2 characters")
        let p = text.utf8Start
        rawValue = UInt16(p[0]) | (text.utf8CodeUnitCount == 2 ? UInt16(p[1]) << 8 : 0)
    }

    /// Packs the bytes of a MsgType value; nil when empty, longer than two bytes, or not printable.
    @inlinable public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 1 || bytes.count == 2 else { return nil }
        let a = bytes[0]
        guard a > 32 && a < 127 else { return nil }
        if bytes.count == 2 {
            let b = bytes[1]
            guard b > 32 && b < 127 else { return nil }
            rawValue = UInt16(a) | UInt16(b) << 8
        } else {
            rawValue = UInt16(a)
        }
    }

    /// Number of characters (1 or 2).
    @inlinable public var length: Int { rawValue > 0xFF ? 2 : 1 }

    /// The first character.
    @inlinable public var first: UInt8 { UInt8(truncatingIfNeeded: rawValue) }

    /// True for the session-level (administrative) types 0, 1, 2, 3, 4, 5 and A (FIX 4.4 Vol. 2).
    @inlinable public var isAdmin: Bool {
        guard rawValue <= 0xFF else { return false }
        let c = UInt8(rawValue)
        return (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "5")) || c == UInt8(ascii: "A")
    }

    public var description: String {
        var s = String(UnicodeScalar(first))
        if rawValue > 0xFF { s.append(Character(UnicodeScalar(UInt8(rawValue >> 8)))) }
        return s
    }

    public static let heartbeat = FIXMsgType("0")
    public static let testRequest = FIXMsgType("1")
    public static let resendRequest = FIXMsgType("2")
    public static let reject = FIXMsgType("3")
    public static let sequenceReset = FIXMsgType("4")
    public static let logout = FIXMsgType("5")
    public static let executionReport = FIXMsgType("8")
    public static let orderCancelReject = FIXMsgType("9")
    public static let logon = FIXMsgType("A")
    public static let newOrderSingle = FIXMsgType("D")
    public static let orderCancelRequest = FIXMsgType("F")
    public static let orderCancelReplaceRequest = FIXMsgType("G")
    public static let businessMessageReject = FIXMsgType("j")
    public static let marketDataRequest = FIXMsgType("V")
    public static let marketDataSnapshotFullRefresh = FIXMsgType("W")
    public static let marketDataIncrementalRefresh = FIXMsgType("X")
    public static let marketDataRequestReject = FIXMsgType("Y")
}
