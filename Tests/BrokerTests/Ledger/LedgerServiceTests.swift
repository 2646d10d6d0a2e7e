// The ledger service against Kafka (librdkafka's mock cluster) and PostgreSQL: a stream of fills is applied
// exactly once even when the service (a real `broker ledger` child process) is killed with SIGKILL mid-stream
// and restarted; the final tables equal the fold of the produced stream and the per-user replay.
import Foundation
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct LedgerServiceTests {
    /// A deterministic stream: deposits, then buys filled in two parts, sells, cancels, and duplicates.
    static func stream(users: Int, rounds: Int) -> [LedgerEvent] {
        var out: [LedgerEvent] = []
        for u in 0..<users { out.append(LedgerEvent(eventId: "d\(u)", userId: "u\(u)", body: .deposit(amount: 100_000_000))) }
        var n = 0
        for r in 0..<rounds {
            for u in 0..<users {
                n += 1
                let user = "u\(u)", sym = ["TCS", "INFY", "AAPL"][(r + u) % 3]
                let px = Int64(1_000_000 + (r % 7) * 100)
                switch r % 4 {
                case 0, 1:
                    out.append(LedgerEvent(eventId: "p\(n)", userId: user, body: .orderPlaced(orderId: "o\(n)", symbol: sym,
                                                                                          side: .buy, qty: 10, reservePrice: px)))
                    out.append(LedgerEvent(eventId: "x\(n)a", userId: user,
                                           body: .orderPartiallyFilled(orderId: "o\(n)", execId: "e\(n)a", price: px - 100, qty: 4)))
                    let fill = LedgerEvent(eventId: "x\(n)b", userId: user,
                                           body: .orderFilled(orderId: "o\(n)", execId: "e\(n)b", price: px, qty: 6))
                    out.append(fill)
                    if n % 5 == 0 { out.append(fill) }   // a redelivered report: must not count twice
                case 2:
                    out.append(LedgerEvent(eventId: "p\(n)", userId: user, body: .orderPlaced(orderId: "o\(n)", symbol: sym,
                                                                                          side: .sell, qty: 3, reservePrice: px)))
                    out.append(LedgerEvent(eventId: "x\(n)a", userId: user,
                                           body: .orderFilled(orderId: "o\(n)", execId: "e\(n)a", price: px + 200, qty: 3)))
                default:
                    out.append(LedgerEvent(eventId: "p\(n)", userId: user, body: .orderPlaced(orderId: "o\(n)", symbol: sym,
                                                                                          side: .buy, qty: 5, reservePrice: px)))
                    out.append(LedgerEvent(eventId: "x\(n)c", userId: user, body: .orderCanceled(orderId: "o\(n)")))
                }
            }
        }
        return out
    }

    final class Child {
        let process = Process()
        init(broker: String, arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: broker)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
        }
        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func killedLedgerEndsWithBalancesEqualToReplay() throws {
        let broker = repositoryRoot + "/.build/debug/broker"
        try #require(FileManager.default.isExecutableFile(atPath: broker), "build first: swift build")
        let conninfo = try OrdersTestDB.freshConninfo()
        let cluster = try KafkaMockCluster(brokers: 1, logger: ordersTestLogger)
        try cluster.createTopic("ledger.events", partitions: 3)
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        final class Box: @unchecked Sendable { var publisher: KafkaLedgerPublisher?; var delivered = 0 }
        let box = Box()
        let loop = runner.loop
        try runner.sync {
            let p = try KafkaLedgerPublisher(brokers: cluster.bootstrapServers, topic: "ledger.events", loop: loop,
                                             logger: ordersTestLogger)
            p.onDelivered = { box.delivered += $0.count }
            box.publisher = p
        }
        let events = Self.stream(users: 12, rounds: 60)
        let args = ["ledger", "--set", "postgres.conninfo=\(conninfo)", "--set", "kafka.brokers=\(cluster.bootstrapServers)",
                    "--set", "log.level=critical", "--set", "ledger.max_batch=50"]
        var child = try Child(broker: broker, arguments: args)
        // Produce in slices while the service is killed and restarted three times.
        let slices = 6
        let per = (events.count + slices - 1) / slices
        let pg = try PGProbe(conninfo: conninfo, runner: runner)
        defer { pg.close() }
        var kills = 0
        for s in 0..<slices {
            let slice = Array(events[(s * per)..<min(events.count, (s + 1) * per)])
            try runner.sync { for e in slice { box.publisher!.publish(e) } }
            if s % 2 == 1 {
                // Kill only once this child has committed something and while work remains (mid-stream).
                let before = Int((try? pg.value("SELECT count(*) FROM ledger_events")) ?? "0") ?? 0
                for _ in 0..<300 {
                    let now = Int((try? pg.value("SELECT count(*) FROM ledger_events")) ?? "0") ?? 0
                    if now > before { break }
                    usleep(5_000)
                }
                kills += 1
                child.kill9()
                child = try Child(broker: broker, arguments: args)
            }
        }
        #expect(runner.wait { box.delivered == events.count })
        // Expected: the fold of the stream (per-user order is the produced order: key = user id).
        let expected = LedgerAccounts(replaying: events)
        let distinct = Set(events.map(\.eventId)).count
        #expect(kills == 3)
        var caughtUp = false
        for _ in 0..<600 where !caughtUp {
            caughtUp = (try? pg.value("SELECT count(*) FROM ledger_events")) == String(distinct)
            if !caughtUp { usleep(100_000) }
        }
        #expect(caughtUp)
        // Stop cleanly now (SIGTERM), then compare.
        child.process.terminate()
        child.process.waitUntilExit()
        for (user, a) in expected.accounts {
            let row = try pg.rows("SELECT cash, reserved FROM accounts WHERE user_id = $1", [user])
            #expect(row == [[String(a.cash), String(a.reservedCash)]], "\(user)")
            let holdings = try pg.rows("SELECT symbol, qty, reserved_qty, cost_basis, realised_pnl FROM holdings WHERE user_id = $1 AND (qty <> 0 OR realised_pnl <> 0) ORDER BY symbol", [user])
            let want = a.holdings.sorted { $0.key < $1.key }.map { s, h in
                [s, String(h.qty), String(h.reservedQty), String(h.costBasis), String(h.realisedPnL)] as [String?]
            }
            #expect(holdings == want, "\(user)")
            #expect(try pg.replay(user) == [], "\(user)")
        }
        // Money conserved: cash = deposits - net cost of shares bought, summed over users.
        #expect(try pg.value("SELECT sum(deposited) FROM accounts") == String(12 * 100_000_000))
        let offsets = try pg.rows("SELECT sum(next_offset) FROM ledger_offsets")
        #expect(offsets == [[String(events.count)]])
    }

    @Test func replayCommandReportsEqualTables() throws {
        let broker = repositoryRoot + "/.build/debug/broker"
        try #require(FileManager.default.isExecutableFile(atPath: broker))
        let rig = try GatewayRig()
        defer { rig.shutdown() }
        let token = try rig.user("ray", cash: "50000.00")
        let c = try HTTPTestClient(port: rig.port)
        _ = c.request("POST", "/api/v1/orders", token: token, body: #"{"symbol":"INFY","side":"buy","qty":3,"price":"1501.00"}"#)
        usleep(200_000)
        rig.waitLedgerIdle()
        let ok = try runProcess([broker, "ledger", "replay", "--user", "ray", "--set", "postgres.conninfo=\(rig.conninfo)",
                                 "--set", "log.level=critical"])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("replay equals the tables"))
        _ = try rig.query("UPDATE accounts SET cash = cash + 1 WHERE user_id = 'ray'")
        let bad = try runProcess([broker, "ledger", "replay", "--user", "ray", "--set", "postgres.conninfo=\(rig.conninfo)",
                                  "--set", "log.level=critical"])
        #expect(bad.status == 1)
        #expect(bad.output.contains("DIFF cash"))
    }
}

/// Synchronous queries for assertions.
final class PGProbe: @unchecked Sendable {
    let runner: ClientLoopRunner
    var pg: PostgresConnection!

    init(conninfo: String, runner: ClientLoopRunner) throws {
        self.runner = runner
        let loop = runner.loop
        try runner.sync {
            self.pg = PostgresConnection(conninfo: conninfo, loop: loop, logger: ordersTestLogger)
            self.pg.connect()
        }
    }

    func rows(_ sql: String, _ params: [String?] = []) throws -> [[String?]] {
        final class Box: @unchecked Sendable { var r: Result<PGResult, PGError>? }
        let box = Box()
        try runner.sync { self.pg.query(sql, params) { box.r = $0 } }
        _ = runner.wait { box.r != nil }
        return try runner.sync { try box.r!.get().rows }
    }

    func value(_ sql: String) throws -> String? { try rows(sql).first?.first ?? nil }

    func close() { try? runner.sync { self.pg.close() } }

    func replay(_ user: String) throws -> [String] {
        final class Box: @unchecked Sendable { var r: Result<(LedgerAccount, [String]), OrderStoreError>? }
        let box = Box()
        try runner.sync { LedgerReplay.check(user: user, pg: self.pg) { box.r = $0 } }
        _ = runner.wait { box.r != nil }
        return try runner.sync { try box.r!.get().1 }
    }
}
