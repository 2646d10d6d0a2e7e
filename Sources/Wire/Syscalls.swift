// Syscalls: thin, typed wrappers over the system calls Wire makes.
//
// Each wrapper retries EINTR, returns `.wouldBlock` for EAGAIN, throws `IOError` for anything
// else and traps on EBADF/EFAULT, which are bugs in our fd bookkeeping, not conditions to handle.
// The wrappers are `@inline(never)` so no ARC traffic sits between the call and the read of errno.
import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// Namespace for the system calls used by Wire.
public enum Syscalls {
    @inline(never)
    static func check(_ call: StaticString, _ body: () -> Int) throws(IOError) -> IOResult<Int> {
        while true {
            let r = body()
            if r >= 0 { return .processed(r) }
            let e = Glibc.errno
            switch e {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            case EBADF, EFAULT: fatalError("\(call) failed with \(e): a bug in fd bookkeeping")
            default: throw IOError(errno: e, call: "\(call)")
            }
        }
    }

    /// read(2) into `buffer`. `.processed(0)` means end of stream.
    @inline(never)
    public static func read(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try check("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// recvmsg(2) on a socket with SO_TIMESTAMPNS: also returns the kernel's arrival time of the
    /// last segment read (CLOCK_REALTIME ns, 0 when none).
    public static func readTimestamped(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer,
                                       arrivalNanos: inout UInt64) throws(IOError) -> IOResult<Int> {
        try check("recvmsg") { CEpoll_read_timestamped(fd, buffer.baseAddress, buffer.count, &arrivalNanos) }
    }

    /// writev(2) (as sendmsg with MSG_NOSIGNAL) of `count` iovecs.
    @inline(never)
    public static func writev(_ fd: CInt, _ iov: UnsafePointer<iovec>, _ count: Int) throws(IOError) -> IOResult<Int> {
        try check("writev") { CEpoll_writev(fd, iov, CInt(count)) }
    }

    /// send(2) with MSG_NOSIGNAL.
    @inline(never)
    public static func send(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try check("send") { CEpoll_send(fd, bytes.baseAddress, bytes.count) }
    }

    /// close(2); errors other than EBADF are ignored (the fd is gone either way on Linux).
    public static func close(_ fd: CInt) {
        _ = Glibc.close(fd)
    }

    /// The current CLOCK_MONOTONIC time in nanoseconds.
    @inlinable public static func monotonicNanos() -> UInt64 { CEpoll_monotonic_ns() }
    /// The current CLOCK_REALTIME time in nanoseconds since the Unix epoch.
    @inlinable public static func realtimeNanos() -> UInt64 { CEpoll_realtime_ns() }

    /// Raises RLIMIT_NOFILE's soft limit to the hard limit (or `want`, if lower). Returns the new soft limit.
    @discardableResult
    public static func raiseFileLimit(to want: Int = Int.max) -> Int {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return 0 }
        let target = rlim_t(min(UInt64(rl.rlim_max), UInt64(max(0, want))))
        if target > rl.rlim_cur {
            rl.rlim_cur = target
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        }
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        return Int(rl.rlim_cur)
    }
}

/// A resolved IPv4/IPv6 socket address.
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage: sockaddr_storage
    var length: socklen_t

    /// Resolves `host:port` (numeric or via getaddrinfo, which may block: use at setup time only).
    public static func resolve(host: String, port: Int) throws(IOError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let h = host == "localhost" ? "127.0.0.1" : host
        let rc = getaddrinfo(h, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw IOError(errno: EINVAL, call: "getaddrinfo(\(host)): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var ss = sockaddr_storage()
        // Invariant: ai_addrlen bytes at ai_addr fit into sockaddr_storage.
        withUnsafeMutableBytes(of: &ss) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        return SocketAddress(storage: ss, length: first.pointee.ai_addrlen)
    }

    /// The address family (AF_INET or AF_INET6).
    public var family: CInt { CInt(storage.ss_family) }

    /// The port number.
    public var port: Int {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    /// "host:port".
    public var description: String {
        var s = storage
        var buf = [CChar](repeating: 0, count: 64)
        return withUnsafePointer(to: &s) { p -> String in
            if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    var addr = a.pointee.sin6_addr
                    inet_ntop(AF_INET6, &addr, &buf, 64)
                    return "[\(cString(buf))]:\(port)"
                }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var addr = a.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &buf, 64)
                return "\(cString(buf)):\(port)"
            }
        }
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var s = storage
        return withUnsafePointer(to: &s) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }
}

/// Decodes a NUL-terminated C string held in an array.
func cString(_ chars: [CChar]) -> String {
    let bytes = chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
