// Vocabulary of the matching engine: order requests and the events the book produces.
//
// Owns: sides, order types, time in force, reject/cancel reasons with stable codes, and
// `OrderBookEvent`, which the exchange simulator turns into FIX ExecutionReports (35=8) and
// OrderCancelReject (35=9). No FIX here: the mapping is the simulator's.

/// Buy or sell (FIX tag 54: 1 = buy, 2 = sell).
public enum OrderSide: UInt8, Sendable, Hashable {
    /// Buy.
    case buy
    /// Sell.
    case sell

    /// The other side.
    @inlinable public var opposite: OrderSide { self == .buy ? .sell : .buy }
}

/// Limit or market (FIX tag 40: 2 = limit, 1 = market).
public enum OrderType: UInt8, Sendable, Hashable {
    /// Executes at the limit price or better; the rest rests (DAY) or is canceled (IOC).
    case limit
    /// Executes against whatever is on the other side now; never rests.
    case market
}

/// Time in force (FIX tag 59: 0 = day, 3 = IOC).
public enum TimeInForce: UInt8, Sendable, Hashable {
    /// Rests in the book until filled, canceled or the session ends.
    case day
    /// Immediate or cancel: what does not execute at once is canceled.
    case ioc
}

/// A new order as the book sees it.
public struct OrderBookRequest: Equatable, Sendable {
    /// Side.
    public var side: OrderSide
    /// Limit or market.
    public var type: OrderType
    /// Total quantity, > 0.
    public var qty: Int64
    /// Limit price in 1e-4 units; ignored for market orders.
    public var price: Int64
    /// Time in force; market orders behave as IOC whatever this says.
    public var tif: TimeInForce
    /// Opaque owner tag echoed in every event (e.g. the simulator's session/order handle).
    public var owner: UInt64

    /// Creates a request.
    public init(
        side: OrderSide, type: OrderType = .limit, qty: Int64, price: Int64 = 0,
        tif: TimeInForce = .day, owner: UInt64
    ) {
        self.side = side
        self.type = type
        self.qty = qty
        self.price = price
        self.tif = tif
        self.owner = owner
    }
}

/// Why the book refused a new order (FIX OrdRejReason 58 text uses `rawValue`).
public enum OrderBookRejectReason: String, Sendable {
    /// Quantity <= 0.
    case invalidQuantity = "invalid_quantity"
    /// Limit price <= 0.
    case invalidPrice = "invalid_price"
    /// Limit price not a multiple of the tick size.
    case offTick = "off_tick"
}

/// Why a cancel or replace was refused (FIX OrderCancelReject 35=9, CxlRejReason 102).
public enum OrderBookCancelRejectReason: String, Sendable {
    /// No such live order (already filled, canceled, or never existed): CxlRejReason 1.
    case unknownOrder = "unknown_order"
    /// The new quantity is not above the quantity already filled.
    case invalidQuantity = "invalid_quantity"
    /// The new price is <= 0 or off tick.
    case invalidPrice = "invalid_price"
}

/// Why live quantity left the book without trading.
public enum OrderBookCancelReason: String, Sendable {
    /// The owner asked (cancel request).
    case requested
    /// IOC remainder after matching.
    case immediateOrCancel = "ioc_remainder"
    /// Market order remainder: nothing left to match against.
    case noLiquidity = "no_liquidity"
}

/// One execution between a resting and an incoming order, at the resting order's price.
public struct OrderBookTrade: Equatable, Sendable {
    /// Trade id, unique per engine (symbol id in the high 32 bits).
    public var tradeId: UInt64
    /// Execution price, 1e-4 units.
    public var price: Int64
    /// Executed quantity.
    public var qty: Int64
    /// Side of the incoming (aggressing) order.
    public var aggressor: OrderSide
    /// Buy order id.
    public var buyOrderId: UInt64
    /// Buy order owner.
    public var buyOwner: UInt64
    /// Buy order quantity still open after this trade.
    public var buyLeaves: Int64
    /// Buy order quantity filled so far, including this trade.
    public var buyCum: Int64
    /// Sell order id.
    public var sellOrderId: UInt64
    /// Sell order owner.
    public var sellOwner: UInt64
    /// Sell order quantity still open after this trade.
    public var sellLeaves: Int64
    /// Sell order quantity filled so far, including this trade.
    public var sellCum: Int64

    /// Exec id for the buyer's report. Each side gets its own id so a ledger that dedupes by exec
    /// id never drops one side of a self-trade.
    public var buyExecId: UInt64 { tradeId &* 2 }
    /// Exec id for the seller's report.
    public var sellExecId: UInt64 { tradeId &* 2 &+ 1 }
}

/// What happened in the book, in order. The simulator maps these to FIX:
/// accepted -> 8 (ExecType=0 New); trade -> 8 (F Trade, OrdStatus 1 or 2) per side;
/// canceled -> 8 (4 Canceled); replaced -> 8 (5 Replaced); rejected -> 8 (8 Rejected);
/// cancelRejected -> 9 OrderCancelReject.
public enum OrderBookEvent: Equatable, Sendable {
    /// A new order passed validation and got `orderId` (it may then trade, rest or be canceled).
    case accepted(orderId: UInt64, owner: UInt64, side: OrderSide, price: Int64, qty: Int64)
    /// A new order was refused; it never got an id.
    case rejected(owner: UInt64, reason: OrderBookRejectReason)
    /// An execution.
    case trade(OrderBookTrade)
    /// Open quantity left the book; `cumQty` is what had been filled before.
    case canceled(orderId: UInt64, owner: UInt64, canceledQty: Int64, cumQty: Int64, reason: OrderBookCancelReason)
    /// A replace took effect: new total `qty`, `price`, and open quantity `leaves` before any match.
    case replaced(orderId: UInt64, owner: UInt64, price: Int64, qty: Int64, leaves: Int64, keptPriority: Bool)
    /// A cancel or replace was refused.
    case cancelRejected(orderId: UInt64, reason: OrderBookCancelRejectReason)
}

/// A live order's state, for queries and tests.
public struct OrderBookOrder: Equatable, Sendable {
    /// Order id.
    public var orderId: UInt64
    /// Owner tag.
    public var owner: UInt64
    /// Side.
    public var side: OrderSide
    /// Limit price.
    public var price: Int64
    /// Open quantity.
    public var leaves: Int64
    /// Filled quantity.
    public var cum: Int64
}

/// One price level of depth.
public struct OrderBookLevel: Equatable, Sendable {
    /// Price, 1e-4 units.
    public var price: Int64
    /// Total open quantity at this price.
    public var qty: Int64
    /// Number of orders at this price.
    public var orders: Int
}
