// IOError and IOResult: how every syscall wrapper in Wire reports what happened.
// EAGAIN is a value (`.wouldBlock`), EINTR is retried, everything else is an `IOError`.
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the errno and the name of the call.
public struct IOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The errno value.
    public let errno: CInt
    /// The system call (or operation) that failed.
    public let call: String

    /// Creates an error for `call` failing with `errno`.
    public init(errno: CInt, call: String) {
        self.errno = errno
        self.call = call
    }

    /// `"<call>: <strerror>"`.
    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// Result of a non-blocking operation that may have to wait.
public enum IOResult<T>: Equatable where T: Equatable {
    /// The operation completed with this value.
    case processed(T)
    /// The operation would block (EAGAIN); try again when the fd is ready.
    case wouldBlock
}
