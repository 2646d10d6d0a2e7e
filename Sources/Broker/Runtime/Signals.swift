// Signals: SIGTERM/SIGINT handling without async-signal-unsafe code. The signals are blocked in
// every thread (call `blockTerminationSignals()` before starting loops, so threads inherit the
// mask) and one small thread waits for them with sigwait and runs the handler there.
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide termination signal handling.
public enum TerminationSignals {
    private static func set() -> sigset_t {
        var s = sigset_t()
        sigemptyset(&s)
        sigaddset(&s, SIGTERM)
        sigaddset(&s, SIGINT)
        return s
    }

    /// Blocks SIGTERM and SIGINT in the calling thread (and threads it starts later); SIGPIPE is ignored.
    public static func block() {
        var s = set()
        pthread_sigmask(SIG_BLOCK, &s, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts a thread that calls `handler` with the signal number each time SIGTERM or SIGINT arrives.
    public static func onSignal(_ handler: @escaping @Sendable (Int32) -> Void) {
        final class Box: @unchecked Sendable { let h: @Sendable (Int32) -> Void; init(_ h: @escaping @Sendable (Int32) -> Void) { self.h = h } }
        let box = Unmanaged.passRetained(Box(handler))
        var t = pthread_t()
        pthread_create(&t, nil, { arg in
            // Invariant: arg is the retained Box created above; it lives for the process.
            let b = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
            var s = TerminationSignals.set()
            while true {
                var sig: Int32 = 0
                if sigwait(&s, &sig) == 0 { b.h(sig) }
            }
        }, box.toOpaque())
        pthread_detach(t)
    }
}
