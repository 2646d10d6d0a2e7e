// EventLoop: one thread, one epoll set, everything registered on it owned by that thread.
//
// Owns: the epoll fd, the wake-up eventfd, the timer timerfd, the registration table, the
// cross-thread task queue, the per-loop receive buffer and the list of connections with
// corked writes. Leaves to others: what a readable or writable fd means (Selectable subclasses:
// TCPConnection, TCPListener, FDWatcherRegistration).
//
// One iteration (`runOnce`) reads top to bottom: before-sleep hooks -> flush corked writes ->
// wait -> dispatch events -> due timers -> cross-thread tasks -> free closed connections.
import CEpoll
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Something registered on an event loop's epoll set. Subclasses override `handleEvent`.
/// A class hierarchy (not a protocol) so dispatch per event is one vtable call.
open class Selectable {
    /// Slot in the loop's registration table, or -1 when not registered.
    var slot: Int32 = -1
    var interest: UInt32 = 0

    /// Called on the loop's thread with the epoll event mask.
    func handleEvent(_ events: UInt32) {}

    /// Called when the loop shuts down with this still registered.
    func loopWillClose() {}
}

/// Receives readiness of an fd registered with `EventLoop.watch`.
public protocol FDWatcher: AnyObject {
    /// The fd is readable.
    func fdReadable()
    /// The fd is writable.
    func fdWritable()
    /// The fd reported EPOLLHUP or EPOLLERR.
    func fdHangup()
}

/// A registration made by `EventLoop.watch`.
public final class FDRegistration: Selectable {
    /// The watched fd.
    public let fd: CInt
    weak var watcher: (any FDWatcher)?

    init(fd: CInt, watcher: any FDWatcher) {
        self.fd = fd
        self.watcher = watcher
    }

    override func handleEvent(_ events: UInt32) {
        guard let w = watcher else { return }
        if events & (CEpoll_EPOLLERR | CEpoll_EPOLLHUP) != 0 { w.fdHangup() }
        if events & CEpoll_EPOLLOUT != 0 && slot >= 0 { w.fdWritable() }
        if events & CEpoll_EPOLLIN != 0 && slot >= 0 { w.fdReadable() }
    }
}

/// Counters a loop keeps about itself; read on the loop's thread (see `EventLoop.statsSnapshot`).
public struct EventLoopStats: Sendable {
    public var iterations: UInt64 = 0
    public var eventsDispatched: UInt64 = 0
    public var busyNanos: UInt64 = 0
    public var bytesRead: UInt64 = 0
    public var bytesWritten: UInt64 = 0
    public var writevCalls: UInt64 = 0
    public var connectionsOpened: UInt64 = 0
    public var connectionsClosed: UInt64 = 0
    public var backpressureEvents: UInt64 = 0
    public var openConnections: Int = 0
    /// Histogram of iteration busy time: bucket i counts iterations under 2^i microseconds.
    public var iterationMicrosLog2: [UInt64] = Array(repeating: 0, count: 24)
    /// Zeroed statistics.
    public init() {}
}

/// A single-threaded event loop over epoll. Create it anywhere, then call `run()` on the thread
/// that will own it (or use `EventLoopGroup`).
public final class EventLoop: @unchecked Sendable {
    /// Name used in logs and thread names.
    public let name: String
    /// Logger for lifecycle events (never per message).
    public let logger: Logger

    let epfd: CInt
    private let wakeFD: CInt
    private let timerFD: CInt
    private let tasks = TaskQueue()
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    fileprivate let threadID = Atomic<UInt>(0)

    // Registration table: epoll user data = generation << 32 | slot, so an event for a slot that
    // was freed and reused is recognised as stale and dropped.
    private var slots: [Selectable?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int32] = []

    private var timers = TimerHeap()
    private var armedDeadline: UInt64 = 0
    private var dueTimers: [() -> Void] = []
    private var hooks: [() -> Void] = []
    private var events: UnsafeMutablePointer<CEpoll_event>
    private let maxEvents = 1024

    /// Connections with corked writes to flush at the end of this iteration.
    var pendingFlush: [TCPConnection] = []
    private var flushing: [TCPConnection] = []
    /// Drained write-queue arrays kept for the next writers (TCPConnection), so a connection
    /// holds a queue only while it has bytes queued and writing allocates nothing.
    var spareQueues: [[ByteBuffer]] = []
    /// At most this many spare queues, each of at most `spareQueueCapacity` entries.
    static let spareQueueCount = 16
    static let spareQueueCapacity = 64
    /// Connections closed during this iteration, freed at its end.
    /// With the error each closed with (kept here, not in every connection).
    var closedConnections: [(connection: TCPConnection, error: IOError?)] = []
    /// Connections with an idle timeout, swept about once a second.
    var idleWatched: [ObjectIdentifier: TCPConnection] = [:]
    private var nextIdleSweep: UInt64 = 0

    /// Shared receive buffer: every read on this loop lands here first, so idle connections hold
    /// no receive memory. `receiveSlack` bytes after the buffer are readable padding for
    /// word-wise parsers.
    let receiveBuffer: UnsafeMutableRawBufferPointer
    /// Readable padding after `receiveBuffer`'s bytes (see STYLE.md section 5).
    public static let receiveSlack = 64
    /// iovec scratch for writev, IOV_MAX entries.
    let iovecs: UnsafeMutablePointer<iovec>
    let iovMax = Int(CEpoll_IOV_MAX)

    private var lastWakeup: UInt64 = CEpoll_monotonic_ns()
    /// Monotonic time in nanoseconds, taken once per iteration after the wait.
    public private(set) var now: UInt64
    /// Statistics about this loop, touched only on its thread.
    public var stats = EventLoopStats()
    /// Called once per iteration with its busy time in ns (metrics); nil costs nothing.
    public var onIteration: ((UInt64) -> Void)?

    /// Creates a loop (epoll set, eventfd, timerfd). Does not start a thread.
    public init(name: String = "loop", receiveBufferSize: Int = 256 * 1024, logger: Logger = Logger(label: "wire.loop"))
        throws(IOError)
    {
        self.name = name
        self.logger = logger
        let ep = CEpoll_create()
        guard ep >= 0 else { throw IOError(errno: errno, call: "epoll_create1") }
        let wfd = CEpoll_eventfd()
        guard wfd >= 0 else { Glibc.close(ep); throw IOError(errno: errno, call: "eventfd") }
        let tfd = CEpoll_timerfd()
        guard tfd >= 0 else { Glibc.close(ep); Glibc.close(wfd); throw IOError(errno: errno, call: "timerfd_create") }
        epfd = ep
        wakeFD = wfd
        timerFD = tfd
        events = .allocate(capacity: maxEvents)
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: receiveBufferSize + Self.receiveSlack, alignment: 16)
        // Only the slack is filled now: zeroing the whole buffer made all of it resident (2 loops x
        // 256 KiB in a fanout node whose reads are a few hundred bytes). read(2) writes what parsers
        // read; bytes a word-wise parser reads past the data are don't-care padding either way.
        UnsafeMutableRawBufferPointer(rebasing: raw[receiveBufferSize...]).initializeMemory(as: UInt8.self, repeating: 0)
        receiveBuffer = UnsafeMutableRawBufferPointer(rebasing: raw[0..<receiveBufferSize])
        iovecs = .allocate(capacity: Int(CEpoll_IOV_MAX))
        now = CEpoll_monotonic_ns()
        // Reserved user data values 1 and 2 (slot space starts at generation 1, so no clash).
        _ = CEpoll_ctl(epfd, 1, wakeFD, CEpoll_EPOLLIN, Self.wakeToken)
        _ = CEpoll_ctl(epfd, 1, timerFD, CEpoll_EPOLLIN, Self.timerToken)
    }

    private static let wakeToken: UInt64 = 1
    private static let timerToken: UInt64 = 2

    deinit {
        while tasks.pop() != nil {}
        Glibc.close(epfd)
        Glibc.close(wakeFD)
        Glibc.close(timerFD)
        events.deallocate()
        UnsafeMutableRawBufferPointer(start: receiveBuffer.baseAddress, count: receiveBuffer.count + Self.receiveSlack)
            .deallocate()
        iovecs.deallocate()
    }

    /// True when called on this loop's thread.
    public var inEventLoop: Bool { threadID.load(ordering: .relaxed) == UInt(bitPattern: Int(bitPattern: pthread_self())) }

    // MARK: Registration

    func register(_ s: Selectable, fd: CInt, interest: UInt32) throws(IOError) {
        let slot: Int32
        if let f = freeSlots.popLast() {
            slot = f
        } else {
            slot = Int32(slots.count)
            slots.append(nil)
            generations.append(1)
        }
        let data = UInt64(generations[Int(slot)]) << 32 | UInt64(UInt32(bitPattern: slot))
        if CEpoll_ctl(epfd, 1, fd, interest, data) != 0 {
            let e = errno
            freeSlots.append(slot)
            throw IOError(errno: e, call: "epoll_ctl(ADD)")
        }
        slots[Int(slot)] = s
        s.slot = slot
        s.interest = interest
    }

    func reregister(_ s: Selectable, fd: CInt, interest: UInt32) {
        guard s.slot >= 0, interest != s.interest else { return }
        let data = UInt64(generations[Int(s.slot)]) << 32 | UInt64(UInt32(bitPattern: s.slot))
        _ = CEpoll_ctl(epfd, 3, fd, interest, data)
        s.interest = interest
    }

    func deregister(_ s: Selectable, fd: CInt) {
        guard s.slot >= 0 else { return }
        _ = CEpoll_ctl(epfd, 2, fd, 0, 0)
        let i = Int(s.slot)
        slots[i] = nil
        generations[i] &+= 1
        if generations[i] == 0 { generations[i] = 1 }
        freeSlots.append(s.slot)
        s.slot = -1
    }

    /// Watches `fd` for readiness on behalf of a C library or other component. Loop thread only.
    /// - Throws: `IOError` when epoll refuses the fd.
    public func watch(fd: CInt, readable: Bool, writable: Bool, _ watcher: any FDWatcher) throws(IOError) -> FDRegistration {
        let r = FDRegistration(fd: fd, watcher: watcher)
        try register(r, fd: fd, interest: Self.mask(readable, writable))
        return r
    }

    /// Changes what a watched fd is watched for. Loop thread only.
    public func updateWatch(_ r: FDRegistration, readable: Bool, writable: Bool) {
        reregister(r, fd: r.fd, interest: Self.mask(readable, writable))
    }

    /// Stops watching; call before closing the fd. Loop thread only.
    public func unwatch(_ r: FDRegistration) {
        deregister(r, fd: r.fd)
    }

    static func mask(_ readable: Bool, _ writable: Bool) -> UInt32 {
        (readable ? CEpoll_EPOLLIN | CEpoll_EPOLLRDHUP : 0) | (writable ? CEpoll_EPOLLOUT : 0)
    }

    // MARK: Timers, hooks, tasks

    /// Runs `body` on this loop after `afterNanos`. Loop thread only.
    @discardableResult
    public func schedule(afterNanos: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        timers.schedule(at: CEpoll_monotonic_ns() &+ afterNanos, body)
    }

    /// Cancels a timer; harmless if it already ran. Loop thread only.
    public func cancel(_ t: TimerHandle) { timers.cancel(t) }

    /// Adds a hook run once per iteration before corked writes are flushed (fanout drains here).
    /// `first` puts it before the hooks already added (a feed that must hand its batch over before
    /// the fanout drains).
    public func addBeforeSleepHook(first: Bool = false, _ hook: @escaping () -> Void) {
        if first { hooks.insert(hook, at: 0) } else { hooks.append(hook) }
    }

    /// Any thread: runs `task` on this loop soon. Lock-free; one eventfd write per batch.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.push(task)
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            _ = CEpoll_eventfd_signal(wakeFD)
        }
    }

    /// Any thread: asks `run()` to return after the current iteration.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wakePending.store(true, ordering: .releasing)
        _ = CEpoll_eventfd_signal(wakeFD)
    }

    /// Number of live registrations (connections, listeners, watches).
    public var registrationCount: Int { slots.count - freeSlots.count }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()`. Closes every remaining registration before returning.
    public func run() {
        threadID.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .relaxed)
        logger.debug("event loop started", metadata: ["loop": "\(name)"])
        while !stopRequested.load(ordering: .acquiring) {
            runOnce()
        }
        // Shut down: close what is still registered, run what is still queued.
        for s in slots { s?.loopWillClose() }
        freeClosed()
        while let t = tasks.pop() { t() }
        logger.debug("event loop stopped", metadata: ["loop": "\(name)"])
    }

    /// One iteration. See the file header for the order.
    func runOnce() {
        for h in hooks { h() }
        flushPending()

        let mustNotSleep = !tasks.isEmpty || !pendingFlush.isEmpty || !closedConnections.isEmpty
        if let d = timers.nextDeadline(), d != armedDeadline {
            _ = CEpoll_timerfd_arm(timerFD, d)
            armedDeadline = d
        }
        // Busy time runs from the end of the previous wait to the start of this one, so the
        // drain hooks and the flush (where fanout spends its time) count.
        let busy = CEpoll_monotonic_ns() &- lastWakeup
        stats.busyNanos &+= busy
        let us = max(1, busy / 1000)
        let bucket = min(23, 64 - us.leadingZeroBitCount)
        stats.iterationMicrosLog2[bucket] &+= 1
        onIteration?(busy)
        let n = blockingWaitForEvents(timeoutMillis: mustNotSleep ? 0 : (idleWatched.isEmpty ? -1 : 1000))
        let start = CEpoll_monotonic_ns()
        lastWakeup = start
        now = start
        stats.iterations &+= 1

        for i in 0..<Int(n) {
            let ev = events[i]
            switch ev.data {
            case Self.wakeToken:
                _ = CEpoll_eventfd_drain(wakeFD)
                wakePending.store(false, ordering: .releasing)
            case Self.timerToken:
                _ = CEpoll_timerfd_drain(timerFD)
                armedDeadline = 0
            default:
                let slot = Int(UInt32(truncatingIfNeeded: ev.data))
                let gen = UInt32(truncatingIfNeeded: ev.data >> 32)
                guard slot < slots.count, generations[slot] == gen, let s = slots[slot] else { continue }
                stats.eventsDispatched &+= 1
                s.handleEvent(ev.events)
            }
        }

        timers.popDue(now: now, into: &dueTimers)
        if !dueTimers.isEmpty {
            for t in dueTimers { t() }
            dueTimers.removeAll(keepingCapacity: true)
        }

        var budget = 4096
        while budget > 0, let t = tasks.pop() {
            t()
            budget -= 1
        }

        if !idleWatched.isEmpty && now >= nextIdleSweep {
            sweepIdle()
            nextIdleSweep = now + 1_000_000_000
        }
        freeClosed()
    }

    /// The only place the loop sleeps; named and kept out of line so profiles show idle time.
    @inline(never)
    func blockingWaitForEvents(timeoutMillis: Int32) -> Int32 {
        let n = CEpoll_wait(epfd, events, Int32(maxEvents), timeoutMillis)
        return n < 0 ? 0 : n
    }

    func flushPending() {
        guard !pendingFlush.isEmpty else { return }
        // A flush can queue more (a handler writing from connectionBecameWritable): swap in the
        // spare list so those land there, and keep both arrays' capacity (no allocation per tick).
        swap(&pendingFlush, &flushing)
        for c in flushing where c.inFlushList { c.flushNow() }  // skip those flushed early (`flush()`)
        flushing.removeAll(keepingCapacity: true)
    }

    private func sweepIdle() {
        var expired: [TCPConnection] = []
        for (_, c) in idleWatched where c.idleTimeoutNanos > 0 && now &- c.lastActivity > c.idleTimeoutNanos {
            expired.append(c)
        }
        for c in expired { c.fail(IOError(errno: ETIMEDOUT, call: "idle timeout")) }
    }

    private func freeClosed() {
        while !closedConnections.isEmpty {
            let batch = closedConnections
            closedConnections.removeAll()
            for c in batch { c.connection.finishClose(error: c.error) }
        }
    }
}

/// A group of event loops, one thread each.
public final class EventLoopGroup: @unchecked Sendable {
    /// The loops, in creation order.
    public let loops: [EventLoop]
    private var threads: [pthread_t] = []
    private let counter = Atomic<Int>(0)

    /// Creates `count` loops (0 means one per core).
    public init(count: Int = 0, name: String = "loop", logger: Logger = Logger(label: "wire.loop")) throws(IOError) {
        let n = count > 0 ? count : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var ls: [EventLoop] = []
        for i in 0..<n { ls.append(try EventLoop(name: "\(name)-\(i)", logger: logger)) }
        loops = ls
    }

    /// Starts one thread per loop.
    public func start() {
        for loop in loops {
            let box = Unmanaged.passRetained(loop)
            var t = pthread_t()
            let rc = pthread_create(&t, nil, { arg in
                // Invariant: arg is the retained EventLoop passed below, released here once.
                let loop = Unmanaged<EventLoop>.fromOpaque(arg!).takeRetainedValue()
                _ = CEpoll_set_thread_name(String(loop.name.prefix(15)))
                loop.run()
                return nil
            }, box.toOpaque())
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(t)
        }
        // Wait until every loop knows its thread, so inEventLoop is right from the start.
        for loop in loops {
            let sem = Semaphore()
            loop.execute { sem.signal() }
            sem.wait()
        }
    }

    /// Asks every loop to stop.
    public func stop() { for l in loops { l.stop() } }

    /// Waits for every loop thread to finish.
    public func join() {
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }

    /// Round-robin choice of a loop.
    public func next() -> EventLoop {
        loops[counter.add(1, ordering: .relaxed).newValue % loops.count]
    }
}

/// A tiny counting semaphore for setup and tests (never on a hot path).
public final class Semaphore: @unchecked Sendable {
    private var sem = sem_t()
    /// Creates a semaphore with count 0.
    public init() { sem_init(&sem, 0, 0) }
    deinit { sem_destroy(&sem) }
    /// Increments the count.
    public func signal() { sem_post(&sem) }
    /// Waits until the count is positive, then decrements it.
    public func wait() { while sem_wait(&sem) != 0 {} }
    /// Waits up to `seconds`; returns false on timeout.
    public func wait(seconds: Double) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let ns = Int(ts.tv_nsec) + Int(seconds.truncatingRemainder(dividingBy: 1) * 1e9)
        ts.tv_sec += Int(seconds) + ns / 1_000_000_000
        ts.tv_nsec = ns % 1_000_000_000
        while true {
            if sem_timedwait(&sem, &ts) == 0 { return true }
            if errno != EINTR { return false }
        }
    }
}

extension EventLoop {
    /// Runs one iteration without sleeping, on the calling thread (tests drive loops this way).
    public func runOnceForTests() {
        threadID.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .relaxed)
        execute {}
        runOnce()
    }
}

extension EventLoop {
    /// Runs `body` on this loop and waits for its result. For setup and tests only: it blocks the
    /// calling thread (and must not be called on this loop's own thread, where it runs `body` directly).
    public func submitAndWait<T>(_ body: @escaping () throws -> T) throws -> T {
        if inEventLoop { return try body() }
        nonisolated(unsafe) var result: Result<T, any Error>?
        nonisolated(unsafe) let b = body
        let sem = Semaphore()
        execute {
            result = Result { try b() }
            sem.signal()
        }
        sem.wait()
        return try result!.get()
    }
}
