// A FIX acceptor: listens, routes each new connection to its configured session by CompIDs.
//
// Owns: the listener, the session table keyed by (our SenderCompID, their SenderCompID), and the
// short pre-logon phase in which a connection belongs to no session yet. Leaves the session
// itself to `FIXConnection`.

public import Logging
public import Wire

/// Serves many configured sessions on one port. Keep a strong reference: the listener only holds
/// the acceptor weakly, so dropping it stops new connections from being routed.
public final class FIXAcceptor {
    /// The bound port.
    public let port: Int
    private var listener: TCPListener?
    private var sessions: [String: FIXConnection] = [:]
    private var pending: [ObjectIdentifier: FIXLogonRouter] = [:]
    private let logger: Logger
    /// Connections closed before a Logon routed them (unknown CompIDs, garbage, timeout).
    public private(set) var refusedConnections = 0

    /// Creates the sessions and starts listening (loop thread, or before the loop runs).
    /// - Throws: `FIXStoreError` when a store cannot be opened, `IOError` when the port cannot be bound.
    public init(
        sessions settings: [FIXSessionSettings], host: String, port: Int, loop: EventLoop,
        application: (any FIXApplication)?, logger: Logger = Logger(label: "fix"), clock: @escaping () -> FIXTimestamp = FIXTimestamp.now,
        tls: TLSServerContext? = nil
    ) throws {
        self.logger = logger
        for s in settings {
            precondition(s.role == .acceptor, "FIXAcceptor needs acceptor sessions")
            let c = try FIXConnection(settings: s, loop: loop, application: application, logger: logger, clock: clock)
            sessions[Self.key(ours: s.senderCompID, theirs: s.targetCompID)] = c
        }
        var accept: ((TCPConnection) -> Void)?
        let l = try TCPListener(host: host, port: port, loop: loop) { c in accept?(c) }
        l.tls = tls
        listener = l
        self.port = l.port
        accept = { [weak self] c in self?.accepted(c) }
    }

    /// The session whose SenderCompID is `ours` and TargetCompID `theirs`.
    public func connection(senderCompID ours: String, targetCompID theirs: String) -> FIXConnection? {
        sessions[Self.key(ours: ours, theirs: theirs)]
    }

    /// Every configured session.
    public var connections: [FIXConnection] { Array(sessions.values) }

    /// Stops listening and logs out every session.
    public func close() {
        listener?.close()
        listener = nil
        for c in sessions.values where c.isConnected {
            if c.isLoggedOn { c.logout(text: "Shutting down") } else { c.tcp?.close() }
        }
    }

    static func key(ours: String, theirs: String) -> String { ours + "\u{01}" + theirs }

    private func accepted(_ c: TCPConnection) {
        let router = FIXLogonRouter(acceptor: self)
        pending[ObjectIdentifier(c)] = router
        c.handler = router
        // A connection that never logs on must not hold a descriptor forever.
        c.idleTimeoutNanos = 10_000_000_000
    }

    /// Routes the connection whose first message is `view` (parsed leniently). Returns the session
    /// that took it, or nil after closing it.
    fileprivate func route(_ c: TCPConnection, firstMessage view: FIXMessageView) -> FIXConnection? {
        pending[ObjectIdentifier(c)] = nil
        guard view.msgType == .logon, let theirs = view.string(FIXTag.senderCompID),
            let ours = view.string(FIXTag.targetCompID),
            let session = sessions[Self.key(ours: ours, theirs: theirs)]
        else {
            refuse(c, "no session for this Logon")
            return nil
        }
        guard !session.isConnected else {
            refuse(c, "session already connected")
            return nil
        }
        c.idleTimeoutNanos = 0
        session.attach(c, connected: true)
        return session
    }

    fileprivate func refuse(_ c: TCPConnection, _ why: String) {
        pending[ObjectIdentifier(c)] = nil
        refusedConnections += 1
        logger.notice("FIX connection refused", metadata: ["remote": "\(c.remoteAddress)", "why": "\(why)"])
        c.close()
    }

    fileprivate func forget(_ c: TCPConnection) { pending[ObjectIdentifier(c)] = nil }
}

/// Holds a new connection until its first complete message says which session it is.
final class FIXLogonRouter: TCPConnectionHandler {
    private weak var acceptor: FIXAcceptor?
    private var framer = FIXFramer(maxBodyLength: 64 * 1024)
    private var view = FIXMessageView(capacity: 256)

    init(acceptor: FIXAcceptor) { self.acceptor = acceptor }

    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
        guard let acceptor else {
            c.close()
            return bytes.count
        }
        var offset = 0
        let frame: Range<Int>
        do throws(FIXParseError) {
            guard let f = try framer.nextFrame(bytes, offset: &offset) else {
                if framer.garbageBytesSkipped > 64 * 1024 { acceptor.refuse(c, "no FIX message") }
                return offset
            }
            frame = f
        } catch {
            acceptor.refuse(c, "garbled first message: \(error)")
            return bytes.count
        }
        try? view.parse(UnsafeRawBufferPointer(rebasing: bytes[frame]), options: .lenient)
        guard let session = acceptor.route(c, firstMessage: view) else { return bytes.count }
        // The session parses the Logon again from the start of its frame, with full validation.
        return frame.lowerBound
            + session.connection(c, didReceive: UnsafeRawBufferPointer(rebasing: bytes[frame.lowerBound...]))
    }

    func connectionDidClose(_ c: TCPConnection, error: IOError?) { acceptor?.forget(c) }
}
