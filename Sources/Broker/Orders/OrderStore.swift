// OrderStore: the storage interface of the order path, and the records it stores.
//
// Owns: order statuses, the stored order and portfolio shapes, the outcomes of the two atomic operations the
// gateway needs (place = check + reserve + insert; apply execution = dedupe by exec id + update order), and the
// protocol both implementations follow: PostgreSQL (`PostgresOrderStore`, with Kafka carrying the events to the
// ledger service) and the local journal (`JournalOrderStore`, with the ledger folded in-process).
//
// Reservation model (DESIGN.md "Orders and ledger"): the ledger service is the only writer of cash, reserved,
// holdings. The gateway's place transaction adds the order's reservation to `pending_reserved` (cash) or
// `pending_reserved_qty` (shares) and puts ORDER_PLACED in the outbox in the same transaction; when the ledger
// applies ORDER_PLACED it moves the amount from pending into `reserved`. Buying power is therefore always
// `cash - reserved - pending_reserved`, and no order reaches the exchange without a committed reservation.
// A cancel/replace that needs more (`holdReplace`) adds the difference to pending as the order's replace hold
// before 35=G leaves; the Replaced report's ORDER_REPLACED carries the hold (`held`) so the ledger drops it from
// pending as the recomputed reservation takes over, while an OrderCancelReject, or the order ending first,
// releases it (`releaseReplace`).

/// Order status as the REST API names it (DESIGN.md).
public enum OrderStatus: String, Sendable, Equatable {
    case pendingNew = "pending_new"
    case new
    case partiallyFilled = "partially_filled"
    case filled
    case canceled
    case replaced
    case rejected

    /// No more executions can happen.
    public var isTerminal: Bool { self == .filled || self == .canceled || self == .rejected }
}

/// One order as stored.
public struct StoredOrder: Sendable, Equatable {
    /// Gateway-assigned id (also the FIX ClOrdID stem).
    public var orderId: String
    /// Owner.
    public var userId: String
    /// The client's idempotency key, unique per user.
    public var clientOrderId: String
    public var symbol: String
    public var side: OrderSide
    public var type: OrderType
    public var tif: TimeInForce
    /// Total quantity (after replaces).
    public var qty: Int64
    /// Limit price (1e-4), nil for market orders.
    public var price: Int64?
    /// Price the reservation was computed at (1e-4).
    public var reservePrice: Int64
    public var status: OrderStatus
    /// Filled quantity.
    public var filled: Int64
    /// Average fill price (1e-4), 0 before the first fill.
    public var avgPrice: Int64
    /// Replaces/cancels sent so far (the FIX ClOrdID suffix of the next one).
    public var amendSeq: Int
    /// Why it was rejected, when it was.
    public var rejectReason: String?
    /// Cash (buys) or shares (sells) held in pending for an unacknowledged replace that needs more; 0 when none.
    public var replaceHold: Int64
    /// The `amendSeq` of the replace that `replaceHold` belongs to.
    public var replaceHoldSeq: Int

    /// Creates an order record.
    public init(orderId: String, userId: String, clientOrderId: String, symbol: String, side: OrderSide,
                type: OrderType, tif: TimeInForce, qty: Int64, price: Int64?, reservePrice: Int64,
                status: OrderStatus = .pendingNew, filled: Int64 = 0, avgPrice: Int64 = 0, amendSeq: Int = 0,
                rejectReason: String? = nil, replaceHold: Int64 = 0, replaceHoldSeq: Int = 0) {
        self.orderId = orderId; self.userId = userId; self.clientOrderId = clientOrderId; self.symbol = symbol
        self.side = side; self.type = type; self.tif = tif; self.qty = qty; self.price = price
        self.reservePrice = reservePrice; self.status = status; self.filled = filled; self.avgPrice = avgPrice
        self.amendSeq = amendSeq; self.rejectReason = rejectReason
        self.replaceHold = replaceHold; self.replaceHoldSeq = replaceHoldSeq
    }

    /// Reservation this order takes when placed: cash for buys, shares for sells.
    public var reservation: (cash: Int64, qty: Int64) {
        side == .buy ? (LedgerAccount.buyReservation(qty: qty, reservePrice: reservePrice) ?? .max, 0) : (0, qty)
    }
}

/// A holding as the portfolio shows it.
public struct HoldingSnapshot: Sendable, Equatable {
    public var symbol: String
    public var qty: Int64
    /// Shares promised to open sells (ledger-applied plus pending).
    public var reservedQty: Int64
    /// Average purchase price (1e-4).
    public var avgPrice: Int64
    /// Realised P&L (minor units).
    public var realisedPnL: Int64
}

/// Balances of one account.
public struct PortfolioSnapshot: Sendable, Equatable {
    /// Cash (minor units), including reserved.
    public var cash: Int64
    /// Reserved for open orders and pending withdrawals (ledger-applied plus pending).
    public var reserved: Int64
    /// Holdings by symbol, sorted.
    public var holdings: [HoldingSnapshot]
    /// Cash free for buys and withdrawals.
    public var buyingPower: Int64 { cash - reserved }
}

/// Result of `place`.
public enum PlaceOutcome: Sendable, Equatable {
    /// Reserved and inserted; ORDER_PLACED is in the outbox.
    case placed(StoredOrder)
    /// The client order id was used before by this user: the original order, nothing changed.
    case duplicate(StoredOrder)
    /// The account cannot cover it (`insufficientFunds` / `insufficientHoldings`); nothing changed.
    case refused(RiskRejectCode)
}

/// Result of `holdReplace`.
public enum ReplaceHoldOutcome: Sendable, Equatable {
    /// The extra is held in pending; `amendSeq` numbers the replace (its ClOrdID suffix).
    case held(amendSeq: Int)
    /// The account cannot cover the extra (`insufficientFunds` / `insufficientHoldings`); nothing changed.
    case refused(RiskRejectCode)
    /// The order is not open, or another replace still holds an extra; nothing changed.
    case conflict
}

/// Result of a funds request.
public enum FundsOutcome: Sendable, Equatable {
    /// Recorded (withdrawals: amount reserved until the ledger applies it); the event is in the outbox.
    case accepted
    /// Not enough buying power for the withdrawal; nothing changed.
    case insufficientFunds
}

/// What an execution report (or a gateway-side rejection) changes on an order.
public struct ExecutionUpdate: Sendable, Equatable {
    /// Our order id.
    public var orderId: String
    /// Unique id of this report (FIX ExecID, or a gateway-made id): applied once.
    public var execId: String
    /// New status.
    public var status: OrderStatus
    /// Filled quantity after this report.
    public var filled: Int64
    /// Average fill price after this report.
    public var avgPrice: Int64
    /// New total quantity and price after a replace.
    public var newQty: Int64?
    public var newPrice: Int64?
    /// Reject text.
    public var reason: String?
    /// The ledger event this report produces, if any (fills, cancels, rejects, replaces).
    public var event: LedgerEvent?
    /// Set on the Replaced report of a replace that held an extra: its `amendSeq`. The hold stops being the
    /// gateway's in the same transaction (the update's ORDER_REPLACED carries it to the ledger, which drops it
    /// from pending).
    public var keptHoldSeq: Int?

    /// Creates an update.
    public init(orderId: String, execId: String, status: OrderStatus, filled: Int64, avgPrice: Int64,
                newQty: Int64? = nil, newPrice: Int64? = nil, reason: String? = nil, event: LedgerEvent? = nil,
                keptHoldSeq: Int? = nil) {
        self.orderId = orderId; self.execId = execId; self.status = status; self.filled = filled
        self.avgPrice = avgPrice; self.newQty = newQty; self.newPrice = newPrice; self.reason = reason
        self.event = event; self.keptHoldSeq = keptHoldSeq
    }
}

/// A storage failure (the request gets 503; the caller may retry, the operation is idempotent).
public struct OrderStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What failed.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Completion of a store operation, on the store's loop thread.
public typealias OrderStoreCompletion<T> = (Result<T, OrderStoreError>) -> Void

/// Storage of users, orders and the gateway's side of balances. Every method is called on the owning loop's
/// thread and completes there (possibly synchronously). Each mutating operation is atomic and, where it says
/// so, idempotent.
public protocol OrderStore: AnyObject {
    /// Creates tables (idempotently) and loads what the store needs. Completes once usable.
    func prepare(_ completion: @escaping OrderStoreCompletion<Void>)
    /// A fresh block of order ids: the gateway numbers orders `block * 1e9 + n`, unique across restarts.
    func allocateOrderIdBlock(_ completion: @escaping OrderStoreCompletion<Int64>)
    /// Creates a user with a zero account (no-op if it exists). Returns whether it was created.
    func createUser(_ userId: String, passwordHash: String, _ completion: @escaping OrderStoreCompletion<Bool>)
    /// The stored password hash of a user, or nil.
    func passwordHash(of userId: String, _ completion: @escaping OrderStoreCompletion<String?>)
    /// Balances and holdings of a user (nil when the user has no account).
    func portfolio(of userId: String, _ completion: @escaping OrderStoreCompletion<PortfolioSnapshot?>)
    /// One transaction: lock the account, answer `.duplicate` for a known client order id, check buying power
    /// (`cash - reserved - pending`) or free shares, add the reservation to pending, insert the order, put
    /// `event` (ORDER_PLACED) in the outbox.
    func place(_ order: StoredOrder, event: LedgerEvent, _ completion: @escaping OrderStoreCompletion<PlaceOutcome>)
    /// One transaction: record the exec id (a known one answers false and changes nothing), update the order
    /// (and hand its replace hold to the ledger when `keptHoldSeq` says so), put the update's event in the
    /// outbox. Returns whether it was applied.
    func apply(_ update: ExecutionUpdate, _ completion: @escaping OrderStoreCompletion<Bool>)
    /// One transaction, before a cancel/replace that needs more is sent: lock the account, check that buying
    /// power (`cash - reserved - pending`) or free shares cover `extra` (cash for a buy, shares for a sell), add
    /// it to pending as the order's replace hold, bump `amendSeq`.
    func holdReplace(_ order: StoredOrder, extra: Int64, _ completion: @escaping OrderStoreCompletion<ReplaceHoldOutcome>)
    /// Gives back the order's replace hold if it belongs to replace `amendSeq` (nil: whichever): the exchange
    /// refused the replace, it was never sent, or the order ended first. Idempotent; returns whether something
    /// was released. `prepare` also releases what ended orders still hold (a crash before this call).
    func releaseReplace(_ order: StoredOrder, amendSeq: Int?, _ completion: @escaping OrderStoreCompletion<Bool>)
    /// Deposit (always) or withdrawal (checks and reserves buying power), with its event in the outbox.
    func funds(_ event: LedgerEvent, _ completion: @escaping OrderStoreCompletion<FundsOutcome>)
    /// A user's orders, newest first (at most `limit`).
    func orders(of userId: String, limit: Int, _ completion: @escaping OrderStoreCompletion<[StoredOrder]>)
    /// One order by id (any user: the caller checks ownership).
    func order(_ orderId: String, _ completion: @escaping OrderStoreCompletion<StoredOrder?>)
    /// Orders not yet terminal (the gateway's live-order table after a restart).
    func openOrders(_ completion: @escaping OrderStoreCompletion<[StoredOrder]>)
    /// Records a cancel/replace request sent for `orderId` (bumps `amendSeq`).
    func bumpAmendSeq(_ orderId: String, _ completion: @escaping OrderStoreCompletion<Int>)
    /// Events in the outbox, oldest first (republished at startup; the ledger dedupes by event id).
    func undeliveredEvents(_ completion: @escaping OrderStoreCompletion<[LedgerEvent]>)
    /// Removes delivered events from the outbox.
    func eventsDelivered(_ eventIds: [String])
}
