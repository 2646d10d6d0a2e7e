// TimerHeap: the event loop's timers, a binary min-heap of deadlines. Cancelled timers are
// removed lazily (their closure is dropped at once, the heap entry when it reaches the top).

/// Identifies a scheduled timer so it can be cancelled.
public struct TimerHandle: Hashable, Sendable {
    let id: UInt64
}

struct TimerHeap {
    private var heap: [(deadline: UInt64, id: UInt64)] = []
    private var bodies: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    mutating func nextDeadline() -> UInt64? {
        while let top = heap.first, bodies[top.id] == nil { _ = popTop() }
        return heap.first?.deadline
    }

    var count: Int { bodies.count }

    mutating func schedule(at deadline: UInt64, _ body: @escaping () -> Void) -> TimerHandle {
        let id = nextID
        nextID += 1
        bodies[id] = body
        heap.append((deadline, id))
        siftUp(heap.count - 1)
        return TimerHandle(id: id)
    }

    mutating func cancel(_ handle: TimerHandle) {
        guard bodies.removeValue(forKey: handle.id) != nil else { return }
        // Cancelled entries wait in the heap until they reach the top. When they outnumber the
        // live ones (10,000 connections re-arming), rebuild, so memory follows the live timers.
        if heap.count > 256 && heap.count > 2 * bodies.count { compact() }
    }

    private mutating func compact() {
        heap = heap.filter { bodies[$0.id] != nil }
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
        if bodies.capacity > 1024 && bodies.capacity > 4 * bodies.count {
            var d = [UInt64: () -> Void](minimumCapacity: bodies.count)
            for (k, v) in bodies { d[k] = v }
            bodies = d
        }
    }

    /// Removes and returns the bodies of every timer due at `now`, in deadline order.
    mutating func popDue(now: UInt64, into out: inout [() -> Void]) {
        while let top = heap.first, top.deadline <= now {
            _ = popTop()
            if let body = bodies.removeValue(forKey: top.id) { out.append(body) }
        }
    }

    private mutating func popTop() -> (UInt64, UInt64) {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return top
    }

    private mutating func siftUp(_ i: Int) {
        var c = i
        while c > 0 {
            let p = (c - 1) / 2
            if heap[p].deadline <= heap[c].deadline { break }
            heap.swapAt(p, c)
            c = p
        }
    }

    private mutating func siftDown(_ i: Int) {
        var p = i
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < heap.count && heap[l].deadline < heap[m].deadline { m = l }
            if r < heap.count && heap[r].deadline < heap[m].deadline { m = r }
            if m == p { return }
            heap.swapAt(p, m)
            p = m
        }
    }
}
