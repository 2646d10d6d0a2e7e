// FanoutShard: the subscription map and delivery path of one event loop (share-nothing: each
// loop has its own shard, its own connections and its own copy of the last-value cache, so the
// delivery path takes no lock and touches no atomics beyond buffer reference counts).
//
// Per iteration: `publish` files each update under the subscribers of its symbol (an index into
// this tick's update list per subscriber, like uWS's TopicTree); the before-sleep `drain` then
// gives every dirty connection one write: the shared single-quote frame when one quote is ready,
// else one `quotes` frame gathered from the shared encodings. Slow connections (above their high
// watermark) are conflated to the latest quote per symbol and closed if they stay slow.
public import Wire
import WebSocket

/// What the shard needs from a client connection (implemented by the WebSocket glue).
public protocol FanoutTransport: AnyObject {
    /// The TCP connection frames are written to.
    var tcp: TCPConnection { get }
    /// False once the WebSocket close handshake has started: no data frame may follow a close frame
    /// (RFC 6455 5.5.1), so the shard stops writing even before the connection is gone.
    var acceptsData: Bool { get }
    /// Starts the WebSocket close handshake with `code` and `reason`.
    func closeWebSocket(code: UInt16, reason: String)
}

/// Tunables of the delivery path.
public struct FanoutLimits: Sendable {
    /// Maximum symbols one connection may hold.
    public var maxSymbolsPerConnection = 1_000
    /// A connection above its high watermark for this long is closed with 1008.
    public var slowConsumerTimeoutNanos: UInt64 = 10_000_000_000
    /// Maximum payload of one `quotes` frame; larger batches are split.
    public var maxBatchBytes = 64 * 1024
    /// Minimum time between two deliveries (0 = every loop iteration). Raising it trades latency
    /// for fewer, larger writes: on loopback each write also pays the receiver's TCP work.
    public var batchIntervalNanos: UInt64 = 0
    /// zlib level of permessage-deflate (shared mode; per-connection mode with the zlib coder).
    public var deflateLevel = 6
    /// Per-connection mode codes with `FixedHuffmanDeflater` (true) or zlib at `deflateLevel`.
    public var deflateFixedHuffman = true
    /// Creates the defaults.
    public init() {}
}

/// How quotes to one connection are compressed (RFC 7692), decided at the handshake.
public enum FanoutCompression {
    /// Plain text frames.
    case none
    /// Each quote frame compressed once per loop and shared (server_no_context_takeover):
    /// a batch leaves as several compressed frames in one gather write.
    case shared
    /// Context takeover (the client agreed to no server_no_context_takeover): each iteration's
    /// batch is one compressed message that also refers to the end of the previous one, through
    /// the loop's `WebSocketDeflateHistoryCompressor` and the ~128 bytes the connection keeps
    /// (`FanoutClient.deflateHistory`), not a zlib stream per connection. A lone quote goes as
    /// the shared no-context frame instead (compressed once per loop).
    case perConnection

    /// The server_max_window_bits a fanout node asks for in `perConnection` mode, and the window
    /// its history compressor uses: 512 bytes (2^9), the smallest zlib can produce, which also
    /// keeps each client's inflate window small.
    public static let perConnectionWindowBits = 9
}

/// One subscriber connection's fanout state. Lives on its shard's loop.
public final class FanoutClient {
    /// Compression negotiated for this connection.
    public var compression: FanoutCompression = .none
    /// `perConnection`: the last bytes of the messages this connection inflated (its context).
    var deflateHistory: [UInt8] = []
    /// The transport (WebSocket connection).
    public unowned let transport: any FanoutTransport
    /// Slot in the shard's client table.
    var slot: UInt32 = .max
    /// symbol id -> position of this client's slot in the shard's subscriber list of that symbol.
    var positions = SymbolPositions()
    /// This client's quotes ready this iteration: a list through the shard's `links` (first, last,
    /// count), so a client holds no array of its own between iterations.
    var pendingHead: UInt32 = .max
    var pendingTail: UInt32 = .max
    var pendingCount: UInt32 = 0
    /// Latest update per symbol while the connection is slow (nil while it keeps up).
    var conflated: [Int32: QuoteUpdate]?
    var conflatedOrder: [Int32] = []
    var slowSince: UInt64 = 0
    /// Quotes dropped by conflation (replaced by a newer one before they could be sent).
    public internal(set) var conflatedAway = 0
    /// Frames written.
    public internal(set) var framesWritten = 0

    /// Creates the state for `transport`.
    public init(transport: any FanoutTransport) { self.transport = transport }

    /// Symbols this client is subscribed to.
    public var subscriptionCount: Int { positions.count }
    /// True while this client is being conflated.
    public var isConflating: Bool { conflated != nil }
}

/// A client's symbol -> position-in-subscriber-list map, as one sorted array of packed pairs:
/// 8 bytes a subscription instead of a dictionary's buckets (10,000 clients x 20 symbols).
struct SymbolPositions {
    private var packed: [UInt64] = []  // symbol << 32 | position, sorted by symbol

    var count: Int { packed.count }
    var keys: [Int32] { packed.map { Int32(truncatingIfNeeded: $0 >> 32) } }

    private func find(_ sym: Int32) -> (index: Int, found: Bool) {
        let key = UInt64(UInt32(bitPattern: sym))
        var lo = 0, hi = packed.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let k = packed[mid] >> 32
            if k < key { lo = mid + 1 } else if k > key { hi = mid } else { return (mid, true) }
        }
        return (lo, false)
    }

    subscript(sym: Int32) -> Int32? {
        get {
            let (i, found) = find(sym)
            return found ? Int32(truncatingIfNeeded: packed[i] & 0xFFFF_FFFF) : nil
        }
        set {
            let (i, found) = find(sym)
            guard let v = newValue else {
                if found { packed.remove(at: i) }
                return
            }
            let entry = UInt64(UInt32(bitPattern: sym)) << 32 | UInt64(UInt32(bitPattern: v))
            if found { packed[i] = entry } else { packed.insert(entry, at: i) }
        }
    }

    /// Room for `extra` more symbols (a subscribe knows its count: no doubling past it).
    mutating func reserve(extra: Int) { packed.reserveCapacity(packed.count + extra) }

    mutating func removeValue(forKey sym: Int32) -> Int32? {
        let v = self[sym]
        if v != nil { self[sym] = nil }
        return v
    }
}

/// Per-loop subscription map, last-value cache and batched delivery.
public final class FanoutShard {
    /// The owning loop.
    public unowned let loop: EventLoop
    /// Delivery limits.
    public let limits: FanoutLimits
    private var subscribers: [[UInt32]]
    private var clients: [FanoutClient?] = []
    private var freeSlots: [UInt32] = []
    private var lastValue: [QuoteUpdate?]
    private var tickUpdates: [QuoteUpdate] = []
    private var dirty: [UInt32] = []
    /// Per-client pending lists of this iteration, shared by all clients: `links[i]` holds an
    /// index into `tickUpdates` (low 32 bits) and the next link (high 32 bits, .max at the end).
    /// One array reused every iteration: no allocation per client, no memory kept per client.
    private var links: [UInt64] = []
    /// One client's pending indices, gathered from `links` when it is served.
    private var batch: [UInt32] = []
    private var headerArena = ByteBufferArena(blockSize: 16 * 1024)
    private var deflateArena = ByteBufferArena(blockSize: 64 * 1024)
    private var plainScratch = ByteBuffer(capacity: 64 * 1024)
    private var deflateScratch = ByteBuffer(capacity: 64 * 1024)
    /// The loop's shared no-context compressor (quote frames compressed once for every subscriber).
    private lazy var sharedCompressor = WebSocketDeflateCompressor(windowBits: 9, level: limits.deflateLevel,
                                                                  noContextTakeover: true, memoryLevel: 4)
    /// The loop's context-takeover compressor; each connection brings its own history.
    private lazy var historyCompressor = WebSocketDeflateHistoryCompressor(
        windowBits: FanoutCompression.perConnectionWindowBits, level: limits.deflateLevel, memoryLevel: 1,
        fixedHuffman: limits.deflateFixedHuffman)
    private let batchSuffix = ByteBuffer(string: "\(Quote.batchSuffix)")
    private static let batchPrefix = Quote.batchPrefix

    private var lastDrain: UInt64 = 0
    private var drainTimerArmed = false

    /// Quotes handed to connections (a quote inside a batch counts once).
    public private(set) var quotesDelivered: UInt64 = 0
    /// Writes issued (frames), i.e. one per connection per iteration at most.
    public private(set) var framesSent: UInt64 = 0
    /// Connections closed as slow consumers.
    public private(set) var slowConsumersClosed: UInt64 = 0
    /// Quotes held back for slow connections (kept as the latest of their symbol, or replaced by a newer one).
    public private(set) var quotesConflated: UInt64 = 0

    /// Creates a shard for a universe of `symbolCount` symbols.
    public init(loop: EventLoop, symbolCount: Int, limits: FanoutLimits = FanoutLimits()) {
        self.loop = loop
        self.limits = limits
        subscribers = Array(repeating: [], count: symbolCount)
        lastValue = Array(repeating: nil, count: symbolCount)
        loop.addBeforeSleepHook { [unowned self] in self.drain() }
    }

    /// Number of connected clients.
    public var clientCount: Int { clients.count - freeSlots.count }

    /// Calls `body` with every registered client (a snapshot: `body` may close them).
    public func forEachClient(_ body: (FanoutClient) -> Void) {
        for c in clients.compactMap({ $0 }) { body(c) }
    }

    /// Number of subscribers of `symbolId`.
    public func subscriberCount(of symbolId: Int32) -> Int { subscribers[Int(symbolId)].count }

    /// The cached latest update of a symbol.
    public func latest(_ symbolId: Int32) -> QuoteUpdate? { lastValue[Int(symbolId)] }

    // MARK: Membership

    /// Registers a client.
    public func add(_ c: FanoutClient) {
        if let s = freeSlots.popLast() {
            c.slot = s
            clients[Int(s)] = c
        } else {
            c.slot = UInt32(clients.count)
            clients.append(c)
        }
    }

    /// Removes a client and all its subscriptions: O(symbols of that client).
    public func remove(_ c: FanoutClient) {
        guard c.slot != .max, Int(c.slot) < clients.count, clients[Int(c.slot)] === c else { return }
        for sym in c.positions.keys { unsubscribeOne(c, sym) }
        clients[Int(c.slot)] = nil
        freeSlots.append(c.slot)
        c.slot = .max
        clearPending(c)
        c.conflated = nil
    }

    /// Subscribes `c` to `symbols`; each newly subscribed symbol first gets its latest quote.
    /// Returns the symbols actually added (already-held ones are skipped) or nil when the
    /// per-connection limit would be exceeded (nothing is added then).
    public func subscribe(_ c: FanoutClient, _ symbols: [Int32]) -> [Int32]? {
        var fresh: [Int32] = []
        for s in symbols where c.positions[s] == nil && !fresh.contains(s) { fresh.append(s) }
        guard c.positions.count + fresh.count <= limits.maxSymbolsPerConnection else { return nil }
        c.positions.reserve(extra: fresh.count)
        for s in fresh {
            c.positions[s] = Int32(subscribers[Int(s)].count)
            subscribers[Int(s)].append(c.slot)
            if let snap = lastValue[Int(s)] {
                // Snapshot first: it joins this tick's list, so any newer quote arriving in the same
                // tick is queued after it and order per symbol holds.
                let idx = UInt32(tickUpdates.count)
                tickUpdates.append(snap)
                enqueue(c, idx)
            }
        }
        return fresh
    }

    /// Unsubscribes `c` from `symbols`. Returns the ones it held.
    @discardableResult
    public func unsubscribe(_ c: FanoutClient, _ symbols: [Int32]) -> [Int32] {
        var removed: [Int32] = []
        for s in symbols where c.positions[s] != nil {
            unsubscribeOne(c, s)
            removed.append(s)
        }
        if !removed.isEmpty {
            // Quotes of those symbols already pending this tick must not be delivered.
            let kept = pendingIndices(c).filter { !removed.contains(tickUpdates[Int($0)].symbolId) }
            setPending(c, kept)
            if c.conflated != nil {
                for s in removed { c.conflated?[s] = nil }
                c.conflatedOrder.removeAll { removed.contains($0) }
            }
        }
        return removed
    }

    private func unsubscribeOne(_ c: FanoutClient, _ sym: Int32) {
        guard let pos = c.positions.removeValue(forKey: sym) else { return }
        let i = Int(sym)
        let last = subscribers[i].removeLast()
        if Int(pos) < subscribers[i].count {
            // Swap-remove: the last subscriber moves into the freed position.
            subscribers[i][Int(pos)] = last
            clients[Int(last)]?.positions[sym] = pos
        }
    }

    // MARK: Delivery

    /// Files a batch of updates (on the loop's thread). Sending happens in `drain`.
    public func publish(_ updates: UnsafeBufferPointer<QuoteUpdate>) {
        for u in updates { publish(u) }
    }

    /// Files one update.
    @inline(__always)
    public func publish(_ u: QuoteUpdate) {
        let sym = Int(u.symbolId)
        guard sym >= 0 && sym < lastValue.count else { return }
        if let prev = lastValue[sym], prev.seq >= u.seq { return }  // never older after newer
        lastValue[sym] = u
        let subs = subscribers[sym]
        guard !subs.isEmpty else { return }
        let idx = UInt32(tickUpdates.count)
        tickUpdates.append(u)
        for slot in subs {
            // Invariant: subscriber lists only hold live slots (remove() unsubscribes first).
            enqueue(clients[Int(slot)].unsafelyUnwrapped, idx)
        }
    }

    @inline(__always)
    private func enqueue(_ c: FanoutClient, _ idx: UInt32) {
        if c.pendingCount == 0 { dirty.append(c.slot) }
        appendPending(c, idx)
    }

    @inline(__always)
    private func appendPending(_ c: FanoutClient, _ idx: UInt32) {
        let link = UInt32(links.count)
        links.append(UInt64(UInt32.max) << 32 | UInt64(idx))
        if c.pendingCount == 0 {
            c.pendingHead = link
        } else {
            let t = Int(c.pendingTail)
            links[t] = UInt64(link) << 32 | (links[t] & 0xFFFF_FFFF)
        }
        c.pendingTail = link
        c.pendingCount += 1
    }

    private func clearPending(_ c: FanoutClient) {
        c.pendingHead = .max
        c.pendingTail = .max
        c.pendingCount = 0
    }

    /// `c`'s pending indices in order, in the shared `batch` scratch (valid until the next call).
    private func pendingIndices(_ c: FanoutClient) -> [UInt32] {
        batch.removeAll(keepingCapacity: true)
        var l = c.pendingHead
        while l != .max {
            let v = links[Int(l)]
            batch.append(UInt32(truncatingIfNeeded: v))
            l = UInt32(truncatingIfNeeded: v >> 32)
        }
        return batch
    }

    /// Replaces `c`'s pending list (cold paths: unsubscribe, conflation restore).
    private func setPending(_ c: FanoutClient, _ idxs: [UInt32]) {
        clearPending(c)
        for i in idxs { appendPending(c, i) }
    }

    /// Sends what this iteration produced: one write per dirty connection. Runs as the loop's
    /// before-sleep hook; callable directly in tests.
    public func drain() {
        guard !dirty.isEmpty else {
            if !tickUpdates.isEmpty { tickUpdates.removeAll(keepingCapacity: true) }
            if !links.isEmpty { links.removeAll(keepingCapacity: true) }
            return
        }
        let now = loop.now
        if limits.batchIntervalNanos > 0 && now &- lastDrain < limits.batchIntervalNanos {
            // Too soon: keep collecting; make sure the loop wakes up when the interval is over.
            if !drainTimerArmed {
                drainTimerArmed = true
                loop.schedule(afterNanos: limits.batchIntervalNanos - (now &- lastDrain)) { [weak self] in
                    self?.drainTimerArmed = false
                }
            }
            return
        }
        lastDrain = now
        for slot in dirty {
            guard let c = clients[Int(slot)], c.pendingCount > 0 else { continue }
            guard c.transport.acceptsData else {
                clearPending(c)
                continue
            }
            let tcp = c.transport.tcp
            if c.conflated != nil && !tcp.isAboveHighWatermark { restoreConflated(c) }
            let pending = pendingIndices(c)
            if tcp.isAboveHighWatermark {
                conflate(c, pending, now: now)
            } else {
                send(c, tcp, pending)
                // Out now rather than at the end of the iteration: the connection's queue is
                // released before the next one is built (thousands of queued arrays at once
                // were S2's largest per-connection memory).
                tcp.flush()
            }
            clearPending(c)
        }
        dirty.removeAll(keepingCapacity: true)
        tickUpdates.removeAll(keepingCapacity: true)
        links.removeAll(keepingCapacity: true)
    }

    private func send(_ c: FanoutClient, _ tcp: TCPConnection, _ pending: [UInt32]) {
        let n = pending.count
        quotesDelivered &+= UInt64(n)
        if case .shared = c.compression {
            // One shared compressed frame per quote, all in this connection's one gather write.
            tcp.reserveWrites(n)
            for idx in pending { tcp.write(sharedDeflatedFrame(Int(idx))) }
            framesSent &+= 1
            c.framesWritten += 1
            return
        }
        if n == 1, case .none = c.compression {
            tcp.write(tickUpdates[Int(pending[0])].frame)
            framesSent &+= 1
            c.framesWritten += 1
            return
        }
        if n == 1, case .perConnection = c.compression, !limits.deflateFixedHuffman {
            // zlib coder only: a lone quote goes as the loop's shared no-context frame, compressed
            // once for every subscriber: valid under context takeover too (it refers only to
            // itself), and the history still follows what the client inflated. Measured in S4:
            // 8.5 -> 7.7 us/quote of server CPU for 38 -> 43 wire bytes per quote. The fixed
            // Huffman coder is cheap enough to code each one against the connection's history.
            let idx = Int(pending[0])
            tcp.write(sharedDeflatedFrame(idx))
            tickUpdates[idx].json.withUnsafeReadableBytes { historyCompressor.record($0, history: &c.deflateHistory) }
            framesSent &+= 1
            c.framesWritten += 1
            return
        }
        var start = 0
        while start < n {
            // Size the batch: as many as fit in maxBatchBytes (at least one).
            // Prefix + suffix, minus the comma the first element goes without.
            var payload = Self.batchPrefix.utf8CodeUnitCount + batchSuffix.readableBytes - 1
            var end = start
            while end < n {
                let len = tickUpdates[Int(pending[end])].element.readableBytes
                if end > start && payload + len > limits.maxBatchBytes { break }
                payload += len
                end += 1
            }
            if case .perConnection = c.compression {
                tcp.write(compressedMessage(c, pending, from: start, to: end))
            } else if end - start == 1 {
                tcp.write(tickUpdates[Int(pending[start])].frame)
            } else {
                writeBatch(tcp, from: start, to: end, payloadLength: payload, pending: pending)
            }
            framesSent &+= 1
            c.framesWritten += 1
            start = end
        }
    }

    /// The quote's frame compressed without context, made once per loop and cached on the update.
    private func sharedDeflatedFrame(_ idx: Int) -> ByteBuffer {
        if let f = tickUpdates[idx].deflatedFrame { return f }
        deflateScratch.clear()
        tickUpdates[idx].json.withUnsafeReadableBytes { sharedCompressor.compress($0, into: &deflateScratch) }
        let frame = deflateArena.encode { out in
            WebSocketFrameEncoder.writeHeader(opcode: .text, rsv1: true, payloadLength: deflateScratch.readableBytes,
                                              maskingKey: nil, into: &out)
            out.writeBuffer(deflateScratch)
        }
        tickUpdates[idx].deflatedFrame = frame
        return frame
    }

    /// One message (a single quote, or a `quotes` batch) compressed with the connection's context.
    private func compressedMessage(_ c: FanoutClient, _ pending: [UInt32], from: Int, to: Int) -> ByteBuffer {
        plainScratch.clear()
        if to - from == 1 {
            plainScratch.writeBuffer(tickUpdates[Int(pending[from])].json)
        } else {
            plainScratch.writeStaticString(Self.batchPrefix)
            plainScratch.writeBuffer(tickUpdates[Int(pending[from])].json)
            for k in (from + 1)..<to { plainScratch.writeBuffer(tickUpdates[Int(pending[k])].element) }
            plainScratch.writeBuffer(batchSuffix)
        }
        deflateScratch.clear()
        plainScratch.withUnsafeReadableBytes {
            historyCompressor.compress($0, history: &c.deflateHistory, into: &deflateScratch)
        }
        return deflateArena.encode { out in
            WebSocketFrameEncoder.writeHeader(opcode: .text, rsv1: true, payloadLength: deflateScratch.readableBytes,
                                              maskingKey: nil, into: &out)
            out.writeBuffer(deflateScratch)
        }
    }

    private func writeBatch(_ tcp: TCPConnection, from: Int, to: Int, payloadLength: Int, pending: [UInt32]) {
        tcp.reserveWrites(to - from + 2)
        let header = headerArena.encode { out in
            WebSocketFrameEncoder.writeHeader(opcode: .text, payloadLength: payloadLength, maskingKey: nil, into: &out)
            out.writeStaticString(Self.batchPrefix)
        }
        tcp.write(header)
        let first = tickUpdates[Int(pending[from])].element
        tcp.write(first.slice(offset: 1, length: first.readableBytes - 1))
        var k = from + 1
        while k < to {
            tcp.write(tickUpdates[Int(pending[k])].element)
            k += 1
        }
        tcp.write(batchSuffix)
    }

    private func conflate(_ c: FanoutClient, _ pending: [UInt32], now: UInt64) {
        if c.conflated == nil {
            c.conflated = [:]
            c.slowSince = now
        }
        quotesConflated &+= UInt64(pending.count)
        for idx in pending {
            let u = tickUpdates[Int(idx)]
            if c.conflated![u.symbolId] == nil {
                c.conflatedOrder.append(u.symbolId)
            } else {
                c.conflatedAway += 1
            }
            c.conflated![u.symbolId] = u
        }
        if now &- c.slowSince > limits.slowConsumerTimeoutNanos {
            slowConsumersClosed &+= 1
            let t = c.transport
            remove(c)
            t.closeWebSocket(code: 1008, reason: "slow consumer")
        }
    }

    /// The connection fell below its low watermark: what conflation kept goes out next drain.
    public func clientBecameWritable(_ c: FanoutClient) {
        guard c.conflated != nil, c.slot != .max else { return }
        let wasIdle = c.pendingCount == 0
        restoreConflated(c)
        if wasIdle && c.pendingCount > 0 { dirty.append(c.slot) }
    }

    /// Moves the conflated quotes in front of this tick's pending ones (they are older).
    private func restoreConflated(_ c: FanoutClient) {
        guard let kept = c.conflated else { return }
        c.conflated = nil
        let order = c.conflatedOrder
        c.conflatedOrder.removeAll()
        guard !order.isEmpty else { return }
        let later = pendingIndices(c)
        var idxs: [UInt32] = []
        idxs.reserveCapacity(order.count + later.count)
        for s in order {
            guard let u = kept[s] else { continue }
            idxs.append(UInt32(tickUpdates.count))
            tickUpdates.append(u)
        }
        idxs.append(contentsOf: later)
        setPending(c, idxs)
    }
}
