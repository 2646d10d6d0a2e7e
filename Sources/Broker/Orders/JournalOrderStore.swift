// JournalOrderStore: `OrderStore` on a local append-only journal with the ledger folded in-process — the
// embedded default (`broker demo`), where PostgreSQL and Kafka are not installed.
//
// Owns: the in-memory tables (users, orders, client-order-id index, applied exec ids, the `LedgerAccounts` fold)
// and their journal records. Each operation is ONE record that carries both the order change and its ledger
// event, applied to memory only after it is appended; recovery replays the records, so an operation is either
// wholly there or wholly absent after a crash (the torn tail is dropped by LedgerJournal). Since the ledger is
// applied in the same step, reservations take effect at once (no pending state) and the outbox is always empty.
// The one gateway-side reservation is a replace hold (OrderStore.swift): kept per order, summed per account and
// holding, and subtracted from what the ledger fold calls free until the Replaced record hands it to the fold.
// Durability: records are fsynced by `flush`, which the store runs in a before-sleep hook, i.e. before the
// loop's corked writes (the HTTP answers) leave.
public import Logging
public import Wire

/// The journal implementation of `OrderStore`. Loop thread only.
public final class JournalOrderStore: OrderStore {
    /// The fold of all ledger events (balances and holdings).
    public private(set) var ledger = LedgerAccounts()
    private var users: [String: String] = [:]
    private var orders: [String: StoredOrder] = [:]
    private var orderSeq: [String: Int] = [:]
    private var nextSeq = 0
    private var byClient: [String: String] = [:]
    private var execIds: Set<String> = []
    /// Replace holds summed per user (cash) and per user + symbol (shares).
    private var heldCash: [String: Int64] = [:]
    private var heldQty: [String: Int64] = [:]
    private var blocks: Int64 = 0
    private let journal: LedgerJournal
    private let logger: Logger
    /// Records recovered at open, and bytes dropped from a torn tail.
    public let recoveredRecords: Int
    public var truncatedBytes: Int { journal.truncatedBytes }
    /// Observers of applied events (the in-process bus role).
    public var onEvent: ((LedgerEvent) -> Void)?

    /// Opens (recovering) the journal at `path`.
    /// - Throws: `LedgerJournalError` when the file cannot be opened.
    public init(path: String, fsync: JournalFsyncPolicy, loop: EventLoop?, logger: Logger) throws {
        var records: [JSONValue] = []
        journal = try LedgerJournal(path: path, policy: fsync) { bytes in
            if let v = try? JSONParser.parse(bytes) { records.append(v) }
        }
        self.logger = logger
        recoveredRecords = records.count
        for r in records { replay(r) }
        if journal.truncatedBytes > 0 {
            logger.warning("journal: dropped a torn tail", metadata: ["bytes": "\(journal.truncatedBytes)"])
        }
        loop?.addBeforeSleepHook { [weak self] in self?.flush() }
    }

    /// Writes and fsyncs appended records (also run before every loop sleep).
    public func flush() {
        do { try journal.flush() } catch {
            // A journal that cannot be written cannot promise anything: stop rather than answer clients.
            logger.critical("journal write failed", metadata: ["error": "\(error)"])
            fatalError("journal write failed: \(error)")
        }
    }

    private func append(_ v: JSONValue) {
        var b = ByteBuffer(capacity: 256)
        v.write(into: &b)
        do { try b.withUnsafeReadableBytes { try journal.append($0) } } catch {
            logger.critical("journal write failed", metadata: ["error": "\(error)"])
            fatalError("journal write failed: \(error)")
        }
    }

    // MARK: Records

    private func replay(_ r: JSONValue) {
        switch r["r"]?.stringValue {
        case "user": if let id = r["id"]?.stringValue, let h = r["hash"]?.stringValue { users[id] = h }
        case "block": if let n = r["n"]?.intValue { blocks = Int64(n) }
        case "place":
            guard let o = r["order"].flatMap(Self.order), let e = r["event"].flatMap(Self.event) else { return }
            insert(o)
            applyEvent(e)
        case "exec":
            guard let u = Self.update(r) else { return }
            applyUpdate(u)
        case "funds": if let e = r["event"].flatMap(Self.event) { applyEvent(e) }
        case "amend": if let id = r["id"]?.stringValue { orders[id]?.amendSeq += 1 }
        case "hold":
            if let id = r["id"]?.stringValue, let extra = r["extra"]?.numberText.flatMap({ Int64($0) }) { hold(id, extra) }
        case "release": if let id = r["id"]?.stringValue { release(id, seq: r["seq"]?.numberText.flatMap { Int($0) }) }
        default: break
        }
    }

    private static func heldKey(_ o: StoredOrder) -> String { o.userId + "\u{1}" + o.symbol }

    /// Holds `extra` for the next replace of `id` (bumps amendSeq).
    private func hold(_ id: String, _ extra: Int64) {
        guard var o = orders[id] else { return }
        o.amendSeq += 1
        o.replaceHold = extra
        o.replaceHoldSeq = o.amendSeq
        orders[id] = o
        if o.side == .buy { heldCash[o.userId, default: 0] += extra } else { heldQty[Self.heldKey(o), default: 0] += extra }
    }

    /// Drops the hold of `id` (when it belongs to replace `seq`, or any when nil); returns whether there was one.
    @discardableResult
    private func release(_ id: String, seq: Int?) -> Bool {
        guard var o = orders[id], o.replaceHold != 0, seq == nil || seq == o.replaceHoldSeq else { return false }
        if o.side == .buy { heldCash[o.userId, default: 0] -= o.replaceHold } else {
            heldQty[Self.heldKey(o), default: 0] -= o.replaceHold
        }
        o.replaceHold = 0
        o.replaceHoldSeq = 0
        orders[id] = o
        return true
    }

    /// Buying power net of replace holds.
    private func freeCash(_ user: String) -> Int64 { ledger[user].buyingPower - (heldCash[user] ?? 0) }

    /// Free shares net of replace holds.
    private func freeQty(_ user: String, _ symbol: String) -> Int64 {
        (ledger[user].holdings[symbol]?.availableQty ?? 0) - (heldQty[user + "\u{1}" + symbol] ?? 0)
    }

    private func insert(_ o: StoredOrder) {
        orders[o.orderId] = o
        nextSeq += 1
        orderSeq[o.orderId] = nextSeq
        byClient[o.userId + "\u{1}" + o.clientOrderId] = o.orderId
    }

    private func applyEvent(_ e: LedgerEvent) {
        let outcome = ledger.apply(e)
        if case .refused(let why) = outcome {
            logger.warning("journal ledger refused an event", metadata: ["event": "\(e.eventId)", "reason": "\(why.rawValue)"])
        }
        onEvent?(e)
    }

    private func applyUpdate(_ u: ExecutionUpdate) {
        execIds.insert(u.execId)
        // The kept hold becomes part of the fold's reservation through this record's ORDER_REPLACED; an ended
        // order's hold goes back (same record, so no crash can leave it behind).
        if let seq = u.keptHoldSeq { release(u.orderId, seq: seq) }
        if u.status.isTerminal { release(u.orderId, seq: nil) }
        if var o = orders[u.orderId] {
            o.status = u.status
            o.filled = u.filled
            o.avgPrice = u.avgPrice
            if let q = u.newQty { o.qty = q }
            if let p = u.newPrice { o.price = p; o.reservePrice = p }
            if let r = u.reason { o.rejectReason = r }
            orders[u.orderId] = o
        }
        if let e = u.event { applyEvent(e) }
    }

    // MARK: OrderStore

    public func prepare(_ completion: @escaping OrderStoreCompletion<Void>) { completion(.success(())) }

    public func allocateOrderIdBlock(_ completion: @escaping OrderStoreCompletion<Int64>) {
        blocks += 1
        append(.object([("r", .string("block")), ("n", .number(String(blocks)))]))
        flush()   // ids of this block must never be handed out again after a crash
        completion(.success(blocks))
    }

    public func createUser(_ userId: String, passwordHash: String, _ completion: @escaping OrderStoreCompletion<Bool>) {
        guard users[userId] == nil else { completion(.success(false)); return }
        append(.object([("r", .string("user")), ("id", .string(userId)), ("hash", .string(passwordHash))]))
        users[userId] = passwordHash
        completion(.success(true))
    }

    public func passwordHash(of userId: String, _ completion: @escaping OrderStoreCompletion<String?>) {
        completion(.success(users[userId]))
    }

    public func portfolio(of userId: String, _ completion: @escaping OrderStoreCompletion<PortfolioSnapshot?>) {
        guard users[userId] != nil else { completion(.success(nil)); return }
        let a = ledger[userId]
        let holdings = a.holdings.sorted { $0.key < $1.key }.map { s, h in
            HoldingSnapshot(symbol: s, qty: h.qty, reservedQty: h.reservedQty + (heldQty[userId + "\u{1}" + s] ?? 0),
                            avgPrice: h.averagePrice, realisedPnL: h.realisedPnL)
        }
        completion(.success(PortfolioSnapshot(cash: a.cash, reserved: a.reservedCash + (heldCash[userId] ?? 0),
                                              holdings: holdings)))
    }

    public func place(_ o: StoredOrder, event: LedgerEvent, _ completion: @escaping OrderStoreCompletion<PlaceOutcome>) {
        if let existing = byClient[o.userId + "\u{1}" + o.clientOrderId], let e = orders[existing] {
            completion(.success(.duplicate(e)))
            return
        }
        guard users[o.userId] != nil else { completion(.success(.refused(.insufficientFunds))); return }
        let need = o.reservation
        if o.side == .buy, need.cash > freeCash(o.userId) { completion(.success(.refused(.insufficientFunds))); return }
        if o.side == .sell, need.qty > freeQty(o.userId, o.symbol) {
            completion(.success(.refused(.insufficientHoldings)))
            return
        }
        append(.object([("r", .string("place")), ("order", Self.json(o)), ("event", Self.json(event))]))
        insert(o)
        applyEvent(event)
        completion(.success(.placed(o)))
    }

    public func apply(_ u: ExecutionUpdate, _ completion: @escaping OrderStoreCompletion<Bool>) {
        guard !execIds.contains(u.execId) else { completion(.success(false)); return }
        var m: [(String, JSONValue)] = [
            ("r", .string("exec")), ("exec_id", .string(u.execId)), ("order_id", .string(u.orderId)),
            ("status", .string(u.status.rawValue)), ("filled", .number(String(u.filled))),
            ("avg", .number(String(u.avgPrice))),
        ]
        if let q = u.newQty { m.append(("qty", .number(String(q)))) }
        if let p = u.newPrice { m.append(("price", .number(String(p)))) }
        if let r = u.reason { m.append(("reason", .string(r))) }
        if let k = u.keptHoldSeq { m.append(("hold_seq", .number(String(k)))) }
        if let e = u.event { m.append(("event", Self.json(e))) }
        append(.object(m))
        applyUpdate(u)
        completion(.success(true))
    }

    public func funds(_ event: LedgerEvent, _ completion: @escaping OrderStoreCompletion<FundsOutcome>) {
        guard users[event.userId] != nil else { completion(.success(.insufficientFunds)); return }
        if case .withdrawal(let amount) = event.body, amount > freeCash(event.userId) {
            completion(.success(.insufficientFunds))
            return
        }
        append(.object([("r", .string("funds")), ("event", Self.json(event))]))
        applyEvent(event)
        completion(.success(.accepted))
    }

    public func orders(of userId: String, limit: Int, _ completion: @escaping OrderStoreCompletion<[StoredOrder]>) {
        let mine = orders.values.filter { $0.userId == userId }
            .sorted { (orderSeq[$0.orderId] ?? 0) > (orderSeq[$1.orderId] ?? 0) }
        completion(.success(Array(mine.prefix(limit))))
    }

    public func order(_ orderId: String, _ completion: @escaping OrderStoreCompletion<StoredOrder?>) {
        completion(.success(orders[orderId]))
    }

    public func openOrders(_ completion: @escaping OrderStoreCompletion<[StoredOrder]>) {
        completion(.success(orders.values.filter { !$0.status.isTerminal }))
    }

    public func bumpAmendSeq(_ orderId: String, _ completion: @escaping OrderStoreCompletion<Int>) {
        guard orders[orderId] != nil else { completion(.failure(OrderStoreError("no order"))); return }
        append(.object([("r", .string("amend")), ("id", .string(orderId))]))
        orders[orderId]!.amendSeq += 1
        completion(.success(orders[orderId]!.amendSeq))
    }

    public func holdReplace(_ order: StoredOrder, extra: Int64,
                            _ completion: @escaping OrderStoreCompletion<ReplaceHoldOutcome>) {
        guard let o = orders[order.orderId], o.userId == order.userId, !o.status.isTerminal, o.replaceHold == 0,
              extra > 0 else { completion(.success(.conflict)); return }
        if o.side == .buy, extra > freeCash(o.userId) { completion(.success(.refused(.insufficientFunds))); return }
        if o.side == .sell, extra > freeQty(o.userId, o.symbol) { completion(.success(.refused(.insufficientHoldings))); return }
        append(.object([("r", .string("hold")), ("id", .string(o.orderId)), ("extra", .number(String(extra)))]))
        hold(o.orderId, extra)
        completion(.success(.held(amendSeq: orders[o.orderId]!.amendSeq)))
    }

    public func releaseReplace(_ order: StoredOrder, amendSeq: Int?, _ completion: @escaping OrderStoreCompletion<Bool>) {
        guard let o = orders[order.orderId], o.replaceHold != 0, amendSeq == nil || amendSeq == o.replaceHoldSeq else {
            completion(.success(false))
            return
        }
        var m: [(String, JSONValue)] = [("r", .string("release")), ("id", .string(o.orderId))]
        if let amendSeq { m.append(("seq", .number(String(amendSeq)))) }
        append(.object(m))
        completion(.success(release(o.orderId, seq: amendSeq)))
    }

    public func undeliveredEvents(_ completion: @escaping OrderStoreCompletion<[LedgerEvent]>) { completion(.success([])) }
    public func eventsDelivered(_ eventIds: [String]) {}

    // MARK: JSON forms

    static func json(_ e: LedgerEvent) -> JSONValue { .string(LedgerEventCodec.string(e)) }

    static func event(_ v: JSONValue) -> LedgerEvent? { v.stringValue.flatMap { try? LedgerEventCodec.decode($0) } }

    static func json(_ o: StoredOrder) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("id", .string(o.orderId)), ("user", .string(o.userId)), ("cid", .string(o.clientOrderId)),
            ("symbol", .string(o.symbol)), ("side", .string(o.side == .buy ? "buy" : "sell")),
            ("type", .string(o.type == .limit ? "limit" : "market")), ("tif", .string(o.tif == .day ? "day" : "ioc")),
            ("qty", .number(String(o.qty))), ("rp", .number(String(o.reservePrice))),
        ]
        if let p = o.price { m.append(("price", .number(String(p)))) }
        return .object(m)
    }

    static func order(_ v: JSONValue) -> StoredOrder? {
        guard let id = v["id"]?.stringValue, let user = v["user"]?.stringValue, let cid = v["cid"]?.stringValue,
              let symbol = v["symbol"]?.stringValue, let qty = v["qty"]?.numberText.flatMap({ Int64($0) }),
              let rp = v["rp"]?.numberText.flatMap({ Int64($0) }) else { return nil }
        return StoredOrder(orderId: id, userId: user, clientOrderId: cid, symbol: symbol,
                           side: v["side"]?.stringValue == "sell" ? .sell : .buy,
                           type: v["type"]?.stringValue == "market" ? .market : .limit,
                           tif: v["tif"]?.stringValue == "ioc" ? .ioc : .day, qty: qty,
                           price: v["price"]?.numberText.flatMap { Int64($0) }, reservePrice: rp)
    }

    static func update(_ v: JSONValue) -> ExecutionUpdate? {
        guard let exec = v["exec_id"]?.stringValue, let id = v["order_id"]?.stringValue,
              let status = v["status"]?.stringValue.flatMap(OrderStatus.init(rawValue:)) else { return nil }
        return ExecutionUpdate(orderId: id, execId: exec, status: status,
                               filled: v["filled"]?.numberText.flatMap { Int64($0) } ?? 0,
                               avgPrice: v["avg"]?.numberText.flatMap { Int64($0) } ?? 0,
                               newQty: v["qty"]?.numberText.flatMap { Int64($0) },
                               newPrice: v["price"]?.numberText.flatMap { Int64($0) },
                               reason: v["reason"]?.stringValue, event: v["event"].flatMap(event),
                               keptHoldSeq: v["hold_seq"]?.numberText.flatMap { Int($0) })
    }
}
