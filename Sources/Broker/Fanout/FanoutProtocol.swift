// FanoutProtocol: the client protocol of DESIGN.md on one connection: parse a text message,
// subscribe/unsubscribe through the shard, reply `subscribed` / `unsubscribed` / `error`.
// Replies are whole unmasked text frames written straight to the connection, so they queue in
// order with the quotes (a `subscribed` reply always precedes that subscription's snapshot).
public import Wire
import WebSocket

/// Stable error codes of the client protocol.
public enum FanoutErrorCode: String, Sendable {
    case badRequest = "bad_request"
    case unknownAction = "unknown_action"
    case unknownSymbol = "unknown_symbol"
    case tooManySymbols = "too_many_symbols"
    case binaryNotSupported = "binary_not_supported"
}

/// Handles client messages for the connections of one shard.
public struct FanoutProtocol {
    /// Symbol names -> ids.
    public let symbols: SymbolUniverse
    /// The shard subscriptions go to.
    public unowned let shard: FanoutShard

    /// Creates the handler.
    public init(symbols: SymbolUniverse, shard: FanoutShard) {
        self.symbols = symbols
        self.shard = shard
    }

    /// Handles one complete text message from `client`.
    public func handleText(_ client: FanoutClient, _ payload: UnsafeRawBufferPointer) {
        let msg: JSONValue
        do {
            msg = try JSONParser.parse(payload, maxDepth: 4)
        } catch {
            return sendError(client, .badRequest, "\(error)")
        }
        guard case .object = msg else { return sendError(client, .badRequest, "expected a JSON object") }
        guard let action = msg["action"]?.stringValue else {
            return sendError(client, .badRequest, "missing string field 'action'")
        }
        switch action {
        case "subscribe", "unsubscribe":
            guard let list = msg["symbols"]?.arrayValue else {
                return sendError(client, .badRequest, "'symbols' must be an array of strings")
            }
            if list.count > shard.limits.maxSymbolsPerConnection {
                return sendError(client, .tooManySymbols,
                                 "at most \(shard.limits.maxSymbolsPerConnection) symbols per connection")
            }
            var ids: [Int32] = []
            var unknown: [String] = []
            ids.reserveCapacity(list.count)
            for v in list {
                guard let name = v.stringValue else {
                    return sendError(client, .badRequest, "'symbols' must be an array of strings")
                }
                if let id = symbols.id(of: name) { ids.append(id) } else { unknown.append(name) }
            }
            if !unknown.isEmpty {
                let shown = unknown.prefix(10).joined(separator: ", ") + (unknown.count > 10 ? ", ..." : "")
                sendError(client, .unknownSymbol, "unknown symbols: \(shown)")
            }
            if action == "subscribe" {
                guard let added = shard.subscribe(client, ids) else {
                    return sendError(client, .tooManySymbols,
                                     "at most \(shard.limits.maxSymbolsPerConnection) symbols per connection")
                }
                if !ids.isEmpty || unknown.isEmpty { sendList(client, "subscribed", ids.isEmpty ? [] : dedup(ids)) }
                _ = added
            } else {
                let removed = shard.unsubscribe(client, ids)
                if !ids.isEmpty || unknown.isEmpty { sendList(client, "unsubscribed", removed) }
            }
        default:
            sendError(client, .unknownAction, "unknown action '\(action)'; expected subscribe or unsubscribe")
        }
    }

    /// A binary message: not part of the protocol; the connection stays open.
    public func handleBinary(_ client: FanoutClient) {
        sendError(client, .binaryNotSupported, "send JSON text frames")
    }

    private func dedup(_ ids: [Int32]) -> [Int32] {
        var seen = Set<Int32>()
        return ids.filter { seen.insert($0).inserted }
    }

    private func sendList(_ client: FanoutClient, _ type: StaticString, _ ids: [Int32]) {
        var body = ByteBuffer(capacity: 32 + ids.count * 12)
        body.writeStaticString(#"{"type":""#)
        body.writeStaticString(type)
        body.writeStaticString(#"","symbols":["#)
        for (i, id) in ids.enumerated() {
            if i > 0 { body.writeStaticString(",") }
            body.writeStaticString("\"")
            symbols.writeName(of: id, into: &body)
            body.writeStaticString("\"")
        }
        body.writeStaticString("]}")
        send(client, body)
    }

    /// Sends `{"type":"error","code":...,"message":...}`.
    public func sendError(_ client: FanoutClient, _ code: FanoutErrorCode, _ message: String) {
        send(client, FanoutProtocol.errorBody(code, message))
    }

    /// The error message body.
    public static func errorBody(_ code: FanoutErrorCode, _ message: String) -> ByteBuffer {
        JSONValue.object([("type", .string("error")), ("code", .string(code.rawValue)), ("message", .string(message))])
            .serialized
    }

    private func send(_ client: FanoutClient, _ body: ByteBuffer) {
        client.transport.tcp.write(WebSocketFrameEncoder.frame(opcode: .text, payload: body, maskingKey: nil))
    }
}

extension JSONValue {
    /// Compact serialization in a ByteBuffer.
    public var serialized: ByteBuffer {
        var b = ByteBuffer()
        write(into: &b)
        return b
    }
}
