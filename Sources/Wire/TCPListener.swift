// TCPListener: a listening socket on one loop. With SO_REUSEPORT each loop of a group binds its
// own listener to the same port and the kernel spreads accepted connections between them.
import CEpoll
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket owned by one event loop.
public final class TCPListener: Selectable {
    /// The owning loop.
    public unowned let loop: EventLoop
    /// The listening fd.
    public let fd: CInt
    /// The bound port (useful when created with port 0).
    public let port: Int
    /// Options applied to every accepted socket.
    public var socketOptions = TCPSocketOptions()
    /// When set, every accepted connection speaks TLS (the handshake runs on this loop).
    public var tls: TLSServerContext?
    private let onAccept: (TCPConnection) -> Void
    private var closed = false
    /// Accept errors such as EMFILE, counted.
    public private(set) var acceptErrors = 0

    /// Binds and listens on `host:port` and registers with `loop` (call on the loop's thread,
    /// or before the loop runs).
    /// - Throws: `IOError` from socket, bind or listen (e.g. EADDRINUSE).
    public init(
        host: String, port: Int, loop: EventLoop, backlog: Int = 4096, reusePort: Bool = true,
        onAccept: @escaping (TCPConnection) -> Void
    ) throws(IOError) {
        let addr = try SocketAddress.resolve(host: host, port: port)
        let fd = CEpoll_socket(addr.family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { throw IOError(errno: errno, call: "socket") }
        _ = CEpoll_set_reuseaddr(fd, 1)
        if reusePort { _ = CEpoll_set_reuseport(fd, 1) }
        if addr.withSockAddr({ Glibc.bind(fd, $0, $1) }) != 0 {
            let e = errno
            Glibc.close(fd)
            throw IOError(errno: e, call: "bind(\(addr))")
        }
        if Glibc.listen(fd, Int32(backlog)) != 0 {
            let e = errno
            Glibc.close(fd)
            throw IOError(errno: e, call: "listen")
        }
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = SocketAddress(storage: ss, length: len).port
        self.fd = fd
        self.loop = loop
        self.onAccept = onAccept
        super.init()
        do {
            try loop.register(self, fd: fd, interest: CEpoll_EPOLLIN)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    override func handleEvent(_ events: UInt32) {
        var accepted = 0
        while !closed && accepted < 256 {
            var ss = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let cfd = withUnsafeMutablePointer(to: &ss) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { CEpoll_accept(fd, $0, &len) }
            }
            if cfd < 0 {
                let e = errno
                switch e {
                case EAGAIN, EINTR: return
                case ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop accepting for a moment instead of spinning on a
                    // level-triggered readable listener.
                    acceptErrors += 1
                    loop.logger.warning("accept failed, pausing 100 ms",
                                        metadata: ["error": "\(IOError(errno: e, call: "accept4"))"])
                    loop.reregister(self, fd: fd, interest: 0)
                    loop.schedule(afterNanos: 100_000_000) { [weak self] in
                        guard let self, !self.closed else { return }
                        self.loop.reregister(self, fd: self.fd, interest: CEpoll_EPOLLIN)
                    }
                    return
                default:
                    acceptErrors += 1
                    return
                }
            }
            accepted += 1
            socketOptions.apply(to: cfd)
            let remote = SocketAddress(storage: ss, length: len).description
            let c = TCPConnection(fd: cfd, loop: loop, remoteAddress: remote, state: .open)
            if let ctx = tls {
                do {
                    c.tls = try TLSEngine(server: ctx)
                } catch {
                    Glibc.close(cfd)
                    acceptErrors += 1
                    continue
                }
            }
            do {
                try loop.register(c, fd: cfd, interest: CEpoll_EPOLLIN | CEpoll_EPOLLRDHUP)
            } catch {
                Glibc.close(cfd)
                continue
            }
            loop.stats.connectionsOpened &+= 1
            loop.stats.openConnections += 1
            onAccept(c)
        }
    }

    override func loopWillClose() { close() }

    /// Stops listening and closes the socket.
    public func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(self, fd: fd)
        Glibc.close(fd)
    }
}
