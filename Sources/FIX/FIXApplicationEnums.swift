// One-character code sets of the application messages (FIX 4.4 Vol. 6, field values).
//
// Owns: Side(54), OrdType(40), TimeInForce(59), ExecType(150), OrdStatus(39), MDEntryType(269),
// MDUpdateAction(279), SubscriptionRequestType(263), CxlRejResponseTo(434). Each is a struct
// over the ASCII byte rather than an enum, so an unknown value from a peer is representable
// and can be rejected by the application instead of crashing the decoder.

/// A one-character FIX code.
public protocol FIXCharCode: RawRepresentable, Hashable, Sendable where RawValue == UInt8 {}

extension FIXCharCode {
    /// The code as a one-character string (cold path).
    public var text: String { String(UnicodeScalar(rawValue)) }
}

/// Side(54).
public struct FIXSide: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let buy = FIXSide(rawValue: UInt8(ascii: "1"))
    public static let sell = FIXSide(rawValue: UInt8(ascii: "2"))
    public static let sellShort = FIXSide(rawValue: UInt8(ascii: "5"))
}

/// OrdType(40).
public struct FIXOrdType: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let market = FIXOrdType(rawValue: UInt8(ascii: "1"))
    public static let limit = FIXOrdType(rawValue: UInt8(ascii: "2"))
    public static let stop = FIXOrdType(rawValue: UInt8(ascii: "3"))
    public static let stopLimit = FIXOrdType(rawValue: UInt8(ascii: "4"))
}

/// TimeInForce(59).
public struct FIXTimeInForce: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let day = FIXTimeInForce(rawValue: UInt8(ascii: "0"))
    public static let goodTillCancel = FIXTimeInForce(rawValue: UInt8(ascii: "1"))
    public static let immediateOrCancel = FIXTimeInForce(rawValue: UInt8(ascii: "3"))
    public static let fillOrKill = FIXTimeInForce(rawValue: UInt8(ascii: "4"))
}

/// ExecType(150), FIX 4.4 values (fills are `trade`, F).
public struct FIXExecType: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let new = FIXExecType(rawValue: UInt8(ascii: "0"))
    public static let canceled = FIXExecType(rawValue: UInt8(ascii: "4"))
    public static let replaced = FIXExecType(rawValue: UInt8(ascii: "5"))
    public static let pendingCancel = FIXExecType(rawValue: UInt8(ascii: "6"))
    public static let rejected = FIXExecType(rawValue: UInt8(ascii: "8"))
    public static let pendingNew = FIXExecType(rawValue: UInt8(ascii: "A"))
    public static let expired = FIXExecType(rawValue: UInt8(ascii: "C"))
    public static let pendingReplace = FIXExecType(rawValue: UInt8(ascii: "E"))
    public static let trade = FIXExecType(rawValue: UInt8(ascii: "F"))
    public static let orderStatus = FIXExecType(rawValue: UInt8(ascii: "I"))
}

/// OrdStatus(39).
public struct FIXOrdStatus: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let new = FIXOrdStatus(rawValue: UInt8(ascii: "0"))
    public static let partiallyFilled = FIXOrdStatus(rawValue: UInt8(ascii: "1"))
    public static let filled = FIXOrdStatus(rawValue: UInt8(ascii: "2"))
    public static let canceled = FIXOrdStatus(rawValue: UInt8(ascii: "4"))
    public static let replaced = FIXOrdStatus(rawValue: UInt8(ascii: "5"))
    public static let pendingCancel = FIXOrdStatus(rawValue: UInt8(ascii: "6"))
    public static let rejected = FIXOrdStatus(rawValue: UInt8(ascii: "8"))
    public static let pendingNew = FIXOrdStatus(rawValue: UInt8(ascii: "A"))
    public static let expired = FIXOrdStatus(rawValue: UInt8(ascii: "C"))
    public static let pendingReplace = FIXOrdStatus(rawValue: UInt8(ascii: "E"))
}

/// MDEntryType(269).
public struct FIXMDEntryType: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bid = FIXMDEntryType(rawValue: UInt8(ascii: "0"))
    public static let offer = FIXMDEntryType(rawValue: UInt8(ascii: "1"))
    public static let trade = FIXMDEntryType(rawValue: UInt8(ascii: "2"))
    public static let openingPrice = FIXMDEntryType(rawValue: UInt8(ascii: "4"))
    public static let closingPrice = FIXMDEntryType(rawValue: UInt8(ascii: "5"))
    public static let tradingSessionHigh = FIXMDEntryType(rawValue: UInt8(ascii: "7"))
    public static let tradingSessionLow = FIXMDEntryType(rawValue: UInt8(ascii: "8"))
    public static let tradeVolume = FIXMDEntryType(rawValue: UInt8(ascii: "B"))
}

/// MDUpdateAction(279).
public struct FIXMDUpdateAction: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let new = FIXMDUpdateAction(rawValue: UInt8(ascii: "0"))
    public static let change = FIXMDUpdateAction(rawValue: UInt8(ascii: "1"))
    public static let delete = FIXMDUpdateAction(rawValue: UInt8(ascii: "2"))
}

/// SubscriptionRequestType(263).
public struct FIXSubscriptionRequestType: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let snapshot = FIXSubscriptionRequestType(rawValue: UInt8(ascii: "0"))
    public static let subscribe = FIXSubscriptionRequestType(rawValue: UInt8(ascii: "1"))
    public static let unsubscribe = FIXSubscriptionRequestType(rawValue: UInt8(ascii: "2"))
}

/// CxlRejResponseTo(434).
public struct FIXCxlRejResponseTo: FIXCharCode {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let cancel = FIXCxlRejResponseTo(rawValue: UInt8(ascii: "1"))
    public static let cancelReplace = FIXCxlRejResponseTo(rawValue: UInt8(ascii: "2"))
}

extension FIXMessageView {
    /// `tag` as a one-character code; nil when absent or not one character.
    @inlinable public func code<C: FIXCharCode>(_ tag: Int, as: C.Type = C.self) -> C? {
        guard let c = char(tag) else { return nil }
        return C(rawValue: c)
    }

    /// `tag` as a required one-character code.
    @inlinable public func requiredCode<C: FIXCharCode>(_ tag: Int, as: C.Type = C.self) throws(FIXParseError) -> C {
        guard has(tag) else { throw .requiredTagMissing(tag: tag) }
        guard let c = char(tag), let v = C(rawValue: c) else { throw .incorrectDataFormat(tag: tag) }
        return v
    }

    /// `tag` as a UTCTimestamp, throwing when it is missing or malformed.
    @inlinable public func requiredTimestamp(_ tag: Int) throws(FIXParseError) -> FIXTimestamp {
        guard let r = range(tag) else { throw .requiredTagMissing(tag: tag) }
        guard let v = FIXValue.timestamp(bytes, r) else { throw .incorrectDataFormat(tag: tag) }
        return v
    }

    /// An optional price that must be well-formed when present.
    @inlinable public func optionalPrice(_ tag: Int) throws(FIXParseError) -> Int64? {
        guard let r = range(tag) else { return nil }
        guard let v = FIXValue.fixedPoint(bytes, r) else { throw .incorrectDataFormat(tag: tag) }
        return v
    }

    /// An optional quantity (integer shares) that must be well-formed when present.
    /// FIX Qty is a float; fractional shares are refused rather than truncated.
    @inlinable public func optionalQty(_ tag: Int) throws(FIXParseError) -> Int64? {
        guard let p = try optionalPrice(tag) else { return nil }
        guard p % fixPriceScale == 0 else { throw .incorrectDataFormat(tag: tag) }
        return p / fixPriceScale
    }

    /// A required quantity in whole shares.
    @inlinable public func requiredQty(_ tag: Int) throws(FIXParseError) -> Int64 {
        guard let q = try optionalQty(tag) else { throw .requiredTagMissing(tag: tag) }
        return q
    }

    /// An optional timestamp that must be well-formed when present.
    @inlinable public func optionalTimestamp(_ tag: Int) throws(FIXParseError) -> FIXTimestamp? {
        guard let r = range(tag) else { return nil }
        guard let v = FIXValue.timestamp(bytes, r) else { throw .incorrectDataFormat(tag: tag) }
        return v
    }
}
