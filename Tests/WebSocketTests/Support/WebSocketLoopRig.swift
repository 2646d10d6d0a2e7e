// Socket rig for WebSocket tests: one event loop on a background thread, a blocking raw client
// for misbehaving peers, and recording handlers. Waits poll with generous deadlines, so results
// never depend on timing luck, only on the behaviour finishing within seconds.
import Wire
import WebSocket
#if canImport(Glibc)
import Glibc
#endif

/// Runs one event loop on its own thread for the duration of a test.
final class WebSocketLoopRunner: @unchecked Sendable {
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }

    init() throws {
        group = try EventLoopGroup(count: 1, name: "ws-test")
        group.start()
    }

    /// Runs `body` on the loop and waits for its result.
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        try loop.submitAndWait(body)
    }

    /// Polls `condition` on the loop every 5 ms until it holds or `seconds` pass.
    @discardableResult
    func wait(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool {
        let deadline = Double(DispatchTimeShim.nowNanos()) + seconds * 1e9
        while Double(DispatchTimeShim.nowNanos()) < deadline {
            if (try? sync(condition)) == true { return true }
            usleep(5_000)
        }
        return false
    }

    func shutdown() {
        group.stop()
        group.join()
    }
}

enum DispatchTimeShim {
    static func nowNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A blocking TCP client that can misbehave (drip bytes, never read, reset).
final class RawSocket {
    let fd: CInt
    var closed = false

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { throw IOError(errno: errno, call: "connect") }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { if !closed { Glibc.close(fd) } }

    func send(_ s: String) { send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    /// Reads until `marker` appears (returns everything read), EOF or the 5 s timeout.
    func read(until marker: String) -> String {
        var out: [UInt8] = []
        var byte: UInt8 = 0
        let m = Array(marker.utf8)
        while !(out.count >= m.count && Array(out.suffix(m.count)) == m) {
            if recv(fd, &byte, 1, 0) != 1 { break }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads exactly `count` bytes (fewer on EOF/timeout).
    func read(count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    /// Reads until EOF (true) or timeout (false).
    func readUntilEOF() -> (bytes: [UInt8], eof: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (out, true) }
            if n < 0 { return (out, errno == ECONNRESET) }
            out.append(contentsOf: buf[0..<n])
        }
    }

    /// Sends a valid upgrade request and reads the 101 answer.
    func upgrade(path: String = "/echo", extra: String = "") -> String {
        send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n")
        return read(until: "\r\n\r\n")
    }

    /// Abortive close: close with a zero linger sends RST instead of FIN.
    func reset() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(fd)
        closed = true
    }

    /// Shrinks the receive buffer so a never-reading client stops the server's writes early.
    func shrinkReceiveBuffer() {
        var size: CInt = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
    }
}

/// Echoes messages back; records what happened. Touched only on the loop thread.
final class EchoWebSocketHandler: WebSocketHandler, @unchecked Sendable {
    var paths: [String] = []
    var texts: [String] = []
    var closes: [WebSocketCloseCode] = []
    var connections: [WebSocketConnection] = []

    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) {
        paths.append(request?.target ?? "")
        connections.append(ws)
    }
    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) {
        texts.append(text.readableString)
        ws.send(.text, payload: text)
    }
    func webSocket(_ ws: WebSocketConnection, didReceiveBinary data: ByteBuffer) {
        ws.send(.binary, payload: data)
    }
    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {
        closes.append(code)
        connections.removeAll { $0 === ws }
    }
}

/// Client-side recorder.
final class RecordingWebSocketHandler: WebSocketHandler, @unchecked Sendable {
    var connected = false
    var texts: [String] = []
    var binaries: [[UInt8]] = []
    var closes: [WebSocketCloseCode] = []

    func webSocketDidConnect(_ ws: WebSocketConnection, request: HTTPRequestHead?) { connected = true }
    func webSocket(_ ws: WebSocketConnection, didReceiveText text: ByteBuffer) { texts.append(text.readableString) }
    func webSocket(_ ws: WebSocketConnection, didReceiveBinary data: ByteBuffer) {
        binaries.append(data.readableBytesArray)
    }
    func webSocketDidClose(_ ws: WebSocketConnection, code: WebSocketCloseCode, reason: String) {
        closes.append(code)
    }
}

/// A server with an echo endpoint at /echo and /health on the router, listening on a free port.
final class EchoServerRig: @unchecked Sendable {
    let runner: WebSocketLoopRunner
    let echo = EchoWebSocketHandler()
    var server: WebSocketServer!
    var listener: TCPListener!
    var port: Int { listener.port }

    init(configuration: WebSocketServerConfiguration = .init()) throws {
        runner = try WebSocketLoopRunner()
        let echo = self.echo
        try runner.sync { [self] in
            server = WebSocketServer(configuration: configuration, upgrade: { head in
                head.pathEquals("/echo") ? echo : nil
            }, route: { head, _ in
                head.pathEquals("/health")
                    ? HTTPResponse(status: .ok, contentType: "text/plain", body: "ok\n") : nil
            })
            listener = try server.listen(host: "127.0.0.1", port: 0, on: runner.loop)
        }
    }

    func shutdown() {
        try? runner.sync { [self] in listener.close() }
        runner.shutdown()
    }
}
