// PostgresConnection: the public PostgreSQL client of the platform (order reservation, ledger), on one Wire
// EventLoop, non-blocking through libpq.
//
// Owns: the ordered statement queue (statements run one after another in submission order, so a BEGIN ...
// COMMIT submitted together is a transaction nobody else's statement can interleave with), the transaction helper,
// pipelining depth, and connection state reporting. Leaves libpq itself to PQConnection. No automatic reconnect:
// a broken connection fails every queued statement with `.connectionLost` and the owner decides (make a new
// connection and replay idempotent work).
import Logging
import Wire

/// Completion of one statement.
public typealias PGCompletion = (Result<PGResult, PGError>) -> Void

/// A PostgreSQL connection driven by one event loop. Loop thread only.
public final class PostgresConnection {
    /// Called once the connection is usable (true) and when it fails or breaks (false, with the error).
    public var onStateChange: ((_ connected: Bool, _ error: PGError?) -> Void)?
    /// Whether statements are being executed (connected and not broken).
    public var isConnected: Bool { connection?.isDead == false && connected }
    /// The error that ended the connection, if any.
    public private(set) var lastError: PGError?

    unowned let loop: EventLoop
    private let conninfo: String
    private let pipelineDepth: Int
    private let maxQueuedStatements: Int
    private let logger: Logger
    private var connection: PQConnection?
    private var connected = false
    private var queue: [(sql: String, params: [String?], planEachTime: Bool, sync: Bool, completion: PGCompletion)] = []
    private var queueHead = 0
    /// Completions of statements sent and not yet answered, in send order.
    private var inFlight: [PGCompletion] = []
    private var inFlightHead = 0
    private var closed = false
    private var pumping = false
    /// Statements that completed successfully.
    public private(set) var statementsSucceeded: UInt64 = 0
    /// Statements that failed, including those failed by a broken or closed connection.
    public private(set) var statementsFailed: UInt64 = 0
    /// Most statements ever in flight at once (tests check pipelining really happens).
    private(set) var peakInFlight = 0

    /// Creates the connection object; `connect()` starts connecting.
    /// - Parameters:
    ///   - conninfo: libpq keyword/value string, e.g. `host=127.0.0.1 dbname=broker user=broker`.
    ///   - pipelineDepth: statements sent ahead of their results. 1 = one at a time; more uses libpq's pipeline
    ///     mode with one Sync per statement (per transaction body for `transaction`), so results and errors are
    ///     those of one-at-a-time execution, minus the round trips. 64 by default: a ledger transaction of a few
    ///     statements leaves in one write.
    ///   - maxQueuedStatements: statements waiting (queued or in flight) beyond which `query` fails at once with
    ///     `.overloaded` instead of growing memory while the database is slow; 10,000 is seconds of ledger work.
    public init(conninfo: String, pipelineDepth: Int = 64, maxQueuedStatements: Int = 10_000, loop: EventLoop,
                logger: Logger) {
        precondition(pipelineDepth >= 1 && pipelineDepth <= 10_000, "pipelineDepth")
        precondition(maxQueuedStatements >= 1, "maxQueuedStatements")
        self.maxQueuedStatements = maxQueuedStatements
        self.pipelineDepth = pipelineDepth
        self.conninfo = conninfo
        self.loop = loop
        self.logger = logger
    }

    deinit { connection?.close() }

    /// Starts connecting (non-blocking). Statements may be queued before it completes. Loop thread.
    public func connect() {
        precondition(connection == nil && !closed, "connect once")
        do {
            connection = try PQConnection(conninfo: conninfo, maxInFlight: pipelineDepth, loop: loop,
                                          logger: logger) { [unowned self] event in
                // Unowned: the PQConnection is owned by self and closed in deinit.
                self.handle(event)
            }
        } catch {
            fail(error)
        }
    }

    /// Statements queued or running.
    public var pendingStatements: Int { queue.count - queueHead + inFlight.count - inFlightHead }

    /// Runs `sql` with `$1...$n` text parameters (nil = NULL) after every statement submitted before it.
    /// - Parameters:
    ///   - planEachTime: never run it as a prepared statement. In pipeline mode a parameterised text is prepared
    ///     once per connection and may then run with a generic plan; a statement whose best plan depends on its
    ///     values (an array of keys: index lookups, but a sequential scan in a generic plan made while the table
    ///     was small) must be planned with them every time.
    ///   - completion: called on the loop thread with the rows, or a `PGError` (SQLSTATE in `sqlState`).
    public func query(_ sql: String, _ params: [String?] = [], planEachTime: Bool = false,
                      completion: @escaping PGCompletion) {
        query(sql, params, planEachTime: planEachTime, sync: true, completion: completion)
    }

    /// `query`; `sync: false` lets the server answer it with the statements after it (see PQConnection.send).
    private func query(_ sql: String, _ params: [String?], planEachTime: Bool, sync: Bool,
                       completion: @escaping PGCompletion) {
        if closed {
            completion(.failure(PGError(code: .closed, message: "connection closed")))
            return
        }
        if connection == nil || connection!.isDead, let e = lastError {
            // Connect failed or the connection broke: nothing will ever run this.
            completion(.failure(e.code == .connectFailed ? e : PGError(code: .connectionLost, message: e.message)))
            return
        }
        if pendingStatements >= maxQueuedStatements {
            statementsFailed &+= 1
            completion(.failure(PGError(code: .overloaded, message: "\(pendingStatements) statements waiting")))
            return
        }
        queue.append((sql, params, planEachTime, sync, completion))
        pump()
    }

    /// Runs `statements` as one transaction: BEGIN, each statement, COMMIT, queued together so nothing interleaves.
    /// (All or nothing is queued: when `maxQueuedStatements` leaves no room for all of them, the completion gets
    /// `.overloaded` and nothing runs.)
    /// If a statement fails, the server aborts the transaction: the rest fail with SQLSTATE 25P02 and the COMMIT
    /// becomes a ROLLBACK; the completion gets the first error. On success it gets one result per statement.
    public func transaction(_ statements: [(sql: String, params: [String?])],
                            completion: @escaping (Result<[PGResult], PGError>) -> Void) {
        transaction(statements.map { ($0.sql, $0.params, false) }, completion: completion)
    }

    /// `transaction` with `planEachTime` (see `query`) per statement.
    func transaction(_ statements: [(sql: String, params: [String?], planEachTime: Bool)],
                     completion: @escaping (Result<[PGResult], PGError>) -> Void) {
        final class Collector {
            var results: [PGResult] = []
            var firstError: PGError?
        }
        if pendingStatements + statements.count + 2 > maxQueuedStatements {
            completion(.failure(PGError(code: .overloaded, message: "\(pendingStatements) statements waiting")))
            return
        }
        let c = Collector()
        let record: PGCompletion = { r in
            switch r {
            case .success(let res): c.results.append(res)
            case .failure(let e): if c.firstError == nil { c.firstError = e }
            }
        }
        // One Sync after the last statement rather than one each: the server sends the batch's results in one
        // write. An error skips the rest up to that Sync; the COMMIT after it then rolls back.
        query("BEGIN", [], planEachTime: false, sync: statements.isEmpty, completion: record)
        for (i, s) in statements.enumerated() {
            query(s.sql, s.params, planEachTime: s.planEachTime, sync: i == statements.count - 1, completion: record)
        }
        query("COMMIT") { r in
            if let e = c.firstError { completion(.failure(e)); return }
            switch r {
            case .failure(let e): completion(.failure(e))
            case .success(let res) where res.commandTag != "COMMIT":
                completion(.failure(PGError(code: .server, sqlState: "25P02", message: "transaction rolled back")))
            case .success:
                completion(.success(Array(c.results.dropFirst())))   // drop BEGIN's result
            }
        }
    }

    /// Closes the connection; queued statements fail with `.closed`. Loop thread.
    public func close() {
        guard !closed else { return }
        closed = true
        connection?.close()
        failAll(PGError(code: .closed, message: "connection closed"))
    }

    // MARK: Internals

    private func handle(_ event: PQConnection.Event) {
        switch event {
        case .connected:
            connected = true
            logger.notice("postgres connected")
            onStateChange?(true, nil)
            pump()
        case .completed(let result):
            guard inFlightHead < inFlight.count else { return }   // after close()/failAll
            let completion = inFlight[inFlightHead]
            inFlightHead += 1
            if inFlightHead == inFlight.count {
                inFlight.removeAll(keepingCapacity: true)
                inFlightHead = 0
            }
            if case .success = result { statementsSucceeded &+= 1 } else { statementsFailed &+= 1 }
            completion(result)
            pump()
        case .failed(let error):
            fail(error)
        }
    }

    private func fail(_ error: PGError) {
        lastError = error
        let wasConnected = connected
        connected = false
        logger.warning("postgres connection failed", metadata: ["error": "\(error)"])
        failAll(error.code == .connectFailed ? error : PGError(code: .connectionLost, message: error.message))
        if wasConnected || error.code == .connectFailed { onStateChange?(false, error) }
    }

    private func failAll(_ error: PGError) {
        let sent = inFlight[inFlightHead...]
        inFlight = []
        inFlightHead = 0
        statementsFailed &+= UInt64(sent.count)
        for c in sent { c(.failure(error)) }
        while queueHead < queue.count {
            let c = queue[queueHead].completion
            queueHead += 1
            statementsFailed &+= 1
            c(.failure(error))
        }
        queue.removeAll()
        queueHead = 0
    }

    private func pump() {
        guard !pumping else { return }   // send can complete synchronously (sendFailed): no recursion
        pumping = true
        defer { pumping = false }
        while let c = connection, c.canSend, queueHead < queue.count {
            let next = queue[queueHead]
            queueHead += 1
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
            inFlight.append(next.completion)
            peakInFlight = max(peakInFlight, inFlight.count - inFlightHead)
            c.send(next.sql, next.params, prepare: !next.planEachTime, sync: next.sync)
        }
    }
}
