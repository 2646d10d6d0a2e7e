// OrdersDemoService: the `broker demo` starter for the order path (registered in `DemoRole.extraServices` by
// BrokerRoles): EmbeddedOrders on its own loop over the journal, logged on to the demo's exchange simulator,
// `demo`/`demo` seeded with 1,000,000.00.
//
// Owns: the orders loop, the REST bridge on the demo's one port, and the gateway's own listener on
// `gateway.listen` (REST plus the order-notification WebSocket at /ws, which the demo's quote /ws cannot carry).
// The bridge: DemoContext routes must answer synchronously on a fanout loop, while the gateway answers on its own
// loop (after a quote lookup, or a PBKDF2 check on a helper thread), so the bridge waits for the answer, bounded
// by 5 s. In journal mode that is well under a millisecond for everything but login (tens of ms, by design of
// the password hash). Replace with an async route once the demo's server exposes `asyncRoute`.
import Logging
import Wire
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// Starts the order path inside `broker demo`.
public enum OrdersDemoService {
    final class Holder: @unchecked Sendable {
        var embedded: EmbeddedOrders?
        var listener: TCPListener?
        var server: WebSocketServer?
        var failure: String?
    }

    /// A `DemoRole.extraServices` starter.
    /// - Throws: `RoleError` when the journal cannot be opened or the gateway does not start within 10 s.
    public static func starter(_ ctx: DemoContext) throws {
        let group = try EventLoopGroup(count: 1, name: "orders", logger: ctx.logger)
        group.start()
        ctx.keep(group)
        let loop = group.loops[0]
        var settings = try GatewaySettings(ctx.config)
        settings.targetCompID = ctx.exchangeCompID
        settings.senderCompID = ctx.exchangePeerCompIDs.contains("GATEWAY") ? "GATEWAY"
            : (ctx.exchangePeerCompIDs.first ?? "GATEWAY")
        let holder = Holder()
        ctx.keep(holder)
        let ready = Semaphore()
        let quotes = ctx.quotes
        try loop.submitAndWait {
            try EmbeddedOrders.start(
                loop: loop, symbols: ctx.symbols, quotes: quotes, exchangeHost: ctx.exchangeHost,
                exchangePort: ctx.exchangePort, journalPath: settings.journalPath, fsync: settings.journalFsync,
                settings: settings, logger: ctx.logger
            ) { r in
                switch r {
                case .failure(let e): holder.failure = "\(e)"
                case .success(let e):
                    holder.embedded = e
                    do {
                        let (srv, l) = try e.gateway.listen()
                        holder.server = srv
                        holder.listener = l
                        ctx.logger.notice("orders gateway listening",
                                          metadata: ["address": "\(settings.host):\(l.port)", "journal": "\(settings.journalPath)"])
                    } catch {
                        ctx.logger.warning("orders gateway: own listener not started (REST still on the demo port)",
                                           metadata: ["error": "\(error)"])
                    }
                }
                ready.signal()
            }
        }
        ready.wait()
        if let f = holder.failure { throw RoleError("orders: \(f)") }
        ctx.addRoute { head, body in
            guard head.pathHasPrefix("/api/v1/") else { return nil }
            return bridge(head, body, holder: holder, loop: loop)
        }
    }

    /// Hands one request to the gateway loop and waits (bounded) for its answer.
    static func bridge(_ head: HTTPRequestHead, _ body: ByteBuffer, holder: Holder, loop: EventLoop) -> HTTPResponse {
        final class Answer: @unchecked Sendable { var response: HTTPResponse?; let done = Semaphore() }
        let answer = Answer()
        let h = head
        let b = body
        loop.execute {
            guard let g = holder.embedded?.gateway else {
                answer.response = HTTPResponse(status: .serviceUnavailable, contentType: "application/json",
                                               body: #"{"error":{"code":"store_unavailable","message":"starting"}}"#)
                answer.done.signal()
                return
            }
            let responder = HTTPResponder(sink: { r in
                answer.response = r
                answer.done.signal()
            })
            if !g.handleHTTP(h, b, responder) {
                responder.respond(HTTPResponse(status: .notFound, contentType: "text/plain", body: "not found\n"))
            }
        }
        if !answer.done.wait(seconds: 5) {
            return HTTPResponse(status: .serviceUnavailable, contentType: "application/json",
                                body: #"{"error":{"code":"store_unavailable","message":"the order service did not answer"}}"#)
        }
        return answer.response!
    }
}
