// GatewayHTTP: the REST API of DESIGN.md ("REST API") on the project's HTTP server, answered through
// `WebSocketServer.asyncRoute` because most calls wait on storage.
//
// Owns: routing, Bearer-token authentication, request body validation into typed requests, JSON responses and the
// stable error codes:
//   invalid_json, invalid_request (field named in the message), invalid_quantity, invalid_price, off_tick,
//   unknown_symbol, invalid_amount, invalid_credentials, missing_token, invalid_token, order_not_found,
//   order_not_open, replace_pending, invalid_replace, not_found, method_not_allowed,
//   store_unavailable, exchange_unavailable, and every RiskRejectCode (insufficient_funds, price_out_of_band,
//   market_closed, trading_halted, rate_limited, max_order_value, no_reference_price, insufficient_holdings).
// Error bodies: {"error":{"code":"...","message":"..."}}.
public import WebSocket
public import Wire

extension OrderGateway {
    /// `asyncRoute` for the gateway's paths (/api/v1/...); false for anything else.
    public func handleHTTP(_ head: HTTPRequestHead, _ body: ByteBuffer, _ responder: HTTPResponder) -> Bool {
        guard head.pathHasPrefix("/api/v1/") else { return false }
        let path = head.path
        let respond: (HTTPResponse) -> Void = { responder.respond($0) }
        if path == "/api/v1/session" {
            guard head.method == .post else { respond(Self.methodNotAllowed); return true }
            session(body, respond)
            return true
        }
        let user: String
        switch authenticate(head) {
        case .failure(let r): respond(Self.error(r)); return true
        case .success(let u): user = u
        }
        switch (head.method, path) {
        case (.get, "/api/v1/portfolio"): portfolio(user, respond)
        case (.post, "/api/v1/funds"): funds(user, body, respond)
        case (.post, "/api/v1/orders"): placeHTTP(user, body, respond)
        case (.get, "/api/v1/orders"):
            store.orders(of: user, limit: settings.maxOrdersListed) { r in
                switch r {
                case .failure: respond(Self.error(.storeUnavailable))
                case .success(let orders): respond(Self.json(.ok, .array(orders.map(Self.orderJSON))))
                }
            }
        case (.get, "/api/v1/search"): respondSearch(head.queryValue("q") ?? "", respond)
        case (_, "/api/v1/portfolio"), (_, "/api/v1/funds"), (_, "/api/v1/orders"), (_, "/api/v1/search"):
            respond(Self.methodNotAllowed)
        default:
            guard path.hasPrefix("/api/v1/orders/") else { respond(Self.error(Self.notFound)); return true }
            let id = String(path.dropFirst("/api/v1/orders/".count))
            guard !id.isEmpty, !id.contains("/") else { respond(Self.error(Self.notFound)); return true }
            switch head.method {
            case .get:
                store.order(id) { r in
                    switch r {
                    case .failure: respond(Self.error(.storeUnavailable))
                    case .success(let o?) where o.userId == user: respond(Self.json(.ok, Self.orderJSON(o)))
                    case .success: respond(Self.error(Refusal(status: 404, code: "order_not_found", message: "no such order")))
                    }
                }
            case .delete:
                cancel(userId: user, orderId: id) { r in respond(Self.amendResponse(r, "pending_cancel")) }
            case .patch:
                guard let json = Self.parse(body) else { respond(Self.error(Self.invalidJSON)); return true }
                var qty: Int64?, price: Int64?
                if let q = json["qty"] {
                    guard let v = Self.quantity(q) else { respond(Self.error(.risk(.invalidQuantity))); return true }
                    qty = v
                }
                if let p = json["price"] {
                    guard let v = Self.price(p) else { respond(Self.error(.risk(.invalidPrice))); return true }
                    price = v
                }
                guard qty != nil || price != nil else {
                    respond(Self.error(Self.invalid("qty or price is required")))
                    return true
                }
                replace(userId: user, orderId: id, qty: qty, price: price) { r in
                    respond(Self.amendResponse(r, "pending_replace"))
                }
            default: respond(Self.methodNotAllowed)
            }
        }
        return true
    }

    /// Plain routes (no storage): /health.
    public func route(_ head: HTTPRequestHead, _ body: ByteBuffer) -> HTTPResponse? {
        guard head.pathEquals("/health") else { return nil }
        let ok = isReady && exchangeConnected
        return HTTPResponse(status: ok ? .ok : .serviceUnavailable, contentType: "application/json",
                            body: ok ? #"{"status":"ok"}"# : #"{"status":"degraded","exchange":\#(exchangeConnected)}"#)
    }

    // MARK: Handlers

    func authenticate(_ head: HTTPRequestHead) -> Result<String, Refusal> {
        guard let h = head["Authorization"] else {
            return .failure(Refusal(status: 401, code: "missing_token", message: "Authorization: Bearer <token> required"))
        }
        guard h.hasPrefix("Bearer ") else {
            return .failure(Refusal(status: 401, code: "invalid_token", message: "expected a Bearer token"))
        }
        return verifyToken(String(h.dropFirst(7)))
    }

    func verifyToken(_ token: String) -> Result<String, Refusal> {
        let seconds = Int64(now / 1_000_000_000)
        if let claims = verifiedTokens[token] {
            if seconds < claims.expiresAt { return .success(claims.subject) }
            verifiedTokens[token] = nil
        }
        do {
            let claims = try signer.verify(token, now: seconds)
            if verifiedTokens.count >= Self.verifiedTokenLimit { verifiedTokens.removeAll(keepingCapacity: true) }
            verifiedTokens[token] = claims
            return .success(claims.subject)
        } catch {
            return .failure(Refusal(status: 401, code: "invalid_token", message: "token \(error)"))
        }
    }

    /// Issues a token for `userId` (tests, bench: skips the password check).
    public func issueToken(for userId: String) -> String { signer.issue(subject: userId, now: Int64(now / 1_000_000_000)) }

    func session(_ body: ByteBuffer, _ respond: @escaping (HTTPResponse) -> Void) {
        guard let json = Self.parse(body) else { respond(Self.error(Self.invalidJSON)); return }
        guard let user = json["user"]?.stringValue, let password = json["password"]?.stringValue,
              !user.isEmpty, user.utf8.count <= 64, password.utf8.count <= 1024
        else { respond(Self.error(Self.invalid("user and password (strings) are required"))); return }
        let bad = Refusal(status: 401, code: "invalid_credentials", message: "unknown user or wrong password")
        store.passwordHash(of: user) { [self] r in
            switch r {
            case .failure: respond(Self.error(.storeUnavailable))
            case .success(nil): respond(Self.error(bad))
            case .success(let stored?):
                // PBKDF2 takes tens of milliseconds by design: run it off the loop.
                GatewayBlockingWork.run(on: loop, { GatewayPasswordHash.verify(password: password, stored: stored) }) { [self] ok in
                    guard ok else { respond(Self.error(bad)); return }
                    respond(Self.json(.ok, .object([("token", .string(issueToken(for: user))), ("user", .string(user))])))
                }
            }
        }
    }

    func portfolio(_ user: String, _ respond: @escaping (HTTPResponse) -> Void) {
        store.portfolio(of: user) { [self] r in
            guard case .success(let found) = r else { respond(Self.error(.storeUnavailable)); return }
            let p = found ?? PortfolioSnapshot(cash: 0, reserved: 0, holdings: [])
            let ids = p.holdings.compactMap { symbols.id(of: $0.symbol) }
            let finish: ([Quote]) -> Void = { quotes in
                var last: [Int32: Int64] = [:]
                for q in quotes { last[q.symbolId] = q.last }
                let holdings: [JSONValue] = p.holdings.map { h in
                    let ltp = self.symbols.id(of: h.symbol).flatMap { last[$0] } ?? h.avgPrice
                    let value = FixedPointDecimal.cashValue(price: ltp, qty: h.qty, rounding: .halfUp) ?? 0
                    return .object([
                        ("symbol", .string(h.symbol)), ("qty", .number(String(h.qty))),
                        ("reserved_qty", .number(String(h.reservedQty))),
                        ("avg_price", .string(FixedPointDecimal.formatPrice(h.avgPrice))),
                        ("ltp", .string(FixedPointDecimal.formatPrice(ltp))),
                        ("value", .string(FixedPointDecimal.formatMoney(value))),
                        ("realised_pnl", .string(FixedPointDecimal.formatMoney(h.realisedPnL))),
                    ])
                }
                respond(Self.json(.ok, .object([
                    ("cash", .string(FixedPointDecimal.formatMoney(p.cash))),
                    ("reserved", .string(FixedPointDecimal.formatMoney(p.reserved))),
                    ("buying_power", .string(FixedPointDecimal.formatMoney(p.buyingPower))),
                    ("holdings", .array(holdings)),
                ])))
            }
            guard let quotes, !ids.isEmpty else { finish([]); return }
            quotes.fetch(ids, on: loop, finish)
        }
    }

    func funds(_ user: String, _ body: ByteBuffer, _ respond: @escaping (HTTPResponse) -> Void) {
        guard let json = Self.parse(body) else { respond(Self.error(Self.invalidJSON)); return }
        guard let type = json["type"]?.stringValue, type == "deposit" || type == "withdrawal" else {
            respond(Self.error(Self.invalid("type must be \"deposit\" or \"withdrawal\"")))
            return
        }
        let badAmount = Refusal(status: 422, code: "invalid_amount", message: "amount must be a positive decimal string with at most 2 decimals")
        guard let text = json["amount"]?.stringValue ?? json["amount"]?.numberText,
              let amount = try? FixedPointDecimal.parseMoney(text), amount > 0
        else { respond(Self.error(badAmount)); return }
        let id = nextOrderId()
        let event = LedgerEvent(eventId: "f:" + id, userId: user, ts: now,
                                body: type == "deposit" ? .deposit(amount: amount) : .withdrawal(amount: amount))
        store.funds(event) { [self] r in
            switch r {
            case .failure: respond(Self.error(.storeUnavailable))
            case .success(.insufficientFunds): respond(Self.error(.risk(.insufficientFunds)))
            case .success(.accepted):
                publisher?.publish(event)
                respond(Self.json(.accepted, .object([
                    ("funds_id", .string(id)), ("type", .string(type)),
                    ("amount", .string(FixedPointDecimal.formatMoney(amount))), ("status", .string("accepted")),
                ])))
            }
        }
    }

    func placeHTTP(_ user: String, _ body: ByteBuffer, _ respond: @escaping (HTTPResponse) -> Void) {
        switch Self.orderRequest(body, symbols: symbols) {
        case .failure(let r): respond(Self.error(r))
        case .success(var req):
            if req.clientOrderId.isEmpty { req.clientOrderId = "auto-" + nextOrderId() }
            place(userId: user, req) { r in
                switch r {
                case .failure(let refusal): respond(Self.error(refusal))
                case .success(let (order, created)): respond(Self.json(created ? .created : .ok, Self.orderJSON(order)))
                }
            }
        }
    }

    func respondSearch(_ q: String, _ respond: @escaping (HTTPResponse) -> Void) {
        let hits = search.search(q)
        let finish: ([Quote]) -> Void = { [self] quotes in
            var last: [Int32: Int64] = [:]
            for q in quotes { last[q.symbolId] = q.last }
            respond(Self.json(.ok, .array(hits.map { h in
                var m: [(String, JSONValue)] = [("symbol", .string(symbols.name(of: h.symbolId))),
                                                ("name", .string(symbols.companyName(of: h.symbolId)))]
                m.append(("ltp", last[h.symbolId].map { .string(FixedPointDecimal.formatPrice($0)) } ?? .null))
                return .object(m)
            })))
        }
        guard let quotes, !hits.isEmpty else { finish([]); return }
        quotes.fetch(hits.map(\.symbolId), on: loop, finish)
    }

    // MARK: Parsing

    static func parse(_ body: ByteBuffer) -> JSONValue? {
        guard let v = try? body.withUnsafeReadableBytes({ b throws(JSONParseError) in try JSONParser.parse(b) }),
              case .object = v else { return nil }
        return v
    }

    /// A positive whole quantity that fits comfortably (JSON integers only: "10", not "10.0" or "1e3").
    static func quantity(_ v: JSONValue) -> Int64? {
        guard let text = v.numberText, let q = Int64(text), q > 0, q <= 1_000_000_000_000 else { return nil }
        return q
    }

    static func price(_ v: JSONValue) -> Int64? {
        guard let text = v.stringValue ?? v.numberText, let p = try? FixedPointDecimal.parsePrice(text), p > 0 else {
            return nil
        }
        return p
    }

    /// Validates a place-order body (shape only; risk checks come after).
    public static func orderRequest(_ body: ByteBuffer, symbols: SymbolUniverse) -> Result<OrderRequest, Refusal> {
        guard let json = parse(body) else { return .failure(invalidJSON) }
        var clientOrderId = ""
        if let c = json["client_order_id"] {
            guard let s = c.stringValue, !s.isEmpty, s.utf8.count <= 64,
                  s.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
            else { return .failure(invalid("client_order_id must be 1-64 printable ASCII characters")) }
            clientOrderId = s
        }
        guard let symbol = json["symbol"]?.stringValue else { return .failure(invalid("symbol (string) is required")) }
        guard symbols.id(of: symbol) != nil else { return .failure(.risk(.unknownSymbol)) }
        let side: OrderSide
        switch json["side"]?.stringValue {
        case "buy": side = .buy
        case "sell": side = .sell
        default: return .failure(invalid("side must be \"buy\" or \"sell\""))
        }
        let type: OrderType
        switch json["type"]?.stringValue ?? "limit" {
        case "limit": type = .limit
        case "market": type = .market
        default: return .failure(invalid("type must be \"limit\" or \"market\""))
        }
        let tif: TimeInForce
        switch json["tif"]?.stringValue ?? "day" {
        case "day": tif = .day
        case "ioc": tif = .ioc
        default: return .failure(invalid("tif must be \"day\" or \"ioc\""))
        }
        guard let q = json["qty"], let qty = quantity(q) else { return .failure(.risk(.invalidQuantity)) }
        var price: Int64?
        if let p = json["price"], p != .null {
            guard let v = Self.price(p) else { return .failure(.risk(.invalidPrice)) }
            price = v
        }
        return .success(OrderRequest(clientOrderId: clientOrderId, symbol: symbol, side: side, type: type, qty: qty,
                                     price: price, tif: tif))
    }

    // MARK: Responses

    static let invalidJSON = Refusal(status: 400, code: "invalid_json", message: "the body must be a JSON object")
    static let notFound = Refusal(status: 404, code: "not_found", message: "no such resource")
    static func invalid(_ m: String) -> Refusal { Refusal(status: 400, code: "invalid_request", message: m) }
    static var methodNotAllowed: HTTPResponse {
        error(Refusal(status: 405, code: "method_not_allowed", message: "method not allowed on this resource"))
    }

    static func amendResponse(_ r: Result<StoredOrder, Refusal>, _ status: String) -> HTTPResponse {
        switch r {
        case .failure(let e): return error(e)
        case .success(let o):
            var j = orderJSON(o)
            if case .object(var m) = j {
                m.append(("request", .string(status)))
                j = .object(m)
            }
            return json(.accepted, j)
        }
    }

    /// The JSON of an order.
    public static func orderJSON(_ o: StoredOrder) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("order_id", .string(o.orderId)), ("client_order_id", .string(o.clientOrderId)),
            ("symbol", .string(o.symbol)), ("side", .string(o.side == .buy ? "buy" : "sell")),
            ("type", .string(o.type == .limit ? "limit" : "market")), ("tif", .string(o.tif == .day ? "day" : "ioc")),
            ("qty", .number(String(o.qty))),
            ("price", o.price.map { .string(FixedPointDecimal.formatPrice($0)) } ?? .null),
            ("status", .string(o.status.rawValue)), ("filled", .number(String(o.filled))),
            ("avg_price", .string(FixedPointDecimal.formatPrice(o.avgPrice))),
        ]
        if let r = o.rejectReason { m.append(("reject_reason", .string(r))) }
        return .object(m)
    }

    static func status(_ code: Int) -> HTTPStatus {
        switch code {
        case 200: .ok
        case 201: .created
        case 202: .accepted
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 405: .methodNotAllowed
        case 409: .conflict
        case 429: .tooManyRequests
        case 503: .serviceUnavailable
        case 500: .internalServerError
        default: .unprocessableContent
        }
    }

    static func json(_ status: HTTPStatus, _ value: JSONValue) -> HTTPResponse {
        var b = ByteBuffer(capacity: 256)
        value.write(into: &b)
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: b)
    }

    static func error(_ r: Refusal) -> HTTPResponse {
        json(status(r.status), .object([("error", .object([("code", .string(r.code)), ("message", .string(r.message))]))]))
    }
}
