// Interop: Python's ssl module (Tests/interop/tls/echo_client.py) against our TLS server side.
// The first test drives a TLSEngine over a plain blocking loopback socket, so the engine is checked
// against an independent TLS client without depending on the event loop.
import Testing

@testable import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Directory of the Python scripts, found from this file so the tests run from any working directory.
let tlsInteropDirectory: String = {
    var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(2)  // WireTests/TLSInteropTests.swift
    return parts.joined(separator: "/") + "/interop/tls"
}()

/// The Python TLS echo client.
let tlsInteropClientScript = tlsInteropDirectory + "/echo_client.py"

/// Waits (up to 15 s, polling) for a child to print `PORT <n>`; nil if it exits or never does.
func waitForPort(_ child: TestChild) -> Int? {
    for _ in 0..<1500 {
        let text = readFile(child.outputPath)
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("PORT ") }) {
            return Int(line.dropFirst(5))
        }
        if text.hasPrefix("FAIL") { return nil }
        usleep(10_000)
    }
    return nil
}

/// A blocking loopback client socket with a receive timeout.
private func connectBlocking(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    precondition(rc == 0, "connect failed: \(errno)")
    var tv = timeval(tv_sec: 15, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

/// A blocking loopback listener for tests, with a receive timeout so a broken peer fails the test
/// instead of hanging it.
private struct BlockingListener {
    let fd: Int32
    let port: Int

    init() {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(sock >= 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(bound == 0 && listen(sock, 4) == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) }
        }
        BlockingListener.setTimeout(sock)
        fd = sock
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    static func setTimeout(_ fd: Int32) {
        var tv = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func accept() -> Int32 {
        let c = Glibc.accept(fd, nil, nil)
        if c >= 0 { BlockingListener.setTimeout(c) }
        return c
    }
}

private func sendAll(_ fd: Int32, _ buffer: ByteBuffer) -> Bool {
    buffer.withUnsafeReadableBytes { b in
        var off = 0
        while off < b.count {
            let n = send(fd, b.baseAddress! + off, b.count - off, Int32(MSG_NOSIGNAL))
            if n <= 0 { return false }
            off += n
        }
        return true
    }
}

@Suite struct TLSInteropTests {
    @Test func pythonClientEchoesThroughEngineOnBlockingSocket() throws {
        let certs = TLSTestCertificates.shared
        let context = try TLSServerContext(certificatePath: certs.certificatePath, privateKeyPath: certs.privateKeyPath)
        let listener = BlockingListener()
        defer { close(listener.fd) }
        let child = TestProcess.spawn([
            "python3", tlsInteropClientScript, "127.0.0.1", String(listener.port),
            certs.certificatePath,
        ])
        defer { child.kill() }
        let fd = listener.accept()
        try #require(fd >= 0, "python client never connected: \(child.wait().output)")
        defer { close(fd) }

        let engine = try TLSEngine(server: context)
        var inbound = [UInt8](repeating: 0, count: 65536)
        var plain = ByteBuffer()
        var wire = ByteBuffer()
        var echoed = 0
        loop: while true {
            let n = recv(fd, &inbound, inbound.count, 0)
            if n <= 0 { break }
            inbound.withUnsafeBytes { engine.feedCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            let result = try engine.readPlaintext(into: &plain)
            if plain.readableBytes > 0 {
                // The echo handler: everything decrypted goes straight back.
                echoed += plain.readableBytes
                try engine.writePlaintext(plain)
                plain.clear()
            }
            if result == .closed { engine.close() }
            wire.clear()
            engine.takeCiphertext(into: &wire)
            if wire.readableBytes > 0 && !sendAll(fd, wire) { break }
            if result == .closed { break loop }
        }
        let outcome = child.wait()
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.hasPrefix("OK TLSv1.3 "))
        #expect(echoed == 1 + 100 + 16384 + 100_000)
    }

    @Test func ourClientEchoesThroughPythonServer() throws {
        let certs = TLSTestCertificates.shared
        let child = TestProcess.spawn([
            "python3", tlsInteropDirectory + "/echo_server.py", certs.certificatePath, certs.privateKeyPath,
        ])
        defer { child.kill() }
        let port = try #require(waitForPort(child), "python server did not start: \(readFile(child.outputPath))")
        let fd = connectBlocking(port: port)
        defer { close(fd) }
        let engine = try TLSEngine(
            client: TLSClientConfig(verify: true, caPath: certs.certificatePath), serverName: "localhost")
        var wire = ByteBuffer()
        var plain = ByteBuffer()
        var inbound = [UInt8](repeating: 0, count: 65536)
        let message = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try engine.writePlaintext(ByteBuffer(bytes: message))  // held until the handshake completes
        var closedByPeer = false
        while !closedByPeer {
            wire.clear()
            engine.takeCiphertext(into: &wire)
            if wire.readableBytes > 0 { #expect(sendAll(fd, wire)) }
            if plain.readableBytes == message.count && !engine.peerClosed {
                engine.close()  // everything echoed: say goodbye, then wait for the server's close_notify
                wire.clear()
                engine.takeCiphertext(into: &wire)
                #expect(sendAll(fd, wire))
            }
            let n = recv(fd, &inbound, inbound.count, 0)
            if n <= 0 { break }
            inbound.withUnsafeBytes { engine.feedCiphertext(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            closedByPeer = try engine.readPlaintext(into: &plain) == .closed || engine.peerClosed
        }
        #expect(plain.readableBytesArray == message)
        #expect(closedByPeer)
        let outcome = child.wait()
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.contains("OK TLSv1.3 50000"))
    }

    /// The loop-driven client side (TCPConnection.connect(tls:)) against an independent TLS server.
    @Test func loopClientEchoesThroughPythonServer() throws {
        let certs = TLSTestCertificates.shared
        let child = TestProcess.spawn([
            "python3", tlsInteropDirectory + "/echo_server.py", certs.certificatePath, certs.privateKeyPath,
        ])
        defer { child.kill() }
        let port = try #require(waitForPort(child), "python server did not start: \(readFile(child.outputPath))")
        let config = try TLSClientConfig(verify: true, caPath: certs.certificatePath)

        final class Client: TCPConnectionHandler, @unchecked Sendable {
            let message = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            let done = Semaphore()
            var got: [UInt8] = []
            var connected = false
            var closeError: IOError?
            func connectionDidConnect(_ c: TCPConnection) {
                connected = true
                c.write(ByteBuffer(bytes: message))
            }
            func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int {
                got += bytes
                if got.count == message.count { c.close() }  // close_notify, then the socket
                return bytes.count
            }
            func connectionDidClose(_ c: TCPConnection, error: IOError?) {
                closeError = error
                done.signal()
            }
        }
        let r = try LoopRunner()
        defer { r.shutdown() }
        let client = Client()
        _ = try r.sync {
            // serverName comes from the host ("localhost"), which the certificate names.
            try TCPConnection.connect(host: "localhost", port: port, on: r.loop, tls: config, handler: client)
        }
        #expect(client.done.wait(seconds: 15))
        let (connected, got, closeError) = try r.sync { (client.connected, client.got, client.closeError) }
        #expect(connected)
        #expect(got == client.message)
        #expect(closeError == nil)
        let outcome = child.wait()
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.output.contains("OK TLSv1.3 50000"))
    }
}
