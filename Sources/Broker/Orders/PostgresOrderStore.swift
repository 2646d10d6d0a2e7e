// PostgresOrderStore: `OrderStore` on PostgreSQL through the loop-driven `PostgresConnection`.
//
// Owns: mapping each store operation onto one statement (the server-side functions of OrdersSchema.swift) or one
// query, row decoding, and batching outbox deletions (one DELETE per loop tick for all events Kafka acknowledged).
// Statements are pipelined by PostgresConnection; each operation is one statement, so a failure never leaves a
// half-done transaction and a retry after `connectionLost` is safe (every operation is idempotent by order id,
// client order id, exec id or event id).
public import Logging
public import Wire

/// The PostgreSQL implementation of `OrderStore`. Loop thread only.
public final class PostgresOrderStore: OrderStore {
    /// The connection (exposed for the ledger service and tests).
    public let pg: PostgresConnection
    private let logger: Logger
    private var delivered: [String] = []
    private var flushScheduled = false
    /// Write lanes: one connection each, with group commit. A user's writes always take the same lane (so
    /// account rows are locked by one lane only: no lock cycles between lanes), an order's updates the lane of
    /// its id. Several lanes overlap their WAL flushes.
    let lanes: [PostgresWriteLane]
    /// Most writes that shared one commit on any lane (observability, tests).
    public var largestBatch: Int { lanes.map(\.largestBatch).max() ?? 0 }

    /// Creates the store; `prepare` connects and creates the schema.
    /// - Parameter writeConnections: write lanes (>= 1); the first connection also serves reads.
    public init(conninfo: String, loop: EventLoop, logger: Logger, pipelineDepth: Int = 256, writeConnections: Int = 4) {
        precondition(writeConnections >= 1)
        self.pg = PostgresConnection(conninfo: conninfo, pipelineDepth: pipelineDepth,
                                     maxQueuedStatements: 50_000, loop: loop, logger: logger)
        var lanes = [PostgresWriteLane(pg: pg)]
        for _ in 1..<writeConnections {
            lanes.append(PostgresWriteLane(pg: PostgresConnection(conninfo: conninfo, pipelineDepth: pipelineDepth,
                                                                  maxQueuedStatements: 50_000, loop: loop, logger: logger)))
        }
        self.lanes = lanes
        self.logger = logger
    }

    deinit { for l in lanes.dropFirst() { l.pg.close() } }

    /// Whether nothing is queued, batched or running on any connection.
    public var isIdle: Bool { lanes.allSatisfy { $0.isIdle } }

    /// Closes every connection.
    public func close() { for l in lanes { l.pg.close() } }

    public func prepare(_ completion: @escaping OrderStoreCompletion<Void>) {
        for l in lanes where !l.pg.isConnected && l.pg.lastError == nil { l.pg.connect() }
        pg.transaction(OrdersSchema.statements.map { ($0, []) }) { [pg] r in
            if case .failure(let e) = r { completion(.failure(OrderStoreError("schema: \(e)"))); return }
            // Holds of orders that ended before their release was written (a crash in between) go back now.
            pg.query("""
                SELECT broker_release_replace(order_id, NULL) FROM orders
                WHERE replace_hold <> 0 AND status IN ('filled','canceled','rejected')
                """) { r in
                completion(r.map { _ in () }.mapError { OrderStoreError("release ended holds: \($0)") })
            }
        }
    }

    func lane(_ key: String) -> PostgresWriteLane {
        lanes.count == 1 ? lanes[0] : lanes[Int(UInt(bitPattern: key.hashValue) % UInt(lanes.count))]
    }

    public func allocateOrderIdBlock(_ completion: @escaping OrderStoreCompletion<Int64>) {
        pg.query("SELECT nextval('broker_order_blocks')") { r in
            completion(Self.map(r) { res in
                guard let s = res.rows.first?.first ?? nil, let v = Int64(s) else { throw OrderStoreError("nextval") }
                return v
            })
        }
    }

    public func createUser(_ userId: String, passwordHash: String, _ completion: @escaping OrderStoreCompletion<Bool>) {
        pg.transaction([
            ("INSERT INTO users (user_id, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING", [userId, passwordHash]),
            ("INSERT INTO accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING", [userId]),
        ]) { r in
            switch r {
            case .success(let res): completion(.success(res.first?.rowsAffected == 1))
            case .failure(let e): completion(.failure(OrderStoreError("create user: \(e)")))
            }
        }
    }

    public func passwordHash(of userId: String, _ completion: @escaping OrderStoreCompletion<String?>) {
        pg.query("SELECT password_hash FROM users WHERE user_id = $1", [userId]) { r in
            completion(Self.map(r) { $0.rows.first?.first ?? nil })
        }
    }

    public func portfolio(of userId: String, _ completion: @escaping OrderStoreCompletion<PortfolioSnapshot?>) {
        final class Box { var account: PGResult?; var holdings: PGResult? }
        let box = Box()
        // Two statements pipelined back to back; READ COMMITTED snapshots differ per statement, which only
        // matters if a fill lands between them (the next read is consistent again).
        pg.query("SELECT cash, reserved + pending_reserved FROM accounts WHERE user_id = $1", [userId]) { r in
            box.account = try? r.get()
        }
        pg.query("""
            SELECT symbol, qty, reserved_qty + pending_reserved_qty, avg_price, realised_pnl FROM holdings
            WHERE user_id = $1 AND (qty <> 0 OR reserved_qty <> 0 OR pending_reserved_qty <> 0) ORDER BY symbol
            """, [userId]) { r in
            switch r {
            case .failure(let e): completion(.failure(OrderStoreError("portfolio: \(e)")))
            case .success(let h):
                guard let a = box.account else { completion(.failure(OrderStoreError("portfolio: account query"))); return }
                guard let row = a.rows.first else { completion(.success(nil)); return }
                let holdings = h.rows.map { r in
                    HoldingSnapshot(symbol: r[0] ?? "", qty: Int64(r[1] ?? "") ?? 0, reservedQty: Int64(r[2] ?? "") ?? 0,
                                    avgPrice: Int64(r[3] ?? "") ?? 0, realisedPnL: Int64(r[4] ?? "") ?? 0)
                }
                completion(.success(PortfolioSnapshot(cash: Int64(row[0] ?? "") ?? 0, reserved: Int64(row[1] ?? "") ?? 0,
                                                      holdings: holdings)))
            }
        }
    }

    public func place(_ o: StoredOrder, event: LedgerEvent, _ completion: @escaping OrderStoreCompletion<PlaceOutcome>) {
        let res = o.reservation
        lane(o.userId).write("SELECT * FROM broker_place_order($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)", [
            o.orderId, o.userId, o.clientOrderId, o.symbol, Self.text(o.side), Self.text(o.type), Self.text(o.tif),
            String(o.qty), o.price.map(String.init), String(o.reservePrice), String(res.cash), String(res.qty),
            event.eventId, LedgerEventCodec.string(event),
        ]) { r in
            completion(Self.map(r) { res in
                guard let row = res.rows.first, let outcome = row[0] else { throw OrderStoreError("place: no row") }
                switch outcome {
                case "placed": return .placed(o)
                case "duplicate":
                    var d = o
                    d.orderId = row[1] ?? ""
                    d.status = OrderStatus(rawValue: row[2] ?? "") ?? .pendingNew
                    d.qty = Int64(row[3] ?? "") ?? 0
                    d.price = row[4].flatMap { Int64($0) }
                    d.reservePrice = Int64(row[5] ?? "") ?? 0
                    d.filled = Int64(row[6] ?? "") ?? 0
                    d.avgPrice = Int64(row[7] ?? "") ?? 0
                    d.symbol = row[8] ?? ""
                    d.side = Self.side(row[9])
                    d.type = row[10] == "market" ? .market : .limit
                    d.tif = row[11] == "ioc" ? .ioc : .day
                    d.amendSeq = Int(row[12] ?? "") ?? 0
                    return .duplicate(d)
                case "insufficient_holdings": return .refused(.insufficientHoldings)
                default: return .refused(.insufficientFunds)   // also unknown_user: an account with no money
                }
            })
        }
    }

    public func apply(_ u: ExecutionUpdate, _ completion: @escaping OrderStoreCompletion<Bool>) {
        if u.status == .new && u.event == nil && u.newQty == nil {
            // The exchange's acknowledgement moves no money: a guarded status change is idempotent by itself
            // (a repeated or late New changes nothing), so it skips the executions row and the function call.
            // Acknowledgements gathered while a lane commits become one UPDATE in its next batch.
            lane(u.orderId).acknowledge(u.orderId) { r in completion(r.mapError { OrderStoreError("\($0)") }) }
            return
        }
        if let seq = u.keptHoldSeq { applyReplaced(u, holdSeq: seq, completion); return }
        lane(u.orderId).write("SELECT broker_apply_execution($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", [
            u.execId, u.orderId, u.status.rawValue, String(u.filled), String(u.avgPrice), u.newQty.map(String.init),
            u.newPrice.map(String.init), u.reason, u.event?.eventId, u.event?.userId,
            u.event.map(LedgerEventCodec.string),
        ]) { r in
            completion(Self.map(r) { $0.rows.first?.first ?? nil == "t" })
        }
    }

    /// `apply` for the Replaced report of a replace that held an extra (the order's lane, like every update of it).
    private func applyReplaced(_ u: ExecutionUpdate, holdSeq: Int, _ completion: @escaping OrderStoreCompletion<Bool>) {
        lane(u.orderId).write("SELECT broker_apply_replaced($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)", [
            String(holdSeq), u.execId, u.orderId, u.status.rawValue, String(u.filled), String(u.avgPrice),
            u.newQty.map(String.init), u.newPrice.map(String.init), u.reason, u.event?.eventId, u.event?.userId,
            u.event.map(LedgerEventCodec.string),
        ]) { r in
            completion(Self.map(r) { $0.rows.first?.first ?? nil == "t" })
        }
    }

    public func holdReplace(_ o: StoredOrder, extra: Int64, _ completion: @escaping OrderStoreCompletion<ReplaceHoldOutcome>) {
        lane(o.userId).write("SELECT * FROM broker_hold_replace($1,$2,$3)", [o.orderId, o.userId, String(extra)]) { r in
            completion(Self.map(r) { res in
                guard let row = res.rows.first, let outcome = row[0] else { throw OrderStoreError("hold replace: no row") }
                switch outcome {
                case "held":
                    guard let seq = row[1].flatMap({ Int($0) }) else { throw OrderStoreError("hold replace: no seq") }
                    return .held(amendSeq: seq)
                case "insufficient_funds": return .refused(.insufficientFunds)
                case "insufficient_holdings": return .refused(.insufficientHoldings)
                default: return .conflict
                }
            })
        }
    }

    public func releaseReplace(_ o: StoredOrder, amendSeq: Int?, _ completion: @escaping OrderStoreCompletion<Bool>) {
        // The user's lane: it locks the account.
        lane(o.userId).write("SELECT broker_release_replace($1,$2)", [o.orderId, amendSeq.map(String.init)]) { r in
            completion(Self.map(r) { $0.rows.first?.first ?? nil == "t" })
        }
    }

    public func funds(_ event: LedgerEvent, _ completion: @escaping OrderStoreCompletion<FundsOutcome>) {
        var withdraw: Int64 = 0
        if case .withdrawal(let amount) = event.body { withdraw = amount }
        lane(event.userId).write("SELECT broker_funds($1,$2,$3,$4)",
                 [event.userId, String(withdraw), event.eventId, LedgerEventCodec.string(event)]) { r in
            completion(Self.map(r) { ($0.rows.first?.first ?? nil) == "t" ? .accepted : .insufficientFunds })
        }
    }

    static let orderColumns = """
        order_id, user_id, client_order_id, symbol, side, type, tif, qty, price, reserve_price, status, filled,
        avg_price, amend_seq, reject_reason, replace_hold, replace_hold_seq
        """

    public func orders(of userId: String, limit: Int, _ completion: @escaping OrderStoreCompletion<[StoredOrder]>) {
        pg.query("SELECT \(Self.orderColumns) FROM orders WHERE user_id = $1 ORDER BY created_at DESC, order_id DESC LIMIT $2",
                 [userId, String(limit)]) { r in
            completion(Self.map(r) { $0.rows.map(Self.order) })
        }
    }

    public func order(_ orderId: String, _ completion: @escaping OrderStoreCompletion<StoredOrder?>) {
        pg.query("SELECT \(Self.orderColumns) FROM orders WHERE order_id = $1", [orderId]) { r in
            completion(Self.map(r) { $0.rows.first.map(Self.order) })
        }
    }

    public func openOrders(_ completion: @escaping OrderStoreCompletion<[StoredOrder]>) {
        pg.query("SELECT \(Self.orderColumns) FROM orders WHERE status NOT IN ('filled','canceled','rejected')") { r in
            completion(Self.map(r) { $0.rows.map(Self.order) })
        }
    }

    public func bumpAmendSeq(_ orderId: String, _ completion: @escaping OrderStoreCompletion<Int>) {
        pg.query("UPDATE orders SET amend_seq = amend_seq + 1 WHERE order_id = $1 RETURNING amend_seq", [orderId]) { r in
            completion(Self.map(r) { Int(($0.rows.first?.first ?? nil) ?? "") ?? 0 })
        }
    }

    public func undeliveredEvents(_ completion: @escaping OrderStoreCompletion<[LedgerEvent]>) {
        pg.query("SELECT payload FROM outbox ORDER BY seq") { r in
            completion(Self.map(r) { res in
                try res.rows.map { row in
                    do { return try LedgerEventCodec.decode(row[0] ?? "") } catch { throw OrderStoreError("outbox: \(error)") }
                }
            })
        }
    }

    public func eventsDelivered(_ eventIds: [String]) {
        delivered.append(contentsOf: eventIds)
        guard !flushScheduled else { return }
        flushScheduled = true
        // One DELETE per tick for everything acknowledged meanwhile.
        pg.loop.schedule(afterNanos: 0) { [weak self] in self?.flushDelivered() }
    }

    private func flushDelivered() {
        flushScheduled = false
        guard !delivered.isEmpty else { return }
        let literal = Self.textArray(delivered)
        delivered.removeAll(keepingCapacity: true)
        pg.query("DELETE FROM outbox WHERE event_id = ANY($1::text[])", [literal], planEachTime: true) { [logger] r in
            if case .failure(let e) = r { logger.warning("outbox cleanup failed", metadata: ["error": "\(e)"]) }
        }
    }

    /// A text[] literal with every element quoted (PostgreSQL 8.15.6: backslash escapes inside quotes).
    static func textArray(_ items: [String]) -> String {
        var out = "{"
        out.reserveCapacity(items.reduce(2) { $0 + $1.utf8.count + 3 })
        for (i, item) in items.enumerated() {
            if i > 0 { out += "," }
            out += "\""
            if item.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                out += item.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
            } else {
                out += item
            }
            out += "\""
        }
        return out + "}"
    }

    // MARK: Decoding

    static func map<T>(_ r: Result<PGResult, PGError>, _ body: (PGResult) throws -> T) -> Result<T, OrderStoreError> {
        switch r {
        case .failure(let e): return .failure(OrderStoreError("\(e)"))
        case .success(let res):
            do { return .success(try body(res)) } catch let e as OrderStoreError { return .failure(e) } catch {
                return .failure(OrderStoreError("\(error)"))
            }
        }
    }

    static func order(_ r: [String?]) -> StoredOrder {
        StoredOrder(orderId: r[0] ?? "", userId: r[1] ?? "", clientOrderId: r[2] ?? "", symbol: r[3] ?? "",
                    side: side(r[4]), type: r[5] == "market" ? .market : .limit, tif: r[6] == "ioc" ? .ioc : .day,
                    qty: Int64(r[7] ?? "") ?? 0, price: r[8].flatMap { Int64($0) }, reservePrice: Int64(r[9] ?? "") ?? 0,
                    status: OrderStatus(rawValue: r[10] ?? "") ?? .pendingNew, filled: Int64(r[11] ?? "") ?? 0,
                    avgPrice: Int64(r[12] ?? "") ?? 0, amendSeq: Int(r[13] ?? "") ?? 0, rejectReason: r[14],
                    replaceHold: Int64(r[15] ?? "") ?? 0, replaceHoldSeq: Int(r[16] ?? "") ?? 0)
    }

    static func side(_ s: String?) -> OrderSide { s == "sell" ? .sell : .buy }
    static func text(_ s: OrderSide) -> String { s == .buy ? "buy" : "sell" }
    static func text(_ t: OrderType) -> String { t == .limit ? "limit" : "market" }
    static func text(_ t: TimeInForce) -> String { t == .day ? "day" : "ioc" }
}

/// One connection with group commit: writes collected while the previous batch commits go together as one
/// transaction (PostgreSQL cannot group-commit statements of a single connection, so per-statement commits would
/// cost one WAL flush each, ~4 ms here).
final class PostgresWriteLane {
    let pg: PostgresConnection
    private var batch: [(sql: String, params: [String?], planEachTime: Bool, completion: PGCompletion)] = []
    /// Orders whose exchange acknowledgement (pending_new -> new) goes into the next batch, as one statement.
    private var acks: [(orderId: String, completion: (Result<Bool, PGError>) -> Void)] = []
    private var scheduled = false
    private var inFlight = false
    private(set) var largestBatch = 0

    init(pg: PostgresConnection) { self.pg = pg }

    var isIdle: Bool { batch.isEmpty && acks.isEmpty && !inFlight && !scheduled && pg.pendingStatements == 0 }

    /// Queues a write for the next batch.
    func write(_ sql: String, _ params: [String?], completion: @escaping PGCompletion) {
        batch.append((sql, params, false, completion))
        schedule()
    }

    /// Queues moving an order from pending_new to new; the completion says whether this call changed it (a
    /// repeated or late acknowledgement changes nothing).
    func acknowledge(_ orderId: String, completion: @escaping (Result<Bool, PGError>) -> Void) {
        acks.append((orderId, completion))
        schedule()
    }

    private func schedule() {
        guard !scheduled, !inFlight else { return }
        scheduled = true
        pg.loop.schedule(afterNanos: 0) { [weak self] in self?.send() }
    }

    /// Turns the gathered acknowledgements into one statement of the batch.
    private func takeAcks() {
        guard !acks.isEmpty else { return }
        let items = acks
        acks.removeAll(keepingCapacity: true)
        let sql = "UPDATE orders SET status = 'new', updated_at = now() "
            + "WHERE order_id = ANY($1::text[]) AND status = 'pending_new' RETURNING order_id"
        // Planned with the ids every time: a generic plan made while the table was small scans it.
        batch.append((sql, [PostgresOrderStore.textArray(items.map(\.orderId))], true, { r in
            switch r {
            case .failure(let e): for i in items { i.completion(.failure(e)) }
            case .success(let res):
                // The first caller per order learns that it changed, as if each had run its own UPDATE.
                var changed = Set(res.rows.compactMap { $0.first ?? nil })
                for i in items { i.completion(.success(changed.remove(i.orderId) != nil)) }
            }
        }))
    }

    private func send() {
        scheduled = false
        guard !inFlight else { return }
        takeAcks()
        guard !batch.isEmpty else { return }
        let items = batch
        batch.removeAll(keepingCapacity: true)
        largestBatch = max(largestBatch, items.count)
        inFlight = true
        let finished: () -> Void = { [weak self] in
            guard let self else { return }
            self.inFlight = false
            if !self.batch.isEmpty || !self.acks.isEmpty { self.send() }
        }
        if items.count == 1 {
            pg.query(items[0].sql, items[0].params, planEachTime: items[0].planEachTime) { r in
                items[0].completion(r)
                finished()
            }
            return
        }
        pg.transaction(items.map { ($0.sql, $0.params, $0.planEachTime) }) { [weak self] r in
            defer { finished() }
            switch r {
            case .success(let results):
                for (item, res) in zip(items, results) { item.completion(.success(res)) }
            case .failure(let e) where e.code == .server:
                // One statement failed (or a deadlock/serialization retry is due) and took the others down with
                // it: run each on its own so only the failing one fails (every write is idempotent and nothing of
                // the batch was committed).
                guard let self else { return }
                for item in items {
                    self.pg.query(item.sql, item.params, planEachTime: item.planEachTime, completion: item.completion)
                }
            case .failure(let e):
                for item in items { item.completion(.failure(e)) }
            }
        }
    }
}
