// One WebSocket connection after the upgrade: reads client messages (subscribe / unsubscribe, parsed
// with JSONDecoder), answers control frames, and is the write end the loop's LoopFanout delivers to.

import Foundation
import NIOCore
import NIOFoundationCompat
import NIOWebSocket

/// What happened to a quote offered to a session.
enum SendResult {
    /// Written (not yet flushed); `firstSinceFlush` says the session needs a flush at the end of the tick.
    case written(firstSinceFlush: Bool)
    /// The channel is above its high watermark (slow consumer) or closing: the quote is dropped.
    case dropped
}

/// Client -> server message: `{"action":"subscribe","symbols":["S0001","S0002"]}`.
struct ClientMessage: Decodable {
    var action: String
    var symbols: [String]
}

/// The handler at the end of a WebSocket connection's pipeline.
final class QuoteSessionHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let fanout: LoopFanout
    private let symbols: SymbolTable
    private var context: ChannelHandlerContext?
    /// Symbols this session is subscribed to (dense indices).
    private var subscribed: Set<Int> = []
    private var needsFlush = false
    private var closeSent = false
    private let decoder = JSONDecoder()
    private let encoder = JSONEncoder()

    init(fanout: LoopFanout, symbols: SymbolTable) {
        self.fanout = fanout
        self.symbols = symbols
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.fanout.connectionOpened()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.fanout.connectionClosed(self, symbols: self.subscribed)
        self.subscribed.removeAll()
        self.context = nil
    }

    // MARK: Delivery (called by LoopFanout on this channel's loop)

    /// Writes a quote frame unless the channel is not writable.
    func write(_ frame: WebSocketFrame) -> SendResult {
        guard let context = self.context, !self.closeSent, context.channel.isWritable else { return .dropped }
        context.write(Self.wrapOutboundOut(frame), promise: nil)
        let first = !self.needsFlush
        self.needsFlush = true
        return .written(firstSinceFlush: first)
    }

    /// Flushes what `write` queued.
    func flush() {
        guard self.needsFlush else { return }
        self.needsFlush = false
        self.context?.flush()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            self.received(text: frame.unmaskedData, context: context)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(Self.wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            self.receivedClose(frame, context: context)
        case .pong:
            break
        case .binary:
            // Not part of the protocol; like the main server, say so and keep the connection.
            self.replyError(code: "binary_not_supported", message: "send JSON text frames")
            context.flush()
        default:
            // Continuations are reassembled by NIOWebSocketFrameAggregator; anything else is a
            // protocol error (RFC 6455 §7.4.1: 1002).
            self.close(code: .protocolError, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func received(text: ByteBuffer, context: ChannelHandlerContext) {
        let message: ClientMessage
        do {
            message = try self.decoder.decode(ClientMessage.self, from: text)
        } catch {
            self.replyError(code: "bad_request", message: "expected {\"action\":...,\"symbols\":[...]}")
            context.flush()
            return
        }

        guard message.action == "subscribe" || message.action == "unsubscribe" else {
            self.replyError(
                code: "unknown_action", message: "unknown action '\(message.action)'; expected subscribe or unsubscribe")
            context.flush()
            return
        }
        var known: [String] = []
        var indices: [Int] = []
        var unknown: [String] = []
        var seen: Set<Int> = []
        for name in message.symbols {
            if let symbol = self.symbols.indexByName[name] {
                if seen.insert(symbol).inserted {
                    known.append(name)
                    indices.append(symbol)
                }
            } else {
                unknown.append(name)
            }
        }
        // Same order and rules as the main server: the error first, then the list reply unless
        // every symbol was unknown.
        if !unknown.isEmpty {
            self.replyError(code: "unknown_symbol", message: "unknown symbols: \(unknown.joined(separator: ", "))")
        }
        if message.action == "subscribe" {
            if !known.isEmpty || unknown.isEmpty { self.reply(type: "subscribed", symbols: known) }
            // After the reply: each new subscription gets the latest quote of its symbol as a snapshot.
            for symbol in indices where self.subscribed.insert(symbol).inserted {
                self.fanout.subscribe(self, to: symbol)
            }
        } else {
            for symbol in indices where self.subscribed.remove(symbol) != nil {
                self.fanout.unsubscribe(self, from: symbol)
            }
            if !known.isEmpty || unknown.isEmpty { self.reply(type: "unsubscribed", symbols: known) }
        }
        self.fanout.flushPending()
        context.flush()
    }

    /// `{"type":"subscribed","symbols":[...]}` or `{"type":"unsubscribed","symbols":[...]}`.
    private func reply(type: String, symbols: [String]) {
        self.reply("{\"type\":\"\(type)\",\"symbols\":\(self.json(symbols))}")
    }

    /// `{"type":"error","code":"unknown_symbol","message":"..."}`.
    private func replyError(code: String, message: String) {
        self.reply("{\"type\":\"error\",\"code\":\(self.json(code)),\"message\":\(self.json(message))}")
    }

    /// JSONEncoder for the values (it escapes what clients sent); the envelope is written by hand so
    /// `type` always comes first (JSONEncoder's key order is unspecified).
    private func json(_ value: some Encodable) -> String {
        (try? self.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// Writes a control reply as one text frame (not counted as a quote, never dropped).
    private func reply(_ text: String) {
        guard let context = self.context, !self.closeSent else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(string: text))
        context.write(Self.wrapOutboundOut(frame), promise: nil)
    }

    /// RFC 6455 §5.5.1: answer a close with a close echoing its status code, then close the TCP connection.
    private func receivedClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        if self.closeSent {
            context.close(promise: nil)
            return
        }
        var data = frame.unmaskedData
        let code = data.readSlice(length: 2) ?? ByteBuffer()
        self.sendClose(data: code, context: context)
    }

    private func close(code: WebSocketErrorCode, context: ChannelHandlerContext) {
        guard !self.closeSent else { return }
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        self.sendClose(data: data, context: context)
    }

    private func sendClose(data: ByteBuffer, context: ChannelHandlerContext) {
        self.closeSent = true
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }
}
