// TaskQueue: the lock-free multi-producer, single-consumer queue other threads use to hand
// work to an event loop (Vyukov's intrusive MPSC queue). Producers do one atomic exchange and
// one store; the loop's thread pops without atomics beyond one acquire load per item.
// The wake-up (eventfd write) is the loop's business, see EventLoop.execute.
import Synchronization

final class TaskQueue: @unchecked Sendable {
    final class Node {
        let next = Atomic<UInt>(0)
        var task: (@Sendable () -> Void)?
        init(_ task: (@Sendable () -> Void)?) { self.task = task }
    }

    /// Most recently pushed node (producers swap themselves in here).
    private let head: Atomic<UInt>
    /// Oldest node, a stub whose task was already taken. Touched by the consumer only.
    private var tail: UInt

    init() {
        let stub = UInt(bitPattern: Unmanaged.passRetained(Node(nil)).toOpaque())
        head = Atomic(stub)
        tail = stub
    }

    deinit {
        while pop() != nil {}
        Self.node(tail).release()
    }

    private static func node(_ bits: UInt) -> Unmanaged<Node> {
        // Invariant: bits always come from passRetained(...).toOpaque() of a live Node.
        Unmanaged<Node>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }

    /// Any thread: appends a task.
    func push(_ task: @escaping @Sendable () -> Void) {
        let bits = UInt(bitPattern: Unmanaged.passRetained(Node(task)).toOpaque())
        let prev = head.exchange(bits, ordering: .acquiringAndReleasing)
        Self.node(prev).takeUnretainedValue().next.store(bits, ordering: .releasing)
    }

    /// Consumer thread only: takes the oldest task, or nil when empty (or a push is mid-way;
    /// its producer will have signalled, so the loop comes back for it).
    func pop() -> (@Sendable () -> Void)? {
        let t = Self.node(tail)
        let nextBits = t.takeUnretainedValue().next.load(ordering: .acquiring)
        guard nextBits != 0 else { return nil }
        let next = Self.node(nextBits).takeUnretainedValue()
        let task = next.task
        next.task = nil
        t.release()
        tail = nextBits
        return task
    }

    /// Consumer thread only: true when nothing is queued.
    var isEmpty: Bool { Self.node(tail).takeUnretainedValue().next.load(ordering: .acquiring) == 0 }
}
