// The order path end to end: REST -> risk -> PostgreSQL reservation -> FIX 35=D -> ExchangeRig (MatchingEngine)
// -> 35=8 -> order update + ledger events -> PostgresLedger -> accounts/holdings, with replay equal to the tables.
import Foundation
import Testing
import Wire
import WebSocket
@testable import Broker

@Suite(.serialized) struct GatewayTests {
    func waitStatus(_ rig: GatewayRig, _ c: HTTPTestClient, _ token: String, _ id: String, _ status: String) -> Bool {
        for _ in 0..<500 {
            if c.request("GET", "/api/v1/orders/\(id)", token: token).json?["status"]?.stringValue == status { return true }
            usleep(10_000)
        }
        return false
    }

    func waitQty(_ c: HTTPTestClient, _ token: String, _ id: String, _ qty: Int) -> Bool {
        for _ in 0..<500 {
            if c.request("GET", "/api/v1/orders/\(id)", token: token).json?["qty"]?.numberText == String(qty) { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func orderLifecycleEndToEnd() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        _ = try rig.user("alice", password: "correct horse", cash: "1000000.00")
        let c = try HTTPTestClient(port: rig.port)
        // Session: wrong password refused, right one gives a working token.
        #expect(c.request("POST", "/api/v1/session", body: #"{"user":"alice","password":"nope"}"#).errorCode == "invalid_credentials")
        let login = c.request("POST", "/api/v1/session", body: #"{"user":"alice","password":"correct horse"}"#)
        #expect(login.status == 200)
        let token = try #require(login.json?["token"]?.stringValue)

        // Buy 10 TCS at up to 3501.00: the ladder's best ask is 3500.01.
        let placed = c.request("POST", "/api/v1/orders", token: token, body: """
            {"client_order_id":"c-1","symbol":"TCS","side":"buy","type":"limit","qty":10,"price":"3501.00","tif":"day"}
            """)
        #expect(placed.status == 201)
        #expect(placed.json?["status"]?.stringValue == "pending_new")
        let id = try #require(placed.json?["order_id"]?.stringValue)
        #expect(waitStatus(rig, c, token, id, "filled"))
        rig.waitLedgerIdle()
        let order = c.request("GET", "/api/v1/orders/\(id)", token: token).json
        #expect(order?["filled"]?.numberText == "10")
        #expect(order?["avg_price"]?.stringValue == "3500.01")
        var p = c.request("GET", "/api/v1/portfolio", token: token).json
        #expect(p?["cash"]?.stringValue == "964999.90")   // 1,000,000.00 - 10 x 3500.01
        #expect(p?["reserved"]?.stringValue == "0.00")
        #expect(p?["holdings"]?.arrayValue?.first?["qty"]?.numberText == "10")
        #expect(p?["holdings"]?.arrayValue?.first?["ltp"]?.stringValue == "3500.00")

        // Sell 4 at 3499.00 or better: fills at the best bid 3499.99; P&L -0.02 x 4.
        let sell = c.request("POST", "/api/v1/orders", token: token, body: """
            {"client_order_id":"c-2","symbol":"TCS","side":"sell","qty":4,"price":"3499.00"}
            """)
        #expect(sell.status == 201)
        #expect(waitStatus(rig, c, token, try #require(sell.json?["order_id"]?.stringValue), "filled"))

        // A resting buy, replaced up (the extra is held first), down, then canceled: its reservation comes and goes.
        let rest = c.request("POST", "/api/v1/orders", token: token, body: """
            {"client_order_id":"c-3","symbol":"TCS","side":"buy","qty":5,"price":"3400.00"}
            """)
        let restId = try #require(rest.json?["order_id"]?.stringValue)
        #expect(waitStatus(rig, c, token, restId, "new"))
        rig.waitLedgerIdle()
        #expect(c.request("GET", "/api/v1/portfolio", token: token).json?["reserved"]?.stringValue == "17000.00")
        let up = c.request("PATCH", "/api/v1/orders/\(restId)", token: token, body: #"{"qty":9}"#)
        #expect(up.status == 202)
        #expect(waitQty(c, token, restId, 9))
        rig.waitLedgerIdle()
        #expect(c.request("GET", "/api/v1/portfolio", token: token).json?["reserved"]?.stringValue == "30600.00")
        #expect(try rig.account("alice").pending == 0)
        let down = c.request("PATCH", "/api/v1/orders/\(restId)", token: token, body: #"{"qty":3,"price":"3390.00"}"#)
        #expect(down.status == 202)
        #expect(waitQty(c, token, restId, 3))
        #expect(waitStatus(rig, c, token, restId, "replaced"))
        rig.waitLedgerIdle()
        #expect(c.request("GET", "/api/v1/portfolio", token: token).json?["reserved"]?.stringValue == "10170.00")
        #expect(c.request("DELETE", "/api/v1/orders/\(restId)", token: token).status == 202)
        #expect(waitStatus(rig, c, token, restId, "canceled"))
        #expect(c.request("DELETE", "/api/v1/orders/\(restId)", token: token).errorCode == "order_not_open")
        rig.waitLedgerIdle()
        p = c.request("GET", "/api/v1/portfolio", token: token).json
        #expect(p?["reserved"]?.stringValue == "0.00")
        #expect(p?["cash"]?.stringValue == "978999.86")   // + 4 x 3499.99
        #expect(p?["holdings"]?.arrayValue?.first?["qty"]?.numberText == "6")
        let types = try rig.runner.sync { rig.events.map(\.typeName) }
        #expect(types == ["DEPOSIT", "ORDER_PLACED", "ORDER_FILLED", "ORDER_PLACED", "ORDER_FILLED", "ORDER_PLACED",
                          "ORDER_REPLACED", "ORDER_REPLACED", "ORDER_CANCELED"])
        #expect(try rig.replayDifferences("alice") == [])
        // Listing shows all three, newest first.
        let list = c.request("GET", "/api/v1/orders", token: token).json?.arrayValue
        #expect(list?.count == 3)
        #expect(list?.first?["client_order_id"]?.stringValue == "c-3")
        // Money conserved: user cash + counterparty cash = deposits; shares likewise.
        let (lpCash, lpShares) = try rig.runner.sync { (rig.exchange.counterpartyCash, rig.exchange.counterpartyShares("TCS")) }
        let acct = try rig.account("alice")
        #expect(acct.cash + lpCash == 100_000_000)
        #expect(lpShares == -6)
    }

    @Test func fileBackedOrderSessionTrades() throws {
        var settings = GatewayRig.defaultSettings()
        settings.fixStoreDirectory = NSTemporaryDirectory() + "gw-fix-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: settings.fixStoreDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: settings.fixStoreDirectory) }
        let rig = try GatewayRig(settings: settings)
        defer { rig.shutdown() }
        let token = try rig.user("fiona", cash: "10000.00")
        let c = try HTTPTestClient(port: rig.port)
        let r = c.request("POST", "/api/v1/orders", token: token, body: #"{"symbol":"INFY","side":"buy","qty":1,"price":"1501.00"}"#)
        #expect(waitStatus(rig, c, token, try #require(r.json?["order_id"]?.stringValue), "filled"))
        let files = try FileManager.default.contentsOfDirectory(atPath: settings.fixStoreDirectory)
        #expect(!files.isEmpty)   // sequence numbers and sent messages persisted
    }

    @Test func retriedClientOrderIdIsIdempotent() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("bob", cash: "100000.00")
        let c = try HTTPTestClient(port: rig.port)
        let body = #"{"client_order_id":"same","symbol":"INFY","side":"buy","qty":10,"price":"1400.00"}"#
        let first = c.request("POST", "/api/v1/orders", token: token, body: body)
        let second = c.request("POST", "/api/v1/orders", token: token, body: body)
        #expect(first.status == 201 && second.status == 200)
        #expect(first.json?["order_id"] == second.json?["order_id"])
        rig.waitLedgerIdle()
        #expect(try rig.query("SELECT count(*) FROM orders WHERE user_id = 'bob'") == [["1"]])
        #expect(try rig.account("bob").reserved == 1_400_000)
    }

    @Test func concurrentOrdersNeverOverspend() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("carol", cash: "100000.00")
        // 8 connections x 6 resting buys of 1 TCS at 3400.00: at most 29 fit in 100,000.00.
        final class Tally: @unchecked Sendable {
            let lock = NSLock()
            var created = 0, refused = 0, other: [String] = []
        }
        let tally = Tally()
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            guard let c = try? HTTPTestClient(port: rig.port) else { return }
            for i in 0..<6 {
                let r = c.request("POST", "/api/v1/orders", token: token, body: """
                    {"client_order_id":"t\(t)-\(i)","symbol":"TCS","side":"buy","qty":1,"price":"3400.00"}
                    """)
                tally.lock.lock()
                if r.status == 201 { tally.created += 1 } else if r.errorCode == "insufficient_funds" { tally.refused += 1 } else {
                    tally.other.append("\(r.status) \(r.body)")
                }
                tally.lock.unlock()
            }
        }
        #expect(tally.other == [])
        #expect(tally.created == 29 && tally.refused == 19)
        rig.waitLedgerIdle()
        let a = try rig.account("carol")
        #expect(a.reserved + a.pending <= a.cash)
        #expect(a.reserved == 29 * 340_000)
        // Refused orders leave no row behind (the placement inserts first and deletes on refusal).
        #expect(try rig.query("SELECT count(*) FROM orders WHERE user_id = 'carol'") == [["29"]])
        #expect(try rig.runner.sync { rig.store.largestBatch } > 1)   // concurrent writes shared commits
        #expect(try rig.replayDifferences("carol") == [])
    }

    @Test func everyRiskCheckRejectsWithItsCodeAndChangesNothing() throws {
        var settings = GatewayRig.defaultSettings()
        settings.limits = try RiskLimits(maxOrderValue: 5_000_000)   // 50,000.00
        let rig = try GatewayRig(settings: settings)
        defer { rig.shutdown() }
        let token = try rig.user("dave", cash: "40000.00")
        let c = try HTTPTestClient(port: rig.port)
        let before = try rig.account("dave")
        func order(_ fields: String) -> HTTPTestClient.Response {
            c.request("POST", "/api/v1/orders", token: token, body: "{\(fields)}")
        }
        let cases: [(String, String)] = [
            (#""symbol":"NOPE","side":"buy","qty":1,"price":"10.00""#, "unknown_symbol"),
            (#""symbol":"TCS","side":"buy","qty":0,"price":"3500.00""#, "invalid_quantity"),
            (#""symbol":"TCS","side":"buy","qty":-5,"price":"3500.00""#, "invalid_quantity"),
            (#""symbol":"TCS","side":"buy","qty":99999999999999999999,"price":"3500.00""#, "invalid_quantity"),
            (#""symbol":"TCS","side":"buy","qty":1.5,"price":"3500.00""#, "invalid_quantity"),
            (#""symbol":"TCS","side":"buy","qty":2000000,"price":"3500.00""#, "invalid_quantity"),
            (#""symbol":"TCS","side":"buy","qty":1,"price":"-3500.00""#, "invalid_price"),
            (#""symbol":"TCS","side":"buy","qty":1,"price":"3500.005""#, "off_tick"),
            (#""symbol":"TCS","side":"buy","qty":1"#, "invalid_price"),
            (#""symbol":"TCS","side":"buy","qty":1,"price":"5000.00""#, "price_out_of_band"),
            (#""symbol":"HALT","side":"buy","type":"market","qty":1"#, "no_reference_price"),
            (#""symbol":"TCS","side":"buy","qty":20,"price":"3500.00""#, "max_order_value"),
            (#""symbol":"TCS","side":"buy","qty":12,"price":"3500.00""#, "insufficient_funds"),
            (#""symbol":"TCS","side":"sell","qty":1,"price":"3500.00""#, "insufficient_holdings"),
            (#""symbol":"TCS","side":"hold","qty":1,"price":"3500.00""#, "invalid_request"),
        ]
        for (fields, code) in cases {
            let r = order(fields)
            #expect(r.errorCode == code, "\(fields): \(r.status) \(r.body)")
            #expect(r.status >= 400 && r.status < 500)
            #expect(r.json?["error"]?["message"]?.stringValue?.isEmpty == false)
        }
        #expect(c.request("POST", "/api/v1/orders", token: token, body: "{not json").errorCode == "invalid_json")
        #expect(c.request("POST", "/api/v1/orders", token: token, body: "[1]").errorCode == "invalid_json")
        // Halted: a 20% jump trips TCS's breaker.
        try rig.runner.sync {
            let id = rig.symbols.id(of: "TCS")!
            let t = rig.gateway.now
            _ = rig.gateway.risk.observeTrade(symbolId: id, price: 35_000_000, now: t)
            _ = rig.gateway.risk.observeTrade(symbolId: id, price: 42_000_000, now: t + 1)
        }
        #expect(order(#""symbol":"TCS","side":"buy","qty":1,"price":"3500.00""#).errorCode == "trading_halted")
        // Market closed: trading hours on weekdays only, clock on a Sunday.
        try rig.runner.sync {
            rig.gateway.risk = RiskGate(symbolCount: rig.symbols.count, hours: try MarketHours(open: "09:00", close: "17:00"))
            rig.gateway.clock = { 3 * 86_400_000_000_000 + 10 * 3_600_000_000_000 }   // Sun 1970-01-04 10:00 UTC
        }
        let sundayToken = try rig.runner.sync { rig.gateway.issueToken(for: "dave") }
        let closed = c.request("POST", "/api/v1/orders", token: sundayToken,
                               body: #"{"symbol":"INFY","side":"buy","qty":1,"price":"1500.00"}"#)
        #expect(closed.errorCode == "market_closed")
        rig.waitLedgerIdle()
        #expect(try rig.account("dave") == before)
        #expect(try rig.query("SELECT count(*) FROM orders") == [["0"]])
        #expect(try rig.query("SELECT count(*) FROM outbox WHERE payload LIKE '%ORDER_%'") == [["0"]])
    }

    @Test func rateLimitRejects() throws {
        var settings = GatewayRig.defaultSettings()
        settings.rateBurst = 2
        settings.ratePerSecond = 1
        let rig = try GatewayRig(settings: settings)
        defer { rig.shutdown() }
        let token = try rig.user("erin", cash: "100000.00")
        let c = try HTTPTestClient(port: rig.port)
        let codes = (0..<3).map { i in
            c.request("POST", "/api/v1/orders", token: token,
                      body: #"{"client_order_id":"r\#(i)","symbol":"INFY","side":"buy","qty":1,"price":"1400.00"}"#)
        }
        #expect(codes.map(\.status) == [201, 201, 429])
        #expect(codes[2].errorCode == "rate_limited")
    }

    @Test func tokensAndOwnership() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let frank = try rig.user("frank", cash: "100000.00")
        let grace = try rig.user("grace", cash: "100000.00")
        let c = try HTTPTestClient(port: rig.port)
        #expect(c.request("GET", "/api/v1/portfolio").errorCode == "missing_token")
        #expect(c.request("GET", "/api/v1/portfolio", token: "garbage").errorCode == "invalid_token")
        let forged = GatewayTokenSigner(secret: String(repeating: "x", count: 32)).issue(subject: "frank", now: Int64(Date().timeIntervalSince1970))
        #expect(c.request("GET", "/api/v1/portfolio", token: forged).errorCode == "invalid_token")
        let expired = GatewayTokenSigner(secret: String(repeating: "k", count: 32), lifetimeSeconds: 60)
            .issue(subject: "frank", now: 1_000)
        #expect(c.request("GET", "/api/v1/portfolio", token: expired).status == 401)
        // alg:none with the same payload must not pass.
        let parts = frank.split(separator: ".")
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
        #expect(c.request("GET", "/api/v1/portfolio", token: none).errorCode == "invalid_token")
        let placed = c.request("POST", "/api/v1/orders", token: frank,
                               body: #"{"symbol":"INFY","side":"buy","qty":1,"price":"1400.00"}"#)
        let id = try #require(placed.json?["order_id"]?.stringValue)
        #expect(c.request("GET", "/api/v1/orders/\(id)", token: grace).errorCode == "order_not_found")
        #expect(c.request("DELETE", "/api/v1/orders/\(id)", token: grace).errorCode == "order_not_found")
        #expect(c.request("PATCH", "/api/v1/orders/\(id)", token: grace, body: #"{"qty":1}"#).errorCode == "order_not_found")
        #expect(c.request("GET", "/api/v1/orders", token: grace).json?.arrayValue?.count == 0)
        #expect(c.request("GET", "/api/v1/orders/\(id)", token: frank).status == 200)
        // Funds: bad amounts and overdrafts.
        #expect(c.request("POST", "/api/v1/funds", token: frank, body: #"{"type":"withdrawal","amount":"-5"}"#).errorCode == "invalid_amount")
        #expect(c.request("POST", "/api/v1/funds", token: frank, body: #"{"type":"withdrawal","amount":"1.001"}"#).errorCode == "invalid_amount")
        #expect(c.request("POST", "/api/v1/funds", token: frank, body: #"{"type":"withdrawal","amount":"99000.00"}"#).errorCode == "insufficient_funds")
        #expect(c.request("POST", "/api/v1/funds", token: frank, body: #"{"type":"withdrawal","amount":"500.00"}"#).status == 202)
        rig.waitLedgerIdle()
        #expect(try rig.account("frank").cash == 9_950_000)
        #expect(c.request("GET", "/api/v1/nothing", token: frank).errorCode == "not_found")
        #expect(c.request("PUT", "/api/v1/orders", token: frank).errorCode == "method_not_allowed")
        // A token accepted (and remembered) before stops working when it expires.
        try rig.runner.sync {
            let expiry = rig.gateway.now + UInt64(rig.gateway.settings.tokenLifetimeSeconds + 1) * 1_000_000_000
            rig.gateway.clock = { expiry }
        }
        #expect(c.request("GET", "/api/v1/portfolio", token: frank).errorCode == "invalid_token")
    }

    @Test func searchIsHydratedWithLastPrices() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("hank")
        let c = try HTTPTestClient(port: rig.port)
        let hits = try #require(c.request("GET", "/api/v1/search?q=TC", token: token).json?.arrayValue)
        #expect(hits.first?["symbol"]?.stringValue == "TCS")
        #expect(hits.first?["ltp"]?.stringValue == "3500.00")
        #expect(c.request("GET", "/api/v1/search?q=apple", token: token).json?.arrayValue?.first?["symbol"]?.stringValue == "AAPL")
    }

    @Test func exchangeRejectReleasesTheReservation() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("ivy", cash: "10000.00")
        try rig.runner.sync { rig.exchange.rejectText = "simulated reject" }
        let c = try HTTPTestClient(port: rig.port)
        let r = c.request("POST", "/api/v1/orders", token: token, body: #"{"symbol":"INFY","side":"buy","qty":2,"price":"1500.00"}"#)
        let id = try #require(r.json?["order_id"]?.stringValue)
        #expect(waitStatus(rig, c, token, id, "rejected"))
        rig.waitLedgerIdle()
        let a = try rig.account("ivy")
        #expect(a.reserved == 0 && a.pending == 0 && a.cash == 1_000_000)
        #expect(c.request("GET", "/api/v1/orders/\(id)", token: token).json?["reject_reason"]?.stringValue == "simulated reject")
    }

    final class WSRecorder: WebSocketHandler, @unchecked Sendable {
        var connected = false
        var texts: [String] = []
        var closed = false
        var firstMessage: String?
        func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {
            connected = true
            if let m = firstMessage { ws.send(text: m) }
        }
        func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) { texts.append(text.readableString) }
        func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) { closed = true }
    }

    @Test func orderEventsReachTheUsersWebSocketOnly() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("wendy", cash: "100000.00")
        let other = try rig.user("xavier", cash: "100000.00")
        let mine = WSRecorder(), theirs = WSRecorder(), forged = WSRecorder()
        theirs.firstMessage = #"{"action":"auth","token":"\#(other)"}"#
        var keep: [WebSocketConnection] = []
        try rig.runner.sync {
            keep.append(try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/ws?token=\(token)",
                                                    on: rig.runner.loop, handler: mine))
            keep.append(try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/ws",
                                                    on: rig.runner.loop, handler: theirs))
            keep.append(try WebSocketClient.connect(host: "127.0.0.1", port: rig.port, target: "/ws?token=forged",
                                                    on: rig.runner.loop, handler: forged))
        }
        #expect(rig.runner.wait { mine.texts.count == 1 && theirs.texts.count == 1 && forged.closed })
        #expect(try rig.runner.sync { forged.texts.first?.contains("invalid_token") } == true)
        let c = try HTTPTestClient(port: rig.port)
        let r = c.request("POST", "/api/v1/orders", token: token, body: #"{"symbol":"TCS","side":"buy","qty":1,"price":"3501.00"}"#)
        #expect(r.status == 201)
        #expect(rig.runner.wait { mine.texts.contains { $0.contains("ORDER_FILLED") } })
        let texts = try rig.runner.sync { mine.texts }
        #expect(texts[0].contains(#""type":"authenticated""#))
        #expect(texts.contains { $0.contains(#""event":"ORDER_PLACED""#) })
        #expect(texts.last?.contains(#""last_price":"3500.01""#) == true)
        #expect(try rig.runner.sync { theirs.texts.count } == 1)   // only its own "authenticated"
        _ = keep
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("yara", cash: "100000.00")
        let c = try HTTPTestClient(port: rig.port)
        func req(_ cid: String) -> String {
            let body = #"{"client_order_id":"\#(cid)","symbol":"INFY","side":"buy","qty":1,"price":"1400.00"}"#
            return "POST /api/v1/orders HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        }
        c.send(raw: req("a") + req("b") + "GET /health HTTP/1.1\r\nHost: t\r\n\r\n" + req("c"))
        let answers = (0..<4).map { _ in c.readResponse() }
        #expect(answers.map(\.status) == [201, 201, 200, 201])
        #expect(answers.compactMap { $0.json?["client_order_id"]?.stringValue } == ["a", "b", "c"])
    }
}
