// LedgerEventCodec: the JSON form of ledger events on the order path, without Foundation.
//
// Owns: writing an event as exactly the bytes `LedgerEvent.jsonBytes()` produces (flat object, keys sorted), and
// reading it back with the project's strict `JSONParser`. The domain's Codable form stays the reference (tests
// compare both); this one runs per order in the gateway and per message in the ledger service, where
// JSONEncoder/JSONDecoder would cost tens of microseconds each.
public import Wire

/// Encodes and decodes `LedgerEvent` JSON.
public enum LedgerEventCodec {
    /// Writes the event's JSON (sorted keys, as `LedgerEvent.jsonBytes()`).
    public static func write(_ e: LedgerEvent, into b: inout ByteBuffer) {
        // Keys in sorted order: amount, event_id, exec_id, held, order_id, price, qty, reason, reserve_price, side,
        // symbol, ts, type, user_id.
        b.writeStaticString("{")
        switch e.body {
        case .deposit(let amount), .withdrawal(let amount):
            b.writeStaticString(#""amount":"#)
            JSONValue.writeString(FixedPointDecimal.formatMoney(amount), into: &b)
            b.writeStaticString(",")
        default: break
        }
        b.writeStaticString(#""event_id":"#)
        JSONValue.writeString(e.eventId, into: &b)
        switch e.body {
        case .deposit, .withdrawal: break
        case .orderPlaced(let orderId, let symbol, let side, let qty, let reservePrice):
            field("order_id", orderId, &b)
            b.writeStaticString(#","qty":"#)
            b.writeDecimal(Int(qty))
            field("reserve_price", FixedPointDecimal.formatPrice(reservePrice), &b)
            field("side", side == .buy ? "buy" : "sell", &b)
            field("symbol", symbol, &b)
        case .orderReplaced(let orderId, let qty, let reservePrice, let held):
            if held != 0 {
                b.writeStaticString(#","held":"#)
                b.writeDecimal(Int(held))
            }
            field("order_id", orderId, &b)
            b.writeStaticString(#","qty":"#)
            b.writeDecimal(Int(qty))
            field("reserve_price", FixedPointDecimal.formatPrice(reservePrice), &b)
        case .orderPartiallyFilled(let orderId, let execId, let price, let qty),
            .orderFilled(let orderId, let execId, let price, let qty):
            field("exec_id", execId, &b)
            field("order_id", orderId, &b)
            field("price", FixedPointDecimal.formatPrice(price), &b)
            b.writeStaticString(#","qty":"#)
            b.writeDecimal(Int(qty))
        case .orderCanceled(let orderId):
            field("order_id", orderId, &b)
        case .orderRejected(let orderId, let reason):
            field("order_id", orderId, &b)
            field("reason", reason, &b)
        }
        b.writeStaticString(#","ts":"#)
        b.writeString(String(e.ts))
        field("type", e.typeName, &b)
        field("user_id", e.userId, &b)
        b.writeStaticString("}")
    }

    /// The event's JSON as a String.
    public static func string(_ e: LedgerEvent) -> String {
        var b = ByteBuffer(capacity: 192)
        write(e, into: &b)
        return b.readableString
    }

    private static func field(_ key: StaticString, _ value: String, _ b: inout ByteBuffer) {
        b.writeStaticString(",\"")
        b.writeStaticString(key)
        b.writeStaticString("\":")
        JSONValue.writeString(value, into: &b)
    }

    /// Decodes one event.
    /// - Throws: `LedgerEventDecodingError` naming what is wrong.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(LedgerEventDecodingError) -> LedgerEvent {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw .malformed("\(error)") }
        func str(_ k: String) throws(LedgerEventDecodingError) -> String {
            guard let s = json[k]?.stringValue else { throw .malformed("missing string \(k)") }
            return s
        }
        func int(_ k: String) throws(LedgerEventDecodingError) -> Int64 {
            guard let n = json[k]?.numberText, let v = Int64(n) else { throw .malformed("missing integer \(k)") }
            return v
        }
        func dec(_ k: String, _ scale: Int) throws(LedgerEventDecodingError) -> Int64 {
            let s = try str(k)
            do { return try FixedPointDecimal.parse(s, scale: scale) } catch { throw .badDecimal(field: k, error) }
        }
        let type = try str("type")
        let body: LedgerEvent.Body
        switch type {
        case "DEPOSIT": body = .deposit(amount: try dec("amount", FixedPointDecimal.moneyScale))
        case "WITHDRAWAL": body = .withdrawal(amount: try dec("amount", FixedPointDecimal.moneyScale))
        case "ORDER_PLACED":
            let side = try str("side")
            guard side == "buy" || side == "sell" else { throw .malformed("side \(side)") }
            body = .orderPlaced(orderId: try str("order_id"), symbol: try str("symbol"),
                                side: side == "buy" ? .buy : .sell, qty: try int("qty"),
                                reservePrice: try dec("reserve_price", FixedPointDecimal.priceScale))
        case "ORDER_REPLACED":
            body = .orderReplaced(orderId: try str("order_id"), qty: try int("qty"),
                                  reservePrice: try dec("reserve_price", FixedPointDecimal.priceScale),
                                  held: json["held"] == nil ? 0 : try int("held"))
        case "ORDER_PARTIALLY_FILLED", "ORDER_FILLED":
            let orderId = try str("order_id"), execId = try str("exec_id")
            let price = try dec("price", FixedPointDecimal.priceScale), qty = try int("qty")
            body = type == "ORDER_FILLED"
                ? .orderFilled(orderId: orderId, execId: execId, price: price, qty: qty)
                : .orderPartiallyFilled(orderId: orderId, execId: execId, price: price, qty: qty)
        case "ORDER_CANCELED": body = .orderCanceled(orderId: try str("order_id"))
        case "ORDER_REJECTED": body = .orderRejected(orderId: try str("order_id"), reason: json["reason"]?.stringValue ?? "")
        default: throw .unknownType(type)
        }
        let ts = json["ts"]?.numberText.flatMap { UInt64($0) } ?? 0
        return LedgerEvent(eventId: try str("event_id"), userId: try str("user_id"), ts: ts, body: body)
    }

    /// Decodes one event from a String.
    public static func decode(_ text: String) throws(LedgerEventDecodingError) -> LedgerEvent {
        var t = text
        let r: Result<LedgerEvent, LedgerEventDecodingError> = t.withUTF8 { u in
            do throws(LedgerEventDecodingError) { return .success(try decode(UnsafeRawBufferPointer(u))) } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }
}
