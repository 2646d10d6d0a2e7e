// Glue between a FIXSession and a Wire TCPConnection: framing of received bytes, session
// timers on the loop, store flushing once per tick, and delivery to the application.
//
// Owns: `FIXConnection` (one configured session, attached to at most one TCP connection at a
// time), `FIXApplication` (the callbacks), `FIXApplicationMessage`. Reconnecting initiators and
// CompID-routing acceptors are in FIXInitiator.swift / FIXAcceptor.swift.
// Everything here runs on the connection's loop thread.

public import Logging
public import Wire

/// The application side of FIX sessions. Called on the session's loop thread.
public protocol FIXApplication: AnyObject {
    /// Logon completed.
    func fixConnectionDidLogOn(_ connection: FIXConnection)
    /// An in-sequence application message (or a session Reject(3)). The view and its bytes are
    /// valid only during the call: copy what must be kept.
    func fixConnection(_ connection: FIXConnection, didReceive message: FIXMessageView)
    /// The transport closed; `reason` says why when the session asked for it.
    func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?)
}

/// An application message type with a body encoder (D, F, G, 8, 9, V).
public protocol FIXApplicationMessage {
    /// MsgType(35).
    static var msgType: FIXMsgType { get }
    /// Writes the body fields.
    func encode(into e: inout FIXEncoder)
}

extension FIXNewOrderSingle: FIXApplicationMessage {}
extension FIXOrderCancelRequest: FIXApplicationMessage {}
extension FIXOrderCancelReplaceRequest: FIXApplicationMessage {}
extension FIXExecutionReport: FIXApplicationMessage {}
extension FIXOrderCancelReject: FIXApplicationMessage {}
extension FIXMarketDataRequest: FIXApplicationMessage {}

extension FIXTimestamp {
    /// The wall clock (CLOCK_REALTIME).
    public static func now() -> FIXTimestamp { FIXTimestamp(nanoseconds: Int64(Syscalls.realtimeNanos())) }
}

/// Type-erases the store so one connection type serves the memory and the file store.
final class FIXAnyStore: FIXMessageStore {
    let base: any FIXMessageStore
    init(_ base: any FIXMessageStore) { self.base = base }
    var nextSenderMsgSeqNum: Int { base.nextSenderMsgSeqNum }
    var nextTargetMsgSeqNum: Int { base.nextTargetMsgSeqNum }
    var creationTime: FIXTimestamp { base.creationTime }
    func setNextSenderMsgSeqNum(_ value: Int) { base.setNextSenderMsgSeqNum(value) }
    func setNextTargetMsgSeqNum(_ value: Int) { base.setNextTargetMsgSeqNum(value) }
    func save(seqNum: Int, message: UnsafeRawBufferPointer) { base.save(seqNum: seqNum, message: message) }
    func forEachMessage(in range: ClosedRange<Int>, _ body: (Int, UnsafeRawBufferPointer) -> Void) {
        base.forEachMessage(in: range, body)
    }
    func reset(now: FIXTimestamp) { base.reset(now: now) }
    func flush() { base.flush() }
}

/// One configured FIX session bound to the loop; carries it over successive TCP connections.
public final class FIXConnection: TCPConnectionHandler {
    /// The session's settings.
    public let settings: FIXSessionSettings
    /// The loop that owns the session.
    public unowned let loop: EventLoop
    /// Receives logons, messages and disconnects.
    public weak var application: (any FIXApplication)?
    /// The store (memory or file).
    public let store: any FIXMessageStore

    var session: FIXSession<FIXAnyStore>
    private var framer: FIXFramer
    private(set) var tcp: TCPConnection?
    private var actions: [FIXSessionAction] = []
    private var tickTimer: TimerHandle?
    private var closing = false
    private var storeDirty = false
    private var reason: FIXDisconnectReason?
    private let clock: () -> FIXTimestamp
    private let logger: Logger
    /// Owner hooks (initiator reconnects, acceptor bookkeeping).
    var onLogon: (() -> Void)?
    var onClose: ((FIXDisconnectReason?) -> Void)?

    /// Creates the session. Opens the file store when `settings.storeDirectory` is set.
    /// - Throws: `FIXStoreError` when the store cannot be opened.
    public init(
        settings: FIXSessionSettings, loop: EventLoop, application: (any FIXApplication)?,
        logger: Logger = Logger(label: "fix"), clock: @escaping () -> FIXTimestamp = FIXTimestamp.now
    ) throws(FIXStoreError) {
        self.settings = settings
        self.loop = loop
        self.application = application
        self.logger = logger
        self.clock = clock
        if let dir = settings.storeDirectory {
            store = try FIXFileStore(
                directory: dir, senderCompID: settings.senderCompID,
                targetCompID: settings.targetCompID, policy: settings.storeSync, now: clock())
        } else {
            store = FIXMemoryStore(creationTime: clock())
        }
        session = FIXSession(settings: settings, store: FIXAnyStore(store))
        framer = FIXFramer(maxBodyLength: settings.maxBodyLength)
        actions.reserveCapacity(8)
        // Durability before the bytes leave: hooks run before the tick's corked writes (STYLE.md 7).
        // Once per loop iteration, before the loop's corked writes leave: first make the store
        // durable, then hand everything the session encoded this tick to the socket in one
        // buffer (one allocation per tick, not per message, at feed rates; STYLE.md 7).
        loop.addBeforeSleepHook { [weak self] in
            guard let self else { return }
            if self.storeDirty {
                self.storeDirty = false
                self.store.flush()
            }
            self.flushOutbound()
        }
    }

    /// True while logged on.
    public var isLoggedOn: Bool { session.isLoggedOn }
    /// True while a TCP connection is attached.
    public var isConnected: Bool { tcp != nil }
    /// Session counters.
    public var counters: FIXSessionCounters { session.counters }
    /// Garbled frames and skipped garbage bytes on the current connection.
    public var framingStats: (garbledFrames: Int, garbageBytes: Int) {
        (framer.garbledFrames, framer.garbageBytesSkipped)
    }
    /// Why the last connection ended, when the session decided it.
    public var lastDisconnectReason: FIXDisconnectReason? { reason }

    /// Sends an application message; nil (nothing sent) when not logged on.
    @discardableResult
    public func send(_ msgType: FIXMsgType, body: (inout FIXEncoder) -> Void) -> Int? {
        guard let seq = session.send(msgType, now: clock(), body: body) else { return nil }
        storeDirty = true
        return seq
    }

    /// Sends a typed application message.
    @discardableResult
    public func send<M: FIXApplicationMessage>(_ message: M) -> Int? {
        send(M.msgType) { message.encode(into: &$0) }
    }

    /// Sends a typed application message or, while not logged on, keeps it in the store for the peer's next
    /// ResendRequest (`FIXSession.storeForResend`): for reports that must reach the peer whenever it is back.
    /// - Returns: the MsgSeqNum used, or nil when neither was possible (messages not persisted).
    @discardableResult
    public func sendOrStore<M: FIXApplicationMessage>(_ message: M) -> Int? {
        if let seq = send(message) { return seq }
        guard let seq = session.storeForResend(M.msgType, now: clock(), body: { message.encode(into: &$0) }) else {
            return nil
        }
        storeDirty = true
        return seq
    }

    /// Starts a Logout; the connection closes when the peer answers or the logout times out.
    public func logout(text: String? = nil) {
        session.logout(text: text, now: clock(), into: &actions)
        afterSessionCall()
    }

    // MARK: Attaching transports

    /// Takes over an open (accepted) or connecting (initiated) TCP connection.
    func attach(_ c: TCPConnection, connected: Bool) {
        tcp = c
        c.handler = self
        closing = false
        reason = nil
        framer = FIXFramer(maxBodyLength: settings.maxBodyLength)
        if connected { start() }
    }

    private func start() {
        session.connected(now: clock(), into: &actions)
        afterSessionCall()
        scheduleTick()
    }

    private func scheduleTick() {
        // One second is the granularity of HeartBtInt and of every timeout (FIX 4.4 Vol. 2).
        tickTimer = loop.schedule(afterNanos: 1_000_000_000) { [weak self] in
            guard let self, self.tcp != nil else { return }
            self.session.tick(now: self.clock(), into: &self.actions)
            self.afterSessionCall()
            if self.tcp != nil { self.scheduleTick() }
        }
    }

    // MARK: TCPConnectionHandler

    public func connectionDidConnect(_ c: TCPConnection) {
        guard c === tcp else { return }
        logger.debug("FIX connected", metadata: ["session": "\(settings.senderCompID)->\(settings.targetCompID)"])
        start()
    }

    public func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
        guard c === tcp else { return bytes.count }
        var offset = 0
        while !closing {
            do throws(FIXParseError) {
                guard let frame = try framer.nextFrame(bytes, offset: &offset) else { break }
                session.receive(UnsafeRawBufferPointer(rebasing: bytes[frame]), now: clock(), into: &actions)
                storeDirty = true
                afterSessionCall()
                while !closing && session.hasQueuedMessageReady {
                    session.processQueued(now: clock(), into: &actions)
                    afterSessionCall()
                }
            } catch {
                // Garbled: ignored without consuming a sequence number (FIX 4.4 Vol. 2); counted by the framer.
                continue
            }
        }
        return closing ? bytes.count : offset
    }

    public func connectionBecameWritable(_ c: TCPConnection) {
        c.resumeReading()
    }

    public func connectionDidClose(_ c: TCPConnection, error: IOError?) {
        guard c === tcp else { return }
        tcp = nil
        if let t = tickTimer { loop.cancel(t) }
        tickTimer = nil
        if let out = session.takeOutbound() { _ = out }  // nowhere to send it now
        session.disconnected(now: clock())
        store.flush()
        storeDirty = false
        closing = false
        logger.notice(
            "FIX disconnected",
            metadata: [
                "session": "\(settings.senderCompID)->\(settings.targetCompID)",
                "reason": "\(reason.map { "\($0)" } ?? error.map { "\($0)" } ?? "peer closed")",
            ])
        application?.fixConnectionDidDisconnect(self, reason: reason)
        onClose?(reason)
    }

    // MARK: Actions

    private func flushOutbound() {
        guard let out = session.takeOutbound(), let c = tcp else { return }
        // Order entry stops reading rather than queueing without bound (STYLE.md 7).
        if c.write(out) == .overHighWatermark { c.pauseReading() }
    }

    private func afterSessionCall() {
        guard !actions.isEmpty else { return }
        // Index loop: the application may call back into us (send) while we walk the actions.
        var i = 0
        while i < actions.count {
            let a = actions[i]
            i += 1
            switch a {
            case .deliver:
                application?.fixConnection(self, didReceive: session.inbound)
            case .loggedOn:
                logger.notice(
                    "FIX logged on", metadata: ["session": "\(settings.senderCompID)->\(settings.targetCompID)"])
                onLogon?()
                application?.fixConnectionDidLogOn(self)
            case .disconnect(let r):
                reason = r
                closing = true
                flushOutbound()
                tcp?.close()
            }
        }
        actions.removeAll(keepingCapacity: true)
    }
}
