// An account as the fold of its ledger events.
//
// Owns: the pure `apply(event)` (idempotent by event id, and by exec id for fills), `replay`,
// reservation arithmetic shared with the gateway's risk check, and conservation/invariant helpers
// for tests. Leaves storage (PostgreSQL, journal) and transport (Kafka) to the ledger service:
// the service stores the consumed offset with the state this file computes.
//
// Accounting: cash and reservations in minor units; a trade moves
// `FixedPointDecimal.cashValue(price, qty, .halfUp)` from buyer to seller, so both sides agree to the
// cent. A holding keeps its cost basis in cash; a sale removes the sold share of it
// (`costBasis * sold / held`, all of it on a full exit) and books proceeds minus that as realised P&L.

/// One symbol held by an account.
public struct LedgerHolding: Equatable, Sendable {
    /// Shares held.
    public var qty: Int64 = 0
    /// Shares promised to open sell orders.
    public var reservedQty: Int64 = 0
    /// Cash paid for the shares held (minor units).
    public var costBasis: Int64 = 0
    /// Realised profit and loss from sales of this symbol (minor units).
    public var realisedPnL: Int64 = 0

    /// Shares free to sell.
    public var availableQty: Int64 { qty - reservedQty }
    /// Average purchase price in 1e-4 units (cost basis / qty), rounded half up; 0 when flat.
    public var averagePrice: Int64 {
        guard qty > 0 else { return 0 }
        return (costBasis * 100 + qty / 2) / qty
    }
}

/// An order with a live reservation.
public struct LedgerOpenOrder: Equatable, Sendable {
    /// Symbol.
    public var symbol: String
    /// Side.
    public var side: OrderSide
    /// Quantity not yet filled.
    public var openQty: Int64
    /// Filled so far.
    public var cumQty: Int64
    /// Price the cash reservation is computed at (buys).
    public var reservePrice: Int64
    /// Cash reserved for the open quantity (buys).
    public var reservedCash: Int64
    /// Shares reserved for the open quantity (sells).
    public var reservedQty: Int64
}

/// Result of applying one event.
public enum LedgerApplyOutcome: Equatable, Sendable {
    /// The state changed.
    case applied
    /// Seen before (same event id, or a fill with a known exec id): nothing changed.
    case duplicate
    /// Consumed without changing balances, for the reason given. The event id is still recorded,
    /// so a redelivery is a duplicate rather than a second chance to apply later.
    case refused(LedgerRefusal)
}

/// Why an event was consumed without effect. Stable codes for logs and alerts.
public enum LedgerRefusal: String, Sendable {
    /// The event belongs to another user (not recorded).
    case wrongUser = "wrong_user"
    /// Amount or quantity <= 0, or a price <= 0.
    case invalidAmount = "invalid_amount"
    /// A withdrawal or reservation beyond buying power.
    case insufficientFunds = "insufficient_funds"
    /// A sell reservation beyond the free shares.
    case insufficientHoldings = "insufficient_holdings"
    /// A fill, cancel or replace for an order with no live reservation.
    case unknownOrder = "unknown_order"
    /// A second ORDER_PLACED for a live order id.
    case duplicateOrder = "duplicate_order"
    /// A fill larger than the order's open quantity.
    case overfill
    /// A cash value too large for Int64.
    case overflow
}

/// The state of one user's account.
public struct LedgerAccount: Equatable, Sendable {
    /// Owner.
    public let userId: String
    /// Cash (minor units), including reserved cash.
    public private(set) var cash: Int64 = 0
    /// Cash reserved for open buy orders.
    public private(set) var reservedCash: Int64 = 0
    /// Sum of deposits (for conservation checks).
    public private(set) var deposited: Int64 = 0
    /// Sum of withdrawals (for conservation checks).
    public private(set) var withdrawn: Int64 = 0
    /// Holdings by symbol; flat symbols with no P&L history are removed.
    public private(set) var holdings: [String: LedgerHolding] = [:]
    /// Orders with live reservations, by order id.
    public private(set) var openOrders: [String: LedgerOpenOrder] = [:]
    /// Event ids consumed (applied or refused).
    public private(set) var seenEventIds: Set<String> = []
    /// Exec ids applied.
    public private(set) var seenExecIds: Set<String> = []

    /// An empty account.
    public init(userId: String) { self.userId = userId }

    /// Cash free for new buys and withdrawals.
    public var buyingPower: Int64 { cash - reservedCash }

    /// Realised P&L over all symbols.
    public var realisedPnL: Int64 { holdings.values.reduce(0) { $0 + $1.realisedPnL } }

    /// Cash to reserve for buying `qty` at up to `reservePrice` (rounded up so the reservation
    /// covers any fill at or below that price). The gateway's buying-power check uses the same
    /// function, so what it approves is what the ledger reserves. Nil on overflow.
    public static func buyReservation(qty: Int64, reservePrice: Int64) -> Int64? {
        FixedPointDecimal.cashValue(price: reservePrice, qty: qty, rounding: .up)
    }

    /// Rebuilds an account by applying `events` in order (events of other users are skipped).
    public static func replay(userId: String, events: some Sequence<LedgerEvent>) -> LedgerAccount {
        var account = LedgerAccount(userId: userId)
        for e in events where e.userId == userId { account.apply(e) }
        return account
    }

    /// Applies one event. Pure: the outcome depends only on the state and the event, so replaying
    /// the same events from empty always yields the same account.
    @discardableResult
    public mutating func apply(_ event: LedgerEvent) -> LedgerApplyOutcome {
        guard event.userId == userId else { return .refused(.wrongUser) }
        guard !seenEventIds.contains(event.eventId) else { return .duplicate }
        switch event.body {
        case .orderPartiallyFilled(_, let execId, _, _), .orderFilled(_, let execId, _, _):
            if seenExecIds.contains(execId) {
                seenEventIds.insert(event.eventId)
                return .duplicate
            }
        default: break
        }
        seenEventIds.insert(event.eventId)
        let outcome = mutate(event.body)
        if outcome == .applied, case .orderPartiallyFilled(_, let execId, _, _) = event.body {
            seenExecIds.insert(execId)
        }
        if outcome == .applied, case .orderFilled(_, let execId, _, _) = event.body { seenExecIds.insert(execId) }
        return outcome
    }

    private mutating func mutate(_ body: LedgerEvent.Body) -> LedgerApplyOutcome {
        switch body {
        case .deposit(let amount):
            guard amount > 0 else { return .refused(.invalidAmount) }
            guard case (let c, false) = cash.addingReportingOverflow(amount) else { return .refused(.overflow) }
            cash = c
            deposited += amount
            return .applied

        case .withdrawal(let amount):
            guard amount > 0 else { return .refused(.invalidAmount) }
            guard amount <= buyingPower else { return .refused(.insufficientFunds) }
            cash -= amount
            withdrawn += amount
            return .applied

        case .orderPlaced(let orderId, let symbol, let side, let qty, let reservePrice):
            guard openOrders[orderId] == nil else { return .refused(.duplicateOrder) }
            guard qty > 0 else { return .refused(.invalidAmount) }
            var order = LedgerOpenOrder(
                symbol: symbol, side: side, openQty: qty, cumQty: 0, reservePrice: reservePrice,
                reservedCash: 0, reservedQty: 0)
            if side == .buy {
                guard reservePrice > 0 else { return .refused(.invalidAmount) }
                guard let need = Self.buyReservation(qty: qty, reservePrice: reservePrice) else {
                    return .refused(.overflow)
                }
                guard need <= buyingPower else { return .refused(.insufficientFunds) }
                order.reservedCash = need
                reservedCash += need
            } else {
                guard (holdings[symbol]?.availableQty ?? 0) >= qty else { return .refused(.insufficientHoldings) }
                order.reservedQty = qty
                holdings[symbol, default: LedgerHolding()].reservedQty += qty
            }
            openOrders[orderId] = order
            return .applied

        case .orderReplaced(let orderId, let qty, let reservePrice, _):
            guard var order = openOrders[orderId] else { return .refused(.unknownOrder) }
            let newOpen = qty - order.cumQty
            guard newOpen > 0 else { return .refused(.invalidAmount) }
            if order.side == .buy {
                guard reservePrice > 0 else { return .refused(.invalidAmount) }
                guard let need = Self.buyReservation(qty: newOpen, reservePrice: reservePrice) else {
                    return .refused(.overflow)
                }
                guard need - order.reservedCash <= buyingPower else { return .refused(.insufficientFunds) }
                reservedCash += need - order.reservedCash
                order.reservedCash = need
            } else {
                let delta = newOpen - order.reservedQty
                guard delta <= (holdings[order.symbol]?.availableQty ?? 0) else {
                    return .refused(.insufficientHoldings)
                }
                holdings[order.symbol, default: LedgerHolding()].reservedQty += delta
                order.reservedQty = newOpen
            }
            order.openQty = newOpen
            order.reservePrice = reservePrice
            openOrders[orderId] = order
            return .applied

        case .orderPartiallyFilled(let orderId, _, let price, let qty):
            return fill(orderId: orderId, price: price, qty: qty, final: false)

        case .orderFilled(let orderId, _, let price, let qty):
            return fill(orderId: orderId, price: price, qty: qty, final: true)

        case .orderCanceled(let orderId), .orderRejected(let orderId, _):
            guard let order = openOrders[orderId] else { return .refused(.unknownOrder) }
            close(orderId, order)
            return .applied
        }
    }

    private mutating func fill(orderId: String, price: Int64, qty: Int64, final: Bool) -> LedgerApplyOutcome {
        guard var order = openOrders[orderId] else { return .refused(.unknownOrder) }
        guard qty > 0, price > 0 else { return .refused(.invalidAmount) }
        guard qty <= order.openQty else { return .refused(.overfill) }
        guard let value = FixedPointDecimal.cashValue(price: price, qty: qty, rounding: .halfUp) else {
            return .refused(.overflow)
        }
        var h = holdings[order.symbol] ?? LedgerHolding()
        order.openQty -= qty
        order.cumQty += qty
        if order.side == .buy {
            cash -= value
            h.qty += qty
            h.costBasis += value
            // Keep exactly the reservation the rest of the order needs; release the difference.
            let keep = Self.buyReservation(qty: order.openQty, reservePrice: order.reservePrice) ?? order.reservedCash
            reservedCash -= order.reservedCash - keep
            order.reservedCash = keep
        } else {
            let removed = h.qty == qty ? h.costBasis : Self.proportion(h.costBasis, qty, h.qty)
            cash += value
            h.costBasis -= removed
            h.realisedPnL += value - removed
            h.qty -= qty
            h.reservedQty -= qty
            order.reservedQty -= qty
        }
        holdings[order.symbol] = h
        if final || order.openQty == 0 {
            close(orderId, order)
        } else {
            openOrders[orderId] = order
        }
        return .applied
    }

    /// Releases what is left of an order's reservation and forgets it.
    private mutating func close(_ orderId: String, _ order: LedgerOpenOrder) {
        reservedCash -= order.reservedCash
        if order.reservedQty != 0 { holdings[order.symbol, default: LedgerHolding()].reservedQty -= order.reservedQty }
        openOrders[orderId] = nil
        if let h = holdings[order.symbol], h == LedgerHolding() { holdings[order.symbol] = nil }
    }

    /// `value * part / whole` without intermediate overflow (floor).
    private static func proportion(_ value: Int64, _ part: Int64, _ whole: Int64) -> Int64 {
        let product = value.multipliedFullWidth(by: part)
        return whole.dividingFullWidth(product).quotient
    }

    /// Broken invariants, as readable strings (empty when consistent): reservations equal the sum of
    /// open orders' reservations, nothing negative that must not be, reserved shares within holdings.
    public func invariantViolations() -> [String] {
        var out: [String] = []
        let orderCash = openOrders.values.reduce(0) { $0 + $1.reservedCash }
        if orderCash != reservedCash { out.append("reservedCash \(reservedCash) != open orders' \(orderCash)") }
        if reservedCash < 0 { out.append("reservedCash negative") }
        if cash != deposited - withdrawn - holdings.values.reduce(0, { $0 + $1.costBasis })
            + realisedPnL
        {
            out.append("cash \(cash) != deposits - withdrawals - cost basis + realised P&L")
        }
        for (symbol, h) in holdings {
            let orderQty = openOrders.values.filter { $0.symbol == symbol }.reduce(0) { $0 + $1.reservedQty }
            if orderQty != h.reservedQty {
                out.append("\(symbol): reservedQty \(h.reservedQty) != open orders' \(orderQty)")
            }
            if h.qty < 0 || h.reservedQty < 0 || h.reservedQty > h.qty {
                out.append("\(symbol): qty \(h.qty) reserved \(h.reservedQty)")
            }
            if h.qty == 0 && h.costBasis != 0 { out.append("\(symbol): flat with cost basis \(h.costBasis)") }
        }
        return out
    }
}

/// Money and share totals across accounts and the exchange's counterparties, for conservation tests:
/// cash only moves between accounts and counterparties (plus deposits and withdrawals), and shares
/// only between them.
public struct LedgerTotals: Equatable, Sendable {
    /// Sum of account cash.
    public var cash: Int64 = 0
    /// Sum of deposits minus withdrawals.
    public var netDeposits: Int64 = 0
    /// Shares held per symbol, summed over accounts.
    public var shares: [String: Int64] = [:]

    /// Totals over `accounts`.
    public init(_ accounts: some Sequence<LedgerAccount>) {
        for a in accounts {
            cash += a.cash
            netDeposits += a.deposited - a.withdrawn
            for (s, h) in a.holdings where h.qty != 0 { shares[s, default: 0] += h.qty }
        }
    }

    /// True when account cash plus `counterpartyCash` equals net deposits, and account shares plus
    /// `counterpartyShares` is zero for every symbol.
    public func isConserved(counterpartyCash: Int64, counterpartyShares: [String: Int64]) -> Bool {
        guard cash + counterpartyCash == netDeposits else { return false }
        let symbols = Set(shares.keys).union(counterpartyShares.keys)
        return symbols.allSatisfy { (shares[$0] ?? 0) + (counterpartyShares[$0] ?? 0) == 0 }
    }
}

/// Every account, keyed by user id: what a ledger service (or the embedded journal) folds the
/// whole `ledger.events` stream into. Accounts are created by their first event.
public struct LedgerAccounts: Sendable, Equatable {
    /// Accounts by user id.
    public private(set) var accounts: [String: LedgerAccount] = [:]

    /// No accounts.
    public init() {}

    /// Rebuilds all accounts from a stream of events in order.
    public init(replaying events: some Sequence<LedgerEvent>) {
        for e in events { apply(e) }
    }

    /// Applies one event to its user's account (see `LedgerAccount.apply`).
    @discardableResult
    public mutating func apply(_ event: LedgerEvent) -> LedgerApplyOutcome {
        accounts[event.userId, default: LedgerAccount(userId: event.userId)].apply(event)
    }

    /// The account of `userId`, or an empty one.
    public subscript(userId: String) -> LedgerAccount { accounts[userId] ?? LedgerAccount(userId: userId) }

    /// Totals over all accounts, for conservation checks.
    public var totals: LedgerTotals { LedgerTotals(accounts.values) }
}
