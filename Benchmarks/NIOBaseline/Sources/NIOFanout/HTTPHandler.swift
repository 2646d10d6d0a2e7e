// Plain HTTP requests that are not WebSocket upgrades: `/health` answers 200 "ok", `/stats` the
// server's counters as JSON, anything else 404. Removed from the pipeline when `/ws` upgrades.

import NIOCore
import NIOHTTP1

/// Counters across all loops and the feed, served on `/stats` and printed at exit.
struct ServerStats: Sendable {
    var loops: LoopStats
    var feed: FeedStats

    var json: String {
        "{\"connections\":\(self.loops.connections),\"subscriptions\":\(self.loops.subscriptions)"
            + ",\"feed_updates\":\(self.feed.updates),\"feed_skipped\":\(self.feed.skipped)"
            + ",\"quotes_sent\":\(self.loops.quotesSent),\"quotes_dropped\":\(self.loops.quotesDropped)}"
    }
}

/// The HTTP/1.1 handler in front of the upgrader.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let stats: @Sendable (any EventLoop) -> EventLoopFuture<ServerStats>
    private var request: HTTPRequestHead?

    /// - Parameter stats: gathers the counters; the future must complete on the given loop.
    init(stats: @escaping @Sendable (any EventLoop) -> EventLoopFuture<ServerStats>) {
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
        case .body:
            break
        case .end:
            guard let head = self.request else { return }
            self.request = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            switch (head.method, path) {
            case (.GET, "/health"):
                self.respond(.ok, body: "ok", keepAlive: head.isKeepAlive, context: context)
            case (.GET, "/stats"):
                let keepAlive = head.isKeepAlive
                self.stats(context.eventLoop).assumeIsolated().whenComplete { result in
                    switch result {
                    case .success(let stats):
                        self.respond(.ok, body: stats.json, keepAlive: keepAlive, context: context)
                    case .failure:
                        self.respond(.internalServerError, body: "stats unavailable", keepAlive: false, context: context)
                    }
                }
            case (.GET, "/ws"):
                // A GET on /ws without the Upgrade headers (RFC 6455 §4.2.2).
                self.respond(.upgradeRequired, body: "websocket upgrade required", keepAlive: false, context: context)
            default:
                self.respond(.notFound, body: "not found", keepAlive: head.isKeepAlive, context: context)
            }
        }
    }

    private func respond(_ status: HTTPResponseStatus, body: String, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: body.hasPrefix("{") ? "application/json" : "text/plain")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
            promise: nil)
        let done = context.writeAndFlush(Self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
