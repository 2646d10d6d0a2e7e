// The typed errors of the FIX codec and how each maps onto the wire reply.
//
// Owns: `FIXParseError` and its mapping to SessionRejectReason(373) (FIX 4.4 Vol. 2,
// "Reject <3>"), RefTagID(371) and Logout text. Leaves to the session which reply is sent.
//
// FIX 4.4 Vol. 2 "Session level test cases" 2.c/2.d/3: a garbled message (bad BodyLength or
// CheckSum, not starting with BeginString) is ignored without incrementing the inbound
// MsgSeqNum; a wrong BeginString after logon forces Logout; a message that frames correctly
// but breaks field rules is answered with Reject(3) and consumes its sequence number.

/// A malformed FIX message. Short input is never an error (the framer returns nil instead).
public enum FIXParseError: Error, Equatable, Sendable {
    // Framing: the message is garbled and must be ignored (no Reject, sequence number not consumed).
    /// `8=FIX` found but the version is not `FIX.4.4`.
    case unsupportedBeginString
    /// BodyLength(9) missing, not second, not a decimal number, or with a leading zero.
    case invalidBodyLength
    /// CheckSum(10) is not where BodyLength says the body ends.
    case bodyLengthMismatch
    /// BodyLength announces more than the configured maximum message size.
    case messageTooLarge(Int)
    /// CheckSum(10) is not exactly three digits followed by SOH.
    case invalidCheckSumField
    /// CheckSum(10) does not match the byte sum.
    case checkSumMismatch(expected: Int, received: Int)

    // Field rules: the message is answered with Reject(3) carrying `sessionRejectReason`.
    /// A tag that is not a positive decimal without leading zeros, or a field without `=`.
    case invalidTagNumber(offset: Int)
    /// `tag=` followed directly by SOH.
    case tagWithoutValue(tag: Int)
    /// The same tag twice outside a repeating group.
    case duplicateTag(tag: Int)
    /// A standard header field out of place (35 must be third).
    case tagOutOfOrder(tag: Int)
    /// A field the message type requires is absent.
    case requiredTagMissing(tag: Int)
    /// A value that does not parse as its type (int, price, timestamp, char, boolean).
    case incorrectDataFormat(tag: Int)
    /// A value outside the allowed set.
    case valueOutOfRange(tag: Int)
    /// MsgType(35) empty, too long, or unknown.
    case invalidMsgType
    /// A NumInGroup field disagrees with the number of entries.
    case incorrectNumInGroupCount(tag: Int)
    /// A repeating group entry does not start with its delimiter field.
    case repeatingGroupOutOfOrder(tag: Int)
    /// More fields than the view's fixed index can hold.
    case tooManyFields(limit: Int)

    /// True for framing errors: the message is ignored and its sequence number is not consumed.
    public var isGarbled: Bool {
        switch self {
        case .unsupportedBeginString, .invalidBodyLength, .bodyLengthMismatch, .messageTooLarge,
            .invalidCheckSumField, .checkSumMismatch:
            return true
        default:
            return false
        }
    }

    /// SessionRejectReason(373) for the Reject(3) answering this error (FIX 4.4 Vol. 6, tag 373);
    /// nil for garbled messages, which are not answered.
    public var sessionRejectReason: Int? {
        switch self {
        case .unsupportedBeginString, .invalidBodyLength, .bodyLengthMismatch, .messageTooLarge,
            .invalidCheckSumField, .checkSumMismatch:
            return nil
        case .invalidTagNumber: return 0
        case .requiredTagMissing: return 1
        case .tagWithoutValue: return 4
        case .valueOutOfRange: return 5
        case .incorrectDataFormat: return 6
        case .invalidMsgType: return 11
        case .duplicateTag: return 13
        case .tagOutOfOrder: return 14
        case .repeatingGroupOutOfOrder: return 15
        case .incorrectNumInGroupCount: return 16
        case .tooManyFields: return 99
        }
    }

    /// RefTagID(371) for the Reject(3), when the error names a tag.
    public var refTagID: Int? {
        switch self {
        case .tagWithoutValue(let t), .duplicateTag(let t), .tagOutOfOrder(let t), .requiredTagMissing(let t),
            .incorrectDataFormat(let t), .valueOutOfRange(let t), .incorrectNumInGroupCount(let t),
            .repeatingGroupOutOfOrder(let t):
            return t
        case .invalidMsgType:
            return FIXTag.msgType
        default:
            return nil
        }
    }

    /// Human-readable Text(58) for a Reject or Logout (cold path: allocates).
    public var text: String {
        switch self {
        case .unsupportedBeginString: return "Incorrect BeginString"
        case .invalidBodyLength: return "Invalid BodyLength"
        case .bodyLengthMismatch: return "BodyLength does not match CheckSum position"
        case .messageTooLarge(let n): return "Message of \(n) bytes exceeds the limit"
        case .invalidCheckSumField: return "Invalid CheckSum field"
        case .checkSumMismatch(let e, let r): return "CheckSum \(r) does not match computed \(e)"
        case .invalidTagNumber: return "Invalid tag number"
        case .tagWithoutValue(let t): return "Tag specified without a value (\(t))"
        case .duplicateTag(let t): return "Tag appears more than once (\(t))"
        case .tagOutOfOrder(let t): return "Tag specified out of required order (\(t))"
        case .requiredTagMissing(let t): return "Required tag missing (\(t))"
        case .incorrectDataFormat(let t): return "Incorrect data format for value (\(t))"
        case .valueOutOfRange(let t): return "Value is incorrect (out of range) for this tag (\(t))"
        case .invalidMsgType: return "Invalid MsgType"
        case .incorrectNumInGroupCount(let t): return "Incorrect NumInGroup count for repeating group (\(t))"
        case .repeatingGroupOutOfOrder(let t): return "Repeating group fields out of order (\(t))"
        case .tooManyFields(let n): return "More than \(n) fields"
        }
    }
}
