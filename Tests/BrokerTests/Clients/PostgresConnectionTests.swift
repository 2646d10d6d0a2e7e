// PostgresConnection against the real test database (BROKER_TEST_PG, or started by scripts/services.sh; see
// Support/TestServices.swift). Each test uses its own connection and TEMP tables, so tests cannot collide.
import Logging
import Testing
import Wire
@testable import Broker

@Suite struct PostgresConnectionTests {
    static let logger: Logger = {
        var l = Logger(label: "test.pg")
        l.logLevel = .critical
        return l
    }()

    final class Box: @unchecked Sendable {
        var pg: PostgresConnection?
        var results: [Result<PGResult, PGError>] = []
        var tx: [Result<[PGResult], PGError>] = []
        var states: [Bool] = []
    }

    static func connect(_ runner: ClientLoopRunner, _ box: Box, conninfo: String? = nil, depth: Int = 64) throws {
        let info = try conninfo ?? #require(TestServices.postgresConninfo, "no PostgreSQL: run scripts/services.sh")
        let loop = runner.loop
        try runner.sync {
            let pg = PostgresConnection(conninfo: info, pipelineDepth: depth, loop: loop, logger: Self.logger)
            pg.onStateChange = { up, _ in box.states.append(up) }
            pg.connect()
            box.pg = pg
        }
    }

    /// depth 1: one statement at a time; 64: libpq pipeline mode. Both must behave the same.
    @Test(arguments: [1, 64]) func createInsertSelectWithParametersAndNulls(depth: Int) throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, depth: depth)
        let record: PGCompletion = { box.results.append($0) }
        // Queued before the connect completes: runs once connected, in order.
        try runner.sync {
            let pg = box.pg!
            pg.query("CREATE TEMP TABLE accounts (id int PRIMARY KEY, name text, cash bigint)", completion: record)
            pg.query("INSERT INTO accounts VALUES ($1, $2, $3), ($4, $5, $6)",
                     ["1", "demo", "100000000", "2", nil, "5"], completion: record)
            pg.query("SELECT id, name, cash FROM accounts WHERE cash >= $1 ORDER BY id", ["0"], completion: record)
            pg.query("INSERT INTO accounts VALUES (1, 'dup', 0)", completion: record)
            pg.query("SELECT 'still usable' AS s", completion: record)
        }
        #expect(runner.wait { box.results.count == 5 })
        let r = try runner.sync { box.results }
        #expect(try r[0].get().commandTag == "CREATE TABLE")
        #expect(try r[1].get().rowsAffected == 2)
        let rows = try r[2].get()
        #expect(rows.columns == ["id", "name", "cash"])
        #expect(rows.rows == [["1", "demo", "100000000"], ["2", nil, "5"]])
        #expect(rows.value(0, "cash") == "100000000")
        guard case .failure(let dup) = r[3] else { Issue.record("duplicate insert succeeded"); return }
        #expect(dup.code == .server && dup.sqlState == "23505" && !dup.isRetriable)
        #expect(try r[4].get().rows == [["still usable"]])
        #expect(try runner.sync { (box.pg!.statementsSucceeded, box.pg!.statementsFailed) } == (4, 1))
        #expect(try runner.sync { box.states } == [true])
    }

    /// depth 1: one statement at a time; 64: libpq pipeline mode. Both must behave the same.
    @Test(arguments: [1, 64]) func failedTransactionRollsBackAndCommittedOneSticks(depth: Int) throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, depth: depth)
        try runner.sync {
            let pg = box.pg!
            pg.query("CREATE TEMP TABLE orders (id text PRIMARY KEY, qty int NOT NULL)") { box.results.append($0) }
            pg.transaction([("INSERT INTO orders VALUES ($1, $2)", ["a", "10"]),
                            ("INSERT INTO orders VALUES ($1, $2)", ["b", "20"])]) { box.tx.append($0) }
            pg.transaction([("INSERT INTO orders VALUES ($1, $2)", ["c", "30"]),
                            ("INSERT INTO orders VALUES ($1, $2)", ["d", nil]),     // NOT NULL violation
                            ("INSERT INTO orders VALUES ($1, $2)", ["e", "50"])]) { box.tx.append($0) }
            pg.query("SELECT id FROM orders ORDER BY id") { box.results.append($0) }
        }
        #expect(runner.wait { box.results.count == 2 && box.tx.count == 2 })
        let (tx, results) = try runner.sync { (box.tx, box.results) }
        #expect(try tx[0].get().map(\.commandTag) == ["INSERT 0 1", "INSERT 0 1"])
        guard case .failure(let e) = tx[1] else { Issue.record("bad transaction committed"); return }
        #expect(e.sqlState == "23502")   // not_null_violation: the first error, not the 25P02s after it
        #expect(try results[1].get().rows == [["a"], ["b"]])   // c was rolled back with the transaction
    }

    /// depth 1: one statement at a time; 64: libpq pipeline mode. Both must behave the same.
    @Test(arguments: [1, 64]) func statementsCompleteInSubmissionOrder(depth: Int) throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, depth: depth)
        final class Order: @unchecked Sendable { var seen: [Int] = [] }
        let order = Order()
        try runner.sync {
            for i in 0..<200 {
                box.pg!.query("SELECT $1::int AS i", [String(i)]) { r in
                    if let v = try? r.get().rows.first?.first, let s = v, let n = Int(s) { order.seen.append(n) }
                }
            }
        }
        #expect(runner.wait { order.seen.count == 200 })
        #expect(try runner.sync { order.seen } == Array(0..<200))
        let peak = try runner.sync { box.pg!.peakInFlight }
        #expect(depth == 1 ? peak == 1 : peak > 1 && peak <= depth)
    }

    /// Pipeline mode prepares each parameterised text once per connection (unless planned each time); a text
    /// whose preparation fails reports the server's error for that statement and is prepared afresh when used
    /// again.
    @Test func pipelinePreparesOnceAndReportsPrepareErrors() throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, depth: 64)
        let record: PGCompletion = { box.results.append($0) }
        let select = "SELECT v FROM later WHERE k = $1"
        try runner.sync {
            let pg = box.pg!
            pg.query(select, ["a"], completion: record)                     // table missing: prepare fails
            pg.query("CREATE TEMP TABLE later (k text PRIMARY KEY, v int)", completion: record)
            pg.query("INSERT INTO later VALUES ($1, $2), ($3, $4)", ["a", "1", "b", "2"], completion: record)
        }
        #expect(runner.wait { box.results.count == 3 })
        try runner.sync {
            let pg = box.pg!
            for k in ["a", "b", "a"] { pg.query(select, [k], completion: record) }
            for _ in 0..<2 { pg.query("SELECT k FROM later WHERE k = ANY($1::text[])", ["{a}"], planEachTime: true, completion: record) }
            pg.query("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM later%'", completion: record)
        }
        #expect(runner.wait { box.results.count == 9 })
        let r = try runner.sync { box.results }
        guard case .failure(let missing) = r[0] else { Issue.record("select on a missing table succeeded"); return }
        #expect(missing.code == .server && missing.sqlState == "42P01")   // undefined_table, not "aborted"
        #expect(try r[3...5].map { try $0.get().rows } == [[["1"]], [["2"]], [["1"]]])
        #expect(try r[6...7].map { try $0.get().rows } == [[["a"]], [["a"]]])
        #expect(try r[8].get().rows == [["1"]])   // the select, prepared once after the failure; not the ANY one
    }

    /// A transaction's statements share one Sync; one longer than the pipeline still completes (a Sync goes out
    /// when the pipeline fills, or its results would wait behind statements that cannot be sent), and a failure
    /// in it still rolls everything back.
    @Test func transactionLongerThanThePipelineCompletes() throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, depth: 4)
        try runner.sync {
            let pg = box.pg!
            pg.query("CREATE TEMP TABLE t (id int PRIMARY KEY)") { box.results.append($0) }
            pg.transaction((0..<10).map { ("INSERT INTO t VALUES ($1)", [String($0)]) }) { box.tx.append($0) }
            pg.transaction((0..<10).map { ("INSERT INTO t VALUES ($1)", [String(100 + $0 % 9)]) }) { box.tx.append($0) }
            pg.query("SELECT count(*) FROM t") { box.results.append($0) }
        }
        #expect(runner.wait { box.tx.count == 2 && box.results.count == 2 })
        let (tx, results) = try runner.sync { (box.tx, box.results) }
        #expect(try tx[0].get().count == 10)
        guard case .failure(let e) = tx[1] else { Issue.record("duplicate key committed"); return }
        #expect(e.sqlState == "23505")
        #expect(try results[1].get().rows == [["10"]])
    }

    /// depth 1: one statement at a time; 64: libpq pipeline mode. Both must behave the same.
    @Test(arguments: [1, 64]) func brokenConnectionFailsQueuedStatements(depth: Int) throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, depth: depth)
        try runner.sync {
            box.pg!.query("SELECT pg_terminate_backend(pg_backend_pid())") { box.results.append($0) }
            box.pg!.query("SELECT 1") { box.results.append($0) }
        }
        #expect(runner.wait { box.results.count == 2 })
        let (r, connected, states) = try runner.sync { (box.results, box.pg!.isConnected, box.states) }
        #expect(throws: PGError.self) { try r[0].get() }
        guard case .failure(let queued) = r[1] else { Issue.record("ran on a dead connection"); return }
        #expect(queued.code == .connectionLost && queued.isRetriable)
        #expect(!connected)
        #expect(states == [true, false])
        try runner.sync { box.pg!.query("SELECT 2") { box.results.append($0) } }
        let late = try runner.sync { box.results }
        #expect(late.count == 3)   // failed at once, not queued forever
    }

    @Test func queueIsBounded() throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        let info = try #require(TestServices.postgresConninfo)
        let loop = runner.loop
        try runner.sync {
            let pg = PostgresConnection(conninfo: info, maxQueuedStatements: 3, loop: loop, logger: Self.logger)
            pg.connect()
            box.pg = pg
            for i in 0..<4 { pg.query("SELECT \(i)") { box.results.append($0) } }
            pg.transaction([("SELECT 1", [])]) { box.tx.append($0) }
        }
        #expect(runner.wait { box.results.count == 4 && box.tx.count == 1 })
        let (r, tx) = try runner.sync { (box.results, box.tx) }
        guard case .failure(let e) = r[0] else { Issue.record("fourth statement was queued"); return }
        #expect(e.code == .overloaded && e.isRetriable)   // refused at once, so it completes first
        #expect(try r[1...].map { try $0.get().rows } == [[["0"]], [["1"]], [["2"]]])
        guard case .failure(let te) = tx[0] else { Issue.record("transaction queued past the bound"); return }
        #expect(te.code == .overloaded)
    }

    @Test func connectFollowsLibpqToItsNextSocket() throws {
        // Two hosts, the first refusing: PQconnectPoll closes the first socket and opens another, which usually
        // reuses the same fd number. The loop must watch the new socket, or the connect never completes.
        let info = try #require(TestServices.postgresConninfo)
        let fields = Dictionary(uniqueKeysWithValues: info.split(separator: " ").map { kv -> (String, String) in
            let parts = kv.split(separator: "=", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        })
        let dead = TestServices.freePort()
        let multi = "host=127.0.0.1,\(fields["host"] ?? "127.0.0.1") port=\(dead),\(fields["port"] ?? "5432") "
            + "dbname=\(fields["dbname"] ?? "") user=\(fields["user"] ?? "") password=\(fields["password"] ?? "")"
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.connect(runner, box, conninfo: multi)
        try runner.sync { box.pg!.query("SELECT inet_server_port()::text") { box.results.append($0) } }
        #expect(runner.wait(seconds: 10) { box.results.count == 1 })
        let r = try runner.sync { box.results }
        #expect(try r.first?.get().rows == [[fields["port"] ?? "5432"]])
    }

    @Test func connectFailureIsReported() throws {
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        let port = TestServices.freePort()
        try Self.connect(runner, box, conninfo: "host=127.0.0.1 port=\(port) dbname=x user=x connect_timeout=2")
        try runner.sync { box.pg!.query("SELECT 1") { box.results.append($0) } }
        #expect(runner.wait { box.results.count == 1 })
        let (r, states, lastError) = try runner.sync { (box.results, box.states, box.pg!.lastError) }
        guard case .failure(let e) = r[0] else { Issue.record("query ran without a server"); return }
        #expect(e.code == .connectFailed)
        #expect(lastError?.code == .connectFailed)
        #expect(states == [false])
    }
}
