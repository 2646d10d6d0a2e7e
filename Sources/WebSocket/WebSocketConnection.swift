// WebSocket over a Wire TCPConnection: the glue between the socket, the handshake and the
// protocol core, for both roles.
//
// Owns: the per-connection phases (HTTP request or handshake -> open -> closed), handshake
// timeout (slowloris), performing the state machine's actions, the close/keepalive timer, and
// the application-facing send API (including shared prepared frames for fanout). Protocol rules
// live in WebSocketStateMachine.swift and WebSocketHandshake.swift; this file only does I/O.
public import Wire
internal import Logging

/// The application side of a WebSocket. All calls happen on the connection's event loop.
public protocol WebSocketHandler: AnyObject {
    /// The handshake completed. `request` is the upgrade request (path, query, headers) on the
    /// server side, nil on the client side.
    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?)
    /// A complete text message (valid UTF-8). Keep the buffer only if needed; it is shared.
    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer)
    /// A complete binary message.
    func webSocket(_ ws: WebSocketConnection, didReceiveBinary data: ByteBuffer)
    /// The connection is gone. `code` is the peer's close code, the code we failed it with, or
    /// 1006 when the transport closed without a close frame. Called exactly once, after
    /// `webSocketDidConnect`.
    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String)
    /// Outbound bytes fell back below the low watermark after a `.backpressure` send.
    func webSocketBecameWritable(_ ws: WebSocketConnection)
}

extension WebSocketHandler {
    /// Default: binary messages are ignored.
    public func webSocket(_ ws: WebSocketConnection, didReceiveBinary data: ByteBuffer) {}
    /// Default: nothing to do.
    public func webSocketBecameWritable(_ ws: WebSocketConnection) {}
}

/// What a send did (uWS `SendStatus`).
public enum WebSocketSendResult: Equatable, Sendable {
    /// Queued; leaves with this loop iteration's gather write.
    case queued
    /// Queued, but the outbound queue is over the high watermark: slow down (conflate, skip)
    /// until `webSocketBecameWritable`.
    case backpressure
    /// Not sent: the connection is closing or closed (or was closed now for exceeding
    /// `maxBufferedBytes`).
    case dropped
}

/// One WebSocket connection on one event loop (server- or client-side).
public final class WebSocketConnection: TCPConnectionHandler {
    /// The transport.
    public let tcp: TCPConnection
    /// The application handler; released after `webSocketDidClose`.
    public var handler: (any WebSocketHandler)?
    /// Free slot for the application's per-connection state.
    public var userData: AnyObject?
    /// The upgrade request (server side), kept for the application (path, query, token).
    public var request: HTTPRequestHead? { retainedRequest?.head }
    /// Boxed: the head is ~100 bytes, paid only by servers that keep it (`retainRequestHead`).
    private var retainedRequest: RequestBox?
    private final class RequestBox {
        let head: HTTPRequestHead
        init(_ head: HTTPRequestHead) { self.head = head }
    }
    /// The agreed subprotocol, if any.
    public private(set) var subprotocol: String?
    /// Which side we are.
    public let role: WebSocketFrameDecoder.Role

    // The handshake cases are indirect: their parsers live in a box freed on upgrade, so an
    // open connection does not carry a parser's ~150 bytes inline for its whole life.
    enum Phase {
        /// Server: reading HTTP requests (upgrade or routed).
        indirect case serverHandshake(HTTPRequestParser)
        /// Client: waiting for the 101 answer; the configuration and shared streams the open
        /// connection will use.
        indirect case clientHandshake(WebSocketClientHandshake, WebSocketConnectionConfiguration, WebSocketSharedDeflate?)
        case open
        case closed
    }

    var phase: Phase
    var core: WebSocketStateMachine?
    let server: WebSocketServer?
    /// The one timer of this connection: the handshake timeout, then the core's next deadline.
    var timer: TimerHandle?
    var timerDeadline: UInt64 = 0
    var reportedClose = false
    /// A request handed to `asyncRoute` is waiting for its response.
    var awaitingResponse = false
    /// Bytes that arrived while a response was outstanding (pipelined requests), parsed once it is sent.
    var heldBytes: ByteBuffer?

    /// Server side: adopts an accepted connection.
    init(accepted tcp: TCPConnection, server: WebSocketServer) {
        self.tcp = tcp
        self.server = server
        self.role = .server
        self.phase = .serverHandshake(HTTPRequestParser(configuration: server.configuration.http))
        tcp.maxBufferedBytes = server.configuration.maxBufferedBytes
        tcp.highWatermark = server.configuration.highWatermark
        tcp.lowWatermark = server.configuration.lowWatermark
        tcp.handler = self
        armHandshakeTimer(server.configuration.handshakeTimeoutNanos)
    }

    /// Client side: wraps an outgoing connection.
    init(connecting tcp: TCPConnection, handshake: WebSocketClientHandshake,
         configuration: WebSocketClientConfiguration,
         sharedDeflate: WebSocketSharedDeflate?, handler: any WebSocketHandler) {
        self.tcp = tcp
        self.server = nil
        self.role = .client
        self.handler = handler
        self.phase = .clientHandshake(handshake, configuration.connection, sharedDeflate)
        tcp.maxBufferedBytes = configuration.maxBufferedBytes
        tcp.handler = self
        armHandshakeTimer(configuration.handshakeTimeoutNanos)
    }

    /// Agreed permessage-deflate parameters (nil before the handshake or when not negotiated).
    public var deflate: WebSocketDeflateParameters? { core?.deflate }

    /// Whether messages can be sent.
    public var isOpen: Bool { core?.isOpen ?? false }

    // MARK: Sending

    /// Sends a text message (UTF-8 of `text`).
    @discardableResult
    public func send(text: String) -> WebSocketSendResult {
        var s = text
        return s.withUTF8 { send(.text, payload: UnsafeRawBufferPointer($0)) }
    }

    /// Sends a message with the given opcode (`.text` payloads must be valid UTF-8).
    @discardableResult
    public func send(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) -> WebSocketSendResult {
        guard core != nil else { return .dropped }
        // One exact-size allocation per message: the buffer is handed to the socket's queue, so a
        // reused scratch buffer would be copied on the next write anyway.
        var out = ByteBuffer(capacity: payload.count + WebSocketFrameEncoder.maxHeaderLength)
        guard core!.writeMessage(opcode, payload: payload, into: &out) else { return .dropped }
        return write(out)
    }

    /// Sends a message whose payload is the readable bytes of `payload`.
    @discardableResult
    public func send(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> WebSocketSendResult {
        payload.withUnsafeReadableBytes { send(opcode, payload: $0) }
    }

    /// Queues a prepared frame's shared bytes (no copy, no per-connection encoding): the
    /// compressed form when this connection's parameters allow it. Server side only.
    @discardableResult
    public func send(prepared: WebSocketPreparedFrame) -> WebSocketSendResult {
        guard role == .server, let core, core.isOpen else { return .dropped }
        return write(prepared.frame(for: core.deflate))
    }

    /// Queues one ready, unmasked frame (e.g. a batch frame the fanout assembled from shared
    /// encodings) without copying it. Server side only; dropped once the close handshake started,
    /// so nothing follows our close frame (§5.5.1). Compressed frames (RSV1) are the caller's
    /// responsibility: only valid when `deflate` allows them.
    @discardableResult
    public func send(frame: ByteBuffer) -> WebSocketSendResult {
        guard role == .server, let core, core.isOpen else { return .dropped }
        return write(frame)
    }

    /// Queues the same prepared frame on every connection: one retain per connection, no copies.
    /// - Returns: how many connections accepted it (not `.dropped`).
    @discardableResult
    public static func broadcast(_ prepared: WebSocketPreparedFrame,
                                 to connections: some Sequence<WebSocketConnection>) -> Int {
        var n = 0
        for c in connections where c.send(prepared: prepared) != .dropped { n += 1 }
        return n
    }

    /// Starts the close handshake (§7.1.2); the transport closes when the peer answers or after
    /// the close timeout.
    public func close(code: WebSocketCloseCode = .normal, reason: String = "") {
        guard core != nil else {
            tcp.close()
            return
        }
        if let action = core!.close(code: code, reason: reason, now: tcp.loop.now) { perform(action) }
        armTimer()
    }

    func write(_ buffer: ByteBuffer) -> WebSocketSendResult {
        switch tcp.write(buffer) {
        case .queued: return .queued
        case .overHighWatermark: return .backpressure
        case .closed: return .dropped
        }
    }

    // MARK: TCPConnectionHandler

    public func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        switch phase {
        case .serverHandshake where awaitingResponse || heldBytes != nil:
            // Requests behind an unanswered one wait in our own buffer (TCPConnection only presents held
            // bytes again when more arrive).
            if heldBytes == nil { heldBytes = ByteBuffer(capacity: bytes.count) }
            heldBytes!.writeBytes(bytes)
            if heldBytes!.readableBytes > 4 << 20 { tcp.close() }
            if !awaitingResponse { drainHeldBytes() }
            return bytes.count
        case .serverHandshake:
            offset = serverHandshake(bytes)
        case .clientHandshake(let hs, let configuration, let shared):
            offset = clientHandshake(bytes, hs, configuration, shared)
        case .open, .closed:
            break
        }
        guard case .open = phase else { return offset }
        while core != nil {
            let (action, used) = core!.receive(UnsafeRawBufferPointer(rebasing: bytes[offset...]), now: c.loop.now)
            offset += used
            guard let action else { break }
            perform(action)
        }
        armTimer()
        return offset
    }

    public func connectionDidConnect(_ c: TCPConnection) {
        if case .clientHandshake(let hs, _, _) = phase { _ = c.write(hs.request()) }
    }

    public func connectionBecameWritable(_ c: TCPConnection) {
        if core != nil { handler?.webSocketBecameWritable(self) }
    }

    public func connectionDidClose(_ c: TCPConnection, error: IOError?) {
        if let t = timer { c.loop.cancel(t) }
        timer = nil
        awaitingResponse = false
        heldBytes = nil
        let wasOpen = core != nil
        phase = .closed
        if wasOpen && !reportedClose {
            reportedClose = true
            let code = core?.closeCode ?? .abnormalClosure
            handler?.webSocketDidClose(self, code: code, reason: core?.closeReason ?? "")
        } else if role == .client && !reportedClose {
            // The handshake never completed: tell the client's handler so it can retry.
            reportedClose = true
            handler?.webSocketDidClose(self, code: .abnormalClosure, reason: "handshake failed")
        }
        handler = nil
        userData = nil
    }

    // MARK: Handshakes

    /// Server: parses requests; answers routed ones (keep-alive allowed) and upgrades one.
    /// Returns the bytes consumed; switches `phase` to `.open` on upgrade.
    func serverHandshake(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard case .serverHandshake(var parser) = phase, let server else { return bytes.count }
        var offset = 0
        while true {
            let result: HTTPParseResult
            do {
                result = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                var out = ByteBuffer(capacity: 128)
                HTTPResponse.writeError(error, into: &out)
                tcp.write(out)
                tcp.close()
                phase = .closed
                return bytes.count
            }
            guard case .request(let head, let body, let used) = result else {
                phase = .serverHandshake(parser)
                return offset
            }
            offset += used
            if WebSocketServerHandshake.isUpgradeRequest(head) {
                upgrade(head, server)
                return offset
            }
            if let asyncRoute = server.asyncRoute {
                let responder = HTTPResponder(connection: self, keepAlive: head.keepAlive,
                                              headRequest: head.method == .head)
                awaitingResponse = true
                if asyncRoute(head, body, responder) {
                    if case .closed = phase { return bytes.count }   // answered synchronously with close
                    parser.reset()
                    phase = .serverHandshake(parser)
                    if responder.answered { continue }   // answered synchronously
                    if offset < bytes.count {
                        heldBytes = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                    }
                    return bytes.count
                }
                awaitingResponse = false
                responder.answered = true
            }
            var out = ByteBuffer(capacity: 256)
            let response = server.route?(head, body)
                ?? HTTPResponse(status: .notFound, contentType: "text/plain; charset=utf-8", body: "not found\n")
            response.write(into: &out, keepAlive: head.keepAlive, headRequest: head.method == .head)
            tcp.write(out)
            if !head.keepAlive {
                tcp.close()
                phase = .closed
                return bytes.count
            }
            parser.reset()
        }
    }

    /// Writes a deferred response (see `HTTPResponder`), then parses requests that arrived meanwhile.
    func finishDeferred(_ response: HTTPResponse, keepAlive: Bool, headRequest: Bool) {
        guard awaitingResponse, case .serverHandshake = phase else { return }
        awaitingResponse = false
        var out = ByteBuffer(capacity: 256 + response.body.readableBytes)
        response.write(into: &out, keepAlive: keepAlive, headRequest: headRequest)
        tcp.write(out)
        if !keepAlive {
            tcp.close()
            phase = .closed
            heldBytes = nil
            return
        }
        // A keep-alive connection that just completed a request is not idle: restart the idle bound.
        if let t = timer { tcp.loop.cancel(t) }
        timer = nil
        armHandshakeTimer(server?.configuration.handshakeTimeoutNanos ?? 0)
        if heldBytes != nil { drainHeldBytes() }
    }

    /// Parses held pipelined requests until one is deferred again or the bytes run out.
    func drainHeldBytes() {
        guard var held = heldBytes else { return }
        heldBytes = nil
        let used = held.withUnsafeReadableBytes { serverHandshake($0) }
        if awaitingResponse, case .serverHandshake = phase {
            // serverHandshake stored the bytes after the deferred request in heldBytes itself.
            return
        }
        held.moveReaderIndex(forwardBy: min(used, held.readableBytes))
        if !held.isEmpty, case .serverHandshake = phase { heldBytes = held }
        if case .open = phase, !held.isEmpty {
            // Upgraded with frames right behind the request: hand them to the protocol core.
            _ = held.withUnsafeReadableBytes { connection(tcp, didReceive: $0) }
        }
    }

    func upgrade(_ head: HTTPRequestHead, _ server: WebSocketServer) {
        let result: WebSocketHandshakeResult
        do {
            result = try WebSocketServerHandshake.validate(head, configuration: server.configuration.handshake)
        } catch {
            server.logger.debug("websocket handshake refused", metadata: [
                "peer": "\(tcp.remoteAddress)", "reason": "\(error.reason)"])
            tcp.write(WebSocketServerHandshake.rejection(for: error))
            tcp.close()
            phase = .closed
            return
        }
        guard let h = server.upgrade(head) else {
            var out = ByteBuffer(capacity: 128)
            HTTPResponse(status: .notFound, contentType: "text/plain; charset=utf-8", body: "no websocket here\n")
                .write(into: &out, keepAlive: false)
            tcp.write(out)
            tcp.close()
            phase = .closed
            return
        }
        tcp.write(WebSocketServerHandshake.response(to: head, result: result))
        handler = h
        if server.configuration.retainRequestHead { retainedRequest = RequestBox(head) }
        subprotocol = result.subprotocol
        open(deflate: result.deflate, configuration: server.configuration.connection, sharedDeflate: server.sharedDeflate)
        h.webSocketDidConnect(self, request: head)
    }

    /// Client: waits for the 101 answer and checks it (§4.1).
    func clientHandshake(_ bytes: UnsafeRawBufferPointer, _ hs: WebSocketClientHandshake,
                         _ configuration: WebSocketConnectionConfiguration, _ shared: WebSocketSharedDeflate?) -> Int {
        let parsed: (WebSocketResponseHead, Int)?
        do {
            parsed = try WebSocketResponseHead.parse(bytes)
        } catch {
            tcp.close()
            phase = .closed
            return bytes.count
        }
        guard let (head, used) = parsed else { return 0 }
        do {
            let result = try hs.validate(head)
            subprotocol = result.subprotocol
            open(deflate: result.deflate, configuration: configuration, sharedDeflate: shared)
            handler?.webSocketDidConnect(self, request: nil)
            return used
        } catch {
            tcp.close()
            phase = .closed
            return bytes.count
        }
    }

    func open(deflate: WebSocketDeflateParameters?, configuration: WebSocketConnectionConfiguration,
              sharedDeflate: WebSocketSharedDeflate?) {
        core = WebSocketStateMachine(role: role, configuration: configuration, deflate: deflate,
                                     sharedDeflate: sharedDeflate, now: tcp.loop.now)
        phase = .open
        // The handshake timer stays when it fires before the core's first deadline: it then finds
        // the connection open and re-arms for the core, so a connection never queues two timers.
        armTimer()
    }

    func armHandshakeTimer(_ nanos: UInt64) {
        guard nanos > 0 else { return }
        scheduleTimer(afterNanos: nanos)
    }

    /// Replaces the connection's timer.
    func scheduleTimer(afterNanos nanos: UInt64) {
        if let t = timer { tcp.loop.cancel(t) }
        timerDeadline = tcp.loop.now &+ nanos
        // Unowned, not weak: connectionDidClose cancels the timer before the connection can go,
        // and a weak capture gave each of 10,000 connections a 32-byte side table.
        timer = tcp.loop.schedule(afterNanos: nanos) { [unowned self] in self.timerFired() }
    }

    func timerFired() {
        timer = nil
        if core != nil {
            core!.releaseIdleBuffers()
            if let action = core?.tick(now: tcp.loop.now) { perform(action) }
            armTimer()
            return
        }
        if case .closed = phase { return }
        if awaitingResponse {   // our answer is late, not the client: wait for it
            armHandshakeTimer(server?.configuration.handshakeTimeoutNanos ?? 0)
            return
        }
        // Slowloris defence: the whole head must arrive within the timeout.
        if role == .server && tcp.unconsumedBytes > 0 {
            var out = ByteBuffer(capacity: 128)
            HTTPResponse(status: HTTPStatus(code: 408, reason: "Request Timeout"),
                         contentType: "text/plain; charset=utf-8", body: "handshake timeout\n")
                .write(into: &out, keepAlive: false)
            tcp.write(out)
        }
        tcp.close()
    }

    // MARK: Actions and timers

    func perform(_ action: WebSocketAction) {
        switch action {
        case .deliverText(let b):
            handler?.webSocket(self, didReceiveText: b)
        case .deliverBinary(let b):
            handler?.webSocket(self, didReceiveBinary: b)
        // Control frames are rare: a buffer each (queued as is) rather than one kept per connection.
        case .sendPong(let p):
            var out = ByteBuffer(capacity: p.readableBytes + 6)
            core?.writeControl(.pong, payload: p, into: &out)
            _ = write(out)
        case .sendPing(let p):
            var out = ByteBuffer(capacity: p.readableBytes + 6)
            core?.writeControl(.ping, payload: p, into: &out)
            _ = write(out)
        case .sendClose(let code, let reason, let closeTransport):
            var out = ByteBuffer(capacity: reason.utf8.count + 12)
            core?.writeClose(code, reason: reason, into: &out)
            _ = write(out)
            if closeTransport { tcp.close() }
        case .closeTransport:
            tcp.close()
        }
    }

    /// Keeps one timer armed at the core's next deadline. Traffic moves deadlines later; an early
    /// timer just finds nothing to do and re-arms, so arming never needs cancelling on receive.
    func armTimer() {
        guard let deadline = core?.nextDeadline else { return }
        if timer != nil && timerDeadline <= deadline { return }
        let now = tcp.loop.now
        scheduleTimer(afterNanos: deadline > now ? deadline - now : 0)
    }
}


/// Answers one HTTP request taken by `WebSocketServer.asyncRoute`, later, on the connection's loop.
public final class HTTPResponder {
    weak var connection: WebSocketConnection?
    let keepAlive: Bool
    let headRequest: Bool
    var answered = false
    private let sink: ((HTTPResponse) -> Void)?

    init(connection: WebSocketConnection, keepAlive: Bool, headRequest: Bool) {
        self.connection = connection
        self.keepAlive = keepAlive
        self.headRequest = headRequest
        self.sink = nil
    }

    /// A responder that hands the response to `sink` instead of a connection (proxies, tests).
    public init(sink: @escaping (HTTPResponse) -> Void) {
        self.keepAlive = true
        self.headRequest = false
        self.sink = sink
    }

    /// Whether the client is still there to answer (false after it disconnected).
    public var isConnected: Bool { sink != nil || (connection?.tcp.isOpen ?? false) }

    /// Sends the response (first call only; later calls and calls after the client left do nothing).
    /// Loop thread of the connection.
    public func respond(_ response: HTTPResponse) {
        guard !answered else { return }
        answered = true
        if let sink { sink(response); return }
        connection?.finishDeferred(response, keepAlive: keepAlive, headRequest: headRequest)
    }
}
