// Per-event-loop fanout: the subscription map for the connections living on one event loop, and
// delivery of each feed tick to them. One LoopFanout per serving loop, so no locks: subscribe and
// unsubscribe run on the connection's own loop, and the feed hops to each loop once per tick.

import NIOCore
import NIOWebSocket

/// Counters of one serving loop.
struct LoopStats: Sendable {
    /// Open WebSocket connections.
    var connections = 0
    /// Active (connection, symbol) subscriptions.
    var subscriptions = 0
    /// Quote frames written to connections.
    var quotesSent = 0
    /// Quotes not written because the connection was not writable (slow consumer).
    var quotesDropped = 0

    static func + (lhs: LoopStats, rhs: LoopStats) -> LoopStats {
        LoopStats(
            connections: lhs.connections + rhs.connections,
            subscriptions: lhs.subscriptions + rhs.subscriptions,
            quotesSent: lhs.quotesSent + rhs.quotesSent,
            quotesDropped: lhs.quotesDropped + rhs.quotesDropped
        )
    }
}

/// The subscription map and delivery for one event loop. Every method runs on `eventLoop`.
final class LoopFanout: @unchecked Sendable {  // confined to `eventLoop`; only `eventLoop` is read elsewhere
    /// The loop whose connections this instance serves.
    let eventLoop: any EventLoop
    /// Symbol index -> the sessions on this loop subscribed to it.
    private var subscribers: [[ObjectIdentifier: QuoteSessionHandler]]
    /// The latest quote per symbol, sent to a new subscriber as its snapshot.
    private var latest: [WebSocketFrame?]
    /// Sessions written to during the current tick, flushed once at its end.
    private var pendingFlush: [QuoteSessionHandler] = []
    private(set) var stats = LoopStats()

    init(eventLoop: any EventLoop, symbolCount: Int) {
        self.eventLoop = eventLoop
        self.subscribers = Array(repeating: [:], count: symbolCount)
        self.latest = Array(repeating: nil, count: symbolCount)
    }

    /// Counters, read on this loop.
    func currentStats() -> EventLoopFuture<LoopStats> {
        self.eventLoop.submit { self.stats }
    }

    func connectionOpened() {
        self.stats.connections += 1
    }

    /// Drops every subscription of a closing session.
    func connectionClosed(_ session: QuoteSessionHandler, symbols: Set<Int>) {
        self.stats.connections -= 1
        for symbol in symbols {
            self.unsubscribe(session, from: symbol)
        }
    }

    /// Adds `session` to `symbol`'s subscribers and writes the latest quote, if any, as its snapshot.
    func subscribe(_ session: QuoteSessionHandler, to symbol: Int) {
        self.eventLoop.assertInEventLoop()
        if self.subscribers[symbol].updateValue(session, forKey: ObjectIdentifier(session)) == nil {
            self.stats.subscriptions += 1
        }
        if let snapshot = self.latest[symbol] {
            self.send(snapshot, to: session)
        }
    }

    func unsubscribe(_ session: QuoteSessionHandler, from symbol: Int) {
        self.eventLoop.assertInEventLoop()
        if self.subscribers[symbol].removeValue(forKey: ObjectIdentifier(session)) != nil {
            self.stats.subscriptions -= 1
        }
    }

    /// One feed tick: write every quote to every subscriber on this loop (the payload buffer is
    /// shared, never copied), then flush each touched connection once.
    func deliver(_ batch: [QuoteUpdate]) {
        self.eventLoop.assertInEventLoop()
        for update in batch {
            self.latest[update.symbol] = update.frame
            for session in self.subscribers[update.symbol].values {
                self.send(update.frame, to: session)
            }
        }
        self.flushPending()
    }

    /// Flushes every session written to since the last flush; the caller ends each tick with it.
    func flushPending() {
        for session in self.pendingFlush {
            session.flush()
        }
        self.pendingFlush.removeAll(keepingCapacity: true)
    }

    private func send(_ frame: WebSocketFrame, to session: QuoteSessionHandler) {
        switch session.write(frame) {
        case .written(let firstSinceFlush):
            self.stats.quotesSent += 1
            if firstSinceFlush { self.pendingFlush.append(session) }
        case .dropped:
            self.stats.quotesDropped += 1
        }
    }
}
