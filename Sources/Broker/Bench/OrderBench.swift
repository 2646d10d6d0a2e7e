// OrderBench: `broker bench --orders N`: orders per second through REST -> gateway (risk, quote lookup) ->
// PostgreSQL reservation (or the journal) -> FIX 35=D -> the exchange simulator (matching engine) -> 35=8 ->
// order update, with latency percentiles.
//
// Owns: the in-process rig (simulator, gateway and load generator each on their own loop, PostgreSQL as its own
// processes) and the closed-loop HTTP/1.1 load generator (C keep-alive connections, one request in flight each).
// Orders are resting DAY limit buys 5% under the simulator's price over 100 symbols and U users, so each order
// costs one reservation transaction, one D, one 8 (New) and one order update. Bench users get their cash by a
// direct UPDATE (no ledger runs during the bench; ledger events are discarded after the outbox cleanup they
// cause). PostgreSQL runs use a schema of their own (`broker_bench`), created afresh each run. Reported:
// throughput, REST latency (request to 201: the gateway's ack, after the commit and the D), and
// request-to-exchange-ack latency (35=8 New applied), p50/p90/p99/p99.9/max.
//
//   broker bench --orders 50000 [--connections 48] [--users 64] [--storage postgres|journal] [--json]
//                [--set postgres.conninfo=...]
import Logging
import Wire
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// Order-path benchmark.
public enum OrderBench {
    /// Runs the benchmark and prints the figures.
    /// - Throws: `RoleError` when a component does not start.
    public static func run(_ ctx: RoleContext) throws {
        let total = Int(ctx.argument("--orders") ?? "") ?? 20_000
        let connections = Int(ctx.argument("--connections") ?? "") ?? 48
        let users = Int(ctx.argument("--users") ?? "") ?? 64
        let storage = ctx.argument("--storage") ?? "postgres"
        let pgConnections = Int(ctx.argument("--pg-connections") ?? "") ?? ctx.config.int("gateway.pg_connections")
        let warmup = min(total / 10, 2_000)
        var logger = ctx.logger
        logger.logLevel = .warning
        let symbols = SymbolUniverse.generated(count: 100)
        let group = try EventLoopGroup(count: 3, name: "order-bench", logger: logger)
        group.start()
        defer {
            group.stop()
            group.join()
        }
        let (exLoop, gwLoop, clientLoop) = (group.loops[0], group.loops[1], group.loops[2])

        // Exchange simulator: order entry only (no market-data stream).
        var ex = ExchangeSettings()
        ex.port = 0
        ex.rate = 0
        ex.addPeer("GATEWAY")
        nonisolated(unsafe) var exchange: ExchangeSimulator?
        nonisolated(unsafe) var prices: [Int64] = []
        try exLoop.submitAndWait {
            let e = try ExchangeSimulator(settings: ex, symbols: symbols, loop: exLoop, logger: logger)
            exchange = e
            prices = (0..<Int32(symbols.count)).map { e.quote($0).last }
        }
        let quotes = InMemoryQuoteStore()
        for (i, p) in prices.enumerated() { quotes.put(Quote(symbolId: Int32(i), bid: p, ask: p, last: p, ts: 1, seq: 1)) }
        quotes.flush()

        // Gateway.
        var gs = GatewaySettings()
        gs.port = 0
        gs.fixPort = exchange!.port
        gs.targetCompID = ex.senderCompID
        gs.senderCompID = "GATEWAY"
        gs.rateBurst = 1_000_000
        gs.ratePerSecond = 1_000_000
        gs.tokenSecret = String(repeating: "b", count: 32)
        final class Rig: @unchecked Sendable {
            var gateway: OrderGateway?
            var listener: TCPListener?
            var server: WebSocketServer?
            var store: (any OrderStore)?
            var ready: Result<Void, OrderStoreError>?
            var acks: [UInt64] = []
            var tokens: [String] = []
        }
        let rig = Rig()
        var conninfo = ctx.config.string("postgres.conninfo")
        if storage != "journal" { conninfo = try freshSchema(conninfo, loop: gwLoop, logger: logger) }
        let journal = "/tmp/broker-order-bench-\(getpid()).journal"
        defer { unlink(journal) }
        let started = Semaphore()
        try gwLoop.submitAndWait {
            let store: any OrderStore
            if storage == "journal" {
                store = try JournalOrderStore(path: journal, fsync: .batch, loop: gwLoop, logger: logger)
            } else {
                store = PostgresOrderStore(conninfo: conninfo, loop: gwLoop, logger: logger,
                                           writeConnections: pgConnections)
            }
            let bus = InProcessLedgerBus()
            bus.subscribe { [weak store] e in store?.eventsDelivered([e.eventId]) }
            let g = OrderGateway(settings: gs, symbols: symbols, store: store, publisher: bus, quotes: quotes,
                                 loop: gwLoop, logger: logger)
            g.onExchangeAck = { rig.acks.append($0) }
            rig.gateway = g
            rig.store = store
            g.start { r in
                rig.ready = r
                guard case .success = r else { started.signal(); return }
                // Users with cash: a deposit each (journal: through the store; PostgreSQL: direct UPDATE, no
                // ledger runs during the bench).
                var remaining = users
                for u in 0..<users {
                    let name = "bench-\(u)"
                    rig.tokens.append(g.issueToken(for: name))
                    store.createUser(name, passwordHash: "x") { _ in
                        let done = {
                            remaining -= 1
                            if remaining == 0 { started.signal() }
                        }
                        if let pg = store as? PostgresOrderStore {
                            pg.pg.query("UPDATE accounts SET cash = 100000000000000 WHERE user_id = $1", [name]) { _ in done() }
                        } else {
                            store.funds(LedgerEvent(eventId: "bench-seed-\(u)-\(getpid())", userId: name,
                                                    body: .deposit(amount: 100_000_000_000_000))) { _ in done() }
                        }
                    }
                }
            }
            let (srv, l) = try g.listen()
            rig.server = srv
            rig.listener = l
        }
        started.wait()
        if case .failure(let e) = rig.ready! { throw RoleError("bench: gateway: \(e)") }
        for _ in 0..<500 {
            if (try? gwLoop.submitAndWait({ rig.gateway!.exchangeConnected })) == true { break }
            usleep(10_000)
        }
        guard (try gwLoop.submitAndWait({ rig.gateway!.exchangeConnected })) else {
            throw RoleError("bench: gateway did not log on to the simulator")
        }
        let port = try gwLoop.submitAndWait { rig.listener!.port }

        // Load: closed loop, one request in flight per connection.
        let load = OrderBenchLoad(total: total, warmup: warmup, port: port, connections: connections,
                                  tokens: rig.tokens, symbols: symbols, prices: prices, loop: clientLoop)
        let finished = Semaphore()
        load.onFinished = { finished.signal() }
        let cpu0 = ProcessCPU.seconds()
        try clientLoop.submitAndWait { try load.start() }
        finished.wait()
        let cpu = ProcessCPU.seconds() - cpu0
        // Let the last exchange acks arrive.
        usleep(200_000)
        let acks = try gwLoop.submitAndWait { rig.acks }
        let measuredAcks = Array(acks.dropFirst(warmup))
        let rest = load.latencies
        let seconds = Double(load.endNanos - load.startNanos) / 1e9
        let rate = Double(rest.count) / seconds
        func pct(_ v: [UInt64]) -> String {
            let s = v.sorted()
            guard !s.isEmpty else { return "n/a" }
            func at(_ q: Double) -> String {
                let i = min(s.count - 1, Int(Double(s.count) * q))
                return fixed(Double(s[i]) / 1e6, 2)
            }
            return "p50 \(at(0.5)) p90 \(at(0.9)) p99 \(at(0.99)) p99.9 \(at(0.999)) max \(at(1.0)) ms"
        }
        let errors = load.errors
        if ctx.has("--json") {
            print(#"{"orders":\#(rest.count),"seconds":\#(seconds),"orders_per_s":\#(Int(rate)),"errors":\#(errors),"#
                  + #""storage":"\#(storage)","connections":\#(connections),"cpu_s":\#(cpu),"#
                  + #""rest_p99_ms":\#(Double(rest.sorted()[min(rest.count - 1, rest.count * 99 / 100)]) / 1e6),"#
                  + #""ack_p99_ms":\#(measuredAcks.isEmpty ? 0 : Double(measuredAcks.sorted()[min(measuredAcks.count - 1, measuredAcks.count * 99 / 100)]) / 1e6)}"#)
        } else {
            print("order bench: storage=\(storage) pg_connections=\(pgConnections) connections=\(connections) users=\(users) orders=\(rest.count) "
                  + "(after \(warmup) warm-up) errors=\(errors)")
            print("  throughput      \(Int(rate)) orders/s over \(fixed(seconds, 2)) s (process CPU \(fixed(cpu, 2)) s)")
            print("  REST 201 (gateway ack)      \(pct(rest))")
            print("  request -> 35=8 New applied \(pct(measuredAcks))")
        }
        try? gwLoop.submitAndWait {
            rig.gateway?.stop()
            rig.listener?.close()
        }
        try? exLoop.submitAndWait { exchange?.stop() }
    }
}

extension OrderBench {
    /// Schema every run starts from (dropped and created afresh): runs are repeatable and leave no resting orders
    /// behind for the next run's gateway to reload.
    static let schema = "broker_bench"

    /// Recreates `schema` and returns `conninfo` with it as the search path.
    static func freshSchema(_ conninfo: String, loop: EventLoop, logger: Logger) throws -> String {
        final class Box: @unchecked Sendable { var pg: PostgresConnection?; var done: Result<PGResult, PGError>? }
        let box = Box(), done = Semaphore()
        try loop.submitAndWait {
            let pg = PostgresConnection(conninfo: conninfo, loop: loop, logger: logger)
            box.pg = pg
            pg.connect()
            pg.query("DROP SCHEMA IF EXISTS \(schema) CASCADE") { _ in }
            pg.query("CREATE SCHEMA \(schema)") { r in
                box.done = r
                done.signal()
            }
        }
        done.wait()
        try loop.submitAndWait { box.pg?.close() }
        if case .failure(let e) = box.done! { throw RoleError("bench: schema \(schema): \(e)") }
        // libpq: key=value conninfo takes another pair; a URI takes a query parameter (percent-encoded '=').
        if conninfo.contains("://") {
            return conninfo + (conninfo.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)"
        }
        return conninfo + " options='-csearch_path=\(schema)'"
    }
}

/// `x` with `digits` fraction digits (no Foundation).
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = Int64((x * scale).rounded())
    return FixedPointDecimal.format(v, scale: digits, minFraction: digits)
}

/// Process CPU time (user + system).
enum ProcessCPU {
    static func seconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }
}

/// The closed-loop HTTP load generator (loop thread).
final class OrderBenchLoad: @unchecked Sendable {
    final class Client: TCPConnectionHandler {
        unowned let load: OrderBenchLoad
        let index: Int
        var tcp: TCPConnection?
        var sentAt: UInt64 = 0
        var seq = 0
        init(load: OrderBenchLoad, index: Int) { self.load = load; self.index = index }

        func connectionDidConnect(_ c: TCPConnection) { load.sendNext(self) }

        func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
            // Find the end of the head and Content-Length; answers are small and complete quickly.
            guard let headEnd = Self.find(bytes) else { return 0 }
            var length = 0
            var status = 0
            let head = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd]), as: UTF8.self)
            for (i, line) in head.split(separator: "\r\n").enumerated() {
                if i == 0 { status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0 }
                if line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingPrefix(" ")) ?? 0
                }
            }
            guard bytes.count >= headEnd + 4 + length else { return 0 }
            load.completed(self, status: status)
            return headEnd + 4 + length
        }

        static func find(_ b: UnsafeRawBufferPointer) -> Int? {
            guard b.count >= 4 else { return nil }
            for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
            return nil
        }

        func connectionDidClose(_ c: TCPConnection, error: IOError?) { load.closed(self) }
    }

    let total: Int
    let warmup: Int
    let port: Int
    let connectionCount: Int
    let tokens: [String]
    let symbols: SymbolUniverse
    let prices: [Int64]
    unowned let loop: EventLoop
    var clients: [Client] = []
    var sent = 0
    var done = 0
    var errors = 0
    var latencies: [UInt64] = []
    var startNanos: UInt64 = 0
    var endNanos: UInt64 = 0
    var onFinished: (() -> Void)?

    init(total: Int, warmup: Int, port: Int, connections: Int, tokens: [String], symbols: SymbolUniverse,
         prices: [Int64], loop: EventLoop) {
        self.total = total + warmup
        self.warmup = warmup
        self.port = port
        self.connectionCount = connections
        self.tokens = tokens
        self.symbols = symbols
        self.prices = prices
        self.loop = loop
        latencies.reserveCapacity(total)
    }

    func start() throws {
        for i in 0..<connectionCount {
            let c = Client(load: self, index: i)
            clients.append(c)
            c.tcp = try TCPConnection.connect(host: "127.0.0.1", port: port, on: loop, handler: c)
        }
    }

    func sendNext(_ c: Client) {
        guard sent < total, let tcp = c.tcp else { return }
        sent += 1
        c.seq += 1
        let sym = Int32((sent * 7) % symbols.count)
        let p = prices[Int(sym)] * 95 / 100
        let price = p - p % 100
        let body = #"{"client_order_id":"b\#(getpid())-\#(c.index)-\#(c.seq)","symbol":"\#(symbols.name(of: sym))","#
            + #""side":"buy","type":"limit","qty":1,"price":"\#(FixedPointDecimal.formatPrice(price))"}"#
        var b = ByteBuffer(capacity: 512)
        b.writeString("POST /api/v1/orders HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ")
        b.writeString(tokens[c.index % tokens.count])
        b.writeString("\r\nContent-Type: application/json\r\nContent-Length: ")
        b.writeDecimal(body.utf8.count)
        b.writeString("\r\n\r\n")
        b.writeString(body)
        c.sentAt = Syscalls.monotonicNanos()
        if sent == warmup + 1 { startNanos = c.sentAt }
        tcp.write(b)
    }

    func completed(_ c: Client, status: Int) {
        let now = Syscalls.monotonicNanos()
        done += 1
        if status != 201 { errors += 1 }
        if done > warmup { latencies.append(now - c.sentAt) }
        if done == total {
            endNanos = now
            for c in clients { c.tcp?.close() }
            onFinished?()
            onFinished = nil
            return
        }
        sendNext(c)
    }

    func closed(_ c: Client) {
        c.tcp = nil
        if done < total && clients.allSatisfy({ $0.tcp == nil }) {
            endNanos = Syscalls.monotonicNanos()
            onFinished?()
            onFinished = nil
        }
    }
}
