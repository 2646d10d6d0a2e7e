// Simulated liquidity for the exchange simulator's books, and an engine routing by symbol.
//
// Owns: `SimulatedLiquidityProvider`, a market maker that keeps a ladder of limit orders around
// a reference price (the simulator's random-walk price) so user orders fill, and keeps its own
// position and cash so money can be shown to be conserved; `MatchingEngine`, one book per symbol.

/// A market maker quoting `levels` bids and asks around a reference price in one book.
/// Each `refresh` cancels its previous ladder and posts a new one; user orders resting at crossing
/// prices trade with the new ladder as they would with any incoming order.
public struct SimulatedLiquidityProvider: Sendable {
    /// Shape of the ladder.
    public struct Configuration: Sendable {
        /// Price levels per side (bounded so a refresh stays cheap).
        public var levels: Int
        /// Quantity posted at each level.
        public var sizePerLevel: Int64
        /// Distance of the best bid/ask from the reference, in ticks (>= 1 keeps the ladder uncrossed).
        public var halfSpreadTicks: Int64
        /// Distance between successive levels, in ticks.
        public var levelSpacingTicks: Int64
        /// Owner tag of the provider's orders; events with this owner are the provider's.
        public var owner: UInt64

        /// Creates a ladder shape; every value is validated (levels 1...50, sizes and ticks > 0).
        public init(
            levels: Int = 5, sizePerLevel: Int64 = 1_000, halfSpreadTicks: Int64 = 1,
            levelSpacingTicks: Int64 = 1, owner: UInt64 = 0
        ) {
            precondition((1...50).contains(levels) && sizePerLevel > 0 && halfSpreadTicks > 0 && levelSpacingTicks > 0)
            self.levels = levels
            self.sizePerLevel = sizePerLevel
            self.halfSpreadTicks = halfSpreadTicks
            self.levelSpacingTicks = levelSpacingTicks
            self.owner = owner
        }
    }

    /// Ladder shape.
    public let configuration: Configuration
    /// Shares held (negative = short): the counterparty position of every user trade.
    public private(set) var position: Int64 = 0
    /// Cash in minor units received (+) or paid (-), settled with the same rounding as users
    /// (`CashRounding.halfUp`), so users' cash + this cash is conserved.
    public private(set) var cash: Int64 = 0
    private var live: [UInt64] = []

    /// Creates a provider with no orders.
    public init(configuration: Configuration = .init()) { self.configuration = configuration }

    /// Cancels the previous ladder and posts a new one around `referencePrice` (rounded down to the
    /// tick). Levels that would be at a price <= 0 are skipped. Events (including trades against
    /// resting user orders) are appended to `events`; like every book event, feed them to `observe`.
    public mutating func refresh(book: inout OrderBook, referencePrice: Int64, events: inout [OrderBookEvent]) {
        for id in live where book.order(id) != nil { book.cancel(id, events: &events) }
        live.removeAll(keepingCapacity: true)
        let tick = book.configuration.tickSize
        let ref = referencePrice - referencePrice % tick
        for i in 0..<Int64(configuration.levels) {
            let offset = (configuration.halfSpreadTicks + i * configuration.levelSpacingTicks) * tick
            let bidPrice = ref - offset
            if bidPrice > 0 { post(.buy, bidPrice, &book, &events) }
            post(.sell, ref + offset, &book, &events)
        }
    }

    private mutating func post(
        _ side: OrderSide, _ price: Int64, _ book: inout OrderBook, _ events: inout [OrderBookEvent]
    ) {
        let req = OrderBookRequest(
            side: side, qty: configuration.sizePerLevel, price: price, owner: configuration.owner)
        if let id = book.submit(req, events: &events), book.order(id) != nil { live.append(id) }
    }

    /// Updates position and cash from a trade this provider took part in (either side). Feed every
    /// event of the book through here exactly once (from `refresh` and from user orders alike).
    /// Self-trades (provider on both sides) change nothing.
    public mutating func observe(_ event: OrderBookEvent) {
        guard case .trade(let t) = event else { return }
        let value = FixedPointDecimal.cashValue(price: t.price, qty: t.qty, rounding: .halfUp) ?? 0
        if t.buyOwner == configuration.owner {
            position += t.qty
            cash -= value
        }
        if t.sellOwner == configuration.owner {
            position -= t.qty
            cash += value
        }
    }
}

/// One book per symbol id, routing cancels and replaces by the symbol id in the order id.
public struct MatchingEngine: Sendable {
    /// Books indexed by symbol id.
    public private(set) var books: [OrderBook]

    /// Creates `symbolCount` empty books with the same configuration.
    public init(symbolCount: Int, configuration: OrderBook.Configuration = .init()) {
        books = (0..<symbolCount).map { OrderBook(symbolId: Int32($0), configuration: configuration) }
    }

    /// The symbol id encoded in an order id (high 32 bits).
    @inlinable public static func symbolId(ofOrder orderId: UInt64) -> Int32 {
        Int32(truncatingIfNeeded: orderId >> 32)
    }

    /// Submits to the book of `symbolId` (which must be in range).
    @discardableResult
    public mutating func submit(symbolId: Int32, _ request: OrderBookRequest, events: inout [OrderBookEvent]) -> UInt64?
    {
        books[Int(symbolId)].submit(request, events: &events)
    }

    /// Cancels by order id; unknown symbols answer `.cancelRejected(.unknownOrder)`.
    public mutating func cancel(_ orderId: UInt64, events: inout [OrderBookEvent]) {
        let s = Int(Self.symbolId(ofOrder: orderId))
        guard s < books.count else {
            events.append(.cancelRejected(orderId: orderId, reason: .unknownOrder))
            return
        }
        books[s].cancel(orderId, events: &events)
    }

    /// Cancel/replace by order id; see `OrderBook.replace`.
    public mutating func replace(_ orderId: UInt64, qty: Int64, price: Int64, events: inout [OrderBookEvent]) {
        let s = Int(Self.symbolId(ofOrder: orderId))
        guard s < books.count else {
            events.append(.cancelRejected(orderId: orderId, reason: .unknownOrder))
            return
        }
        books[s].replace(orderId, qty: qty, price: price, events: &events)
    }

    /// Runs `body` on one book in place (e.g. a liquidity refresh).
    public mutating func withBook<R>(_ symbolId: Int32, _ body: (inout OrderBook) throws -> R) rethrows -> R {
        try body(&books[Int(symbolId)])
    }
}
