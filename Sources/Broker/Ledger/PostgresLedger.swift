// PostgresLedger: applies ledger events exactly once to the materialized accounts and holdings in PostgreSQL.
//
// Owns: the in-memory fold (`LedgerAccounts`, the domain logic) rebuilt at start from `ledger_events`, and the
// write-back: each batch of consumed events becomes ONE transaction that appends the events to `ledger_events`,
// writes the resulting absolute balances of every touched account and holding, moves gateway reservations out of
// `pending_*` (placements, withdrawals, replace holds), and stores the next Kafka offset per partition. One
// transaction in flight at a time, so a crash can only lose whole uncommitted batches, which are re-consumed from
// the stored offsets (Kafka redelivers them, the fold skips what it has seen). Any write failure is fatal: memory would be ahead of the database, so the
// owner restarts (rebuild from the tables). Leaves consuming (Kafka or an in-process bus) to LedgerRole.swift.
public import Logging
import Wire

/// The ledger service's state and its PostgreSQL write-back. Loop thread only.
public final class PostgresLedger {
    /// The fold of every applied event.
    public private(set) var accounts = LedgerAccounts()
    /// Events applied (including refused) since start, and duplicates skipped.
    public private(set) var applied: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0
    /// Next offset to consume per partition, as stored.
    public private(set) var nextOffsets: [Int32: Int64] = [:]
    /// Called when a write fails (the owner exits; a restart rebuilds from the tables).
    public var onFatal: ((String) -> Void)?
    /// Called after each committed batch (tests, metrics).
    public var onCommit: (() -> Void)?
    let pg: PostgresConnection
    let topic: String
    let maxBatch: Int
    private let logger: Logger
    private var batch: [(event: LedgerEvent, payload: String, partition: Int32, offset: Int64)] = []
    private var inFlight = false
    /// Offsets handed to `enqueue` but not yet committed.
    public var pendingEvents: Int { batch.count }
    /// Whether everything enqueued is committed.
    public var isIdle: Bool { batch.isEmpty && !inFlight }

    /// Creates the writer on an open (or connecting) connection.
    public init(pg: PostgresConnection, topic: String, maxBatch: Int = 1_000, logger: Logger) {
        self.pg = pg
        self.topic = topic
        self.maxBatch = maxBatch
        self.logger = logger
    }

    /// Creates the schema, rebuilds the fold from `ledger_events` and reads the stored offsets.
    public func load(_ done: @escaping (Result<[Int32: Int64], OrderStoreError>) -> Void) {
        pg.transaction(OrdersSchema.statements.map { ($0, []) }) { [self] r in
            if case .failure(let e) = r { done(.failure(OrderStoreError("schema: \(e)"))); return }
            pg.query("SELECT payload FROM ledger_events ORDER BY seq") { [self] r in
                switch r {
                case .failure(let e): done(.failure(OrderStoreError("load events: \(e)")))
                case .success(let res):
                    for row in res.rows {
                        guard let e = try? LedgerEventCodec.decode(row[0] ?? "") else { continue }
                        accounts.apply(e)
                    }
                    pg.query("SELECT kafka_partition, next_offset FROM ledger_offsets WHERE topic = $1", [topic]) { [self] r in
                        switch r {
                        case .failure(let e): done(.failure(OrderStoreError("load offsets: \(e)")))
                        case .success(let res):
                            for row in res.rows {
                                if let p = Int32(row[0] ?? ""), let o = Int64(row[1] ?? "") { nextOffsets[p] = o }
                            }
                            logger.notice("ledger loaded", metadata: ["events": "\(res.rows.count)",
                                                                      "accounts": "\(accounts.accounts.count)"])
                            done(.success(nextOffsets))
                        }
                    }
                }
            }
        }
    }

    /// Takes one consumed message (raw JSON). Malformed messages are skipped (logged) but their offset counts.
    public func enqueue(_ bytes: UnsafeRawBufferPointer, partition: Int32, offset: Int64) {
        if let committed = nextOffsets[partition], offset < committed { return }   // already committed
        let payload = String(decoding: bytes, as: UTF8.self)
        let event: LedgerEvent
        do { event = try LedgerEventCodec.decode(bytes) } catch {
            logger.error("undecodable ledger event skipped", metadata: ["offset": "\(offset)", "error": "\(error)"])
            event = LedgerEvent(eventId: "", userId: "", body: .deposit(amount: 0))
            batch.append((event, "", partition, offset))
            flush()
            return
        }
        batch.append((event, payload, partition, offset))
        flush()
    }

    /// Takes one event (in-process bus: partition 0, offsets counted by the caller).
    public func enqueue(_ event: LedgerEvent, partition: Int32, offset: Int64) {
        if let committed = nextOffsets[partition], offset < committed { return }
        batch.append((event, LedgerEventCodec.string(event), partition, offset))
        flush()
    }

    private struct Touched: Hashable { var user: String; var symbol: String }

    /// Starts the next transaction when none is in flight.
    private func flush() {
        guard !inFlight, !batch.isEmpty else { return }
        let take = min(batch.count, maxBatch)
        let items = batch[0..<take]
        batch.removeFirst(take)
        var statements: [(sql: String, params: [String?])] = []
        var pendingCash: [String: Int64] = [:]
        var pendingQty: [Touched: Int64] = [:]
        var users: Set<String> = []
        var holdings: Set<Touched> = []
        var offsets: [Int32: Int64] = [:]
        for item in items {
            offsets[item.partition] = item.offset + 1
            let e = item.event
            guard !e.eventId.isEmpty else { continue }
            // The symbol an event touches must be read before applying: a fill that closes an order removes it.
            let before = accounts[e.userId]
            var symbol: String?
            switch e.body {
            case .orderPlaced(_, let s, _, _, _): symbol = s
            case .orderReplaced(let id, _, _, _), .orderCanceled(let id), .orderRejected(let id, _),
                 .orderFilled(let id, _, _, _), .orderPartiallyFilled(let id, _, _, _):
                symbol = before.openOrders[id]?.symbol
            default: break
            }
            let outcome = accounts.apply(e)
            if outcome == .duplicate { duplicates &+= 1; continue }
            applied &+= 1
            users.insert(e.userId)
            if let symbol { holdings.insert(Touched(user: e.userId, symbol: symbol)) }
            // Move the gateway's pending reservation into the ledger's (or drop it, when refused).
            switch e.body {
            case .orderPlaced(_, let s, let side, let qty, let px):
                if side == .buy {
                    pendingCash[e.userId, default: 0] += LedgerAccount.buyReservation(qty: qty, reservePrice: px) ?? 0
                } else {
                    pendingQty[Touched(user: e.userId, symbol: s), default: 0] += qty
                }
            case .withdrawal(let amount): pendingCash[e.userId, default: 0] += amount
            case .orderReplaced(let id, _, _, let held) where held > 0:
                // The gateway's replace hold: the recomputed reservation above now covers it.
                if let o = before.openOrders[id] {
                    if o.side == .buy {
                        pendingCash[e.userId, default: 0] += held
                    } else {
                        pendingQty[Touched(user: e.userId, symbol: o.symbol), default: 0] += held
                    }
                } else {
                    logger.error("replace hold of an unknown order left in pending", metadata: ["order": "\(id)"])
                }
            default: break
            }
            let outcomeText: String
            switch outcome {
            case .applied: outcomeText = "applied"
            case .duplicate: outcomeText = "duplicate"
            case .refused(let r): outcomeText = r.rawValue
            }
            statements.append(("""
                INSERT INTO ledger_events (event_id, user_id, topic, kafka_partition, kafka_offset, outcome, payload)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                """, [e.eventId, e.userId, topic, String(item.partition), String(item.offset), outcomeText, item.payload]))
            if case .refused(let r) = outcome {
                logger.warning("ledger event refused", metadata: ["event": "\(e.eventId)", "reason": "\(r.rawValue)"])
            }
        }
        for u in users.sorted() {
            let a = accounts[u]
            statements.append(("""
                INSERT INTO accounts (user_id, cash, reserved, deposited, withdrawn) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (user_id) DO UPDATE SET cash = EXCLUDED.cash, reserved = EXCLUDED.reserved,
                    deposited = EXCLUDED.deposited, withdrawn = EXCLUDED.withdrawn,
                    pending_reserved = GREATEST(accounts.pending_reserved - $6, 0), updated_at = now()
                """, [u, String(a.cash), String(a.reservedCash), String(a.deposited), String(a.withdrawn),
                      String(pendingCash[u] ?? 0)]))
        }
        for t in holdings.union(pendingQty.keys).sorted(by: { ($0.user, $0.symbol) < ($1.user, $1.symbol) }) {
            let h = accounts[t.user].holdings[t.symbol] ?? LedgerHolding()
            statements.append(("""
                INSERT INTO holdings (user_id, symbol, qty, reserved_qty, cost_basis, avg_price, realised_pnl)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (user_id, symbol) DO UPDATE SET qty = EXCLUDED.qty, reserved_qty = EXCLUDED.reserved_qty,
                    cost_basis = EXCLUDED.cost_basis, avg_price = EXCLUDED.avg_price,
                    realised_pnl = EXCLUDED.realised_pnl,
                    pending_reserved_qty = GREATEST(holdings.pending_reserved_qty - $8, 0)
                """, [t.user, t.symbol, String(h.qty), String(h.reservedQty), String(h.costBasis),
                      String(h.averagePrice), String(h.realisedPnL), String(pendingQty[t] ?? 0)]))
        }
        for (p, next) in offsets.sorted(by: { $0.key < $1.key }) {
            statements.append(("""
                INSERT INTO ledger_offsets (topic, kafka_partition, next_offset) VALUES ($1, $2, $3)
                ON CONFLICT (topic, kafka_partition) DO UPDATE SET next_offset = EXCLUDED.next_offset
                """, [topic, String(p), String(next)]))
        }
        inFlight = true
        pg.transaction(statements) { [self] r in
            inFlight = false
            switch r {
            case .failure(let e):
                logger.critical("ledger transaction failed", metadata: ["error": "\(e)"])
                onFatal?("ledger transaction failed: \(e)")
            case .success:
                for (p, o) in offsets { nextOffsets[p] = o }
                onCommit?()
                flush()
            }
        }
    }
}

/// Rebuilds one account from its stored events and compares it with the materialized tables.
public enum LedgerReplay {
    /// What differs between the replay and the tables (empty when they agree).
    public static func differences(replayed a: LedgerAccount, cash: Int64, reserved: Int64,
                                   holdings: [String: (qty: Int64, reservedQty: Int64, costBasis: Int64,
                                                       realised: Int64)]) -> [String] {
        var out: [String] = []
        if a.cash != cash { out.append("cash: replay \(a.cash) table \(cash)") }
        if a.reservedCash != reserved { out.append("reserved: replay \(a.reservedCash) table \(reserved)") }
        for s in Set(a.holdings.keys).union(holdings.keys).sorted() {
            let r = a.holdings[s] ?? LedgerHolding()
            let t = holdings[s] ?? (0, 0, 0, 0)
            if r.qty != t.qty || r.reservedQty != t.reservedQty || r.costBasis != t.costBasis || r.realisedPnL != t.realised {
                out.append("\(s): replay qty \(r.qty)/\(r.reservedQty) cost \(r.costBasis) pnl \(r.realisedPnL); "
                           + "table qty \(t.qty)/\(t.reservedQty) cost \(t.costBasis) pnl \(t.realised)")
            }
        }
        return out
    }

    /// Replays `user`'s events from `ledger_events` and compares with `accounts`/`holdings`.
    public static func check(user: String, pg: PostgresConnection,
                             _ done: @escaping (Result<(LedgerAccount, [String]), OrderStoreError>) -> Void) {
        final class Box { var events: [LedgerEvent] = []; var account: [String?]? }
        let box = Box()
        pg.query("SELECT payload FROM ledger_events WHERE user_id = $1 ORDER BY seq", [user]) { r in
            if case .success(let res) = r {
                box.events = res.rows.compactMap { try? LedgerEventCodec.decode($0[0] ?? "") }
            }
        }
        pg.query("SELECT cash, reserved FROM accounts WHERE user_id = $1", [user]) { r in
            box.account = (try? r.get())?.rows.first
        }
        pg.query("SELECT symbol, qty, reserved_qty, cost_basis, realised_pnl FROM holdings WHERE user_id = $1", [user]) { r in
            switch r {
            case .failure(let e): done(.failure(OrderStoreError("\(e)")))
            case .success(let res):
                let replayed = LedgerAccount.replay(userId: user, events: box.events)
                var h: [String: (qty: Int64, reservedQty: Int64, costBasis: Int64, realised: Int64)] = [:]
                for row in res.rows {
                    let v = (Int64(row[1] ?? "") ?? 0, Int64(row[2] ?? "") ?? 0, Int64(row[3] ?? "") ?? 0,
                             Int64(row[4] ?? "") ?? 0)
                    if v != (0, 0, 0, 0) { h[row[0] ?? ""] = v }
                }
                let cash = Int64(box.account?[0] ?? "") ?? 0, reserved = Int64(box.account?[1] ?? "") ?? 0
                done(.success((replayed, differences(replayed: replayed, cash: cash, reserved: reserved, holdings: h))))
            }
        }
    }
}
