// Server and client entry points: configuration, listening on a loop, adopting accepted
// connections, the HTTP router hook for plain requests (/health, /metrics) sharing the port,
// and opening client connections.
//
// Owns: wiring TCPListener/TCPConnection to WebSocketConnection. Everything per connection is in
// WebSocketConnection.swift.
//
// Usage (one server per loop; closures run on that loop):
//
//     final class Echo: WebSocketHandler {
//         func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {}
//         func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) { ws.send(.text, payload: text) }
//         func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {}
//     }
//     let server = WebSocketServer(configuration: .init(handshake: .init(deflate: .init())),
//                                  upgrade: { $0.pathEquals("/echo") ? Echo() : nil },
//                                  route: { head, _ in head.pathEquals("/health")
//                                      ? HTTPResponse(status: .ok, contentType: "text/plain", body: "ok\n") : nil })
//     let listener = try server.listen(host: "127.0.0.1", port: 8080, on: loop)   // on the loop's thread
//     // Fanout: encode once, share everywhere (compressed where the client agreed to no context).
//     let frame = WebSocketPreparedFrame(text: json, compressor: server.sharedDeflate.compressor())
//     WebSocketConnection.broadcast(frame, to: subscribers)
public import Wire
public import Logging

/// Server options: protocol limits, handshake policy, HTTP limits, timeouts and buffer bounds.
public struct WebSocketServerConfiguration: Sendable {
    /// Frame/message limits, close timeout and keepalive.
    public var connection: WebSocketConnectionConfiguration
    /// Subprotocols, origin allow-list, permessage-deflate.
    public var handshake: WebSocketHandshakeConfiguration
    /// Request line, head size and header count limits.
    public var http: HTTPParserConfiguration
    /// The upgrade request must be complete within this time (slowloris defence); also bounds an
    /// idle keep-alive HTTP connection. Default 10 s.
    public var handshakeTimeoutNanos: UInt64
    /// Outbound bytes above which a connection is closed (a client that never reads cannot
    /// hold more memory than this). Default 4 MiB: ~20 s of a busy quote stream.
    public var maxBufferedBytes: Int
    /// Above this many outbound bytes sends report `.backpressure`. Default 256 KiB.
    public var highWatermark: Int
    /// Keep the upgrade request in `WebSocketConnection.request` after the handshake. Servers with
    /// many connections that do not need it (fanout) turn it off: it holds the head's bytes.
    public var retainRequestHead = true
    /// `webSocketBecameWritable` fires when outbound bytes fall to this. Default 64 KiB.
    public var lowWatermark: Int

    /// Creates a configuration, trapping at startup on inconsistent limits.
    public init(connection: WebSocketConnectionConfiguration = .init(),
                handshake: WebSocketHandshakeConfiguration = .init(),
                http: HTTPParserConfiguration = .init(maxBodyBytes: 64 * 1024),
                handshakeTimeoutNanos: UInt64 = 10_000_000_000, maxBufferedBytes: Int = 4 << 20,
                highWatermark: Int = 256 << 10, lowWatermark: Int = 64 << 10) {
        precondition(lowWatermark <= highWatermark && highWatermark <= maxBufferedBytes,
                     "need lowWatermark <= highWatermark <= maxBufferedBytes")
        self.connection = connection
        self.handshake = handshake
        self.http = http
        self.handshakeTimeoutNanos = handshakeTimeoutNanos
        self.maxBufferedBytes = maxBufferedBytes
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
    }
}

/// Accepts WebSocket upgrades and answers plain HTTP requests on one event loop. Create one per
/// loop; its closures run on that loop's thread.
public final class WebSocketServer {
    /// Options.
    public let configuration: WebSocketServerConfiguration
    /// Lifecycle logging (handshake refusals at debug); never per message.
    public let logger: Logger
    /// Called for each valid upgrade request: the handler for the new connection, or nil to
    /// answer 404 (unknown path, bad token).
    public let upgrade: (HTTPRequestHead) -> (any WebSocketHandler)?
    /// Called for every request that is not an upgrade (e.g. /health, /metrics); nil answers 404.
    public let route: ((HTTPRequestHead, ByteBuffer) -> HTTPResponse?)?
    /// Tried before `route` for requests answered later (e.g. after a database round trip): return true to
    /// take the request and call `respond` on the responder, on this loop, exactly once, now or later. The
    /// connection reads no further request until then (one request at a time; pipelined requests wait).
    public let asyncRoute: ((HTTPRequestHead, ByteBuffer, HTTPResponder) -> Bool)?
    /// This loop's zlib streams for no-context-takeover directions, shared by all its connections;
    /// build prepared frames with `sharedDeflate.compressor()`.
    public let sharedDeflate: WebSocketSharedDeflate

    /// Creates a server.
    /// - Parameters:
    ///   - upgrade: chooses the handler of each new WebSocket (or refuses it).
    ///   - route: answers non-upgrade requests (request head and body).
    public init(configuration: WebSocketServerConfiguration = .init(), logger: Logger = Logger(label: "websocket"),
                upgrade: @escaping (HTTPRequestHead) -> (any WebSocketHandler)?,
                route: ((HTTPRequestHead, ByteBuffer) -> HTTPResponse?)? = nil,
                asyncRoute: ((HTTPRequestHead, ByteBuffer, HTTPResponder) -> Bool)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.upgrade = upgrade
        self.route = route
        self.asyncRoute = asyncRoute
        self.sharedDeflate = WebSocketSharedDeflate(level: configuration.handshake.deflate?.compressionLevel ?? 6)
    }

    /// Listens on `host:port` (0 picks a port) on `loop`. Call on the loop's thread.
    public func listen(host: String, port: Int, on loop: EventLoop) throws(IOError) -> TCPListener {
        let listener = try TCPListener(host: host, port: port, loop: loop) { [self] tcp in
            _ = accept(tcp)
        }
        logger.notice("websocket server listening", metadata: ["address": "\(host):\(listener.port)"])
        return listener
    }

    /// Adopts an accepted connection (when another component owns the listener).
    @discardableResult
    public func accept(_ tcp: TCPConnection) -> WebSocketConnection {
        WebSocketConnection(accepted: tcp, server: self)
    }
}

/// Client options (tests, the load harness).
public struct WebSocketClientConfiguration: Sendable {
    /// Frame/message limits, close timeout and keepalive (pings off by default for clients).
    public var connection: WebSocketConnectionConfiguration
    /// permessage-deflate to offer; nil offers none.
    public var deflate: WebSocketDeflateConfiguration?
    /// Subprotocols to offer.
    public var subprotocols: [String]
    /// Origin header to send.
    public var origin: String?
    /// The 101 answer must arrive within this time. Default 10 s.
    public var handshakeTimeoutNanos: UInt64
    /// Outbound bytes above which the connection is closed. Default 4 MiB.
    public var maxBufferedBytes: Int

    /// Creates a configuration.
    public init(connection: WebSocketConnectionConfiguration = .init(pingIntervalNanos: 0),
                deflate: WebSocketDeflateConfiguration? = nil, subprotocols: [String] = [], origin: String? = nil,
                handshakeTimeoutNanos: UInt64 = 10_000_000_000, maxBufferedBytes: Int = 4 << 20) {
        self.connection = connection
        self.deflate = deflate
        self.subprotocols = subprotocols
        self.origin = origin
        self.handshakeTimeoutNanos = handshakeTimeoutNanos
        self.maxBufferedBytes = maxBufferedBytes
    }
}

/// Opens client WebSocket connections on an event loop.
public enum WebSocketClient {
    /// Connects to `ws://host:port/target` on `loop` (call on the loop's thread). The handler hears
    /// `webSocketDidConnect` after a valid 101, or `webSocketDidClose` (1006) if anything fails.
    /// - Throws: `IOError` when the socket cannot be created or the address does not resolve.
    /// - Parameter sharedDeflate: zlib streams shared by this loop's clients (load harness: many
    ///   clients on one loop); nil gives each connection its own when first needed.
    public static func connect(host: String, port: Int, target: String = "/", on loop: EventLoop,
                               configuration: WebSocketClientConfiguration = .init(),
                               sharedDeflate: WebSocketSharedDeflate? = nil,
                               handler: any WebSocketHandler) throws(IOError) -> WebSocketConnection {
        let hs = WebSocketClientHandshake(host: port == 80 ? host : "\(host):\(port)", target: target,
                                          origin: configuration.origin, subprotocols: configuration.subprotocols,
                                          deflate: configuration.deflate)
        let placeholder = PlaceholderHandler()
        let tcp = try TCPConnection.connect(host: host, port: port, on: loop, handler: placeholder)
        return WebSocketConnection(connecting: tcp, handshake: hs, configuration: configuration,
                                   sharedDeflate: sharedDeflate, handler: handler)
    }
}

/// Stands in until the WebSocketConnection replaces it (connect needs a handler up front; no
/// event can arrive before we return to the loop).
final class PlaceholderHandler: TCPConnectionHandler {
    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int { 0 }
    func connectionDidClose(_ c: TCPConnection, error: IOError?) {}
}
