// Pre-trade risk checks as pure functions, and `RiskGate`, which runs them in order.
//
// Owns: the stable reject codes of the order API, the limits (one validated Configuration), each
// rule as a pure function of its inputs, and the fixed order in which the gate applies them.
// Stateful inputs (rate limiter, circuit breakers, the clock) live in TokenBucket.swift,
// CircuitBreaker.swift and MarketHours.swift and are passed in; nothing here does I/O.

/// Why an order was refused before reaching the exchange. `rawValue` is the stable API code
/// (`{"error":{"code":"insufficient_funds",...}}`).
public enum RiskRejectCode: String, Error, Sendable, CaseIterable {
    /// The symbol is not in the universe.
    case unknownSymbol = "unknown_symbol"
    /// Quantity outside `minQty...maxQty`.
    case invalidQuantity = "invalid_quantity"
    /// Limit price missing or <= 0 (or a price on a market order).
    case invalidPrice = "invalid_price"
    /// Limit price not a multiple of the tick size.
    case offTick = "off_tick"
    /// Limit price too far from the last traded price.
    case priceOutOfBand = "price_out_of_band"
    /// A market order (or band check) needs a last price and there is none yet.
    case noReferencePrice = "no_reference_price"
    /// Outside the configured trading hours.
    case marketClosed = "market_closed"
    /// The symbol's circuit breaker is tripped.
    case tradingHalted = "trading_halted"
    /// A buy needs more cash than the buying power (cash - reserved).
    case insufficientFunds = "insufficient_funds"
    /// A sell needs more shares than are free (held - reserved).
    case insufficientHoldings = "insufficient_holdings"
    /// The user's order rate limit is exhausted.
    case rateLimited = "rate_limited"
    /// The order's value exceeds the per-order maximum.
    case maxOrderValue = "max_order_value"

    /// A human-readable explanation for the error body.
    public var message: String {
        switch self {
        case .unknownSymbol: "no such symbol"
        case .invalidQuantity: "quantity is outside the allowed range"
        case .invalidPrice: "limit orders need a positive price; market orders take none"
        case .offTick: "price is not a multiple of the tick size"
        case .priceOutOfBand: "price is too far from the last traded price"
        case .noReferencePrice: "no last traded price yet for this symbol"
        case .marketClosed: "the market is closed"
        case .tradingHalted: "trading in this symbol is halted by the circuit breaker"
        case .insufficientFunds: "not enough buying power"
        case .insufficientHoldings: "not enough free shares to sell"
        case .rateLimited: "too many orders; slow down"
        case .maxOrderValue: "order value exceeds the per-order maximum"
        }
    }

    /// HTTP status for the REST API: 429 for rate limiting, 422 for everything else.
    public var httpStatus: Int { self == .rateLimited ? 429 : 422 }
}

/// Invalid risk configuration (fails at start-up, naming the key).
public struct RiskConfigurationError: Error, Equatable, Sendable {
    /// The offending setting.
    public let key: String
    /// What is wrong with it.
    public let reason: String
}

/// Limits for pre-trade checks. Every value is validated in `init`.
public struct RiskLimits: Sendable, Equatable {
    /// Smallest order quantity.
    public let minQty: Int64
    /// Largest order quantity (default 1,000,000: far beyond retail, stops fat fingers).
    public let maxQty: Int64
    /// Price increment, 1e-4 units (default 100 = 0.01; NSE uses 500 = 0.05).
    public let tickSize: Int64
    /// Limit prices must be within this many basis points of the last price (default 1,000 = 10%).
    public let priceBandBps: Int64
    /// Market buys reserve cash at last x (1 + collar) (default 500 = 5%), so a market order
    /// cannot spend more than its reservation unless the book moves beyond the collar.
    public let marketCollarBps: Int64
    /// Largest order value in minor units (default 10,000,000.00).
    public let maxOrderValue: Int64

    /// Creates limits.
    /// - Throws: `RiskConfigurationError` for a non-positive or inconsistent value.
    public init(
        minQty: Int64 = 1, maxQty: Int64 = 1_000_000, tickSize: Int64 = 100, priceBandBps: Int64 = 1_000,
        marketCollarBps: Int64 = 500, maxOrderValue: Int64 = 1_000_000_000
    ) throws(RiskConfigurationError) {
        guard minQty >= 1 else { throw .init(key: "min_qty", reason: "must be >= 1") }
        guard maxQty >= minQty else { throw .init(key: "max_qty", reason: "must be >= min_qty") }
        guard tickSize >= 1 else { throw .init(key: "tick_size", reason: "must be > 0") }
        guard (1...10_000).contains(priceBandBps) else {
            throw .init(key: "price_band_bps", reason: "must be 1...10000")
        }
        guard (0...10_000).contains(marketCollarBps) else {
            throw .init(key: "market_collar_bps", reason: "must be 0...10000")
        }
        guard maxOrderValue >= 1 else { throw .init(key: "max_order_value", reason: "must be > 0") }
        self.minQty = minQty
        self.maxQty = maxQty
        self.tickSize = tickSize
        self.priceBandBps = priceBandBps
        self.marketCollarBps = marketCollarBps
        self.maxOrderValue = maxOrderValue
    }

    /// The defaults above.
    public static let `default` = try! RiskLimits()
}

/// An order as risk sees it.
public struct RiskOrder: Sendable, Equatable {
    /// Interned symbol, or nil when the name is not in the universe.
    public var symbolId: Int32?
    /// Side.
    public var side: OrderSide
    /// Limit or market.
    public var type: OrderType
    /// Quantity.
    public var qty: Int64
    /// Limit price (1e-4); nil for market orders.
    public var limitPrice: Int64?

    /// Creates an order.
    public init(symbolId: Int32?, side: OrderSide, type: OrderType, qty: Int64, limitPrice: Int64?) {
        self.symbolId = symbolId
        self.side = side
        self.type = type
        self.qty = qty
        self.limitPrice = limitPrice
    }
}

/// What passing orders reserve: hand these to the reservation transaction and ORDER_PLACED.
public struct RiskApproval: Sendable, Equatable {
    /// Price the reservation is computed at: the limit, or for market orders the collar price.
    public var reservePrice: Int64
    /// Cash to reserve (buys), minor units; 0 for sells.
    public var reservedCash: Int64
    /// Shares to reserve (sells); 0 for buys.
    public var reservedQty: Int64
    /// Order value at `reservePrice`, minor units (rounded up).
    public var orderValue: Int64
}

/// The pure rules. Each returns nil when the order passes.
public enum RiskCheck {
    /// `unknown_symbol` unless the id is in `0..<symbolCount`.
    public static func symbolExists(_ symbolId: Int32?, symbolCount: Int) -> RiskRejectCode? {
        guard let id = symbolId, id >= 0, Int(id) < symbolCount else { return .unknownSymbol }
        return nil
    }

    /// `invalid_quantity` outside `minQty...maxQty`.
    public static func quantity(_ qty: Int64, limits: RiskLimits) -> RiskRejectCode? {
        (limits.minQty...limits.maxQty).contains(qty) ? nil : .invalidQuantity
    }

    /// `invalid_price` for a limit order without a positive price or a market order with one.
    public static func priceShape(_ order: RiskOrder) -> RiskRejectCode? {
        switch order.type {
        case .limit: (order.limitPrice ?? 0) > 0 ? nil : .invalidPrice
        case .market: order.limitPrice == nil ? nil : .invalidPrice
        }
    }

    /// `off_tick` unless `price` is a multiple of the tick size.
    public static func tick(_ price: Int64, limits: RiskLimits) -> RiskRejectCode? {
        price % limits.tickSize == 0 ? nil : .offTick
    }

    /// `price_out_of_band` when `price` differs from `last` by more than the band.
    /// With no last price the band cannot be applied and limit orders pass (the first trade of
    /// the day must be possible); market orders are stopped by `marketReference` instead.
    public static func priceBand(_ price: Int64, last: Int64?, limits: RiskLimits) -> RiskRejectCode? {
        guard let last, last > 0 else { return nil }
        return (price - last).magnitude <= UInt64(bps(last, limits.priceBandBps)) ? nil : .priceOutOfBand
    }

    /// `no_reference_price` for a market order without a last price.
    public static func marketReference(_ order: RiskOrder, last: Int64?) -> RiskRejectCode? {
        order.type == .market && (last ?? 0) <= 0 ? .noReferencePrice : nil
    }

    /// `market_closed` unless open.
    public static func marketOpen(_ isOpen: Bool) -> RiskRejectCode? { isOpen ? nil : .marketClosed }

    /// `trading_halted` when the symbol's breaker is tripped.
    public static func notHalted(_ halted: Bool) -> RiskRejectCode? { halted ? .tradingHalted : nil }

    /// `rate_limited` when the limiter said no.
    public static func rateLimit(_ allowed: Bool) -> RiskRejectCode? { allowed ? nil : .rateLimited }

    /// `max_order_value` above the limit (or when the value overflows).
    public static func orderValue(_ value: Int64?, limits: RiskLimits) -> RiskRejectCode? {
        guard let value, value <= limits.maxOrderValue else { return .maxOrderValue }
        return nil
    }

    /// `insufficient_funds` when a buy's reservation exceeds buying power.
    public static func buyingPower(reservation: Int64, buyingPower: Int64) -> RiskRejectCode? {
        reservation <= buyingPower ? nil : .insufficientFunds
    }

    /// `insufficient_holdings` when a sell exceeds the free shares (no short selling).
    public static func holdings(qty: Int64, availableQty: Int64) -> RiskRejectCode? {
        qty <= availableQty ? nil : .insufficientHoldings
    }

    /// Price at which a market order is reserved and valued: last plus the collar for buys (rounded
    /// up to the tick), last for sells.
    public static func collarPrice(side: OrderSide, last: Int64, limits: RiskLimits) -> Int64 {
        guard side == .buy else { return last }
        let p = last + bps(last, limits.marketCollarBps)
        let r = p % limits.tickSize
        return r == 0 ? p : p + limits.tickSize - r
    }

    /// `value * bps / 10_000` rounded up, without overflow for any positive Int64 value.
    static func bps(_ value: Int64, _ bps: Int64) -> Int64 {
        let (q, r) = value.quotientAndRemainder(dividingBy: 10_000)
        let frac = r * bps
        return q * bps + frac / 10_000 + (frac % 10_000 > 0 ? 1 : 0)
    }

    /// Everything `evaluate` needs besides the order, gathered by the caller.
    public struct Inputs: Sendable {
        /// Symbols in the universe.
        public var symbolCount: Int
        /// Last traded price of the symbol, if any.
        public var lastPrice: Int64?
        /// Market hours say open now.
        public var marketOpen: Bool
        /// The symbol's breaker is tripped now.
        public var halted: Bool
        /// The user's rate limiter admitted this order.
        public var withinRateLimit: Bool
        /// Cash minus reserved cash.
        public var buyingPower: Int64
        /// Free shares of the symbol (held minus reserved).
        public var availableQty: Int64

        /// Creates inputs.
        public init(
            symbolCount: Int, lastPrice: Int64?, marketOpen: Bool, halted: Bool, withinRateLimit: Bool,
            buyingPower: Int64, availableQty: Int64
        ) {
            self.symbolCount = symbolCount
            self.lastPrice = lastPrice
            self.marketOpen = marketOpen
            self.halted = halted
            self.withinRateLimit = withinRateLimit
            self.buyingPower = buyingPower
            self.availableQty = availableQty
        }
    }

    /// Runs every rule in a fixed, documented order and returns the first failure, or what to reserve:
    /// rate limit, symbol, quantity, price shape, tick, market hours, halt, market reference, band,
    /// order value, buying power (buys) or holdings (sells). Cheap checks on the request come before
    /// checks on market state, and account checks last, so the code a client sees is the most specific.
    public static func evaluate(_ order: RiskOrder, inputs: Inputs, limits: RiskLimits) -> Result<
        RiskApproval, RiskRejectCode
    > {
        if let e = rateLimit(inputs.withinRateLimit) { return .failure(e) }
        if let e = symbolExists(order.symbolId, symbolCount: inputs.symbolCount) { return .failure(e) }
        if let e = quantity(order.qty, limits: limits) { return .failure(e) }
        if let e = priceShape(order) { return .failure(e) }
        if let p = order.limitPrice, let e = tick(p, limits: limits) { return .failure(e) }
        if let e = marketOpen(inputs.marketOpen) { return .failure(e) }
        if let e = notHalted(inputs.halted) { return .failure(e) }
        if let e = marketReference(order, last: inputs.lastPrice) { return .failure(e) }
        if let p = order.limitPrice, let e = priceBand(p, last: inputs.lastPrice, limits: limits) { return .failure(e) }
        let reservePrice = order.limitPrice ?? collarPrice(side: order.side, last: inputs.lastPrice!, limits: limits)
        let value = FixedPointDecimal.cashValue(price: reservePrice, qty: order.qty, rounding: .up)
        if let e = orderValue(value, limits: limits) { return .failure(e) }
        switch order.side {
        case .buy:
            if let e = buyingPower(reservation: value!, buyingPower: inputs.buyingPower) { return .failure(e) }
            return .success(
                RiskApproval(reservePrice: reservePrice, reservedCash: value!, reservedQty: 0, orderValue: value!))
        case .sell:
            if let e = holdings(qty: order.qty, availableQty: inputs.availableQty) { return .failure(e) }
            return .success(
                RiskApproval(
                    reservePrice: reservePrice, reservedCash: 0, reservedQty: order.qty,
                    orderValue: value!))
        }
    }
}
