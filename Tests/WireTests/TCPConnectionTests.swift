import Testing
import Synchronization
@testable import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Echoes everything; records close errors.
final class EchoHandler: TCPConnectionHandler, @unchecked Sendable {
    var closes: [IOError?] = []
    var received = 0
    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
        received += bytes.count
        c.write(copying: bytes)
        return bytes.count
    }
    func connectionDidClose(_ c: TCPConnection, error: IOError?) { closes.append(error) }
}

/// Consumes only whole lines, so partial input must be kept and presented again.
final class LineHandler: TCPConnectionHandler, @unchecked Sendable {
    var lines: [String] = []
    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
        var start = 0
        for i in 0..<bytes.count where bytes[i] == 10 {
            let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            lines.append(line)
            c.write(ByteBuffer(string: "<\(line)>\n"))
            start = i + 1
        }
        return start
    }
    func connectionDidClose(_ c: TCPConnection, error: IOError?) {}
}

@Suite(.serialized) struct TCPConnectionTests {
    @Test func echoesBytesAndReportsOrderlyClose() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        let h = EchoHandler()
        let listener = try r.sync { try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h } }
        let client = try BlockingClient(port: listener.port)
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        client.send(payload)
        #expect(client.read(count: payload.count) == payload)
        client.shutdownWrite()
        #expect(client.readUntilEOF().eof)
        usleep(50_000)
        let closes = try r.sync { h.closes }
        #expect(closes.count == 1)
        #expect(closes.first! == nil)
    }

    @Test func partialInputIsKeptUntilConsumed() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        let h = LineHandler()
        let listener = try r.sync { try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h } }
        let client = try BlockingClient(port: listener.port)
        client.send("hel")
        usleep(20_000)
        client.send("lo\nwor")
        usleep(20_000)
        client.send("ld\n")
        let got = String(decoding: client.read(count: 16), as: UTF8.self)
        #expect(got == "<hello>\n<world>\n")
        #expect(try r.sync { h.lines } == ["hello", "world"])
    }

    @Test func crossThreadTasksRunInOrderOnTheLoop() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        let seen = Mutex<[Int]>([])
        let sem = Semaphore()
        let loop = r.loop
        for i in 0..<10_000 {
            loop.execute {
                precondition(loop.inEventLoop)
                seen.withLock { $0.append(i) }
                if i == 9_999 { sem.signal() }
            }
        }
        #expect(sem.wait(seconds: 5))
        #expect(seen.withLock { $0 } == Array(0..<10_000))
    }

    @Test func timersFireInDeadlineOrderAndCancelWorks() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        let fired = Mutex<[Int]>([])
        let sem = Semaphore()
        try r.sync {
            r.loop.schedule(afterNanos: 30_000_000) { fired.withLock { $0.append(3) }; sem.signal() }
            r.loop.schedule(afterNanos: 10_000_000) { fired.withLock { $0.append(1) } }
            let t = r.loop.schedule(afterNanos: 20_000_000) { fired.withLock { $0.append(2) } }
            r.loop.cancel(t)
        }
        #expect(sem.wait(seconds: 5))
        #expect(fired.withLock { $0 } == [1, 3])
    }

    @Test func idleTimeoutClosesSilentPeer() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        let h = EchoHandler()
        let listener = try r.sync {
            try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { c in
                c.handler = h
                c.idleTimeoutNanos = 200_000_000
            }
        }
        let client = try BlockingClient(port: listener.port)
        let (_, eof) = client.readUntilEOF()
        #expect(eof)
        let closes = try r.sync { h.closes }
        #expect(closes.count == 1)
        #expect(closes.first??.errno == ETIMEDOUT)
    }

    @Test func nonReadingPeerHitsWatermarksThenHardLimit() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        final class Flood: TCPConnectionHandler, @unchecked Sendable {
            var results: [TCPConnection.WriteResult] = []
            var closedWith: IOError??
            func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
                let chunk = ByteBuffer(bytes: [UInt8](repeating: 65, count: 64 * 1024))
                for _ in 0..<200 {   // 12.5 MiB, far more than the socket buffers hold
                    let res = c.write(chunk)
                    if results.last != res { results.append(res) }
                    if res == .closed { break }
                }
                return bytes.count
            }
            func connectionDidClose(_ c: TCPConnection, error: IOError?) { closedWith = .some(error) }
        }
        let f = Flood()
        let listener = try r.sync {
            try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { c in
                c.handler = f
                c.highWatermark = 256 * 1024
                c.maxBufferedBytes = 4 * 1024 * 1024
            }
        }
        let client = try BlockingClient(port: listener.port)
        client.send("go")
        usleep(200_000)
        let (results, closed) = try r.sync { (f.results, f.closedWith) }
        #expect(results == [.queued, .overHighWatermark, .closed])
        #expect(closed??.errno == ENOBUFS)
    }

    @Test func outgoingConnectReachesListenerAndRefusalIsReported() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        final class Client: TCPConnectionHandler, @unchecked Sendable {
            let done = Semaphore()
            var echoed = ""
            var connected = false
            var error: IOError?
            func connectionDidConnect(_ c: TCPConnection) {
                connected = true
                c.write(ByteBuffer(string: "ping\n"))
            }
            func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
                echoed += String(decoding: bytes, as: UTF8.self)
                if echoed.hasSuffix("\n") { c.close() }
                return bytes.count
            }
            func connectionDidClose(_ c: TCPConnection, error: IOError?) { self.error = error; done.signal() }
        }
        let h = LineHandler()
        let listener = try r.sync { try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h } }
        let client = Client()
        _ = try r.sync { try TCPConnection.connect(host: "127.0.0.1", port: listener.port, on: r.loop, handler: client) }
        #expect(client.done.wait(seconds: 5))
        #expect(client.connected)
        #expect(client.echoed == "<ping>\n")

        // A port nobody listens on: the failure arrives as a close with ECONNREFUSED.
        let closedPort = try r.sync { () -> Int in
            let l = try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { _ in }
            let p = l.port
            l.close()
            return p
        }
        let refused = Client()
        _ = try r.sync { try TCPConnection.connect(host: "127.0.0.1", port: closedPort, on: r.loop, handler: refused) }
        #expect(refused.done.wait(seconds: 5))
        #expect(!refused.connected)
        #expect(refused.error?.errno == ECONNREFUSED)
    }

    @Test func peerResetMidStreamIsCleanedUp() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        let h = LineHandler()
        let listener = try r.sync { try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h } }
        do {
            let client = try BlockingClient(port: listener.port)
            client.send("partial line without newline")
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
            usleep(50_000)
        }  // closes with RST
        usleep(100_000)
        #expect(try r.sync { r.loop.registrationCount } == 1)  // only the listener remains
        #expect(try r.sync { r.loop.stats.openConnections } == 0)
    }
}

@Suite(.serialized) struct TCPCloseLingerTests {
    @Test func gracefulCloseOfNonReadingPeerEndsAfterLinger() throws {
        let r = try LoopRunner()
        defer { r.shutdown() }
        final class Stuffer: TCPConnectionHandler, @unchecked Sendable {
            var closedWith: IOError??
            func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
                c.closeLingerNanos = 100_000_000
                c.write(ByteBuffer(bytes: [UInt8](repeating: 1, count: 16 << 20)))  // more than the kernel buffers
                c.close()
                return bytes.count
            }
            func connectionDidClose(_ c: TCPConnection, error: IOError?) { closedWith = .some(error) }
        }
        let h = Stuffer()
        let listener = try r.sync { try TCPListener(host: "127.0.0.1", port: 0, loop: r.loop) { $0.handler = h } }
        let client = try BlockingClient(port: listener.port)
        client.send("x")
        // The linger is 100 ms; allow a loaded machine up to 5 s before calling it a failure.
        var closed: IOError?? = nil
        for _ in 0..<50 {
            usleep(100_000)
            closed = try r.sync { h.closedWith }
            if closed != nil { break }
        }
        #expect(closed??.errno == ETIMEDOUT)
    }
}
