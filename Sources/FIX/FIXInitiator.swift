// A FIX initiator: connects, logs on, and reconnects with capped exponential backoff.
//
// Owns: the connect/reconnect schedule. Leaves the session to `FIXConnection`.
// Backoff: ReconnectInterval doubled per failed attempt up to MaxReconnectInterval (QuickFIX
// reconnects at a fixed interval; doubling spares a peer that is down), reset once logged on.

public import Logging
public import Wire

/// Connects one session to its acceptor and keeps it connected until stopped. Keep a strong
/// reference while it should run (reconnect timers hold it weakly).
public final class FIXInitiator {
    /// The session.
    public let connection: FIXConnection
    /// Connection attempts since the last successful logon.
    public private(set) var failedAttempts = 0
    private var reconnectTimer: TimerHandle?
    private var stopped = true
    private let logger: Logger
    /// When set, the session runs over TLS (FIX over TLS; verification per the config).
    public var tls: TLSClientConfig?

    /// Creates an initiator for `settings` (role must be `.initiator`).
    /// - Throws: `FIXStoreError` when the store cannot be opened.
    public init(
        settings: FIXSessionSettings, loop: EventLoop, application: (any FIXApplication)?, logger: Logger = Logger(label: "fix"),
        clock: @escaping () -> FIXTimestamp = FIXTimestamp.now
    ) throws(FIXStoreError) {
        precondition(settings.role == .initiator, "FIXInitiator needs an initiator session")
        connection = try FIXConnection(
            settings: settings, loop: loop, application: application, logger: logger, clock: clock)
        self.logger = logger
        connection.onLogon = { [weak self] in self?.failedAttempts = 0 }
        connection.onClose = { [weak self] _ in self?.scheduleReconnect() }
    }

    /// The delay before reconnect attempt `attempt` (1-based), in seconds.
    public static func backoff(attempt: Int, initial: Int, maximum: Int) -> Int {
        var d = initial
        var k = 1
        while k < attempt && d < maximum {
            d *= 2
            k += 1
        }
        return min(d, maximum)
    }

    /// Starts connecting (loop thread).
    public func start() {
        stopped = false
        connect()
    }

    /// Logs out (if logged on) and stops reconnecting (loop thread).
    public func stop() {
        stopped = true
        if let t = reconnectTimer { connection.loop.cancel(t) }
        reconnectTimer = nil
        if connection.isLoggedOn {
            connection.logout(text: nil)
        } else {
            connection.tcp?.close()
        }
    }

    private func connect() {
        guard !stopped, connection.tcp == nil else { return }
        let s = connection.settings
        do {
            let c = try TCPConnection.connect(host: s.host, port: s.port, on: connection.loop, tls: tls,
                                              handler: connection)
            connection.attach(c, connected: false)
        } catch {
            logger.notice("FIX connect failed", metadata: ["target": "\(s.host):\(s.port)", "error": "\(error)"])
            scheduleReconnect()
        }
    }

    private func scheduleReconnect() {
        guard !stopped else { return }
        failedAttempts += 1
        let s = connection.settings
        let delay = Self.backoff(attempt: failedAttempts, initial: s.reconnectInterval, maximum: s.maxReconnectInterval)
        reconnectTimer = connection.loop.schedule(afterNanos: UInt64(delay) * 1_000_000_000) { [weak self] in
            self?.reconnectTimer = nil
            self?.connect()
        }
    }
}
