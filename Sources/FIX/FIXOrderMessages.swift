// Order-entry application messages: builders and readers (FIX 4.4 Vol. 4 "Order Handling").
//
// Owns: NewOrderSingle(D), OrderCancelRequest(F), OrderCancelReplaceRequest(G),
// ExecutionReport(8), OrderCancelReject(9) as value types with `encode(into:)` (body fields
// only: the session writes the header) and `init(_ view:)`. Prices are Int64 scaled by 1e-4,
// quantities whole shares. Order flow is far below market-data rates, so these use Strings.

import Wire

/// NewOrderSingle(D).
public struct FIXNewOrderSingle: Equatable, Sendable {
    public var clOrdID: String
    public var account: String?
    public var symbol: String
    public var side: FIXSide
    public var ordType: FIXOrdType
    public var orderQty: Int64
    /// Limit price scaled by 1e-4; nil for market orders.
    public var price: Int64?
    public var timeInForce: FIXTimeInForce?
    public var transactTime: FIXTimestamp

    /// The message type.
    public static let msgType = FIXMsgType.newOrderSingle

    /// Creates an order.
    public init(
        clOrdID: String, account: String? = nil, symbol: String, side: FIXSide, ordType: FIXOrdType,
        orderQty: Int64, price: Int64? = nil, timeInForce: FIXTimeInForce? = nil, transactTime: FIXTimestamp
    ) {
        self.clOrdID = clOrdID
        self.account = account
        self.symbol = symbol
        self.side = side
        self.ordType = ordType
        self.orderQty = orderQty
        self.price = price
        self.timeInForce = timeInForce
        self.transactTime = transactTime
    }

    /// Reads the body of a parsed 35=D.
    /// - Throws: `.requiredTagMissing` / `.incorrectDataFormat` naming the offending tag.
    public init(_ v: FIXMessageView) throws(FIXParseError) {
        clOrdID = try v.requiredString(FIXTag.clOrdID)
        account = v.string(FIXTag.account)
        symbol = try v.requiredString(FIXTag.symbol)
        side = try v.requiredCode(FIXTag.side)
        ordType = try v.requiredCode(FIXTag.ordType)
        orderQty = try v.requiredQty(FIXTag.orderQty)
        price = try v.optionalPrice(FIXTag.price)
        timeInForce = v.code(FIXTag.timeInForce)
        transactTime = try v.requiredTimestamp(FIXTag.transactTime)
        if ordType == .limit && price == nil { throw .requiredTagMissing(tag: FIXTag.price) }
    }

    /// Writes the body fields.
    public func encode(into e: inout FIXEncoder) {
        e.field(FIXTag.clOrdID, clOrdID)
        if let account { e.field(FIXTag.account, account) }
        e.field(FIXTag.symbol, symbol)
        e.field(FIXTag.side, char: side.rawValue)
        e.field(FIXTag.transactTime, timestamp: transactTime, precision: .milliseconds)
        e.field(FIXTag.orderQty, Int(orderQty))
        e.field(FIXTag.ordType, char: ordType.rawValue)
        if let price { e.field(FIXTag.price, price: price) }
        if let timeInForce { e.field(FIXTag.timeInForce, char: timeInForce.rawValue) }
    }
}

/// OrderCancelRequest(F).
public struct FIXOrderCancelRequest: Equatable, Sendable {
    public var origClOrdID: String
    public var clOrdID: String
    public var orderID: String?
    public var symbol: String
    public var side: FIXSide
    public var orderQty: Int64
    public var transactTime: FIXTimestamp

    public static let msgType = FIXMsgType.orderCancelRequest

    /// Creates a cancel request.
    public init(
        origClOrdID: String, clOrdID: String, orderID: String? = nil, symbol: String, side: FIXSide,
        orderQty: Int64, transactTime: FIXTimestamp
    ) {
        self.origClOrdID = origClOrdID
        self.clOrdID = clOrdID
        self.orderID = orderID
        self.symbol = symbol
        self.side = side
        self.orderQty = orderQty
        self.transactTime = transactTime
    }

    /// Reads the body of a parsed 35=F.
    public init(_ v: FIXMessageView) throws(FIXParseError) {
        origClOrdID = try v.requiredString(FIXTag.origClOrdID)
        clOrdID = try v.requiredString(FIXTag.clOrdID)
        orderID = v.string(FIXTag.orderID)
        symbol = try v.requiredString(FIXTag.symbol)
        side = try v.requiredCode(FIXTag.side)
        orderQty = try v.optionalQty(FIXTag.orderQty) ?? 0
        transactTime = try v.requiredTimestamp(FIXTag.transactTime)
    }

    /// Writes the body fields.
    public func encode(into e: inout FIXEncoder) {
        e.field(FIXTag.origClOrdID, origClOrdID)
        e.field(FIXTag.clOrdID, clOrdID)
        if let orderID { e.field(FIXTag.orderID, orderID) }
        e.field(FIXTag.symbol, symbol)
        e.field(FIXTag.side, char: side.rawValue)
        e.field(FIXTag.transactTime, timestamp: transactTime, precision: .milliseconds)
        e.field(FIXTag.orderQty, Int(orderQty))
    }
}

/// OrderCancelReplaceRequest(G).
public struct FIXOrderCancelReplaceRequest: Equatable, Sendable {
    public var orderID: String?
    public var origClOrdID: String
    public var clOrdID: String
    public var symbol: String
    public var side: FIXSide
    public var ordType: FIXOrdType
    public var orderQty: Int64
    public var price: Int64?
    public var timeInForce: FIXTimeInForce?
    public var transactTime: FIXTimestamp

    public static let msgType = FIXMsgType.orderCancelReplaceRequest

    /// Creates a cancel/replace request.
    public init(
        orderID: String? = nil, origClOrdID: String, clOrdID: String, symbol: String, side: FIXSide,
        ordType: FIXOrdType, orderQty: Int64, price: Int64? = nil, timeInForce: FIXTimeInForce? = nil,
        transactTime: FIXTimestamp
    ) {
        self.orderID = orderID
        self.origClOrdID = origClOrdID
        self.clOrdID = clOrdID
        self.symbol = symbol
        self.side = side
        self.ordType = ordType
        self.orderQty = orderQty
        self.price = price
        self.timeInForce = timeInForce
        self.transactTime = transactTime
    }

    /// Reads the body of a parsed 35=G.
    public init(_ v: FIXMessageView) throws(FIXParseError) {
        orderID = v.string(FIXTag.orderID)
        origClOrdID = try v.requiredString(FIXTag.origClOrdID)
        clOrdID = try v.requiredString(FIXTag.clOrdID)
        symbol = try v.requiredString(FIXTag.symbol)
        side = try v.requiredCode(FIXTag.side)
        ordType = try v.requiredCode(FIXTag.ordType)
        orderQty = try v.requiredQty(FIXTag.orderQty)
        price = try v.optionalPrice(FIXTag.price)
        timeInForce = v.code(FIXTag.timeInForce)
        transactTime = try v.requiredTimestamp(FIXTag.transactTime)
    }

    /// Writes the body fields.
    public func encode(into e: inout FIXEncoder) {
        if let orderID { e.field(FIXTag.orderID, orderID) }
        e.field(FIXTag.origClOrdID, origClOrdID)
        e.field(FIXTag.clOrdID, clOrdID)
        e.field(FIXTag.symbol, symbol)
        e.field(FIXTag.side, char: side.rawValue)
        e.field(FIXTag.transactTime, timestamp: transactTime, precision: .milliseconds)
        e.field(FIXTag.orderQty, Int(orderQty))
        e.field(FIXTag.ordType, char: ordType.rawValue)
        if let price { e.field(FIXTag.price, price: price) }
        if let timeInForce { e.field(FIXTag.timeInForce, char: timeInForce.rawValue) }
    }
}

/// ExecutionReport(8).
public struct FIXExecutionReport: Equatable, Sendable {
    public var orderID: String
    public var clOrdID: String?
    public var origClOrdID: String?
    /// Unique per execution: the ledger applies each exec id exactly once (DESIGN.md).
    public var execID: String
    public var execType: FIXExecType
    public var ordStatus: FIXOrdStatus
    public var symbol: String
    public var side: FIXSide
    public var orderQty: Int64?
    public var price: Int64?
    public var lastQty: Int64?
    public var lastPx: Int64?
    public var leavesQty: Int64
    public var cumQty: Int64
    /// Average fill price scaled by 1e-4.
    public var avgPx: Int64
    public var text: String?
    public var transactTime: FIXTimestamp?

    public static let msgType = FIXMsgType.executionReport

    /// Creates an execution report.
    public init(
        orderID: String, clOrdID: String? = nil, origClOrdID: String? = nil, execID: String,
        execType: FIXExecType, ordStatus: FIXOrdStatus, symbol: String, side: FIXSide,
        orderQty: Int64? = nil, price: Int64? = nil, lastQty: Int64? = nil, lastPx: Int64? = nil,
        leavesQty: Int64, cumQty: Int64, avgPx: Int64, text: String? = nil, transactTime: FIXTimestamp? = nil
    ) {
        self.orderID = orderID
        self.clOrdID = clOrdID
        self.origClOrdID = origClOrdID
        self.execID = execID
        self.execType = execType
        self.ordStatus = ordStatus
        self.symbol = symbol
        self.side = side
        self.orderQty = orderQty
        self.price = price
        self.lastQty = lastQty
        self.lastPx = lastPx
        self.leavesQty = leavesQty
        self.cumQty = cumQty
        self.avgPx = avgPx
        self.text = text
        self.transactTime = transactTime
    }

    /// Reads the body of a parsed 35=8.
    public init(_ v: FIXMessageView) throws(FIXParseError) {
        orderID = try v.requiredString(FIXTag.orderID)
        clOrdID = v.string(FIXTag.clOrdID)
        origClOrdID = v.string(FIXTag.origClOrdID)
        execID = try v.requiredString(FIXTag.execID)
        execType = try v.requiredCode(FIXTag.execType)
        ordStatus = try v.requiredCode(FIXTag.ordStatus)
        symbol = try v.requiredString(FIXTag.symbol)
        side = try v.requiredCode(FIXTag.side)
        orderQty = try v.optionalQty(FIXTag.orderQty)
        price = try v.optionalPrice(FIXTag.price)
        lastQty = try v.optionalQty(FIXTag.lastQty)
        lastPx = try v.optionalPrice(FIXTag.lastPx)
        leavesQty = try v.requiredQty(FIXTag.leavesQty)
        cumQty = try v.requiredQty(FIXTag.cumQty)
        guard let avg = try v.optionalPrice(FIXTag.avgPx) else { throw .requiredTagMissing(tag: FIXTag.avgPx) }
        avgPx = avg
        text = v.string(FIXTag.text)
        transactTime = try v.optionalTimestamp(FIXTag.transactTime)
    }

    /// Writes the body fields.
    public func encode(into e: inout FIXEncoder) {
        e.field(FIXTag.orderID, orderID)
        if let clOrdID { e.field(FIXTag.clOrdID, clOrdID) }
        if let origClOrdID { e.field(FIXTag.origClOrdID, origClOrdID) }
        e.field(FIXTag.execID, execID)
        e.field(FIXTag.execType, char: execType.rawValue)
        e.field(FIXTag.ordStatus, char: ordStatus.rawValue)
        e.field(FIXTag.symbol, symbol)
        e.field(FIXTag.side, char: side.rawValue)
        if let orderQty { e.field(FIXTag.orderQty, Int(orderQty)) }
        if let price { e.field(FIXTag.price, price: price) }
        if let lastQty { e.field(FIXTag.lastQty, Int(lastQty)) }
        if let lastPx { e.field(FIXTag.lastPx, price: lastPx) }
        e.field(FIXTag.leavesQty, Int(leavesQty))
        e.field(FIXTag.cumQty, Int(cumQty))
        e.field(FIXTag.avgPx, price: avgPx)
        if let text { e.field(FIXTag.text, text) }
        if let transactTime { e.field(FIXTag.transactTime, timestamp: transactTime, precision: .milliseconds) }
    }
}

/// OrderCancelReject(9).
public struct FIXOrderCancelReject: Equatable, Sendable {
    public var orderID: String
    public var clOrdID: String
    public var origClOrdID: String
    public var ordStatus: FIXOrdStatus
    public var responseTo: FIXCxlRejResponseTo
    /// CxlRejReason(102): 0 too late, 1 unknown order, 3 already pending, 99 other.
    public var reason: Int?
    public var text: String?

    public static let msgType = FIXMsgType.orderCancelReject

    /// Creates a cancel reject.
    public init(
        orderID: String, clOrdID: String, origClOrdID: String, ordStatus: FIXOrdStatus,
        responseTo: FIXCxlRejResponseTo, reason: Int? = nil, text: String? = nil
    ) {
        self.orderID = orderID
        self.clOrdID = clOrdID
        self.origClOrdID = origClOrdID
        self.ordStatus = ordStatus
        self.responseTo = responseTo
        self.reason = reason
        self.text = text
    }

    /// Reads the body of a parsed 35=9.
    public init(_ v: FIXMessageView) throws(FIXParseError) {
        orderID = try v.requiredString(FIXTag.orderID)
        clOrdID = try v.requiredString(FIXTag.clOrdID)
        origClOrdID = try v.requiredString(FIXTag.origClOrdID)
        ordStatus = try v.requiredCode(FIXTag.ordStatus)
        responseTo = try v.requiredCode(FIXTag.cxlRejResponseTo)
        reason = v.int(FIXTag.cxlRejReason)
        text = v.string(FIXTag.text)
    }

    /// Writes the body fields.
    public func encode(into e: inout FIXEncoder) {
        e.field(FIXTag.orderID, orderID)
        e.field(FIXTag.clOrdID, clOrdID)
        e.field(FIXTag.origClOrdID, origClOrdID)
        e.field(FIXTag.ordStatus, char: ordStatus.rawValue)
        e.field(FIXTag.cxlRejResponseTo, char: responseTo.rawValue)
        if let reason { e.field(FIXTag.cxlRejReason, reason) }
        if let text { e.field(FIXTag.text, text) }
    }
}
