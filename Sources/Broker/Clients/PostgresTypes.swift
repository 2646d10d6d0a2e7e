// PostgreSQL value types shared by PQConnection (libpq glue) and PostgresConnection (public API):
// query results as rows of optional text, and errors carrying SQLSTATE.

/// The result of one successful statement, in libpq's text format.
public struct PGResult: Sendable, Equatable {
    /// Column names, in order.
    public let columns: [String]
    /// Rows of column values; nil is SQL NULL.
    public let rows: [[String?]]
    /// The command tag, e.g. `INSERT 0 3`, `SELECT 2`, `COMMIT`, `ROLLBACK`.
    public let commandTag: String
    /// Rows affected by INSERT/UPDATE/DELETE/SELECT/..., nil for other commands (`PQcmdTuples`).
    public let rowsAffected: Int?

    /// Builds a result (tests, in-memory stand-ins).
    public init(columns: [String], rows: [[String?]], commandTag: String, rowsAffected: Int?) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
        self.rowsAffected = rowsAffected
    }

    /// The value at `row`, column named `name`; nil when NULL or no such column.
    public func value(_ row: Int, _ name: String) -> String? {
        guard let c = columns.firstIndex(of: name) else { return nil }
        return rows[row][c]
    }
}

/// A failed PostgreSQL statement or connection.
public struct PGError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure; extensible.
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: Int
        /// Wraps a raw code.
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The server rejected the statement: see `sqlState`.
        public static let server = Code(rawValue: 1)
        /// Could not connect (bad conninfo, refused, authentication failed).
        public static let connectFailed = Code(rawValue: 2)
        /// The connection broke; the statement may or may not have been executed.
        public static let connectionLost = Code(rawValue: 3)
        /// libpq refused to send the statement (e.g. out of memory, bad parameters).
        public static let sendFailed = Code(rawValue: 4)
        /// The connection was closed before the statement ran.
        public static let closed = Code(rawValue: 5)
        /// `maxQueuedStatements` are waiting already: not queued (back off; the database is behind).
        public static let overloaded = Code(rawValue: 6)
    }

    /// The kind of failure.
    public let code: Code
    /// The five-character SQLSTATE for server errors (e.g. `23505` unique violation, `40001` serialization
    /// failure, `25P02` in failed transaction); nil otherwise.
    public let sqlState: String?
    /// The server's or libpq's message.
    public let message: String

    /// Builds an error.
    public init(code: Code, sqlState: String? = nil, message: String) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
    }

    /// Whether running the same work again may succeed: serialization failures and deadlocks (SQLSTATE class 40),
    /// connection problems (class 08 and lost connections), and server shutdown/"too many connections" (57P, 53300).
    public var isRetriable: Bool {
        if code == .connectionLost || code == .connectFailed || code == .overloaded { return true }
        guard let s = sqlState else { return false }
        return s.hasPrefix("40") || s.hasPrefix("08") || s.hasPrefix("57P") || s == "53300"
    }

    /// `code/sqlstate: message`.
    public var description: String { "postgres error \(code.rawValue)\(sqlState.map { "/" + $0 } ?? ""): \(message)" }
}
