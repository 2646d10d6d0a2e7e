// Test rig for the C-library clients: one Wire EventLoop on its own thread, with a synchronous
// "run this on the loop and give me the result" and a bounded wait for a condition checked on the loop.
import Testing
import Wire
#if canImport(Glibc)
import Glibc
#endif

final class ClientLoopRunner {
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }

    init() throws {
        group = try EventLoopGroup(count: 1, name: "client-test")
        group.start()
    }

    /// Runs `body` on the loop and waits for its result.
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        try loop.submitAndWait(body)
    }

    /// Polls `condition` on the loop every 10 ms until it holds or `seconds` pass (a deadline, not a sleep the
    /// assertion depends on). Returns whether it held.
    func wait(seconds: Double = 20, until condition: @escaping () -> Bool) -> Bool {
        let deadline = Self.nowMs() + Int64(seconds * 1000)
        while Self.nowMs() < deadline {
            if (try? sync(condition)) == true { return true }
            usleep(10_000)
        }
        return (try? sync(condition)) == true
    }

    func shutdown() {
        group.stop()
        group.join()
    }

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
