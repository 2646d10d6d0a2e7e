// Redis value types: replies, errors, the RESP command encoder and the reconnect backoff state machine.
//
// Owns: everything about Redis that needs no socket and no hiredis, so it is testable on its own.
// Leaves to HiredisConnection (the C glue) and RedisClient (the public client): I/O and lifecycle.

/// A reply from Redis (RESP2), copied out of hiredis's reply object.
public enum RedisReply: Sendable, Hashable {
    /// `+OK` and other simple strings.
    case status(String)
    /// `:123`.
    case integer(Int64)
    /// `$n` bulk string bytes.
    case bulk([UInt8])
    /// `$-1` / `*-1`: no such key.
    case null
    /// `*n`.
    case array([RedisReply])

    /// The bulk string as UTF-8 text, nil for other replies.
    public var string: String? {
        if case .bulk(let b) = self { return String(decoding: b, as: UTF8.self) }
        if case .status(let s) = self { return s }
        return nil
    }
}

/// A failed Redis command or connection.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure; extensible.
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: Int
        /// Wraps a raw code.
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// No connection right now (connecting or backing off): the command was not sent.
        public static let notConnected = Code(rawValue: 1)
        /// The connection dropped before the reply came; the command may or may not have run.
        public static let connectionLost = Code(rawValue: 2)
        /// Connecting failed (refused, unreachable, timed out).
        public static let connectFailed = Code(rawValue: 3)
        /// The server answered with an error reply (`-ERR ...`, `-WRONGTYPE ...`).
        public static let server = Code(rawValue: 4)
        /// The client was closed.
        public static let closed = Code(rawValue: 5)
        /// hiredis reported a protocol or out-of-memory error.
        public static let protocolError = Code(rawValue: 6)
    }

    /// The kind of failure.
    public let code: Code
    /// Detail: hiredis's errstr or the server's error line.
    public let message: String

    /// Builds an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Whether trying again later may work: everything but server errors, protocol errors and `closed`.
    public var isRetriable: Bool { code == .notConnected || code == .connectionLost || code == .connectFailed }

    /// `code: message`.
    public var description: String { "redis error \(code.rawValue): \(message)" }
}

/// Completion of one command: the reply, or why there is none. Server error replies arrive as
/// `RedisError` with code `.server`.
public typealias RedisCompletion = (Result<RedisReply, RedisError>) -> Void

/// Encodes commands as RESP arrays of bulk strings (the Redis protocol spec, "Sending commands to a Redis
/// server") into a reusable byte array, so building a command allocates nothing once warmed up.
public struct RedisCommandEncoder {
    /// The encoded bytes of the commands appended since the last `reset`.
    public private(set) var bytes: [UInt8] = []

    /// An empty encoder reserving `capacity` bytes.
    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    /// Forgets the encoded bytes, keeping the storage.
    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    /// Starts a command of `count` arguments (the command name counts).
    public mutating func beginCommand(argumentCount count: Int) {
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(count)
        bytes.append(13); bytes.append(10)
    }

    /// Appends one argument.
    public mutating func append(_ argument: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(argument.count)
        bytes.append(13); bytes.append(10)
        bytes.append(contentsOf: argument)
        bytes.append(13); bytes.append(10)
    }

    /// Appends one argument given as text.
    public mutating func append(_ argument: String) {
        var s = argument
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends one argument given as static text (command names).
    public mutating func append(_ argument: StaticString) {
        append(UnsafeRawBufferPointer(start: argument.utf8Start, count: argument.utf8CodeUnitCount))
    }

    /// Appends a whole command.
    public mutating func command(_ arguments: [String]) {
        beginCommand(argumentCount: arguments.count)
        for a in arguments { append(a) }
    }

    private mutating func appendDecimal(_ value: Int) {
        precondition(value >= 0)
        if value < 10 { bytes.append(UInt8(48 + value)); return }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while n > 0 {
                d[count] = UInt8(48 + n % 10)
                n /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(d[i]) }
        }
    }
}

/// Exponential reconnect backoff with a cap; a pure state machine (time is passed in by the caller's timer).
public struct RedisReconnectBackoff: Sendable, Equatable {
    /// First delay after a failure.
    public let initialNanos: UInt64
    /// Largest delay.
    public let maxNanos: UInt64
    /// The delay the next failure will wait.
    public private(set) var currentNanos: UInt64

    /// A backoff starting at `initialNanos`, doubling up to `maxNanos`.
    public init(initialNanos: UInt64, maxNanos: UInt64) {
        precondition(initialNanos > 0 && maxNanos >= initialNanos, "backoff bounds")
        self.initialNanos = initialNanos
        self.maxNanos = maxNanos
        self.currentNanos = initialNanos
    }

    /// The delay before the next attempt; doubles the following one.
    public mutating func nextDelay() -> UInt64 {
        let d = currentNanos
        currentNanos = min(maxNanos, currentNanos &* 2)
        return d
    }

    /// Back to the initial delay, after a successful connect.
    public mutating func reset() { currentNanos = initialNanos }
}
