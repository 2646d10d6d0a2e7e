// ExchangeOrderHandler: the simulator's order entry as a state machine (no I/O, time passed in).
//
// Owns: FIX NewOrderSingle (D), OrderCancelRequest (F) and OrderCancelReplaceRequest (G) into the
// domain MatchingEngine (price-time priority, limit/market, DAY/IOC, partial fills), the simulated
// market maker (SimulatedLiquidityProvider, one per symbol) that posts around the current simulated
// price so user orders fill, the ClOrdID -> order table per session, and the mapping of book
// events to ExecutionReport (8) and OrderCancelReject (9) (FIX 4.4 Vol. 4 "Order State Changes").
// Returns what to send as `ExchangeOrderOutput`s; ExchangeSimulator sends them and moves prices.
//
// Conventions: OrderID(37) is the engine's order id in decimal; ExecID(17) is "T<n>" for fills (the
// book's per-side exec id, unique per engine) and "E<n>" for every other report. GTC is treated as DAY
// (the simulator has no session end); FOK and other time-in-force values are rejected. Orders rest
// across a peer's reconnect; reports produced while it is away wait in the session's store (on disk for order
// peers, ExchangeSettings) and are resent when it asks (FIX ResendRequest).
// A D whose ClOrdID the session already used is a resend (PossResend(97), PossDup(43), or a gateway recovering
// from a crash between its commit and its send): it gets the order's current state as an order status report
// (ExecType I), or a reject again for a ClOrdID refused before, never a second order.
// Memory stays bounded at any order rate: a finished order (filled, canceled, rejected) is remembered
// for `retainedFinishedOrders` more finished orders (so a late cancel gets "too late", 102=0, and a
// reused ClOrdID is refused), then forgotten (a cancel is then "unknown order", 102=1).
public import FIX

/// What the order handler wants sent or applied.
public enum ExchangeOrderOutput: Equatable, Sendable {
    /// Send an ExecutionReport (35=8) on session `session`.
    case executionReport(session: Int, FIXExecutionReport)
    /// Send an OrderCancelReject (35=9) on session `session`.
    case cancelReject(session: Int, FIXOrderCancelReject)
    /// A trade happened: the market's last price moves (market data follows).
    case trade(symbolId: Int32, price: Int64, qty: Int64)
}

/// Order entry of the exchange simulator.
public struct ExchangeOrderHandler: Sendable {
    struct Record: Sendable {
        var session: Int
        var clOrdID: String
        var origClOrdID: String?
        var symbolId: Int32
        var side: FIXSide
        var ordType: FIXOrdType
        var orderQty: Int64
        var price: Int64?
        var orderId: UInt64 = 0
        var cum: Int64 = 0
        var leaves: Int64 = 0
        var notional: Int64 = 0  // sum of price * qty over fills, for AvgPx(6)
        var status = FIXOrdStatus.pendingNew
        var live = false
        var keys: [String] = []  // every byClOrdID key naming this record (replace chains)
    }

    /// The symbols traded.
    public let symbols: SymbolUniverse
    private(set) var engine: MatchingEngine
    private(set) var providers: [SimulatedLiquidityProvider]
    private var records: [Record] = []            // owner tag = index + 1 (0 is the market maker)
    private var byClOrdID: [String: Int] = [:]    // "<session>|<ClOrdID>" -> record index (-1: rejected)
    private var liveUserOrders: [Int32]           // per symbol: resting user orders
    private var freeRecords: [Int] = []
    private var finished: [Int] = []              // FIFO of finished record indices (from finishedHead)
    private var finishedHead = 0
    private var rejectedKeys: [String] = []       // FIFO of ClOrdIDs refused before they got a record
    private var rejectedHead = 0
    /// Finished orders (and refused ClOrdIDs) remembered before their memory is reused.
    public let retainedFinishedOrders: Int
    private var execCounter: UInt64 = 0
    private var events: [OrderBookEvent] = []
    private var cancelContext: (session: Int, request: FIXOrderCancelReject)?
    /// Reports sent, for metrics.
    public private(set) var reportsProduced: UInt64 = 0

    /// Creates empty books for every symbol.
    /// - Parameters:
    ///   - tickSize: price increment in 1e-4 units.
    ///   - liquidity: the market maker's ladder (its owner tag is forced to 0).
    public init(symbols: SymbolUniverse, tickSize: Int64 = 100,
                liquidity: SimulatedLiquidityProvider.Configuration = .init(), retainedFinishedOrders: Int = 100_000) {
        precondition(retainedFinishedOrders >= 0)
        self.retainedFinishedOrders = retainedFinishedOrders
        self.symbols = symbols
        engine = MatchingEngine(symbolCount: symbols.count, configuration: OrderBook.Configuration(tickSize: tickSize))
        let lp = SimulatedLiquidityProvider.Configuration(
            levels: liquidity.levels, sizePerLevel: liquidity.sizePerLevel, halfSpreadTicks: liquidity.halfSpreadTicks,
            levelSpacingTicks: liquidity.levelSpacingTicks, owner: 0)
        providers = Array(repeating: SimulatedLiquidityProvider(configuration: lp), count: symbols.count)
        liveUserOrders = Array(repeating: 0, count: symbols.count)
        events.reserveCapacity(64)
    }

    /// Whether `symbolId` has resting user orders (the simulator refreshes liquidity there as prices move).
    public func hasRestingUserOrders(_ symbolId: Int32) -> Bool { liveUserOrders[Int(symbolId)] > 0 }

    /// The market maker of `symbolId` (position and cash, for conservation checks).
    public func liquidityProvider(_ symbolId: Int32) -> SimulatedLiquidityProvider { providers[Int(symbolId)] }

    /// The book of `symbolId` (tests).
    public func book(_ symbolId: Int32) -> OrderBook { engine.books[Int(symbolId)] }

    // MARK: Requests

    /// Handles a NewOrderSingle from `session`; `referencePrice` is the symbol's current simulated price.
    public mutating func newOrder(_ o: FIXNewOrderSingle, session: Int, referencePrice: (Int32) -> Int64,
                                  now: FIXTimestamp, into out: inout [ExchangeOrderOutput]) {
        let k = key(session, o.clOrdID)
        func reject(_ text: String) {
            // Remembered, so the id stays used for this session (FIX: ClOrdID unique per session and day).
            if byClOrdID[k] == nil {
                byClOrdID[k] = -1
                rejectedKeys.append(k)
                if rejectedKeys.count - rejectedHead > retainedFinishedOrders {
                    let old = rejectedKeys[rejectedHead]
                    rejectedHead += 1
                    if byClOrdID[old] == -1 { byClOrdID[old] = nil }
                    if rejectedHead > 4_096 && rejectedHead * 2 > rejectedKeys.count {
                        rejectedKeys.removeFirst(rejectedHead)
                        rejectedHead = 0
                    }
                }
            }
            out.append(.executionReport(session: session, FIXExecutionReport(
                orderID: "NONE", clOrdID: o.clOrdID, execID: nextExecID(), execType: .rejected, ordStatus: .rejected,
                symbol: o.symbol, side: o.side, orderQty: o.orderQty, price: o.price, leavesQty: 0, cumQty: 0,
                avgPx: 0, text: text, transactTime: now)))
            reportsProduced &+= 1
        }
        if let index = byClOrdID[k] {
            guard index >= 0 else { return reject("duplicate_clordid") }   // refused before: refused again
            report(index, .orderStatus, now: now, into: &out)
            return
        }
        guard let sym = symbols.id(of: o.symbol) else { return reject("unknown_symbol") }
        guard let side = Self.side(o.side) else { return reject("unsupported_side") }
        let type: OrderType
        switch o.ordType {
        case .limit: type = .limit
        case .market: type = .market
        default: return reject("unsupported_order_type")
        }
        let tif: TimeInForce
        switch o.timeInForce {
        case nil, .some(.day), .some(.goodTillCancel): tif = .day
        case .some(.immediateOrCancel): tif = .ioc
        default: return reject("unsupported_time_in_force")
        }
        refreshLiquidity(sym, referencePrice: referencePrice(sym), now: now, into: &out)
        let record = Record(session: session, clOrdID: o.clOrdID, symbolId: sym, side: o.side,
                            ordType: o.ordType, orderQty: o.orderQty, price: type == .market ? nil : o.price, keys: [k])
        let index: Int
        if let i = freeRecords.popLast() {
            index = i
            records[i] = record
        } else {
            index = records.count
            records.append(record)
        }
        byClOrdID[k] = index
        let req = OrderBookRequest(side: side, type: type, qty: o.orderQty, price: o.price ?? 0, tif: tif,
                                   owner: UInt64(index + 1))
        events.removeAll(keepingCapacity: true)
        engine.submit(symbolId: sym, req, events: &events)
        apply(now: now, into: &out)
    }

    /// Handles an OrderCancelRequest from `session`.
    public mutating func cancel(_ r: FIXOrderCancelRequest, session: Int, now: FIXTimestamp,
                                into out: inout [ExchangeOrderOutput]) {
        guard let index = lookupForCancel(session: session, orig: r.origClOrdID, clOrdID: r.clOrdID,
                                          responseTo: .cancel, into: &out) else { return }
        records[index].origClOrdID = records[index].clOrdID
        records[index].clOrdID = r.clOrdID
        byClOrdID[key(session, r.clOrdID)] = index
        records[index].keys.append(key(session, r.clOrdID))
        events.removeAll(keepingCapacity: true)
        engine.cancel(records[index].orderId, events: &events)
        apply(now: now, into: &out)
    }

    /// Handles an OrderCancelReplaceRequest from `session`: new total quantity and (if given) price.
    public mutating func replace(_ r: FIXOrderCancelReplaceRequest, session: Int, referencePrice: (Int32) -> Int64,
                                 now: FIXTimestamp, into out: inout [ExchangeOrderOutput]) {
        guard let index = lookupForCancel(session: session, orig: r.origClOrdID, clOrdID: r.clOrdID,
                                          responseTo: .cancelReplace, into: &out) else { return }
        let rec = records[index]
        guard rec.ordType == .limit, r.ordType == .limit else {
            rejectCancel(session, rec, clOrdID: r.clOrdID, orig: r.origClOrdID, .cancelReplace, reason: 99,
                         text: "only limit orders can be replaced", into: &out)
            return
        }
        refreshLiquidity(rec.symbolId, referencePrice: referencePrice(rec.symbolId), now: now, into: &out)
        guard records[index].live else {
            // The refreshed ladder filled it first.
            rejectCancel(session, records[index], clOrdID: r.clOrdID, orig: r.origClOrdID, .cancelReplace, reason: 0,
                         text: "too late to replace", into: &out)
            return
        }
        let saved = (records[index].clOrdID, records[index].origClOrdID)
        records[index].origClOrdID = records[index].clOrdID
        records[index].clOrdID = r.clOrdID
        byClOrdID[key(session, r.clOrdID)] = index
        records[index].keys.append(key(session, r.clOrdID))
        cancelContext = (session, FIXOrderCancelReject(
            orderID: String(rec.orderId), clOrdID: r.clOrdID, origClOrdID: r.origClOrdID, ordStatus: rec.status,
            responseTo: .cancelReplace, reason: 99))
        events.removeAll(keepingCapacity: true)
        engine.replace(rec.orderId, qty: r.orderQty, price: r.price ?? rec.price ?? 0, events: &events)
        if events.contains(where: { if case .cancelRejected = $0 { return true } else { return false } }) {
            byClOrdID[key(session, r.clOrdID)] = nil
            (records[index].clOrdID, records[index].origClOrdID) = saved
        }
        apply(now: now, into: &out)
        cancelContext = nil
    }

    /// Re-posts the market maker's ladder of `symbolId` around `referencePrice`; resting user orders
    /// that the new ladder crosses trade now.
    public mutating func refreshLiquidity(_ symbolId: Int32, referencePrice: Int64, now: FIXTimestamp,
                                          into out: inout [ExchangeOrderOutput]) {
        events.removeAll(keepingCapacity: true)
        let i = Int(symbolId)
        engine.withBook(symbolId) { book in
            providers[i].refresh(book: &book, referencePrice: referencePrice, events: &events)
        }
        apply(now: now, into: &out)
    }

    // MARK: Events -> FIX

    private mutating func apply(now: FIXTimestamp, into out: inout [ExchangeOrderOutput]) {
        for e in events {
            if case .trade(let t) = e {
                providers[Int(MatchingEngine.symbolId(ofOrder: t.buyOrderId))].observe(e)
            }
            switch e {
            case .accepted(let orderId, let owner, _, _, let qty):
                guard let i = userIndex(owner) else { continue }
                records[i].orderId = orderId
                records[i].leaves = qty
                records[i].status = .new
                setLive(i, true)
                report(i, .new, now: now, into: &out)
            case .rejected(let owner, let reason):
                guard let i = userIndex(owner) else { continue }
                records[i].status = .rejected
                report(i, .rejected, text: reason.rawValue, now: now, into: &out)
                retire(i)
            case .trade(let t):
                let sym = MatchingEngine.symbolId(ofOrder: t.buyOrderId)
                out.append(.trade(symbolId: sym, price: t.price, qty: t.qty))
                if let i = userIndex(t.buyOwner) {
                    fill(i, t, leaves: t.buyLeaves, cum: t.buyCum, execID: t.buyExecId, now: now, into: &out)
                }
                if let i = userIndex(t.sellOwner) {
                    fill(i, t, leaves: t.sellLeaves, cum: t.sellCum, execID: t.sellExecId, now: now, into: &out)
                }
            case .canceled(_, let owner, _, _, let reason):
                guard let i = userIndex(owner) else { continue }
                records[i].leaves = 0
                records[i].status = .canceled
                setLive(i, false)
                report(i, .canceled, text: reason == .requested ? nil : reason.rawValue, now: now, into: &out)
                retire(i)
            case .replaced(_, let owner, let price, let qty, let leaves, _):
                guard let i = userIndex(owner) else { continue }
                records[i].price = price
                records[i].orderQty = qty
                records[i].leaves = leaves
                // FIX 4.4: OrdStatus 5 (Replaced) is no longer used; the report carries the current status.
                records[i].status = records[i].cum > 0 ? .partiallyFilled : .new
                report(i, .replaced, now: now, into: &out)
            case .cancelRejected(_, let reason):
                guard var ctx = cancelContext else { continue }
                ctx.request.text = reason.rawValue
                out.append(.cancelReject(session: ctx.session, ctx.request))
                reportsProduced &+= 1
            }
        }
        events.removeAll(keepingCapacity: true)
    }

    private mutating func fill(_ i: Int, _ t: OrderBookTrade, leaves: Int64, cum: Int64, execID: UInt64,
                               now: FIXTimestamp, into out: inout [ExchangeOrderOutput]) {
        records[i].leaves = leaves
        records[i].cum = cum
        records[i].notional &+= t.price &* t.qty
        let done = leaves == 0
        records[i].status = done ? .filled : .partiallyFilled
        if done { setLive(i, false) }
        report(i, .trade, lastQty: t.qty, lastPx: t.price, execID: "T\(execID)", now: now, into: &out)
        if done { retire(i) }
    }

    private mutating func report(_ i: Int, _ type: FIXExecType, text: String? = nil, lastQty: Int64? = nil,
                                 lastPx: Int64? = nil, execID: String? = nil, now: FIXTimestamp,
                                 into out: inout [ExchangeOrderOutput]) {
        let r = records[i]
        let id = execID ?? nextExecID()
        out.append(.executionReport(session: r.session, FIXExecutionReport(
            orderID: r.orderId == 0 ? "NONE" : String(r.orderId), clOrdID: r.clOrdID,
            origClOrdID: type == .canceled || type == .replaced ? r.origClOrdID : nil,
            execID: id, execType: type, ordStatus: r.status, symbol: symbols.name(of: r.symbolId), side: r.side,
            orderQty: r.orderQty, price: r.price, lastQty: lastQty, lastPx: lastPx, leavesQty: r.leaves,
            cumQty: r.cum, avgPx: r.cum > 0 ? r.notional / r.cum : 0, text: text, transactTime: now)))
        reportsProduced &+= 1
    }

    private mutating func lookupForCancel(session: Int, orig: String, clOrdID: String, responseTo: FIXCxlRejResponseTo,
                                          into out: inout [ExchangeOrderOutput]) -> Int? {
        guard let index = byClOrdID[key(session, orig)], index >= 0 else {
            out.append(.cancelReject(session: session, FIXOrderCancelReject(
                orderID: "NONE", clOrdID: clOrdID, origClOrdID: orig, ordStatus: .rejected, responseTo: responseTo,
                reason: 1, text: "unknown order")))
            reportsProduced &+= 1
            return nil
        }
        guard records[index].live else {
            rejectCancel(session, records[index], clOrdID: clOrdID, orig: orig, responseTo, reason: 0,
                         text: "too late: order is \(records[index].status.text)", into: &out)
            return nil
        }
        guard byClOrdID[key(session, clOrdID)] == nil else {
            rejectCancel(session, records[index], clOrdID: clOrdID, orig: orig, responseTo, reason: 99,
                         text: "duplicate_clordid", into: &out)
            return nil
        }
        return index
    }

    private mutating func rejectCancel(_ session: Int, _ r: Record, clOrdID: String, orig: String,
                                       _ responseTo: FIXCxlRejResponseTo, reason: Int, text: String,
                                       into out: inout [ExchangeOrderOutput]) {
        out.append(.cancelReject(session: session, FIXOrderCancelReject(
            orderID: r.orderId == 0 ? "NONE" : String(r.orderId), clOrdID: clOrdID, origClOrdID: orig,
            ordStatus: r.status, responseTo: responseTo, reason: reason, text: text)))
        reportsProduced &+= 1
    }

    // MARK: Helpers

    private func key(_ session: Int, _ clOrdID: String) -> String { "\(session)|\(clOrdID)" }

    private func userIndex(_ owner: UInt64) -> Int? { owner == 0 ? nil : Int(owner - 1) }

    private mutating func setLive(_ i: Int, _ live: Bool) {
        guard records[i].live != live else { return }
        records[i].live = live
        liveUserOrders[Int(records[i].symbolId)] += live ? 1 : -1
    }

    /// Queues a finished record; past `retainedFinishedOrders` the oldest is forgotten and its slot reused.
    private mutating func retire(_ i: Int) {
        finished.append(i)
        guard finished.count - finishedHead > retainedFinishedOrders else { return }
        let old = finished[finishedHead]
        finishedHead += 1
        for k in records[old].keys where byClOrdID[k] == old { byClOrdID[k] = nil }
        records[old].keys = []
        freeRecords.append(old)
        if finishedHead > 4_096 && finishedHead * 2 > finished.count {
            finished.removeFirst(finishedHead)
            finishedHead = 0
        }
    }

    /// Order records held (live and remembered finished ones), for tests and metrics.
    public var recordsHeld: Int { records.count - freeRecords.count }

    private mutating func nextExecID() -> String {
        execCounter &+= 1
        return "E\(execCounter)"
    }

    static func side(_ s: FIXSide) -> OrderSide? {
        switch s {
        case .buy: return .buy
        case .sell: return .sell
        default: return nil
        }
    }
}
