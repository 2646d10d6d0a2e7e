// TCPConnection: one non-blocking TCP socket owned by one event loop.
//
// Owns: reading into the loop's shared receive buffer (leftovers only are kept per connection),
// the corked outbound queue (shared ByteBuffers, flushed in one writev per iteration), watermarks,
// half-close, reset and idle timeouts. Leaves to the handler: what the bytes mean.
import CEpoll
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The application side of a TCP connection. All calls happen on the connection's loop.
public protocol TCPConnectionHandler: AnyObject {
    /// Bytes arrived. Return how many were consumed; the rest is presented again, with more, next time.
    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int
    /// An outgoing connection finished connecting.
    func connectionDidConnect(_ c: TCPConnection)
    /// Buffered outbound bytes fell from above the high watermark to the low watermark.
    func connectionBecameWritable(_ c: TCPConnection)
    /// The connection is closed (`error` is nil for an orderly close). Called exactly once.
    func connectionDidClose(_ c: TCPConnection, error: IOError?)
}

extension TCPConnectionHandler {
    /// Default: nothing to do.
    public func connectionDidConnect(_ c: TCPConnection) {}
    /// Default: nothing to do.
    public func connectionBecameWritable(_ c: TCPConnection) {}
}

/// Socket options applied to accepted and connected sockets.
public struct TCPSocketOptions: Sendable {
    /// TCP_NODELAY (default on: we cork in user space, so Nagle only adds latency).
    public var noDelay = true
    /// SO_SNDBUF in bytes, 0 = kernel default.
    public var sendBufferBytes = 0
    /// SO_RCVBUF in bytes, 0 = kernel default.
    public var receiveBufferBytes = 0
    /// Creates the default options.
    public init() {}

    func apply(to fd: CInt) {
        if noDelay { _ = CEpoll_set_nodelay(fd, 1) }
        if sendBufferBytes > 0 { _ = CEpoll_set_sndbuf(fd, CInt(sendBufferBytes)) }
        if receiveBufferBytes > 0 { _ = CEpoll_set_rcvbuf(fd, CInt(receiveBufferBytes)) }
    }
}

/// A non-blocking TCP connection on one event loop. Use only on that loop's thread.
public final class TCPConnection: Selectable {
    /// What `write` did with the bytes.
    public enum WriteResult: Equatable, Sendable {
        /// Queued; leaves at the end of this iteration.
        case queued
        /// Queued, and the outbound queue is above the high watermark: stop producing until
        /// `connectionBecameWritable`.
        case overHighWatermark
        /// The connection is closed (or was closed now for exceeding `maxBufferedBytes`); nothing queued.
        case closed
    }

    enum State { case connecting, open, closing, closed }

    /// Stands in for written buffers in the outbound queue so their storage is released at once.
    static let released = ByteBuffer(capacity: 0)

    /// The loop that owns this connection.
    public unowned let loop: EventLoop
    /// The socket.
    public let fd: CInt
    /// The application handler. Held strongly until the connection closes.
    public var handler: (any TCPConnectionHandler)?
    /// Free slot for the owner's per-connection state.
    public var userData: AnyObject?
    /// Peer address as "host:port".
    public let remoteAddress: String

    var state: State
    private var inbound: ByteBuffer?
    private var outbound: [ByteBuffer] = []
    private var outHead = 0
    /// Bytes queued and not yet accepted by the kernel.
    public private(set) var bufferedBytes = 0
    private(set) var inFlushList = false
    private var waitingWritable = false
    private var readPaused = false
    private var shutdownAfterFlush = false
    private var aboveHigh = false
    var lastActivity: UInt64
    /// TLS, when this connection is encrypted: `outbound` then holds ciphertext and `plainQueue`
    /// the plaintext written since the last flush (encrypted once per flush).
    var tls: TLSEngine? {
        didSet { tlsBuffers = tls == nil ? nil : TLSBuffers() }
    }
    /// The plaintext side of TLS, boxed: plain connections (10,000 fanout clients) do not carry it.
    private var tlsBuffers: TLSBuffers?
    private final class TLSBuffers {
        var plainQueue: [ByteBuffer] = []
        var plain = ByteBuffer(capacity: 16 * 1024)
    }
    private var connectAnnounced = false

    /// Above this many buffered bytes `write` returns `.overHighWatermark`.
    public var highWatermark = 1 << 20
    /// Ask the kernel to stamp what arrives (SO_TIMESTAMPNS); `lastArrivalNanos` then tells when
    /// the data being delivered reached this socket, before any wait for this loop to read it.
    public var receiveTimestamps = false {
        didSet { if receiveTimestamps != oldValue { _ = CEpoll_set_timestampns(fd, receiveTimestamps ? 1 : 0) } }
    }
    /// With `receiveTimestamps`: the kernel's arrival time (CLOCK_REALTIME ns) of the last segment
    /// of the read being delivered now; 0 otherwise.
    public private(set) var lastArrivalNanos: UInt64 = 0
    /// `connectionBecameWritable` fires when buffered bytes fall back to this.
    public var lowWatermark = 256 << 10
    /// Hard limit: a write that would exceed it closes the connection (ENOBUFS).
    public var maxBufferedBytes = 64 << 20
    /// A graceful close waits at most this long for queued bytes to drain, then resets (a peer
    /// that never reads must not hold the connection open forever).
    public var closeLingerNanos: UInt64 = 3_000_000_000
    /// Close with ETIMEDOUT when no bytes arrive for this long (0 = never). Checked about once a second.
    public var idleTimeoutNanos: UInt64 = 0 {
        didSet {
            if idleTimeoutNanos > 0 && state != .closed {
                loop.idleWatched[ObjectIdentifier(self)] = self
            } else {
                loop.idleWatched[ObjectIdentifier(self)] = nil
            }
        }
    }

    init(fd: CInt, loop: EventLoop, remoteAddress: String, state: State) {
        self.fd = fd
        self.loop = loop
        self.remoteAddress = remoteAddress
        self.state = state
        self.lastActivity = loop.now
    }

    /// True until the connection is closed or closing.
    public var isOpen: Bool { state == .open || state == .connecting }

    /// True while the outbound queue is above the high watermark.
    public var isAboveHighWatermark: Bool { aboveHigh }

    // MARK: Connecting

    /// Opens an outgoing connection on `loop` (call on the loop's thread). The handler's
    /// `connectionDidConnect` fires when it is established, `connectionDidClose` if it fails.
    /// - Throws: `IOError` when the address does not resolve or the socket cannot be created.
    public static func connect(
        host: String, port: Int, on loop: EventLoop, options: TCPSocketOptions = TCPSocketOptions(),
        tls: TLSClientConfig? = nil, handler: any TCPConnectionHandler
    ) throws(IOError) -> TCPConnection {
        let addr = try SocketAddress.resolve(host: host, port: port)
        let fd = CEpoll_socket(addr.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw IOError(errno: errno, call: "socket") }
        options.apply(to: fd)
        let rc = addr.withSockAddr { Glibc.connect(fd, $0, $1) }
        let e = errno
        if rc != 0 && e != EINPROGRESS {
            Glibc.close(fd)
            throw IOError(errno: e, call: "connect(\(addr))")
        }
        let c = TCPConnection(fd: fd, loop: loop, remoteAddress: addr.description, state: .connecting)
        c.handler = handler
        if let tls {
            do {
                c.tls = try TLSEngine(client: tls, serverName: tls.serverName ?? host)
            } catch {
                Glibc.close(fd)
                throw IOError(errno: EPROTO, call: "\(error)")
            }
        }
        do {
            try loop.register(c, fd: fd, interest: CEpoll_EPOLLOUT)
        } catch {
            Glibc.close(fd)
            throw error
        }
        return c
    }

    // MARK: Events

    override func handleEvent(_ events: UInt32) {
        if state == .connecting {
            let err = CEpoll_socket_error(fd)
            if err != 0 {
                fail(IOError(errno: err, call: "connect(\(remoteAddress))"))
                return
            }
            state = .open
            loop.stats.connectionsOpened &+= 1
            loop.stats.openConnections += 1
            updateInterest()
            if let t = tls {
                // ClientHello now; connectionDidConnect once the handshake completes.
                do { try t.advanceHandshake() } catch { failTLS(error); return }
                queueCiphertext()
                scheduleFlush()
            } else {
                connectAnnounced = true
                handler?.connectionDidConnect(self)
            }
            if !outbound.isEmpty || tlsBuffers?.plainQueue.isEmpty == false { flushNow() }
            return
        }
        if events & CEpoll_EPOLLERR != 0 {
            let err = CEpoll_socket_error(fd)
            fail(IOError(errno: err == 0 ? ECONNRESET : err, call: "socket error"))
            return
        }
        if events & CEpoll_EPOLLOUT != 0 {
            waitingWritable = false
            flushNow()
        }
        if events & (CEpoll_EPOLLIN | CEpoll_EPOLLRDHUP | CEpoll_EPOLLHUP) != 0 && state != .closed {
            readNow()
        }
    }

    override func loopWillClose() {
        fail(IOError(errno: ESHUTDOWN, call: "event loop shut down"))
    }

    private func readNow() {
        var reads = 0
        while (state == .open || state == .closing) && !readPaused && reads < 4 {
            reads += 1
            let buf = loop.receiveBuffer
            let result: IOResult<Int>
            do {
                result = receiveTimestamps
                    ? try Syscalls.readTimestamped(fd, into: buf, arrivalNanos: &lastArrivalNanos)
                    : try Syscalls.read(fd, into: buf)
            } catch {
                fail(error)
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                peerClosed()
                return
            case .processed(let n):
                loop.stats.bytesRead &+= UInt64(n)
                lastActivity = loop.now
                if tls != nil {
                    deliverTLS(UnsafeRawBufferPointer(start: buf.baseAddress, count: n))
                } else {
                    deliver(UnsafeRawBufferPointer(start: buf.baseAddress, count: n))
                }
                if n < buf.count { return }
            }
        }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard let h = handler else { return }
        if var pending = inbound {
            inbound = nil
            pending.writeBytes(bytes)
            let consumed = pending.withUnsafeReadableBytes { h.connection(self, didReceive: $0) }
            pending.moveReaderIndex(forwardBy: consumed)
            if !pending.isEmpty && state != .closed {
                pending.discardReadBytes()
                inbound = pending
            }
        } else {
            let consumed = h.connection(self, didReceive: bytes)
            if consumed < bytes.count && state != .closed {
                inbound = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        }
    }

    /// Decrypts what arrived and hands the plaintext on; sends handshake replies and alerts.
    private func deliverTLS(_ cipher: UnsafeRawBufferPointer) {
        guard let t = tls, let b = tlsBuffers else { return }
        t.feedCiphertext(cipher)
        while state == .open || state == .closing {
            let r: TLSReadResult
            do {
                r = try t.readPlaintext(into: &b.plain)
            } catch {
                failTLS(error)
                return
            }
            if t.isHandshakeComplete && !connectAnnounced {
                connectAnnounced = true
                handler?.connectionDidConnect(self)
            }
            switch r {
            case .wouldBlock:
                queueCiphertext()
                scheduleFlush()
                return
            case .bytes:
                let plain = b.plain
                b.plain.clear()
                plain.withUnsafeReadableBytes { deliver($0) }
            case .closed:
                // Answer close_notify with ours, then close once it is flushed.
                t.close()
                queueCiphertext()
                scheduleFlush()
                peerClosed()
                return
            }
        }
    }

    /// Moves ciphertext the engine produced into the outbound queue.
    private func queueCiphertext() {
        guard let t = tls, t.pendingCiphertextBytes > 0 else { return }
        var out = ByteBuffer(capacity: t.pendingCiphertextBytes)
        let n = t.takeCiphertext(into: &out)
        outbound.append(out)
        bufferedBytes += n
    }

    private func scheduleFlush() {
        if !inFlushList && !waitingWritable && (state == .open || state == .closing) {
            inFlushList = true
            loop.pendingFlush.append(self)
        }
    }

    private func failTLS(_ error: TLSError) {
        queueCiphertext()  // may hold an alert; best effort
        if outbound.count > outHead { flushNow() }
        fail(IOError(errno: EPROTO, call: "\(error)"))
    }

    /// Bytes received but not yet consumed by the handler.
    public var unconsumedBytes: Int { inbound?.readableBytes ?? 0 }

    private func peerClosed() {
        // The peer half-closed. Whatever we still have queued goes out, then we close.
        if state == .open {
            state = .closing
            readPaused = true
        }
        if outbound.count == outHead {
            fail(nil)
        } else {
            updateInterest()
        }
    }

    // MARK: Writing

    /// Queues `buffer` (shared, not copied) to leave at the end of this iteration.
    @discardableResult
    public func write(_ buffer: ByteBuffer) -> WriteResult {
        guard state == .open || state == .connecting else { return .closed }
        let n = buffer.readableBytes
        guard n > 0 else { return aboveHigh ? .overHighWatermark : .queued }
        if bufferedBytes + n > maxBufferedBytes {
            fail(IOError(errno: ENOBUFS, call: "output buffer limit (\(maxBufferedBytes) bytes)"))
            return .closed
        }
        if let b = tlsBuffers {
            b.plainQueue.append(buffer)
        } else {
            if outbound.capacity == 0, let spare = loop.spareQueues.popLast() { outbound = spare }
            outbound.append(buffer)
        }
        bufferedBytes += n
        if !inFlushList && !waitingWritable && state == .open {
            inFlushList = true
            loop.pendingFlush.append(self)
        }
        if bufferedBytes > highWatermark {
            if !aboveHigh {
                aboveHigh = true
                loop.stats.backpressureEvents &+= 1
            }
            return .overHighWatermark
        }
        return .queued
    }

    /// Queues a copy of `bytes`.
    @discardableResult
    public func write(copying bytes: UnsafeRawBufferPointer) -> WriteResult {
        write(ByteBuffer(bytes: bytes))
    }

    /// Makes room for `count` more queued buffers, so a writer that knows it is about to queue
    /// a gather write (a fanout batch) grows the queue once instead of doubling it.
    public func reserveWrites(_ count: Int) {
        guard tls == nil else { return }
        if outbound.capacity == 0, let spare = loop.spareQueues.popLast() { outbound = spare }
        outbound.reserveCapacity(outbound.count + count)
    }

    /// Writes what is queued now instead of at the end of the iteration. For a writer that
    /// queues one burst per connection and moves on (fanout): the queue is drained and released
    /// before the next connection's is built, so thousands of connections never hold queued
    /// arrays at once.
    public func flush() {
        if inFlushList { flushNow() }
    }

    /// Writes everything queued now (normally done by the loop at the end of the iteration).
    func flushNow() {
        inFlushList = false
        guard state == .open || state == .closing else { return }
        if let t = tls, let q = tlsBuffers, !q.plainQueue.isEmpty {
            // One gather call: full 16 KiB records instead of one record per queued buffer.
            for b in q.plainQueue { bufferedBytes -= b.readableBytes }
            do { try t.writePlaintext(gathering: q.plainQueue) } catch { failTLS(error); return }
            q.plainQueue.removeAll(keepingCapacity: true)
            queueCiphertext()
        }
        let iov = loop.iovecs
        while outHead < outbound.count {
            var count = 0
            var total = 0
            var i = outHead
            while i < outbound.count && count < loop.iovMax {
                let b = outbound[i]
                // Invariant: the ByteBuffer stays in `outbound` (alive) until writev returns.
                iov[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: b.unsafeReadableAddress),
                                   iov_len: b.readableBytes)
                total += b.readableBytes
                count += 1
                i += 1
            }
            let result: IOResult<Int>
            do {
                result = try Syscalls.writev(fd, iov, count)
            } catch {
                fail(error)
                return
            }
            loop.stats.writevCalls &+= 1
            guard case .processed(let written) = result else {
                waitForWritable()
                return
            }
            loop.stats.bytesWritten &+= UInt64(written)
            consumeOutbound(written)
            if written < total {
                waitForWritable()
                return
            }
        }
        // A drained queue gives its array back to the loop: 10,000 connections each keeping a
        // batch-sized queue (~800 bytes) was the largest per-connection cost in S2. The loop keeps
        // a few for the next writers, so a writer that flushes as it goes (`flush()`) allocates
        // nothing.
        releaseOutbound()
        outHead = 0
        if waitingWritable { waitingWritable = false }
        updateInterest()
        if aboveHigh && bufferedBytes <= lowWatermark {
            aboveHigh = false
            handler?.connectionBecameWritable(self)
        }
        if state == .closing && outbound.count == outHead {
            fail(nil)
        } else if shutdownAfterFlush && outbound.count == outHead {
            shutdownAfterFlush = false
            _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        }
    }

    private func releaseOutbound() {
        if outbound.capacity > 0 && outbound.capacity <= EventLoop.spareQueueCapacity
            && loop.spareQueues.count < EventLoop.spareQueueCount {
            outbound.removeAll(keepingCapacity: true)
            loop.spareQueues.append(outbound)
        }
        outbound = []
    }

    private func consumeOutbound(_ written: Int) {
        var left = written
        bufferedBytes -= written
        while left > 0 {
            let n = outbound[outHead].readableBytes
            if n <= left {
                outbound[outHead] = TCPConnection.released  // drop the reference now, without allocating
                outHead += 1
                left -= n
            } else {
                outbound[outHead].moveReaderIndex(forwardBy: left)
                left = 0
            }
        }
        if outHead > 64 && outHead * 2 > outbound.count {
            outbound.removeFirst(outHead)
            outHead = 0
        }
        if aboveHigh && bufferedBytes <= lowWatermark {
            aboveHigh = false
            handler?.connectionBecameWritable(self)
        }
    }

    private func waitForWritable() {
        waitingWritable = true
        updateInterest()
    }

    private func updateInterest() {
        guard slot >= 0 else { return }
        var m: UInt32 = 0
        if !readPaused && state == .open { m |= CEpoll_EPOLLIN | CEpoll_EPOLLRDHUP }
        if waitingWritable || state == .connecting { m |= CEpoll_EPOLLOUT }
        loop.reregister(self, fd: fd, interest: m)
    }

    // MARK: Flow control and closing

    /// Stops reading (backpressure towards the peer).
    public func pauseReading() {
        readPaused = true
        updateInterest()
    }

    /// Resumes reading.
    public func resumeReading() {
        guard state == .open else { return }
        readPaused = false
        updateInterest()
    }

    /// Half-closes: flushes what is queued, then shuts down the write side.
    public func shutdownWrite() {
        guard state == .open else { return }
        shutdownAfterFlush = true
        if outbound.count == outHead {
            shutdownAfterFlush = false
            _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        } else if !inFlushList && !waitingWritable {
            inFlushList = true
            loop.pendingFlush.append(self)
        }
    }

    /// Graceful close: flushes what is queued, then closes.
    public func close() {
        switch state {
        case .closed, .closing: return
        case .connecting: fail(nil)
        case .open:
            if let t = tls, let q = tlsBuffers {
                // Encrypt what is queued, then close_notify (RFC 8446 6.1), all before the socket closes.
                for b in q.plainQueue { bufferedBytes -= b.readableBytes }
                try? t.writePlaintext(gathering: q.plainQueue)
                q.plainQueue.removeAll()
                t.close()
                queueCiphertext()
            }
            state = .closing
            readPaused = true
            if outbound.count == outHead {
                fail(nil)
            } else {
                updateInterest()
                if !inFlushList && !waitingWritable {
                    inFlushList = true
                    loop.pendingFlush.append(self)
                }
                loop.schedule(afterNanos: closeLingerNanos) { [weak self] in
                    guard let self, self.state == .closing else { return }
                    _ = CEpoll_set_linger_zero(self.fd)
                    self.fail(IOError(errno: ETIMEDOUT, call: "close linger (peer not reading)"))
                }
            }
        }
    }

    /// Abortive close: drops what is queued and sends RST.
    public func reset() {
        guard state != .closed else { return }
        _ = CEpoll_set_linger_zero(fd)
        fail(nil)
    }

    /// Closes now with `error`; the handler hears of it at the end of the iteration.
    func fail(_ error: IOError?) {
        guard state != .closed else { return }
        let wasOpen = state == .open || state == .closing
        state = .closed
        loop.deregister(self, fd: fd)
        if idleTimeoutNanos > 0 { loop.idleWatched[ObjectIdentifier(self)] = nil }
        if wasOpen { loop.stats.openConnections -= 1 }
        loop.closedConnections.append((self, error))
    }

    /// Runs at the end of the iteration: closes the fd and tells the handler.
    func finishClose(error closeError: IOError?) {
        Syscalls.close(fd)
        loop.stats.connectionsClosed &+= 1
        outbound.removeAll()
        outHead = 0
        bufferedBytes = 0
        inbound = nil
        let h = handler
        handler = nil
        h?.connectionDidClose(self, error: closeError)
        userData = nil
    }
}
