// Shared rig of the order-path tests: a private PostgreSQL schema per test, a blocking HTTP/1.1 client, and
// `GatewayRig`, which runs a gateway (PostgreSQL store, in-process event bus feeding a PostgresLedger) against the
// ExchangeRig on one loop.
import Foundation
import Logging
import Testing
import Wire
import WebSocket
@testable import Broker

let ordersTestLogger: Logger = {
    var l = Logger(label: "test.orders")
    l.logLevel = .critical
    return l
}()

enum OrdersTestDB {
    nonisolated(unsafe) static var counter = 0
    nonisolated(unsafe) static var swept = false

    /// A conninfo whose search_path is a fresh, empty schema (tests never see each other's tables).
    static func freshConninfo() throws -> String {
        let base = try #require(TestServices.postgresConninfo, "no PostgreSQL: run scripts/services.sh")
        counter += 1
        let schema = "orders_t\(getpid())_\(counter)_\(UInt32.random(in: 0...UInt32.max))"
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        final class Box: @unchecked Sendable { var done: Result<PGResult, PGError>?; var pg: PostgresConnection? }
        let box = Box()
        let loop = runner.loop
        let sweep = !swept
        swept = true
        try runner.sync {
            let pg = PostgresConnection(conninfo: base, loop: loop, logger: ordersTestLogger)
            pg.connect()
            guard sweep else {
                pg.query("CREATE SCHEMA \(schema)") { box.done = $0 }
                box.pg = pg
                return
            }
            // Schemas of test processes that are gone (the shared test database must not fill up); the CREATE is
            // queued after the DROPs, so they are done when it completes.
            pg.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'orders_t%'") { r in
                for row in (try? r.get().rows) ?? [] {
                    guard let name = row[0] ?? nil,
                          let pid = Int32(name.dropFirst("orders_t".count).prefix { $0 != "_" }),
                          kill(pid, 0) != 0 else { continue }
                    pg.query("DROP SCHEMA IF EXISTS \(name) CASCADE") { _ in }
                }
                pg.query("CREATE SCHEMA \(schema)") { box.done = $0 }
            }
            box.pg = pg
        }
        #expect(runner.wait { box.done != nil })
        _ = try runner.sync { try box.done!.get() }
        try runner.sync { box.pg?.close() }
        return base + " options='-csearch_path=\(schema)'"
    }
}

/// A blocking HTTP/1.1 client on one keep-alive connection.
final class HTTPTestClient {
    let fd: Int32
    var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if rc != 0 { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    struct Response {
        var status: Int
        var body: String
        var json: JSONValue? { try? JSONParser.parse(body) }
        var errorCode: String? { json?["error"]?["code"]?.stringValue }
    }

    func send(raw: String) {
        var bytes = Array(raw.utf8)
        defer { bytes.removeAll() }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { return }
            off += n
        }
    }

    func request(_ method: String, _ path: String, token: String? = nil, body: String? = nil) -> Response {
        var req = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        if let token { req += "Authorization: Bearer \(token)\r\n" }
        if let body { req += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        req += "\r\n" + (body ?? "")
        send(raw: req)
        return readResponse()
    }

    func readResponse() -> Response {
        while true {
            if let headEnd = find(Array("\r\n\r\n".utf8)) {
                let head = String(decoding: buffer[0..<headEnd], as: UTF8.self)
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                var length = 0
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
                let total = headEnd + 4 + length
                if buffer.count >= total {
                    let body = String(decoding: buffer[(headEnd + 4)..<total], as: UTF8.self)
                    buffer.removeFirst(total)
                    return Response(status: status, body: body)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return Response(status: 0, body: "") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] {
            if Array(buffer[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

/// Gateway + PostgreSQL store + in-process bus -> PostgresLedger + ExchangeRig, on one loop.
final class GatewayRig: @unchecked Sendable {
    static let prices: [String: Int64] = ["TCS": 35_000_000, "INFY": 15_000_000, "AAPL": 1_900_000]
    let runner: ClientLoopRunner
    let symbols: SymbolUniverse
    let conninfo: String
    var gateway: OrderGateway!
    var store: PostgresOrderStore!
    var exchange: ExchangeRig!
    var ledger: PostgresLedger!
    var ledgerPG: PostgresConnection!
    var bus: InProcessLedgerBus!
    var events: [LedgerEvent] = []
    var listener: TCPListener?
    var server: WebSocketServer?
    var port = 0
    let quotes = InMemoryQuoteStore()

    init(settings: GatewaySettings = GatewayRig.defaultSettings(), feedLedger: Bool = true) throws {
        runner = try ClientLoopRunner()
        symbols = try SymbolUniverse(listings: [
            SymbolListing(symbol: "TCS", companyName: "Tata Consultancy Services"),
            SymbolListing(symbol: "INFY", companyName: "Infosys Limited"),
            SymbolListing(symbol: "AAPL", companyName: "Apple Inc."),
            SymbolListing(symbol: "HALT", companyName: "Halted Holdings"),
        ])
        conninfo = try OrdersTestDB.freshConninfo()
        var seq: UInt64 = 0
        for (s, p) in Self.prices {
            seq += 1
            quotes.put(Quote(symbolId: symbols.id(of: s)!, bid: p - 100, ask: p + 100, last: p, ts: 1, seq: seq))
        }
        quotes.flush()
        let loop = runner.loop
        final class Ready: @unchecked Sendable { var result: Result<Void, OrderStoreError>?; var ledger: Bool = false }
        let ready = Ready()
        try runner.sync { [self] in
            exchange = try ExchangeRig(symbols: symbols, prices: Self.prices, loop: loop, logger: ordersTestLogger)
            var s = settings
            s.fixPort = exchange.port
            s.senderCompID = "GATEWAY"
            s.targetCompID = "EXCHANGE"
            // Two write lanes: enough to exercise lane routing, light on the shared server's connection slots.
            store = PostgresOrderStore(conninfo: conninfo, loop: loop, logger: ordersTestLogger, writeConnections: 2)
            bus = InProcessLedgerBus()
            gateway = OrderGateway(settings: s, symbols: symbols, store: store, publisher: bus, quotes: quotes,
                                   loop: loop, logger: ordersTestLogger)
            ledgerPG = PostgresConnection(conninfo: conninfo, loop: loop, logger: ordersTestLogger)
            ledgerPG.connect()
            ledger = PostgresLedger(pg: ledgerPG, topic: "ledger.events", logger: ordersTestLogger)
            var offset: Int64 = 0
            bus.subscribe { [self] e in
                events.append(e)
                if feedLedger {
                    ledger.enqueue(e, partition: 0, offset: offset)
                    offset += 1
                }
            }
            gateway.start { r in
                ready.result = r
                self.ledger.load { _ in ready.ledger = true }
            }
            let (srv, l) = try gateway.listen()
            server = srv
            listener = l
            port = l.port
        }
        #expect(runner.wait { ready.result != nil && ready.ledger })
        try runner.sync { try ready.result!.get() }
        #expect(runner.wait { self.gateway.exchangeConnected })
    }

    static func defaultSettings() -> GatewaySettings {
        var s = GatewaySettings()
        s.host = "127.0.0.1"
        s.port = 0
        s.tokenSecret = String(repeating: "k", count: 32)
        s.rateBurst = 1_000
        s.ratePerSecond = 1_000
        return s
    }

    /// Creates a user with `cash` (deposited through the API, so the ledger sees it) and returns a token.
    func user(_ name: String, password: String = "pw-\(UUID().uuidString.prefix(8))", cash: String? = nil) throws -> String {
        let hash = GatewayPasswordHash.make(password: password, iterations: 1_000)
        final class Box: @unchecked Sendable { var r: Result<Bool, OrderStoreError>? }
        let box = Box()
        try runner.sync { self.store.createUser(name, passwordHash: hash) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        let token = try runner.sync { self.gateway.issueToken(for: name) }
        if let cash {
            let c = try HTTPTestClient(port: port)
            let r = c.request("POST", "/api/v1/funds", token: token, body: #"{"type":"deposit","amount":"\#(cash)"}"#)
            #expect(r.status == 202)
            waitLedgerIdle()
        }
        return token
    }

    func waitLedgerIdle() {
        #expect(runner.wait { self.ledger.isIdle && self.ledgerPG.pendingStatements == 0 && self.store.isIdle })
    }

    /// Runs a query on the store's connection and returns its rows.
    func query(_ sql: String, _ params: [String?] = []) throws -> [[String?]] {
        final class Box: @unchecked Sendable { var r: Result<PGResult, PGError>? }
        let box = Box()
        try runner.sync { self.store.pg.query(sql, params) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { try box.r!.get().rows }
    }

    func account(_ user: String) throws -> (cash: Int64, reserved: Int64, pending: Int64) {
        let rows = try query("SELECT cash, reserved, pending_reserved FROM accounts WHERE user_id = $1", [user])
        let r = try #require(rows.first)
        return (Int64(r[0]!)!, Int64(r[1]!)!, Int64(r[2]!)!)
    }

    func replayDifferences(_ user: String) throws -> [String] {
        final class Box: @unchecked Sendable { var r: Result<(LedgerAccount, [String]), OrderStoreError>? }
        let box = Box()
        try runner.sync { LedgerReplay.check(user: user, pg: self.ledgerPG) { box.r = $0 } }
        #expect(runner.wait { box.r != nil })
        return try runner.sync { try box.r!.get().1 }
    }

    func shutdown() {
        try? runner.sync { [self] in
            gateway.stop()
            listener?.close()
            exchange.acceptor.close()
            store.close()
            ledgerPG.close()
        }
        runner.shutdown()
    }
}
