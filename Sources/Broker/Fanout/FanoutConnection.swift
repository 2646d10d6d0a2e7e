// FanoutConnection: glue between one WebSocket connection and its loop's fanout shard.
// Text messages go to the client protocol; back-pressure relief and closes go to the shard.
import Wire
import WebSocket

/// The WebSocket handler of one fanout client.
final class FanoutConnection: WebSocketHandler, FanoutTransport {
    private unowned let node: FanoutNodeShard
    private(set) var client: FanoutClient!
    // Unowned(unsafe): the WebSocketConnection owns this handler, so it outlives it; no weak-load
    // cost on the per-iteration delivery path.
    private unowned(unsafe) var ws: WebSocketConnection?
    /// Set when the handshake completes; the shard only sees this connection after that.
    private var connectedTCP: TCPConnection?
    var tcp: TCPConnection { connectedTCP.unsafelyUnwrapped }

    init(node: FanoutNodeShard) {
        self.node = node
        client = FanoutClient(transport: self)
    }

    func closeWebSocket(code: UInt16, reason: String) {
        ws?.close(code: WebSocketCloseCode(code), reason: reason)
    }

    var acceptsData: Bool { ws?.isOpen ?? false }

    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {
        self.ws = ws
        connectedTCP = ws.tcp
        if let d = ws.deflate {
            // Context only where the client allows it (an offered server_no_context_takeover must
            // be accepted, RFC 7692 §7.1.1.1) and our window fits the agreed one.
            client.compression = node.node.settings.deflatePerConnection && !d.serverNoContextTakeover
                    && d.serverMaxWindowBits >= FanoutCompression.perConnectionWindowBits
                ? .perConnection : .shared
        }
        node.shard.add(client)
        node.connected(self)
    }

    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) {
        text.withUnsafeReadableBytes { node.protocolHandler.handleText(client, $0) }
    }

    func webSocket(_ ws: WebSocketConnection, didReceiveBinary data: ByteBuffer) {
        node.protocolHandler.handleBinary(client)
    }

    func webSocketBecameWritable(_ ws: WebSocketConnection) {
        node.shard.clientBecameWritable(client)
    }

    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {
        node.shard.remove(client)
        node.disconnected(self, code: code)
    }
}

/// A debug echo endpoint (`/echo`, when `fanout.echo` is on) for conformance testing.
final class EchoWebSocketHandler: WebSocketHandler {
    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {}
    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) { _ = ws.send(.text, payload: text) }
    func webSocket(_ ws: WebSocketConnection, didReceiveBinary data: ByteBuffer) { _ = ws.send(.binary, payload: data) }
    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {}
}
