// PQConnection: one libpq connection (`PGconn`) driven non-blockingly by a Wire EventLoop.
//
// Owns: the PGconn pointer, the socket watch, the asynchronous connect (PQconnectStart + PQconnectPoll, following
// the socket when libpq swaps it between attempts), PQsetnonblocking, sending (PQsendQueryParams, text parameters,
// or in pipeline mode a named prepared statement per distinct parameterised SQL text, PQflush until done), receiving (PQconsumeInput, PQisBusy, PQgetResult until NULL), converting PGresult to
// PGResult/PGError, and routing server notices to the logger. One statement in flight at a time.
// Leaves the queue of statements, ordering and transactions to PostgresConnection.
// (libpq docs: "Asynchronous Command Processing" 34.4, "Connection Control Functions" PQconnectStartParams 34.1.)
internal import CLibPQ
import Glibc
import Logging
import Wire

final class PQConnection: FDWatcher {
    enum Event {
        case connected
        /// The statement sent with `send` finished.
        case completed(Result<PGResult, PGError>)
        /// Connect failed or the connection broke; no more events follow.
        case failed(PGError)
    }

    private enum State { case connecting, open, dead }
    /// What the server still owes us, in order: a statement's results (ending with NULL), or a Sync's
    /// PGRES_PIPELINE_SYNC (pipeline mode only; not followed by NULL).
    /// `prepare`: the results of a PQsendPrepare sent just before its first execution (not reported on its own).
    private enum Awaiting { case statement, sync, prepare(sql: String) }

    unowned let loop: EventLoop
    /// `PGconn *`; valid until deinit (PQfinish).
    private let conn: OpaquePointer
    private var registration: FDRegistration?
    private var watchedFD: CInt = -1
    private var state = State.connecting
    private var pending: Result<PGResult, PGError>?
    private var awaiting: [Awaiting] = []
    private var awaitingHead = 0
    private(set) var statementsInFlight = 0
    /// Statement names by SQL text (pipeline mode only): parsing and planning happen once per connection instead
    /// of once per execution, which is most of the server's CPU for the order path's short statements.
    /// A name is used only once its preparation succeeded (`ready`): statements sent while it is outstanding run
    /// unprepared, so a failed preparation takes no later statement down with it.
    private var prepared: [String: (name: String, ready: Bool)] = [:]
    /// Why the last PQsendPrepare failed; reported for the execution that followed it (which the server skips).
    private var prepareError: PGError?
    private var preparedCount = 0
    /// Distinct statements prepared per connection at most; later ones run unprepared.
    static let maxPrepared = 256
    /// 1 = classic one-at-a-time; more = pipeline mode.
    let maxInFlight: Int
    private let onEvent: (Event) -> Void
    let logger: Logger

    /// Starts connecting with a libpq conninfo string (`host=... dbname=... user=...`).
    /// - Throws: `PGError` `.connectFailed` when libpq rejects the conninfo or cannot start.
    init(conninfo: String, maxInFlight: Int, loop: EventLoop, logger: Logger,
         onEvent: @escaping (Event) -> Void) throws(PGError) {
        precondition(maxInFlight >= 1, "maxInFlight")
        guard let conn = PQconnectStart(conninfo) else {
            throw PGError(code: .connectFailed, message: "PQconnectStart: out of memory")
        }
        if PQstatus(conn) == CONNECTION_BAD {
            let message = Self.errorMessage(conn)
            PQfinish(conn)
            throw PGError(code: .connectFailed, message: message)
        }
        self.conn = conn
        self.maxInFlight = maxInFlight
        self.loop = loop
        self.logger = logger
        self.onEvent = onEvent
        // Unretained: the receiver can only run inside libpq calls we make, all before PQfinish in deinit.
        PQsetNoticeReceiver(conn, pqNoticeReceiver, Unmanaged.passUnretained(self).toOpaque())
        // libpq: after PQconnectStart, behave as if PQconnectPoll returned PGRES_POLLING_WRITING.
        watch(readable: false, writable: true)
    }

    deinit {
        if let r = registration { loop.unwatch(r) }
        PQfinish(conn)
    }

    var isOpen: Bool { state == .open }
    var isDead: Bool { state == .dead }
    /// Whether `send` may be called now.
    var canSend: Bool { state == .open && statementsInFlight < maxInFlight }

    /// Sends one statement with text parameters. Only when `canSend`; the outcome arrives as `.completed`, in
    /// send order. `prepare: false` runs it unnamed (parsed and planned with its values) even in pipeline mode.
    /// `sync: false` (pipeline mode) sends no Sync after it: the server answers it together with the statements
    /// up to the next Sync (one flush instead of one each), and an error there skips them (PGRES_PIPELINE_ABORTED).
    /// A Sync is sent anyway when this fills the pipeline, so results never wait behind one that cannot be sent.
    func send(_ sql: String, _ params: [String?], prepare: Bool = true, sync: Bool = true) {
        precondition(canSend, "send without capacity")
        // libpq copies parameter values into its output buffer during the call, so they only need to live until
        // it returns.
        let cParams: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0)! } }
        defer { for p in cParams { free(p) } }
        // Prepared only in pipeline mode (the prepare and the execution go out back to back, no round trip) and
        // only for parameterised SQL: a parameterless string may hold several statements, which cannot be prepared.
        let preparable = prepare && maxInFlight > 1 && !params.isEmpty
        let known = preparable ? prepared[sql] : nil
        var name = known?.ready == true ? known?.name : nil
        var prepareSent = false
        if known == nil, preparable, prepared.count < Self.maxPrepared {
            preparedCount += 1
            let n = "broker_s\(preparedCount)"
            guard PQsendPrepare(conn, n, sql, Int32(params.count), nil) == 1 else {
                die(PGError(code: .connectionLost, message: Self.errorMessage(conn)))
                return
            }
            prepared[sql] = (n, false)
            name = n
            prepareSent = true
        }
        let ok = cParams.withUnsafeBufferPointer { values in
            values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { v in
                if let name {
                    PQsendQueryPrepared(conn, name, Int32(params.count), v.baseAddress, nil, nil, 0)
                } else {
                    PQsendQueryParams(conn, sql, Int32(params.count), nil, v.baseAddress, nil, nil, 0)
                }
            }
        }
        if prepareSent { awaiting.append(.prepare(sql: sql)) }
        let syncNow = maxInFlight > 1 && (sync || statementsInFlight + 1 >= maxInFlight)
        guard ok == 1, !syncNow || PQpipelineSync(conn) == 1 else {
            // Nothing was queued (or, in pipeline mode, libpq can no longer queue): the connection is unusable
            // or the statement malformed; either way report it in order.
            let e = PGError(code: .sendFailed, message: Self.errorMessage(conn))
            if PQstatus(conn) == CONNECTION_BAD || statementsInFlight > 0 || prepareSent {
                die(PGError(code: .connectionLost, message: e.message))
            } else {
                onEvent(.completed(.failure(e)))
            }
            return
        }
        statementsInFlight += 1
        awaiting.append(.statement)
        if syncNow { awaiting.append(.sync) }
        flush()
    }

    /// Closes the connection now; no events follow.
    func close() {
        state = .dead
        if let r = registration { loop.unwatch(r); registration = nil }
    }

    // MARK: I/O

    private func flush() {
        // PQflush: 0 = all sent, 1 = more to send (wait for writable), -1 = failure.
        switch PQflush(conn) {
        case 0: watch(readable: true, writable: false)
        case 1: watch(readable: true, writable: true)
        default: die(PGError(code: .connectionLost, message: Self.errorMessage(conn)))
        }
    }

    private func continueConnecting() {
        switch PQconnectPoll(conn) {
        case PGRES_POLLING_READING: watch(readable: true, writable: false, fresh: true)
        case PGRES_POLLING_WRITING: watch(readable: false, writable: true, fresh: true)
        case PGRES_POLLING_OK:
            if PQsetnonblocking(conn, 1) != 0 {
                die(PGError(code: .connectFailed, message: Self.errorMessage(conn)))
                return
            }
            if maxInFlight > 1 && PQenterPipelineMode(conn) != 1 {
                die(PGError(code: .connectFailed, message: "PQenterPipelineMode: " + Self.errorMessage(conn)))
                return
            }
            state = .open
            // Readable: to notice the server closing an idle connection.
            watch(readable: true, writable: false, fresh: true)
            onEvent(.connected)
        default:
            die(PGError(code: .connectFailed, message: Self.errorMessage(conn)))
        }
    }

    private func receive() {
        guard PQconsumeInput(conn) == 1 else {
            die(PGError(code: .connectionLost, message: Self.errorMessage(conn)))
            return
        }
        // PQgetResult only when PQisBusy says it will not block, and only while we await something: with nothing
        // outstanding only notices can arrive, and a closed socket shows up as CONNECTION_BAD.
        results: while awaitingHead < awaiting.count && PQisBusy(conn) == 0 {
            let r = PQgetResult(conn)
            switch awaiting[awaitingHead] {
            case .prepare(let sql):
                guard let r else { popAwaiting(); continue }
                if case .failure(let e) = Self.convert(r) {
                    // The execution after it is aborted by the server (same Sync); it reports this instead, and
                    // the text is prepared afresh next time.
                    prepareError = e
                    prepared[sql] = nil
                } else {
                    prepared[sql]?.ready = true
                }
                PQclear(r)
            case .sync:
                guard let r else { break results }   // defensive: libpq sends no NULL before a Sync result
                let status = PQresultStatus(r)
                PQclear(r)
                if status == PGRES_PIPELINE_SYNC { popAwaiting() }
            case .statement:
                guard let r else {
                    // NULL: this statement's results are complete (libpq 34.4: PQgetResult until NULL).
                    popAwaiting()
                    statementsInFlight -= 1
                    var outcome = pending ?? .failure(PGError(code: .connectionLost, message: Self.errorMessage(conn)))
                    if let e = prepareError, case .failure = outcome { outcome = .failure(e) }
                    pending = nil
                    prepareError = nil
                    onEvent(.completed(outcome))
                    if state == .dead { return }
                    continue
                }
                let converted = Self.convert(r)
                PQclear(r)
                // A multi-statement string yields several results: keep the first error, else the last result.
                if case .failure = pending {} else { pending = converted }
            }
        }
        if PQstatus(conn) == CONNECTION_BAD { die(PGError(code: .connectionLost, message: Self.errorMessage(conn))) }
    }

    private func popAwaiting() {
        awaitingHead += 1
        if awaitingHead == awaiting.count {
            awaiting.removeAll(keepingCapacity: true)
            awaitingHead = 0
        }
    }

    private func die(_ error: PGError) {
        guard state != .dead else { return }
        state = .dead
        if let r = registration { loop.unwatch(r); registration = nil }
        onEvent(.failed(error))
    }

    /// Watches libpq's current socket with the given interest.
    /// - Parameter fresh: register from scratch. While connecting, PQconnectPoll may close its socket and open
    ///   another (next address, SSL refused -> plain retry), which can get the same fd number: epoll dropped the
    ///   closed one, so modifying "our" registration would silently do nothing. The connect phase is a handful of
    ///   calls, so re-registering each time costs nothing.
    private func watch(readable: Bool, writable: Bool, fresh: Bool = false) {
        let fd = PQsocket(conn)
        guard fd >= 0 else {
            die(PGError(code: .connectFailed, message: Self.errorMessage(conn)))
            return
        }
        if let r = registration, watchedFD == fd, !fresh {
            loop.updateWatch(r, readable: readable, writable: writable)
            return
        }
        if let r = registration { loop.unwatch(r) }
        registration = nil
        do {
            registration = try loop.watch(fd: fd, readable: readable, writable: writable, self)
            watchedFD = fd
        } catch {
            die(PGError(code: .connectFailed, message: "watch: \(error)"))
        }
    }

    // MARK: FDWatcher (loop thread)

    func fdReadable() {
        switch state {
        case .connecting: continueConnecting()
        case .open: receive()
        case .dead: break
        }
    }

    func fdWritable() {
        switch state {
        case .connecting: continueConnecting()
        case .open: flush()
        case .dead: break
        }
    }

    func fdHangup() {
        // Let libpq read the error (or the server's final message) and decide.
        fdReadable()
    }

    // MARK: Conversion

    static func errorMessage(_ conn: OpaquePointer) -> String {
        guard let m = PQerrorMessage(conn) else { return "unknown libpq error" }
        var s = String(cString: m)
        while s.last == "\n" { s.removeLast() }
        return s
    }

    static func convert(_ r: OpaquePointer) -> Result<PGResult, PGError> {
        switch PQresultStatus(r) {
        case PGRES_PIPELINE_ABORTED:
            // An earlier statement before the same Sync failed (inside a transaction's statements, which share
            // one Sync); the transaction reports that first error.
            return .failure(PGError(code: .server, sqlState: "25P02", message: "aborted by an earlier error"))
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            let nColumns = PQnfields(r)
            let nRows = PQntuples(r)
            let columns = (0..<nColumns).map { String(cString: PQfname(r, $0)) }
            var rows: [[String?]] = []
            rows.reserveCapacity(Int(nRows))
            for row in 0..<nRows {
                rows.append((0..<nColumns).map { col in
                    // PQgetvalue returns "" for NULL; PQgetisnull tells them apart.
                    PQgetisnull(r, row, col) == 1 ? nil : String(cString: PQgetvalue(r, row, col))
                })
            }
            let tag = PQcmdStatus(r).map { String(cString: $0) } ?? ""
            let affected = PQcmdTuples(r).flatMap { Int(String(cString: $0)) }
            return .success(PGResult(columns: columns, rows: rows, commandTag: tag, rowsAffected: affected))
        default:
            // PG_DIAG_SQLSTATE is the character macro 'C', which Swift does not import.
            let sqlState = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            var message = PQresultErrorMessage(r).map { String(cString: $0) } ?? "statement failed"
            while message.last == "\n" { message.removeLast() }
            return .failure(PGError(code: .server, sqlState: sqlState, message: message))
        }
    }

    fileprivate func notice(_ text: String) {
        logger.debug("postgres notice", metadata: ["notice": "\(text)"])
    }
}

/// libpq notice receiver: called from inside PQconsumeInput/PQgetResult, i.e. on the loop thread.
private let pqNoticeReceiver: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Void = { arg, res in
    guard let arg, let res else { return }
    // Unretained: set in PQConnection.init, only called while that object runs libpq calls.
    let owner = Unmanaged<PQConnection>.fromOpaque(arg).takeUnretainedValue()
    owner.notice(PQresultErrorMessage(res).map { String(cString: $0) } ?? "")
}
