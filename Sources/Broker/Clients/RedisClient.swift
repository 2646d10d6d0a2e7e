// RedisClient: the public Redis client of the platform (the ingestor's `SET quote:SYM` per flush, snapshots via
// GET/MGET), on one Wire EventLoop, through hiredis's async API.
//
// Owns: configuration, connection lifecycle (connect, connect timeout, reconnect with capped exponential backoff,
// reporting a connected flag plus the last error), and the command API. Pipelining is free: every command issued
// during one loop iteration is appended to hiredis's output buffer and leaves in one write when the socket is
// writable. Leaves the hiredis C glue to HiredisConnection and RESP encoding to RedisCommandEncoder.
// Commands issued while there is no connection fail at once with `.notConnected` (the ingestor rewrites the
// latest quote on its next flush anyway; queueing stale quotes would only delay fresh ones).
import Logging
import Wire

/// Redis client settings.
public struct RedisConfiguration: Sendable {
    /// Server host (IPv4/IPv6 literal or name).
    public var host: String
    /// Server port.
    public var port: Int
    /// Give up a connect attempt after this long (hiredis 0.14's async connect has no timeout of its own).
    public var connectTimeoutNanos: UInt64
    /// First reconnect delay; doubles per failure.
    public var reconnectInitialNanos: UInt64
    /// Reconnect delay cap: 2 s keeps a restarted Redis re-filled within a couple of seconds.
    public var reconnectMaxNanos: UInt64
    /// Commands sent whose replies have not arrived, beyond which `send` answers `.overloaded`: bounds hiredis's
    /// buffers when Redis stalls without disconnecting. 200k is ~2 s of a full feed's SETs (100k symbols/s).
    public var maxOutstandingCommands: Int

    /// Defaults: 1 s connect timeout, 50 ms .. 2 s backoff.
    public init(host: String = "127.0.0.1", port: Int = 6379, connectTimeoutNanos: UInt64 = 1_000_000_000,
                reconnectInitialNanos: UInt64 = 50_000_000, reconnectMaxNanos: UInt64 = 2_000_000_000,
                maxOutstandingCommands: Int = 200_000) {
        precondition(port > 0 && port < 65536, "port")
        precondition(maxOutstandingCommands > 0, "maxOutstandingCommands")
        self.maxOutstandingCommands = maxOutstandingCommands
        precondition(connectTimeoutNanos > 0, "connect timeout")
        self.host = host
        self.port = port
        self.connectTimeoutNanos = connectTimeoutNanos
        self.reconnectInitialNanos = reconnectInitialNanos
        self.reconnectMaxNanos = reconnectMaxNanos
    }

    /// Parses `host:port` (as in `BROKER_TEST_REDIS`). Returns nil when malformed.
    public init?(address: String) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              port > 0, port < 65536 else { return nil }
        self.init(host: String(address[..<colon]), port: port)
    }
}

/// What happened to a command handed to `RedisClient`.
public enum RedisSendResult: Sendable, Equatable {
    /// Queued on the connection; the completion (if any) will be called.
    case queued
    /// No connection: not sent, and the completion will not be called.
    case notConnected
    /// `maxOutstandingCommands` replies are owed already: not sent, completion not called. Market data drops
    /// (the next flush writes the newest quote anyway); other callers back off.
    case overloaded
}

/// A Redis client driven by one event loop. Loop thread only.
public final class RedisClient {
    /// Called on every change of `isConnected`, with the error that caused a disconnect (nil when it was asked for).
    public var onConnectionChange: ((_ connected: Bool, _ error: RedisError?) -> Void)?
    /// Whether commands can be sent now.
    public var isConnected: Bool { connection?.isConnected ?? false }
    /// The most recent connection error (cleared on a successful connect).
    public private(set) var lastError: RedisError?
    /// Successful connects so far (1 after the first connect; more after reconnects).
    public private(set) var connectCount = 0
    /// Connect attempts so far, successful or not (grows while the server is away).
    public private(set) var connectAttempts = 0
    /// Commands handed to hiredis.
    public private(set) var commandsSent: UInt64 = 0
    /// Commands refused with `.notConnected` or `.overloaded`.
    public private(set) var commandsRefused: UInt64 = 0

    /// The configuration in use.
    public let configuration: RedisConfiguration
    unowned let loop: EventLoop
    private let logger: Logger
    private var connection: HiredisConnection?
    private var backoff: RedisReconnectBackoff
    private var reconnectTimer: TimerHandle?
    private var connectTimer: TimerHandle?
    private var closed = false
    private var encoder = RedisCommandEncoder()

    /// Creates the client; `connect()` starts connecting.
    public init(configuration: RedisConfiguration, loop: EventLoop, logger: Logger) {
        self.configuration = configuration
        self.loop = loop
        self.logger = logger
        self.backoff = RedisReconnectBackoff(initialNanos: configuration.reconnectInitialNanos,
                                             maxNanos: configuration.reconnectMaxNanos)
    }

    deinit {
        if let t = reconnectTimer { loop.cancel(t) }
        if let t = connectTimer { loop.cancel(t) }
    }

    /// Starts connecting; from now on the client reconnects by itself until `close()`. Loop thread.
    public func connect() {
        precondition(!closed, "connect after close")
        guard connection == nil, reconnectTimer == nil else { return }
        attempt()
    }

    /// Closes the connection after pending replies arrive, and stops reconnecting. Loop thread.
    public func close() {
        closed = true
        if let t = reconnectTimer { loop.cancel(t); reconnectTimer = nil }
        if let t = connectTimer { loop.cancel(t); connectTimer = nil }
        connection?.disconnect()
    }

    private func attempt() {
        reconnectTimer = nil
        connectAttempts += 1
        do {
            let c = try HiredisConnection(host: configuration.host, port: configuration.port, loop: loop,
                                          logger: logger) { [unowned self] event in
                // Unowned: connections are owned by self and torn down (silently) in deinit.
                self.handle(event)
            }
            connection = c
            connectTimer = loop.schedule(afterNanos: configuration.connectTimeoutNanos) { [weak self, weak c] in
                guard let self, let c, self.connection === c, !c.isConnected else { return }
                self.connectTimer = nil
                self.failed(RedisError(code: .connectFailed, message: "connect timed out"), wasConnected: false)
                c.free()
            }
        } catch {
            failed(error, wasConnected: false)
        }
    }

    private func handle(_ event: HiredisConnection.Event) {
        switch event {
        case .connected:
            if let t = connectTimer { loop.cancel(t); connectTimer = nil }
            backoff.reset()
            lastError = nil
            connectCount += 1
            logger.notice("redis connected", metadata: ["server": "\(configuration.host):\(configuration.port)"])
            onConnectionChange?(true, nil)
        case .disconnected(let error, let wasConnected):
            if let t = connectTimer { loop.cancel(t); connectTimer = nil }
            failed(error, wasConnected: wasConnected)
        }
    }

    /// The current connection is gone (hiredis frees it after this returns); report and schedule a retry.
    private func failed(_ error: RedisError?, wasConnected: Bool) {
        let old = connection
        connection = nil
        if let error { lastError = error }
        if wasConnected {
            logger.warning("redis disconnected", metadata: ["error": "\(error.map { "\($0)" } ?? "closed")"])
            onConnectionChange?(false, error)
        }
        // Keep the old connection object alive until hiredis has finished with it (we may be inside its callback).
        if let old { loop.schedule(afterNanos: 0) { withExtendedLifetime(old) {} } }
        guard !closed else { return }
        let delay = backoff.nextDelay()
        logger.debug("redis reconnect scheduled", metadata: ["delay_ms": "\(delay / 1_000_000)"])
        reconnectTimer = loop.schedule(afterNanos: delay) { [weak self] in self?.attempt() }
    }

    // MARK: Commands

    /// Sends a command built by `build` (RESP, see `RedisCommandEncoder`). The fastest path: no allocation
    /// beyond hiredis's own per-command bookkeeping. Loop thread.
    @discardableResult
    public func send(_ build: (inout RedisCommandEncoder) -> Void,
                     completion: RedisCompletion? = nil) -> RedisSendResult {
        guard let c = connection else {
            commandsRefused &+= 1
            return .notConnected
        }
        if c.outstanding >= configuration.maxOutstandingCommands {
            commandsRefused &+= 1
            return .overloaded
        }
        encoder.reset()
        build(&encoder)
        let ok = encoder.bytes.withUnsafeBytes { c.send(encoded: $0, completion: completion) }
        if ok { commandsSent &+= 1 } else { commandsRefused &+= 1 }
        return ok ? .queued : .notConnected
    }

    /// Sends `arguments` as one command.
    @discardableResult
    public func send(_ arguments: [String], completion: RedisCompletion? = nil) -> RedisSendResult {
        send({ $0.command(arguments) }, completion: completion)
    }

    /// `SET key value`.
    @discardableResult
    public func set(_ key: String, _ value: UnsafeRawBufferPointer, completion: RedisCompletion? = nil)
        -> RedisSendResult {
        send({ e in
            e.beginCommand(argumentCount: 3)
            e.append("SET" as StaticString)
            e.append(key)
            e.append(value)
        }, completion: completion)
    }

    /// `SET key value` with the key as bytes too: the ingestor's hot path (`quote:SYM` kept pre-encoded per symbol
    /// id), which allocates nothing per command on our side.
    @discardableResult
    public func set(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, completion: RedisCompletion? = nil)
        -> RedisSendResult {
        send({ e in
            e.beginCommand(argumentCount: 3)
            e.append("SET" as StaticString)
            e.append(key)
            e.append(value)
        }, completion: completion)
    }

    /// `SET key value` with a text value.
    @discardableResult
    public func set(_ key: String, _ value: String, completion: RedisCompletion? = nil) -> RedisSendResult {
        var v = value
        return v.withUTF8 { set(key, UnsafeRawBufferPointer($0), completion: completion) }
    }

    /// `GET key`: `.bulk` or `.null`.
    @discardableResult
    public func get(_ key: String, completion: @escaping RedisCompletion) -> RedisSendResult {
        send(["GET", key], completion: completion)
    }

    /// `MGET k1 k2 ...`: an `.array` of `.bulk`/`.null` in key order.
    @discardableResult
    public func mget(_ keys: [String], completion: @escaping RedisCompletion) -> RedisSendResult {
        send({ e in
            e.beginCommand(argumentCount: keys.count + 1)
            e.append("MGET" as StaticString)
            for k in keys { e.append(k) }
        }, completion: completion)
    }

    /// `PING`: `.status("PONG")`.
    @discardableResult
    public func ping(completion: @escaping RedisCompletion) -> RedisSendResult {
        send({ e in
            e.beginCommand(argumentCount: 1)
            e.append("PING" as StaticString)
        }, completion: completion)
    }

    /// Commands sent with a completion that still wait for their reply.
    public var pendingReplies: Int { connection?.pendingCount ?? 0 }
    /// All commands sent whose reply has not arrived yet (see `maxOutstandingCommands`).
    public var outstandingCommands: Int { connection?.outstanding ?? 0 }
}
