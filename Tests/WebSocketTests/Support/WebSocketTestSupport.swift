// Shared rig for WebSocket tests: frame builders and a fake transport that feeds bytes to a
// state machine the way TCPConnection does (unconsumed bytes are presented again with more).
import Wire
@testable import WebSocket

let testKey = WebSocketMaskingKey(0x37, 0xFA, 0x21, 0x3D)

/// One frame as bytes, masked with `key` when given (client frames).
func frameBytes(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false,
                key: WebSocketMaskingKey? = testKey) -> [UInt8] {
    payload.withUnsafeBytes {
        WebSocketFrameEncoder.frame(opcode: opcode, fin: fin, rsv1: rsv1, payload: $0, maskingKey: key)
    }.readableBytesArray
}

func frameBytes(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true, rsv1: Bool = false,
                key: WebSocketMaskingKey? = testKey) -> [UInt8] {
    frameBytes(opcode, Array(text.utf8), fin: fin, rsv1: rsv1, key: key)
}

/// Feeds `bytes` in pieces of `chunk` bytes (all at once when nil), collecting every action.
/// Unconsumed bytes stay pending and are presented again with the next piece.
func feed(_ sm: inout WebSocketStateMachine, _ bytes: [UInt8], chunk: Int? = nil, now: UInt64 = 0)
    -> [WebSocketAction] {
    var actions: [WebSocketAction] = []
    var pending: [UInt8] = []
    var start = 0  // first unconsumed byte of `pending`
    var i = 0
    let step = chunk ?? max(bytes.count, 1)
    repeat {
        let end = min(bytes.count, i + step)
        pending += bytes[i..<end]
        i = end
        let used = pending[start...].withUnsafeBytes { all -> Int in
            var offset = 0
            while true {
                let (action, n) = sm.receive(UnsafeRawBufferPointer(rebasing: all[offset...]), now: now)
                offset += n
                guard let action else { break }
                actions.append(action)
            }
            return offset
        }
        start += used
        if start > 65536 {
            pending.removeFirst(start)
            start = 0
        }
    } while i < bytes.count
    return actions
}

/// Decodes all events of `bytes` with a fresh decoder.
func decodeAll(_ bytes: [UInt8], role: WebSocketFrameDecoder.Role = .client,
               configuration: WebSocketFrameDecoder.Configuration = .init()) throws(WebSocketProtocolError)
    -> [WebSocketFrameDecoder.Event] {
    var d = WebSocketFrameDecoder(role: role, configuration: configuration)
    return try decodeAll(&d, bytes)
}

func decodeAll(_ d: inout WebSocketFrameDecoder, _ bytes: [UInt8]) throws(WebSocketProtocolError)
    -> [WebSocketFrameDecoder.Event] {
    var events: [WebSocketFrameDecoder.Event] = []
    var offset = 0
    var failure: WebSocketProtocolError?
    bytes.withUnsafeBytes { all in
        while true {
            do {
                let (e, n) = try d.decode(UnsafeRawBufferPointer(rebasing: all[offset...]))
                offset += n
                if e == .needMoreData { break }
                events.append(e)
            } catch {
                failure = error as? WebSocketProtocolError
                break
            }
        }
    }
    if let failure { throw failure }
    return events
}

/// The error decoding `bytes` throws, or nil.
func decodeError(_ bytes: [UInt8], role: WebSocketFrameDecoder.Role = .server,
                 configuration: WebSocketFrameDecoder.Configuration = .init()) -> WebSocketProtocolError? {
    do {
        _ = try decodeAll(bytes, role: role, configuration: configuration)
        return nil
    } catch {
        return error
    }
}

extension ByteBuffer {
    init(_ bytes: [UInt8]) { self.init(bytes: bytes) }
}

extension WebSocketAction {
    /// The close code of a `.sendClose`, for short assertions.
    var sentCloseCode: WebSocketCloseCode? {
        if case .sendClose(let c, _, _) = self { return c }
        return nil
    }
}
