// Ledger events: the facts the gateway publishes to Kafka `ledger.events` (key = user id).
//
// Owns: the event vocabulary and its JSON form (cold path; Foundation's JSONEncoder is fine
// here: a few thousand events per second at most). Applying events is LedgerAccount.swift's job.
// Money travels as decimal strings ("2450.50") like the REST API, quantities as integers.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One ledger event. `eventId` is unique per event; fills also carry the exchange's unique exec id.
public struct LedgerEvent: Equatable, Sendable {
    /// What happened.
    public enum Body: Equatable, Sendable {
        /// Cash in (minor units, > 0).
        case deposit(amount: Int64)
        /// Cash out (minor units, > 0, at most the buying power).
        case withdrawal(amount: Int64)
        /// An order was accepted by risk and reserved: buys reserve `qty x reservePrice` in cash
        /// (rounded up), sells reserve `qty` shares. `reservePrice` is the limit price, or for a
        /// market buy the collar price risk used (1e-4 units; ignored for sells).
        case orderPlaced(orderId: String, symbol: String, side: OrderSide, qty: Int64, reservePrice: Int64)
        /// Cancel/replace took effect: new total quantity and reserve price; the reservation is
        /// recomputed for the new open quantity (total minus filled). `held` is what the gateway set aside
        /// in pending for a replace that needs more (cash for buys, shares for sells; 0 when it needs less):
        /// whoever materializes balances drops it from pending as the recomputed reservation takes over.
        case orderReplaced(orderId: String, qty: Int64, reservePrice: Int64, held: Int64 = 0)
        /// An execution that left the order partly open.
        case orderPartiallyFilled(orderId: String, execId: String, price: Int64, qty: Int64)
        /// The execution that completed the order; any reservation left over is released.
        case orderFilled(orderId: String, execId: String, price: Int64, qty: Int64)
        /// The rest of the order was canceled; its reservation is released.
        case orderCanceled(orderId: String)
        /// The exchange rejected the order; its reservation is released.
        case orderRejected(orderId: String, reason: String)
    }

    /// Unique id of this event (idempotency key).
    public var eventId: String
    /// Account owner (also the Kafka key).
    public var userId: String
    /// When the gateway created the event, ns since the Unix epoch (informational).
    public var ts: UInt64
    /// Payload.
    public var body: Body

    /// Creates an event.
    public init(eventId: String, userId: String, ts: UInt64 = 0, body: Body) {
        self.eventId = eventId
        self.userId = userId
        self.ts = ts
        self.body = body
    }

    /// The wire name of the event type (DESIGN.md: ORDER_PLACED, ORDER_FILLED, ...).
    public var typeName: String {
        switch body {
        case .deposit: "DEPOSIT"
        case .withdrawal: "WITHDRAWAL"
        case .orderPlaced: "ORDER_PLACED"
        case .orderReplaced: "ORDER_REPLACED"
        case .orderPartiallyFilled: "ORDER_PARTIALLY_FILLED"
        case .orderFilled: "ORDER_FILLED"
        case .orderCanceled: "ORDER_CANCELED"
        case .orderRejected: "ORDER_REJECTED"
        }
    }
}

// MARK: - JSON

/// Why event JSON could not be decoded.
public enum LedgerEventDecodingError: Error, Equatable, Sendable {
    /// Not JSON, or a field has the wrong JSON type or is missing (the message says which).
    case malformed(String)
    /// `type` names no known event.
    case unknownType(String)
    /// A decimal field failed strict parsing.
    case badDecimal(field: String, DecimalParseError)
}

extension LedgerEvent: Codable {
    private enum Key: String, CodingKey {
        case eventId = "event_id"
        case userId = "user_id"
        case ts, type, amount
        case orderId = "order_id"
        case symbol, side, qty
        case reservePrice = "reserve_price"
        case execId = "exec_id"
        case price, reason, held
    }

    /// Encodes as one flat JSON object, e.g.
    /// `{"event_id":"e9","exec_id":"x4","order_id":"o1","price":"2450.75","qty":10,"ts":0,`
    /// `"type":"ORDER_FILLED","user_id":"u1"}` (keys sorted by `jsonBytes()`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(eventId, forKey: .eventId)
        try c.encode(userId, forKey: .userId)
        try c.encode(ts, forKey: .ts)
        try c.encode(typeName, forKey: .type)
        switch body {
        case .deposit(let amount), .withdrawal(let amount):
            try c.encode(FixedPointDecimal.formatMoney(amount), forKey: .amount)
        case .orderPlaced(let orderId, let symbol, let side, let qty, let reservePrice):
            try c.encode(orderId, forKey: .orderId)
            try c.encode(symbol, forKey: .symbol)
            try c.encode(side == .buy ? "buy" : "sell", forKey: .side)
            try c.encode(qty, forKey: .qty)
            try c.encode(FixedPointDecimal.formatPrice(reservePrice), forKey: .reservePrice)
        case .orderReplaced(let orderId, let qty, let reservePrice, let held):
            try c.encode(orderId, forKey: .orderId)
            try c.encode(qty, forKey: .qty)
            try c.encode(FixedPointDecimal.formatPrice(reservePrice), forKey: .reservePrice)
            if held != 0 { try c.encode(held, forKey: .held) }
        case .orderPartiallyFilled(let orderId, let execId, let price, let qty),
            .orderFilled(let orderId, let execId, let price, let qty):
            try c.encode(orderId, forKey: .orderId)
            try c.encode(execId, forKey: .execId)
            try c.encode(FixedPointDecimal.formatPrice(price), forKey: .price)
            try c.encode(qty, forKey: .qty)
        case .orderCanceled(let orderId):
            try c.encode(orderId, forKey: .orderId)
        case .orderRejected(let orderId, let reason):
            try c.encode(orderId, forKey: .orderId)
            try c.encode(reason, forKey: .reason)
        }
    }

    /// Decodes the flat form written by `encode(to:)`.
    /// - Throws: `LedgerEventDecodingError` (or Foundation's `DecodingError` for structural problems).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        func decimal(_ key: Key, scale: Int) throws -> Int64 {
            let s = try c.decode(String.self, forKey: key)
            do { return try FixedPointDecimal.parse(s, scale: scale) } catch {
                throw LedgerEventDecodingError.badDecimal(field: key.rawValue, error)
            }
        }
        let type = try c.decode(String.self, forKey: .type)
        let body: Body
        switch type {
        case "DEPOSIT": body = .deposit(amount: try decimal(.amount, scale: FixedPointDecimal.moneyScale))
        case "WITHDRAWAL": body = .withdrawal(amount: try decimal(.amount, scale: FixedPointDecimal.moneyScale))
        case "ORDER_PLACED":
            let side = try c.decode(String.self, forKey: .side)
            guard side == "buy" || side == "sell" else { throw LedgerEventDecodingError.malformed("side \(side)") }
            body = .orderPlaced(
                orderId: try c.decode(String.self, forKey: .orderId),
                symbol: try c.decode(String.self, forKey: .symbol),
                side: side == "buy" ? .buy : .sell, qty: try c.decode(Int64.self, forKey: .qty),
                reservePrice: try decimal(.reservePrice, scale: FixedPointDecimal.priceScale))
        case "ORDER_REPLACED":
            body = .orderReplaced(
                orderId: try c.decode(String.self, forKey: .orderId),
                qty: try c.decode(Int64.self, forKey: .qty),
                reservePrice: try decimal(.reservePrice, scale: FixedPointDecimal.priceScale),
                held: try c.decodeIfPresent(Int64.self, forKey: .held) ?? 0)
        case "ORDER_PARTIALLY_FILLED", "ORDER_FILLED":
            let orderId = try c.decode(String.self, forKey: .orderId)
            let execId = try c.decode(String.self, forKey: .execId)
            let price = try decimal(.price, scale: FixedPointDecimal.priceScale)
            let qty = try c.decode(Int64.self, forKey: .qty)
            body =
                type == "ORDER_FILLED"
                ? .orderFilled(orderId: orderId, execId: execId, price: price, qty: qty)
                : .orderPartiallyFilled(orderId: orderId, execId: execId, price: price, qty: qty)
        case "ORDER_CANCELED": body = .orderCanceled(orderId: try c.decode(String.self, forKey: .orderId))
        case "ORDER_REJECTED":
            body = .orderRejected(
                orderId: try c.decode(String.self, forKey: .orderId),
                reason: try c.decodeIfPresent(String.self, forKey: .reason) ?? "")
        default: throw LedgerEventDecodingError.unknownType(type)
        }
        self.init(
            eventId: try c.decode(String.self, forKey: .eventId), userId: try c.decode(String.self, forKey: .userId),
            ts: try c.decodeIfPresent(UInt64.self, forKey: .ts) ?? 0, body: body)
    }

    /// UTF-8 JSON bytes with sorted keys (stable output for journals and tests).
    public func jsonBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and integers cannot fail.
        return [UInt8](try! encoder.encode(self))
    }

    /// Decodes one event from JSON bytes.
    /// - Throws: `LedgerEventDecodingError`.
    public init(json bytes: [UInt8]) throws(LedgerEventDecodingError) {
        do {
            self = try JSONDecoder().decode(LedgerEvent.self, from: Data(bytes))
        } catch let e as LedgerEventDecodingError {
            throw e
        } catch {
            throw .malformed(String(describing: error))
        }
    }
}
