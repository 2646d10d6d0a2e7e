// OrderGateway: the order path of one gateway loop: risk -> reservation transaction -> FIX 35=D/F/G ->
// ExecutionReports -> order updates, ledger events and user notifications.
//
// Owns: the live-order table (orders not yet terminal, keyed by our order id, rebuilt from the store at start),
// order-id allocation, the RiskGate, the FIX initiator session to the exchange, and turning ExecutionReports into
// `ExecutionUpdate`s (exactly once per ExecID, through the store) and ledger events. The REST surface is in
// GatewayHTTP.swift, WebSocket notifications in GatewayWebSocket.swift. Everything runs on one loop: one place
// to serialise a user's orders, no locks.
//
// FIX ClOrdID: the order id for the NewOrderSingle, `<order id>.<n>` for the n-th cancel/replace, so any
// report maps back to its order by the text before the first '.' (FIX 4.4 Vol. 4: each request carries a
// new ClOrdID, OrigClOrdID names the order's previous one).
//
// Crash windows: an order committed but never acknowledged (a crash between the commit and 35=D, or before the
// ack was stored) is still `pending_new`; every logon resends its D with PossResend(97)=Y and the same ClOrdID,
// which the exchange answers with the order's state when it has it (ExecType I) and takes as new when it does
// not. A cancel/replace that needs more holds the extra in the store before 35=G (OrderStore.swift); a
// CancelReject gives it back, the Replaced report hands it to the ledger, an ended order releases it.
public import FIX
public import Logging
public import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A live order with what the gateway needs to route reports and build events.
struct LiveOrder {
    var order: StoredOrder
    /// The exchange's OrderID (37), once acknowledged.
    var exchangeOrderId: String?
    /// ClOrdID of the last accepted request (OrigClOrdID of the next cancel/replace).
    var currentClOrdID: String
    /// Loop time the request arrived (for the order-to-exchange-ack probe; 0 when not measured).
    var startedAt: UInt64 = 0
}

/// One gateway instance on one event loop.
public final class OrderGateway: FIXApplication {
    /// Settings.
    public let settings: GatewaySettings
    /// Symbols.
    public let symbols: SymbolUniverse
    /// Storage.
    public let store: any OrderStore
    /// Where committed events go (nil: the store applies them itself, as the journal does).
    public let publisher: (any LedgerEventPublisher)?
    /// Last prices for risk and hydration (nil: no bands, market orders refused).
    public let quotes: (any LatestQuoteStore)?
    /// The loop everything runs on.
    public unowned let loop: EventLoop
    let logger: Logger
    let signer: GatewayTokenSigner
    var risk: RiskGate
    let search: SymbolSearch
    var live: [String: LiveOrder] = [:]
    /// Tokens whose signature was checked, with their claims: a client sends the same token with every request,
    /// and the HMAC was ~7% of the gateway thread. Expiry is still checked on every use; bounded by
    /// `verifiedTokenLimit` (emptied when full).
    var verifiedTokens: [String: GatewayClaims] = [:]
    static let verifiedTokenLimit = 100_000
    var initiator: FIXInitiator?
    var orderBlock: Int64 = 0
    var orderCounter: Int64 = 0
    /// Users' open order WebSockets.
    var sockets: [String: [GatewayWebSocketSession]] = [:]
    /// Test/bench clock override (wall ns); nil = realtime.
    public var clock: (() -> UInt64)?
    /// Benchmark probe: called with request-arrival-to-exchange-ack (35=8 New) nanoseconds per order.
    public var onExchangeAck: ((UInt64) -> Void)?
    /// Whether `start` finished.
    public private(set) var isReady = false
    /// Counters.
    public private(set) var stats = GatewayStats()

    /// Creates a gateway; `start` prepares storage and connects to the exchange.
    public init(settings: GatewaySettings, symbols: SymbolUniverse, store: any OrderStore,
                publisher: (any LedgerEventPublisher)?, quotes: (any LatestQuoteStore)?, loop: EventLoop,
                logger: Logger) {
        self.settings = settings
        self.symbols = symbols
        self.store = store
        self.publisher = publisher
        self.quotes = quotes
        self.loop = loop
        self.logger = logger
        var secret = settings.tokenSecret
        if secret.isEmpty {
            var bytes = [UInt8](repeating: 0, count: 32)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
            secret = hex(bytes)
        }
        signer = GatewayTokenSigner(secret: secret, lifetimeSeconds: settings.tokenLifetimeSeconds)
        risk = RiskGate(symbolCount: symbols.count, limits: settings.limits, hours: settings.hours,
                        rateBurst: settings.rateBurst, ratePerSecond: settings.ratePerSecond)
        search = SymbolSearch(universe: symbols)
    }

    var now: UInt64 { clock?() ?? Syscalls.realtimeNanos() }

    /// Prepares storage, reloads live orders, republishes the outbox, connects FIX (when `connectFIX`), then
    /// calls `ready` (loop thread).
    public func start(connectFIX: Bool = true, _ ready: @escaping (Result<Void, OrderStoreError>) -> Void) {
        store.prepare { [self] r in
            if case .failure(let e) = r { ready(.failure(e)); return }
            store.allocateOrderIdBlock { [self] r in
                switch r {
                case .failure(let e): ready(.failure(e))
                case .success(let block):
                    orderBlock = block
                    store.openOrders { [self] r in
                        if case .success(let open) = r {
                            for o in open { live[o.orderId] = LiveOrder(order: o, exchangeOrderId: nil,
                                                                          currentClOrdID: clOrdID(o.orderId, o.amendSeq)) }
                        }
                        store.undeliveredEvents { [self] r in
                            if case .success(let events) = r, let publisher {
                                for e in events { publisher.publish(e) }
                                if !events.isEmpty { logger.notice("republished outbox", metadata: ["events": "\(events.count)"]) }
                            }
                            if connectFIX { startFIX() }
                            isReady = true
                            ready(.success(()))
                        }
                    }
                }
            }
        }
    }

    /// Connects the order session to the exchange (reconnecting with backoff).
    public func startFIX() {
        var s = FIXSessionSettings(role: .initiator, senderCompID: settings.senderCompID,
                                   targetCompID: settings.targetCompID)
        s.host = settings.fixHost
        s.port = settings.fixPort
        s.heartbeatInterval = settings.heartbeatSeconds
        if settings.fixStoreDirectory.isEmpty {
            s.resetOnLogon = true
        } else {
            // Persistent sequence numbers: after a restart the exchange resends the reports we missed
            // (FIX 4.4 Vol. 2 "Resend Request"); exec-id dedupe makes any overlap harmless.
            s.storeDirectory = settings.fixStoreDirectory
            s.resetOnLogon = false
        }
        do {
            let i = try FIXInitiator(settings: s, loop: loop, application: self, logger: logger)
            initiator = i
            i.start()
        } catch {
            logger.error("FIX initiator", metadata: ["error": "\(error)"])
        }
    }

    /// Stops the FIX session.
    public func stop() { initiator?.stop() }

    /// Whether orders can reach the exchange now.
    public var exchangeConnected: Bool { initiator?.connection.isLoggedOn ?? false }

    func nextOrderId() -> String {
        orderCounter += 1
        return String(orderBlock * 1_000_000_000 + orderCounter)
    }

    func clOrdID(_ orderId: String, _ seq: Int) -> String { seq == 0 ? orderId : "\(orderId).\(seq)" }

    // MARK: Placing

    /// A validated order request (REST body or bench).
    public struct OrderRequest: Sendable {
        public var clientOrderId: String
        public var symbol: String
        public var side: OrderSide
        public var type: OrderType
        public var qty: Int64
        public var price: Int64?
        public var tif: TimeInForce
        /// Creates a request.
        public init(clientOrderId: String, symbol: String, side: OrderSide, type: OrderType, qty: Int64,
                    price: Int64?, tif: TimeInForce) {
            self.clientOrderId = clientOrderId; self.symbol = symbol; self.side = side; self.type = type
            self.qty = qty; self.price = price; self.tif = tif
        }
    }

    /// Why an order request failed, with its stable API code.
    public struct Refusal: Error, Equatable, Sendable {
        /// HTTP status.
        public var status: Int
        /// Stable code (`insufficient_funds`, `off_tick`, ...).
        public var code: String
        /// Human-readable message.
        public var message: String
        static func risk(_ r: RiskRejectCode) -> Refusal { Refusal(status: r.httpStatus, code: r.rawValue, message: r.message) }
        static let storeUnavailable = Refusal(status: 503, code: "store_unavailable", message: "order storage is unavailable; retry with the same client_order_id")
        static let exchangeUnavailable = Refusal(status: 503, code: "exchange_unavailable", message: "not connected to the exchange")
    }

    /// Outcome of `place`: the order and whether it was new (false: an idempotent retry).
    public typealias PlaceResult = Result<(order: StoredOrder, created: Bool), Refusal>

    /// Risk-checks, reserves and sends one order for `userId` (loop thread).
    public func place(userId: String, _ req: OrderRequest, _ done: @escaping (PlaceResult) -> Void) {
        let symbolId = symbols.id(of: req.symbol)
        let startedAt = onExchangeAck == nil ? 0 : loop.now
        guard exchangeConnected else { done(.failure(.exchangeUnavailable)); return }
        let check: (Int64?) -> Void = { [self] last in
            let order = RiskOrder(symbolId: symbolId, side: req.side, type: req.type, qty: req.qty, limitPrice: req.price)
            // Account checks happen atomically in the store; the gate does everything else.
            let approval: RiskApproval
            switch risk.check(order, user: userId, lastPrice: last, buyingPower: .max, availableQty: .max, now: now) {
            case .failure(let r):
                stats.riskRejects &+= 1
                done(.failure(.risk(r)))
                return
            case .success(let a): approval = a
            }
            let orderId = nextOrderId()
            let stored = StoredOrder(orderId: orderId, userId: userId, clientOrderId: req.clientOrderId,
                                     symbol: req.symbol, side: req.side, type: req.type, tif: req.tif, qty: req.qty,
                                     price: req.price, reservePrice: approval.reservePrice)
            let event = LedgerEvent(eventId: "p:" + orderId, userId: userId, ts: now, body: .orderPlaced(
                orderId: orderId, symbol: req.symbol, side: req.side, qty: req.qty, reservePrice: approval.reservePrice))
            store.place(stored, event: event) { [self] r in
                switch r {
                case .failure(let e):
                    logger.warning("place failed", metadata: ["error": "\(e)"])
                    done(.failure(.storeUnavailable))
                case .success(.refused(let code)):
                    stats.accountRejects &+= 1
                    done(.failure(.risk(code)))
                case .success(.duplicate(let existing)):
                    done(.success((existing, false)))
                case .success(.placed(let o)):
                    stats.placed &+= 1
                    publisher?.publish(event)
                    live[o.orderId] = LiveOrder(order: o, exchangeOrderId: nil, currentClOrdID: o.orderId,
                                                startedAt: startedAt)
                    notify(o, event: "ORDER_PLACED", lastQty: nil, lastPx: nil)
                    sendNew(o)
                    done(.success((live[o.orderId]?.order ?? o, true)))
                }
            }
        }
        guard let symbolId, let quotes else { check(nil); return }
        quotes.fetch([symbolId], on: loop) { [self] found in
            let last = found.first.map(\.last).flatMap { $0 > 0 ? $0 : nil }
            if let last { _ = risk.observeTrade(symbolId: symbolId, price: last, now: now) }
            check(last)
        }
    }

    func sendNew(_ o: StoredOrder) {
        if initiator?.connection.send(newOrderSingle(o)) == nil {
            // Logged out between the check and the commit: release the reservation through a rejection.
            reject(o.orderId, execId: "gw:\(o.orderId):nosession", reason: "exchange_unavailable")
        } else {
            stats.sentToExchange &+= 1
        }
    }

    func newOrderSingle(_ o: StoredOrder) -> FIXNewOrderSingle {
        FIXNewOrderSingle(
            clOrdID: o.orderId, account: o.userId, symbol: o.symbol, side: o.side == .buy ? .buy : .sell,
            ordType: o.type == .limit ? .limit : .market, orderQty: o.qty, price: o.price,
            timeInForce: o.tif == .day ? .day : .immediateOrCancel, transactTime: FIXTimestamp(nanoseconds: Int64(now)))
    }

    /// Resends the D of every order the exchange has not acknowledged, with PossResend(97)=Y and the same ClOrdID
    /// (FIX 4.4 Vol. 1 "Possible Resend"): the exchange answers with the order's state if it already has it, so a
    /// D that never left (a crash between the commit and the send) goes out exactly once.
    func resendUnacknowledged() {
        guard let c = initiator?.connection else { return }
        var n = 0
        for l in live.values where l.order.status == .pendingNew {
            let msg = newOrderSingle(l.order)
            let sent = c.send(.newOrderSingle) { e in
                e.field(FIXTag.possResend, bool: true)   // header field: written right after SendingTime
                msg.encode(into: &e)
            }
            if sent != nil { n += 1 }
        }
        stats.resentToExchange &+= UInt64(n)
        if n > 0 { logger.notice("resent unacknowledged orders", metadata: ["orders": "\(n)"]) }
    }

    /// Rejects a live order on the gateway's own authority (no exchange report will come).
    func reject(_ orderId: String, execId: String, reason: String) {
        guard var l = live[orderId] else { return }
        l.order.status = .rejected
        l.order.rejectReason = reason
        apply(l, execId: execId, lastQty: nil, lastPx: nil, event: .orderRejected(orderId: orderId, reason: reason),
              name: "ORDER_REJECTED")
    }

    // MARK: Cancel and replace

    /// Sends a cancel (F) for the user's live order.
    public func cancel(userId: String, orderId: String, _ done: @escaping (Result<StoredOrder, Refusal>) -> Void) {
        amend(userId: userId, orderId: orderId, qty: nil, price: nil, done)
    }

    /// Sends a cancel/replace (G): new total `qty` and/or limit `price`. A replace that needs a larger reservation
    /// (more shares, or more cash at the new price) first holds the extra in the store: refused with
    /// `insufficient_funds` / `insufficient_holdings` and nothing changed when the account cannot cover it, and
    /// `replace_pending` while another such replace of the order is unanswered.
    public func replace(userId: String, orderId: String, qty: Int64?, price: Int64?,
                        _ done: @escaping (Result<StoredOrder, Refusal>) -> Void) {
        amend(userId: userId, orderId: orderId, qty: qty, price: price, done)
    }

    static let replacePending = Refusal(status: 409, code: "replace_pending",
                                        message: "a replace of this order is still unanswered; retry after it")

    private func amend(userId: String, orderId: String, qty: Int64?, price: Int64?,
                       _ done: @escaping (Result<StoredOrder, Refusal>) -> Void) {
        let replacing = qty != nil || price != nil
        guard let l = live[orderId], l.order.userId == userId else {
            // Not live here: another user's (404, never revealing it exists) or already terminal (409).
            store.order(orderId) { r in
                if case .success(let o?) = r, o.userId == userId {
                    done(.failure(Refusal(status: 409, code: "order_not_open", message: "the order is \(o.status.rawValue)")))
                } else {
                    done(.failure(Refusal(status: 404, code: "order_not_found", message: "no such order")))
                }
            }
            return
        }
        guard exchangeConnected else { done(.failure(.exchangeUnavailable)); return }
        var o = l.order
        var extra: Int64 = 0
        if replacing {
            guard o.type == .limit else {
                done(.failure(Refusal(status: 422, code: "invalid_replace", message: "only limit orders can be replaced")))
                return
            }
            let newQty = qty ?? o.qty, newPrice = price ?? o.price ?? 0
            if let e = RiskCheck.quantity(newQty, limits: risk.limits) ?? RiskCheck.tick(newPrice, limits: risk.limits)
                ?? (newPrice > 0 ? nil : .invalidPrice) {
                done(.failure(.risk(e)))
                return
            }
            guard newQty > o.filled else {
                done(.failure(Refusal(status: 422, code: "invalid_quantity", message: "new quantity must exceed the filled quantity")))
                return
            }
            // One replace at a time while one holds an extra: its OrigClOrdID chain is not settled yet.
            guard o.replaceHold == 0 else { done(.failure(Self.replacePending)); return }
            let oldNeed = o.side == .buy
                ? LedgerAccount.buyReservation(qty: o.qty - o.filled, reservePrice: o.reservePrice) : o.qty - o.filled
            let newNeed = o.side == .buy
                ? LedgerAccount.buyReservation(qty: newQty - o.filled, reservePrice: newPrice) : newQty - o.filled
            let value = FixedPointDecimal.cashValue(price: newPrice, qty: newQty, rounding: .up)
            guard let oldNeed, let newNeed, RiskCheck.orderValue(value, limits: risk.limits) == nil else {
                done(.failure(.risk(.maxOrderValue)))
                return
            }
            extra = newNeed - oldNeed
            o.qty = newQty
            o.price = newPrice
        }
        guard extra > 0 else {
            store.bumpAmendSeq(orderId) { [self] r in
                guard case .success(let seq) = r else { done(.failure(.storeUnavailable)); return }
                sendAmend(orderId, seq: seq, replacing: replacing, o, done)
            }
            return
        }
        // Reserve the extra before the G leaves, in one transaction with the check (as `place` does).
        store.holdReplace(l.order, extra: extra) { [self] r in
            switch r {
            case .failure(let e):
                logger.warning("replace hold failed", metadata: ["error": "\(e)"])
                done(.failure(.storeUnavailable))
            case .success(.refused(let code)):
                stats.accountRejects &+= 1
                done(.failure(.risk(code)))
            case .success(.conflict):
                done(.failure(Self.replacePending))
            case .success(.held(let seq)):
                guard var current = live[orderId] else {
                    // It ended while the hold was written: nothing to replace, give the extra back.
                    store.releaseReplace(l.order, amendSeq: seq) { _ in }
                    done(.failure(Refusal(status: 409, code: "order_not_open", message: "the order has ended")))
                    return
                }
                current.order.replaceHold = extra
                current.order.replaceHoldSeq = seq
                live[orderId] = current
                sendAmend(orderId, seq: seq, replacing: true, o, done)
            }
        }
    }

    /// Sends the F or G numbered `seq` for `o` (the amended order: new qty and price for a G).
    private func sendAmend(_ orderId: String, seq: Int, replacing: Bool, _ o: StoredOrder,
                           _ done: @escaping (Result<StoredOrder, Refusal>) -> Void) {
        guard var current = live[orderId] else { done(.failure(.storeUnavailable)); return }
        let newID = clOrdID(orderId, seq)
        let side: FIXSide = o.side == .buy ? .buy : .sell
        let t = FIXTimestamp(nanoseconds: Int64(now))
        let sent: Int?
        if replacing {
            sent = initiator?.connection.send(FIXOrderCancelReplaceRequest(
                orderID: current.exchangeOrderId, origClOrdID: current.currentClOrdID, clOrdID: newID,
                symbol: o.symbol, side: side, ordType: .limit, orderQty: o.qty, price: o.price,
                timeInForce: o.tif == .day ? .day : .immediateOrCancel, transactTime: t))
        } else {
            sent = initiator?.connection.send(FIXOrderCancelRequest(
                origClOrdID: current.currentClOrdID, clOrdID: newID, orderID: current.exchangeOrderId,
                symbol: o.symbol, side: side, orderQty: current.order.qty, transactTime: t))
        }
        guard sent != nil else {
            releaseHold(orderId, seq: seq)
            done(.failure(.exchangeUnavailable))
            return
        }
        current.order.amendSeq = seq
        live[orderId] = current
        done(.success(current.order))
    }

    /// Gives back the live order's replace hold when it belongs to replace `seq` (refused, or never sent).
    func releaseHold(_ orderId: String, seq: Int) {
        guard var l = live[orderId], l.order.replaceHold > 0, l.order.replaceHoldSeq == seq else { return }
        let o = l.order
        l.order.replaceHold = 0
        l.order.replaceHoldSeq = 0
        live[orderId] = l
        store.releaseReplace(o, amendSeq: seq) { [logger] r in
            // Left held, the order refuses replaces that need more until a restart reloads it.
            if case .failure(let e) = r {
                logger.error("replace hold not released", metadata: ["order": "\(orderId)", "error": "\(e)"])
            }
        }
    }

    // MARK: Execution reports

    public func fixConnectionDidLogOn(_ connection: FIXConnection) {
        logger.notice("exchange session logged on")
        resendUnacknowledged()
    }

    public func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?) {
        logger.warning("exchange session down", metadata: ["reason": "\(String(describing: reason))"])
    }

    public func fixConnection(_ connection: FIXConnection, didReceive message: FIXMessageView) {
        switch message.msgType {
        case .executionReport:
            do { handle(try FIXExecutionReport(message)) } catch {
                logger.warning("bad ExecutionReport", metadata: ["error": "\(error)"])
            }
        case .orderCancelReject:
            if let r = try? FIXOrderCancelReject(message) { handleCancelReject(r) }
        default:
            break
        }
    }

    static func baseOrderId(_ clOrdID: String) -> String {
        guard let dot = clOrdID.firstIndex(of: ".") else { return clOrdID }
        return String(clOrdID[..<dot])
    }

    /// Maps one ExecutionReport onto its live order.
    public func handle(_ r: FIXExecutionReport) {
        stats.reports &+= 1
        let orderId = Self.baseOrderId(r.clOrdID ?? r.origClOrdID ?? "")
        guard var l = live[orderId] else {
            stats.unknownReports &+= 1
            logger.debug("report for unknown order", metadata: ["clOrdID": "\(r.clOrdID ?? "-")"])
            return
        }
        l.exchangeOrderId = r.orderID
        let oid = l.order.orderId, uid = l.order.userId
        switch r.execType {
        case .new:
            if l.startedAt != 0, let probe = onExchangeAck {
                probe(loop.now - l.startedAt)
                l.startedAt = 0
            }
            l.order.status = .new
            if let c = r.clOrdID { l.currentClOrdID = c }
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil, event: nil, name: "ORDER_ACCEPTED")
        case .trade:
            let lastQty = r.lastQty ?? 0, lastPx = r.lastPx ?? 0
            l.order.filled = r.cumQty
            l.order.avgPrice = r.avgPx
            let final = r.leavesQty == 0
            l.order.status = final ? .filled : .partiallyFilled
            // The exec id carries the exchange's id so a resent report is the same event (ledger dedupe).
            let body: LedgerEvent.Body = final
                ? .orderFilled(orderId: oid, execId: r.execID, price: lastPx, qty: lastQty)
                : .orderPartiallyFilled(orderId: oid, execId: r.execID, price: lastPx, qty: lastQty)
            apply(l, execId: r.execID, lastQty: lastQty, lastPx: lastPx, event: body,
                  name: final ? "ORDER_FILLED" : "ORDER_PARTIALLY_FILLED")
        case .canceled, .expired:
            l.order.status = .canceled
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil, event: .orderCanceled(orderId: oid), name: "ORDER_CANCELED")
        case .rejected:
            l.order.status = .rejected
            l.order.rejectReason = r.text ?? "rejected by the exchange"
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil,
                  event: .orderRejected(orderId: oid, reason: l.order.rejectReason ?? ""), name: "ORDER_REJECTED")
        case .replaced:
            if let q = r.orderQty { l.order.qty = q }
            if let p = r.price { l.order.price = p; l.order.reservePrice = p }
            l.order.status = .replaced
            if let c = r.clOrdID { l.currentClOrdID = c }
            // The replace that held an extra took effect: the hold travels to the ledger with the event.
            var held: Int64 = 0, kept: Int?
            if l.order.replaceHold > 0, r.clOrdID == clOrdID(oid, l.order.replaceHoldSeq) {
                (held, kept) = (l.order.replaceHold, l.order.replaceHoldSeq)
                l.order.replaceHold = 0
                l.order.replaceHoldSeq = 0
            }
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil,
                  event: .orderReplaced(orderId: oid, qty: l.order.qty, reservePrice: l.order.reservePrice, held: held),
                  name: "ORDER_REPLACED", keptHoldSeq: kept)
        case .orderStatus:
            handleStatus(r, l)
        default:
            live[orderId] = l
            _ = uid
        }
    }

    /// An order status report (ExecType I), the exchange's answer to a resent D for an order it has: brings a
    /// `pending_new` order up to what the exchange says. Reports the session missed come before it (sequence
    /// order), so fills it shows beyond ours were lost with a reset session: applied as one execution.
    private func handleStatus(_ r: FIXExecutionReport, _ l: LiveOrder) {
        var l = l
        let oid = l.order.orderId
        if let c = r.clOrdID { l.currentClOrdID = c }
        if r.ordStatus == .canceled || r.ordStatus == .expired {
            l.order.status = .canceled
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil, event: .orderCanceled(orderId: oid), name: "ORDER_CANCELED")
        } else if r.ordStatus == .rejected {
            l.order.status = .rejected
            l.order.rejectReason = r.text ?? "rejected by the exchange"
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil,
                  event: .orderRejected(orderId: oid, reason: l.order.rejectReason ?? ""), name: "ORDER_REJECTED")
        } else if r.cumQty > l.order.filled {
            let lastQty = r.cumQty - l.order.filled
            // What the missed fills cost in total, from the average prices before and after (1e-4 units).
            let lastPx = (r.avgPx * r.cumQty - l.order.avgPrice * l.order.filled) / lastQty
            l.order.filled = r.cumQty
            l.order.avgPrice = r.avgPx
            let final = r.leavesQty == 0
            l.order.status = final ? .filled : .partiallyFilled
            let execId = "I\(r.orderID):\(r.cumQty)"   // the same status seen twice is one execution
            let body: LedgerEvent.Body = final
                ? .orderFilled(orderId: oid, execId: execId, price: lastPx, qty: lastQty)
                : .orderPartiallyFilled(orderId: oid, execId: execId, price: lastPx, qty: lastQty)
            apply(l, execId: execId, lastQty: lastQty, lastPx: lastPx, event: body,
                  name: final ? "ORDER_FILLED" : "ORDER_PARTIALLY_FILLED")
        } else if l.order.status == .pendingNew {
            l.order.status = .new
            apply(l, execId: r.execID, lastQty: nil, lastPx: nil, event: nil, name: "ORDER_ACCEPTED")
        } else {
            live[oid] = l
        }
    }

    /// Updates the live table now (later reports build on it), then persists the update and, once committed,
    /// publishes its event and notifies the user. An order that ends with a replace hold gives it back.
    private func apply(_ l: LiveOrder, execId: String, lastQty: Int64?, lastPx: Int64?, event body: LedgerEvent.Body?,
                       name: String, keptHoldSeq: Int? = nil) {
        let o = l.order
        if o.status.isTerminal { live[o.orderId] = nil } else { live[o.orderId] = l }
        let event = body.map {
            LedgerEvent(eventId: "x:\(o.orderId):\(execId)", userId: o.userId, ts: now, body: $0)
        }
        let update = ExecutionUpdate(orderId: o.orderId, execId: "\(o.orderId):\(execId)", status: o.status,
                                     filled: o.filled, avgPrice: o.avgPrice,
                                     newQty: name == "ORDER_REPLACED" ? o.qty : nil,
                                     newPrice: name == "ORDER_REPLACED" ? o.price : nil,
                                     reason: o.rejectReason, event: event, keptHoldSeq: keptHoldSeq)
        store.apply(update) { [self] r in
            switch r {
            case .success(true):
                if let event { publisher?.publish(event) }
                if o.status.isTerminal && o.replaceHold > 0 {
                    // A crash before this release is caught by the store's `prepare`.
                    store.releaseReplace(o, amendSeq: nil) { _ in }
                }
                notify(o, event: name, lastQty: lastQty, lastPx: lastPx)
            case .success(false):
                stats.duplicateReports &+= 1
            case .failure(let e):
                // The report stays unapplied; FIX resend on reconnect (or a status request) brings it back.
                logger.error("execution not stored", metadata: ["order": "\(o.orderId)", "error": "\(e)"])
            }
        }
    }

    func handleCancelReject(_ r: FIXOrderCancelReject) {
        let orderId = Self.baseOrderId(r.origClOrdID)
        guard let l = live[orderId] else { return }
        // A refused replace that held an extra gives it back.
        if l.order.replaceHold > 0, r.clOrdID == clOrdID(orderId, l.order.replaceHoldSeq) {
            releaseHold(orderId, seq: l.order.replaceHoldSeq)
        }
        notify(l.order, event: "CANCEL_REJECTED", lastQty: nil, lastPx: nil, text: r.text)
    }
}

/// Gateway counters.
public struct GatewayStats: Sendable {
    public var placed: UInt64 = 0
    public var riskRejects: UInt64 = 0
    public var accountRejects: UInt64 = 0
    public var sentToExchange: UInt64 = 0
    /// NewOrderSingles resent with PossResend for orders still `pending_new` at logon.
    public var resentToExchange: UInt64 = 0
    public var reports: UInt64 = 0
    public var unknownReports: UInt64 = 0
    public var duplicateReports: UInt64 = 0
}
