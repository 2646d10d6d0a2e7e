// A price-time priority limit order book for one symbol.
//
// Owns: matching (limit and market, partial fills, DAY/IOC), cancel and cancel/replace, and the
// events they produce. Leaves FIX, sessions, liquidity and risk to others.
//
// Layout, chosen so the hot path allocates nothing once warmed up:
// - Orders live in one array of nodes (a pool with a free list); each price level is an intrusive
//   doubly-linked FIFO through the nodes' `prev`/`next`, so cancel unlinks in O(1).
// - Each side keeps its levels in one sorted array keyed so the best level is the *last* element
//   (bids by price, asks by -price): taking out the best level is `removeLast`, finding a level is
//   a binary search, and inserting one shifts only the levels better than it, few near the top.
// - An order id -> node dictionary gives O(1) cancel by id.
// Trades execute at the resting order's price (the incoming order gets price improvement).

/// The order book of one symbol. A value type owned by one thread (the simulator's loop).
public struct OrderBook: Sendable {
    /// Static rules of the book.
    public struct Configuration: Sendable {
        /// Prices must be multiples of this (1e-4 units); 1 accepts any price.
        public var tickSize: Int64

        /// - Parameter tickSize: price increment in 1e-4 units, > 0 (e.g. 100 = 0.01, 500 = 0.05).
        public init(tickSize: Int64 = 1) {
            precondition(tickSize > 0, "tick size must be positive")
            self.tickSize = tickSize
        }
    }

    @usableFromInline struct Node: Sendable {
        var orderId: UInt64
        var owner: UInt64
        var price: Int64
        var leaves: Int64
        var cum: Int64
        var side: OrderSide
        var prev: Int32
        var next: Int32
    }

    @usableFromInline struct Level: Sendable {
        var key: Int64  // price for bids, -price for asks: best level has the highest key
        var price: Int64
        var qty: Int64
        var count: Int32
        var head: Int32
        var tail: Int32
    }

    /// The symbol this book trades.
    public let symbolId: Int32
    /// Rules.
    public let configuration: Configuration

    private var nodes: [Node] = []
    private var free: [Int32] = []
    private var index: [UInt64: Int32] = [:]
    private var bids: [Level] = []
    private var asks: [Level] = []
    private var nextOrder: UInt64 = 1
    private var nextTrade: UInt64 = 1

    /// Creates an empty book. Order and trade ids carry `symbolId` in their high 32 bits, so ids are
    /// unique across the books of one engine and `MatchingEngine` can route a cancel by id alone.
    public init(symbolId: Int32, configuration: Configuration = .init()) {
        precondition(symbolId >= 0)
        self.symbolId = symbolId
        self.configuration = configuration
    }

    // MARK: Queries

    /// Best bid level, or nil.
    public var bestBid: OrderBookLevel? {
        bids.last.map { OrderBookLevel(price: $0.price, qty: $0.qty, orders: Int($0.count)) }
    }
    /// Best ask level, or nil.
    public var bestAsk: OrderBookLevel? {
        asks.last.map { OrderBookLevel(price: $0.price, qty: $0.qty, orders: Int($0.count)) }
    }
    /// Number of live orders.
    public var orderCount: Int { index.count }

    /// Up to `levels` levels of `side`, best first.
    public func depth(_ side: OrderSide, levels: Int) -> [OrderBookLevel] {
        let arr = side == .buy ? bids : asks
        return arr.reversed().prefix(levels).map { OrderBookLevel(price: $0.price, qty: $0.qty, orders: Int($0.count)) }
    }

    /// A live order, or nil when it is filled, canceled or unknown.
    public func order(_ orderId: UInt64) -> OrderBookOrder? {
        guard let slot = index[orderId] else { return nil }
        let n = nodes[Int(slot)]
        return OrderBookOrder(
            orderId: n.orderId, owner: n.owner, side: n.side, price: n.price, leaves: n.leaves, cum: n.cum)
    }

    /// Live order ids at one price of one side, in time priority (tests, snapshots).
    public func queue(_ side: OrderSide, price: Int64) -> [UInt64] {
        let (found, li) = findLevel(side, key: side == .buy ? price : -price)
        guard found else { return [] }
        var out: [UInt64] = []
        var s = (side == .buy ? bids : asks)[li].head
        while s >= 0 {
            out.append(nodes[Int(s)].orderId)
            s = nodes[Int(s)].next
        }
        return out
    }

    // MARK: Commands

    /// Submits a new order: validates, matches against the other side, then rests (limit DAY) or
    /// cancels the remainder (IOC, market). Events are appended to `events` in the order they happen.
    /// - Returns: the new order id, or nil when rejected.
    @discardableResult
    public mutating func submit(_ request: OrderBookRequest, events: inout [OrderBookEvent]) -> UInt64? {
        guard request.qty > 0 else {
            events.append(.rejected(owner: request.owner, reason: .invalidQuantity))
            return nil
        }
        if request.type == .limit {
            guard request.price > 0 else {
                events.append(.rejected(owner: request.owner, reason: .invalidPrice))
                return nil
            }
            guard request.price % configuration.tickSize == 0 else {
                events.append(.rejected(owner: request.owner, reason: .offTick))
                return nil
            }
        }
        let orderId = (UInt64(UInt32(symbolId)) << 32) | nextOrder
        nextOrder += 1
        let price = request.type == .market ? 0 : request.price
        events.append(
            .accepted(orderId: orderId, owner: request.owner, side: request.side, price: price, qty: request.qty))
        var node = Node(
            orderId: orderId, owner: request.owner, price: price, leaves: request.qty, cum: 0,
            side: request.side, prev: -1, next: -1)
        match(&node, isMarket: request.type == .market, events: &events)
        if node.leaves > 0 {
            if request.type == .market || request.tif == .ioc {
                let reason: OrderBookCancelReason = request.type == .market ? .noLiquidity : .immediateOrCancel
                events.append(
                    .canceled(
                        orderId: orderId, owner: node.owner, canceledQty: node.leaves,
                        cumQty: node.cum, reason: reason))
            } else {
                rest(node)
            }
        }
        return orderId
    }

    /// Cancels a live order. Appends `.canceled` or `.cancelRejected(.unknownOrder)`.
    public mutating func cancel(_ orderId: UInt64, events: inout [OrderBookEvent]) {
        guard let slot = index[orderId] else {
            events.append(.cancelRejected(orderId: orderId, reason: .unknownOrder))
            return
        }
        let n = nodes[Int(slot)]
        unlink(slot)
        release(slot)
        events.append(
            .canceled(orderId: orderId, owner: n.owner, canceledQty: n.leaves, cumQty: n.cum, reason: .requested))
    }

    /// Cancel/replace (FIX 35=G): `qty` is the new *total* quantity (FIX OrderQty), so open quantity
    /// becomes `qty - cum`. The order keeps its time priority only when the price is unchanged and
    /// the open quantity does not grow; otherwise it goes to the back of its (new) level, and at a
    /// new price it may trade at once, as an incoming order would.
    public mutating func replace(_ orderId: UInt64, qty: Int64, price: Int64, events: inout [OrderBookEvent]) {
        guard let slot = index[orderId] else {
            events.append(.cancelRejected(orderId: orderId, reason: .unknownOrder))
            return
        }
        var n = nodes[Int(slot)]
        guard qty > n.cum else {
            events.append(.cancelRejected(orderId: orderId, reason: .invalidQuantity))
            return
        }
        guard price > 0, price % configuration.tickSize == 0 else {
            events.append(.cancelRejected(orderId: orderId, reason: .invalidPrice))
            return
        }
        let newLeaves = qty - n.cum
        let keep = price == n.price && newLeaves <= n.leaves
        if keep {
            let (found, li) = findLevel(n.side, key: n.side == .buy ? n.price : -n.price)
            precondition(found, "live order without its level")
            let delta = n.leaves - newLeaves
            nodes[Int(slot)].leaves = newLeaves
            if n.side == .buy { bids[li].qty -= delta } else { asks[li].qty -= delta }
            events.append(
                .replaced(
                    orderId: orderId, owner: n.owner, price: price, qty: qty, leaves: newLeaves,
                    keptPriority: true))
            return
        }
        unlink(slot)
        release(slot)
        n.price = price
        n.leaves = newLeaves
        n.prev = -1
        n.next = -1
        events.append(
            .replaced(
                orderId: orderId, owner: n.owner, price: price, qty: qty, leaves: newLeaves,
                keptPriority: false))
        match(&n, isMarket: false, events: &events)
        if n.leaves > 0 { rest(n) }
    }

    /// Cancels every live order (end of the trading day for DAY orders), best levels first.
    public mutating func cancelAll(events: inout [OrderBookEvent]) {
        while let l = bids.last { cancel(nodes[Int(l.head)].orderId, events: &events) }
        while let l = asks.last { cancel(nodes[Int(l.head)].orderId, events: &events) }
    }

    // MARK: Internals

    /// Matches `incoming` against the opposite side while prices cross.
    private mutating func match(_ incoming: inout Node, isMarket: Bool, events: inout [OrderBookEvent]) {
        let buying = incoming.side == .buy
        while incoming.leaves > 0 {
            guard let best = buying ? asks.last : bids.last else { return }
            if !isMarket {
                if buying && incoming.price < best.price { return }
                if !buying && incoming.price > best.price { return }
            }
            let slot = best.head
            var passive = nodes[Int(slot)]
            let fill = min(incoming.leaves, passive.leaves)
            incoming.leaves -= fill
            incoming.cum += fill
            passive.leaves -= fill
            passive.cum += fill
            nodes[Int(slot)].leaves = passive.leaves
            nodes[Int(slot)].cum = passive.cum
            let li = (buying ? asks.count : bids.count) - 1
            if buying { asks[li].qty -= fill } else { bids[li].qty -= fill }
            let tradeId = (UInt64(UInt32(symbolId)) << 32) | nextTrade
            nextTrade += 1
            let (b, s) = buying ? (incoming, passive) : (passive, incoming)
            events.append(
                .trade(
                    OrderBookTrade(
                        tradeId: tradeId, price: passive.price, qty: fill, aggressor: incoming.side,
                        buyOrderId: b.orderId, buyOwner: b.owner, buyLeaves: b.leaves, buyCum: b.cum,
                        sellOrderId: s.orderId, sellOwner: s.owner, sellLeaves: s.leaves, sellCum: s.cum)))
            if passive.leaves == 0 {
                unlink(slot)
                release(slot)
            }
        }
    }

    /// Puts `node` at the back of its price level, creating the level if needed.
    private mutating func rest(_ node: Node) {
        let slot: Int32
        if let s = free.popLast() {
            slot = s
            nodes[Int(s)] = node
        } else {
            slot = Int32(nodes.count)
            nodes.append(node)
        }
        index[node.orderId] = slot
        let key = node.side == .buy ? node.price : -node.price
        let (found, li) = findLevel(node.side, key: key)
        if found {
            let tail = level(node.side, li).tail
            nodes[Int(tail)].next = slot
            nodes[Int(slot)].prev = tail
            updateLevel(node.side, li) {
                $0.tail = slot
                $0.qty += node.leaves
                $0.count += 1
            }
        } else {
            let l = Level(key: key, price: node.price, qty: node.leaves, count: 1, head: slot, tail: slot)
            if node.side == .buy { bids.insert(l, at: li) } else { asks.insert(l, at: li) }
        }
    }

    /// Removes the node at `slot` from its level's FIFO (and the level when it empties).
    private mutating func unlink(_ slot: Int32) {
        let n = nodes[Int(slot)]
        let (found, li) = findLevel(n.side, key: n.side == .buy ? n.price : -n.price)
        precondition(found, "live order without its level")
        if n.prev >= 0 { nodes[Int(n.prev)].next = n.next }
        if n.next >= 0 { nodes[Int(n.next)].prev = n.prev }
        var l = level(n.side, li)
        if l.head == slot { l.head = n.next }
        if l.tail == slot { l.tail = n.prev }
        l.qty -= n.leaves
        l.count -= 1
        if l.count == 0 {
            if n.side == .buy { bids.remove(at: li) } else { asks.remove(at: li) }
        } else {
            updateLevel(n.side, li) { $0 = l }
        }
    }

    private mutating func release(_ slot: Int32) {
        index[nodes[Int(slot)].orderId] = nil
        nodes[Int(slot)].leaves = 0
        free.append(slot)
    }

    private func level(_ side: OrderSide, _ i: Int) -> Level { side == .buy ? bids[i] : asks[i] }

    private mutating func updateLevel(_ side: OrderSide, _ i: Int, _ body: (inout Level) -> Void) {
        if side == .buy { body(&bids[i]) } else { body(&asks[i]) }
    }

    /// Binary search for `key` in the side's ascending level array: (found, index or insertion point).
    private func findLevel(_ side: OrderSide, key: Int64) -> (Bool, Int) {
        let arr = side == .buy ? bids : asks
        var lo = 0
        var hi = arr.count
        // Most activity is near the top of book, which is the end of the array: check it first.
        if let last = arr.last {
            if last.key == key { return (true, arr.count - 1) }
            if last.key < key { return (false, arr.count) }
        }
        while lo < hi {
            let mid = (lo + hi) >> 1
            let k = arr[mid].key
            if k == key { return (true, mid) }
            if k < key { lo = mid + 1 } else { hi = mid }
        }
        return (false, lo)
    }
}
