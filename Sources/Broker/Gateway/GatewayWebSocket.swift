// GatewayWebSocket: order notifications on the user's WebSocket (DESIGN.md "WebSocket client protocol": the
// same `type` envelope), authenticated by `/ws?token=...` or a first `{"action":"auth","token":"..."}` message;
// nothing flows before authentication. Also `GatewayBlockingWork`, which runs the deliberately slow password
// check on a short-lived thread and hands the answer back to the loop.
//
// Server to client:
//   {"type":"authenticated","user":"demo"}
//   {"type":"order","event":"ORDER_FILLED","order":{...order JSON...},"last_qty":10,"last_price":"3500.00"}
//   {"type":"error","code":"invalid_token","message":"..."}
public import WebSocket
public import Wire
#if canImport(Glibc)
import Glibc
#endif

/// One order-notification WebSocket.
public final class GatewayWebSocketSession: WebSocketHandler {
    weak var gateway: OrderGateway?
    weak var ws: WebSocketConnection?
    var userId: String?

    init(gateway: OrderGateway) { self.gateway = gateway }

    public func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {
        self.ws = ws
        if let token = request?.queryValue("token") { authenticate(token) }
    }

    public func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) {
        guard let json = try? text.withUnsafeReadableBytes({ b throws(JSONParseError) in try JSONParser.parse(b) }) else {
            sendError("invalid_json", "messages must be JSON objects")
            return
        }
        switch json["action"]?.stringValue {
        case "auth":
            guard let t = json["token"]?.stringValue else { sendError("invalid_request", "token required"); return }
            authenticate(t)
        case "ping":
            ws.send(text: #"{"type":"pong"}"#)
        default:
            sendError("invalid_request", "unknown action")
        }
    }

    func authenticate(_ token: String) {
        guard let gateway else { return }
        switch gateway.verifyToken(token) {
        case .failure(let r):
            sendError(r.code, r.message)
            ws?.close(code: .policyViolation, reason: "invalid token")
        case .success(let user):
            if let old = userId { gateway.sockets[old]?.removeAll { $0 === self } }
            userId = user
            gateway.sockets[user, default: []].append(self)
            var b = ByteBuffer(capacity: 64)
            JSONValue.object([("type", .string("authenticated")), ("user", .string(user))]).write(into: &b)
            ws?.send(.text, payload: b)
        }
    }

    func sendError(_ code: String, _ message: String) {
        var b = ByteBuffer(capacity: 96)
        JSONValue.object([("type", .string("error")), ("code", .string(code)), ("message", .string(message))]).write(into: &b)
        ws?.send(.text, payload: b)
    }

    public func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {
        if let u = userId, let g = gateway {
            g.sockets[u]?.removeAll { $0 === self }
            if g.sockets[u]?.isEmpty == true { g.sockets[u] = nil }
        }
    }
}

extension OrderGateway {
    /// `upgrade` hook for `/ws`: an order-notification session (authenticates itself).
    public func webSocketHandler(for head: HTTPRequestHead) -> (any WebSocketHandler)? {
        head.pathEquals("/ws") ? GatewayWebSocketSession(gateway: self) : nil
    }

    /// Sends an order event to every authenticated socket of its user.
    func notify(_ o: StoredOrder, event: String, lastQty: Int64?, lastPx: Int64?, text: String? = nil) {
        guard let sessions = sockets[o.userId], !sessions.isEmpty else { return }
        var m: [(String, JSONValue)] = [("type", .string("order")), ("event", .string(event)), ("order", Self.orderJSON(o))]
        if let lastQty { m.append(("last_qty", .number(String(lastQty)))) }
        if let lastPx { m.append(("last_price", .string(FixedPointDecimal.formatPrice(lastPx)))) }
        if let text { m.append(("text", .string(text))) }
        var b = ByteBuffer(capacity: 384)
        JSONValue.object(m).write(into: &b)
        for s in sessions { s.ws?.send(.text, payload: b) }
    }

    /// Listens on `settings.host:port` with REST, /ws and /health (loop thread).
    public func listen() throws -> (WebSocketServer, TCPListener) {
        let server = WebSocketServer(
            configuration: WebSocketServerConfiguration(handshakeTimeoutNanos: 30_000_000_000),
            logger: logger,
            upgrade: { [weak self] head in self?.webSocketHandler(for: head) },
            route: { [weak self] head, body in self?.route(head, body) },
            asyncRoute: { [weak self] head, body, responder in self?.handleHTTP(head, body, responder) ?? false })
        let listener = try server.listen(host: settings.host, port: settings.port, on: loop)
        return (server, listener)
    }
}

/// Runs blocking work (PBKDF2) on a short-lived thread and delivers the result on a loop.
public enum GatewayBlockingWork {
    final class Job: @unchecked Sendable {
        let work: () -> Bool
        let loop: EventLoop
        let done: (Bool) -> Void
        init(work: @escaping () -> Bool, loop: EventLoop, done: @escaping (Bool) -> Void) {
            self.work = work; self.loop = loop; self.done = done
        }
    }

    /// Runs `work` off the loop; `done` runs on `loop` with its result.
    public static func run(on loop: EventLoop, _ work: @escaping () -> Bool, _ done: @escaping (Bool) -> Void) {
        let job = Unmanaged.passRetained(Job(work: work, loop: loop, done: done))
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            // Invariant: arg is the retained Job above, released here exactly once.
            let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
            let ok = job.work()
            job.loop.execute { job.done(ok) }
            return nil
        }, job.toOpaque())
        if rc != 0 {
            let j = job.takeRetainedValue()
            j.done(j.work())
        } else {
            pthread_detach(t)
        }
    }
}
