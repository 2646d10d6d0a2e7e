// RedisQuoteStore: the latest quote per symbol in Redis (`quote:SYMBOL`), written by the ingestor.
//
// Owns: coalescing (one pending slot per symbol, so a flush writes each moved symbol once however
// often it moved), the pipelined SETs of a flush (every command of one loop iteration leaves in one
// write, RedisClient), recovery (while Redis is away the slots simply stay dirty; on every
// (re)connect every known symbol is marked dirty, so a restarted, empty Redis is refilled), and the
// value format below. The bound on memory is the symbol count: nothing queues per update.
//
// Value of `quote:SYMBOL` (JSON, so `redis-cli GET quote:AAPL` is readable and a gateway can use it
// as-is): {"symbol":"AAPL","ltp":190.12,"bid":190.11,"ask":190.13,"bid_size":500,"ask_size":300,
// "last_size":12,"ts":1795788017526000123,"seq":42}. Prices are decimal numbers with 2-4 fraction
// digits (exact: 1e-4 fixed point), `ts` is the exchange's generation time in ns since the epoch.
import Logging
public import Wire

/// The Redis value of a quote.
public enum QuoteRedisValue {
    /// Longest value written (symbol <= 32 bytes, three prices, five integers).
    public static let maxBytes = 320

    /// Appends the JSON value of `q`.
    public static func write(_ q: Quote, symbols: SymbolUniverse, into b: inout ByteBuffer) {
        b.reserveWritable(maxBytes)
        b.writeStaticString("{\"symbol\":\"")
        symbols.writeName(of: q.symbolId, into: &b)
        b.writeStaticString("\",\"ltp\":")
        b.writeFixedPoint(q.last, scale: FixedPointDecimal.priceScale, minFraction: 2)
        b.writeStaticString(",\"bid\":")
        b.writeFixedPoint(q.bid, scale: FixedPointDecimal.priceScale, minFraction: 2)
        b.writeStaticString(",\"ask\":")
        b.writeFixedPoint(q.ask, scale: FixedPointDecimal.priceScale, minFraction: 2)
        b.writeStaticString(",\"bid_size\":")
        b.writeDecimal(Int(q.bidSize))
        b.writeStaticString(",\"ask_size\":")
        b.writeDecimal(Int(q.askSize))
        b.writeStaticString(",\"last_size\":")
        b.writeDecimal(Int(q.lastSize))
        b.writeStaticString(",\"ts\":")
        b.writeDecimal(Int(truncatingIfNeeded: q.ts))
        b.writeStaticString(",\"seq\":")
        b.writeDecimal(Int(truncatingIfNeeded: q.seq))
        b.writeStaticString("}")
    }

    /// Parses a value written by `write` (cold path: snapshots, tests). Nil when malformed or the
    /// symbol is not in `symbols`.
    public static func parse(_ bytes: [UInt8], symbols: SymbolUniverse) -> Quote? {
        guard let v = try? bytes.withUnsafeBytes({ b throws(JSONParseError) in try JSONParser.parse(b) }),
              let name = v["symbol"]?.stringValue, let id = symbols.id(of: name) else { return nil }
        func price(_ k: String) -> Int64? {
            v[k]?.numberText.flatMap { try? FixedPointDecimal.parse($0, scale: FixedPointDecimal.priceScale) }
        }
        func int(_ k: String) -> Int64? { v[k]?.numberText.flatMap { Int64($0) } }
        guard let ltp = price("ltp"), let bid = price("bid"), let ask = price("ask"),
              let ts = v["ts"]?.numberText.flatMap({ UInt64($0) }), let seq = v["seq"]?.numberText.flatMap({ UInt64($0) })
        else { return nil }
        return Quote(symbolId: id, bid: bid, ask: ask, last: ltp, bidSize: int("bid_size") ?? 0,
                     askSize: int("ask_size") ?? 0, lastSize: int("last_size") ?? 0, ts: ts, seq: seq)
    }
}

/// Counters of the Redis store.
public struct RedisQuoteStoreStats: Sendable, Equatable {
    /// Quotes handed to `put`.
    public var puts: UInt64 = 0
    /// SETs queued to Redis.
    public var writes: UInt64 = 0
    /// Flushes that stopped early because Redis was away or overloaded.
    public var deferredFlushes: UInt64 = 0
    /// Full rewrites after a (re)connect.
    public var resyncs: UInt64 = 0
}

/// `LatestQuoteStore` on Redis. Loop thread only (the RedisClient's loop).
public final class RedisQuoteStore: LatestQuoteStore {
    /// The client (its loop is this store's loop).
    public let client: RedisClient
    /// Counters.
    public private(set) var stats = RedisQuoteStoreStats()
    private let symbols: SymbolUniverse
    private let logger: Logger
    private var latest: [Quote]
    private var known: [Bool]
    private var dirty: [Bool]
    private var dirtyList: [Int32] = []
    private var value = ByteBuffer(capacity: 512)
    private var keys: [[UInt8]]

    /// Wraps `client` (not yet connected is fine: writes wait in the dirty slots).
    public init(client: RedisClient, symbols: SymbolUniverse, logger: Logger) {
        self.client = client
        self.symbols = symbols
        self.logger = logger
        latest = (0..<symbols.count).map { Quote(symbolId: Int32($0), bid: 0, ask: 0, last: 0, ts: 0, seq: 0) }
        known = Array(repeating: false, count: symbols.count)
        dirty = Array(repeating: false, count: symbols.count)
        keys = (0..<symbols.count).map { Array("quote:\(symbols.name(of: Int32($0)))".utf8) }
        client.onConnectionChange = { [weak self] connected, error in self?.connectionChanged(connected, error) }
    }

    /// Flushes what is pending and closes the client (loop thread). Call before the loop goes away.
    public func close() {
        flush()
        client.close()
    }

    /// Whether Redis is connected now.
    public var isConnected: Bool { client.isConnected }
    /// Symbols waiting to be written.
    public var pendingSymbols: Int { dirtyList.count }

    public func put(_ q: Quote) {
        let i = Int(q.symbolId)
        stats.puts &+= 1
        latest[i] = q
        known[i] = true
        if !dirty[i] {
            dirty[i] = true
            dirtyList.append(q.symbolId)
        }
    }

    public func flush() {
        guard !dirtyList.isEmpty, client.isConnected else { return }
        var done = 0
        for sym in dirtyList {
            let i = Int(sym)
            value.clear()
            QuoteRedisValue.write(latest[i], symbols: symbols, into: &value)
            let r = keys[i].withUnsafeBytes { k in
                value.withUnsafeReadableBytes { v in client.set(key: k, value: v) }
            }
            guard r == .queued else {
                stats.deferredFlushes &+= 1
                break
            }
            dirty[i] = false
            done += 1
        }
        stats.writes &+= UInt64(done)
        if done == dirtyList.count { dirtyList.removeAll(keepingCapacity: true) } else { dirtyList.removeFirst(done) }
    }

    public func fetch(_ symbolIds: [Int32], on loop: EventLoop, _ done: @escaping ([Quote]) -> Void) {
        nonisolated(unsafe) let d = done
        let deliver: @Sendable ([Quote]) -> Void = { quotes in
            if loop.inEventLoop { d(quotes) } else { loop.execute { d(quotes) } }
        }
        guard !symbolIds.isEmpty else { return deliver([]) }
        let names = symbolIds.map { "quote:" + symbols.name(of: $0) }
        let syms = symbols
        let sent = client.mget(names) { result in
            var out: [Quote] = []
            if case .success(.array(let items)) = result {
                for case .bulk(let b) in items { if let q = QuoteRedisValue.parse(b, symbols: syms) { out.append(q) } }
            }
            deliver(out)
        }
        if sent != .queued { deliver([]) }
    }

    private func connectionChanged(_ connected: Bool, _ error: RedisError?) {
        if connected {
            // Redis may have restarted empty (or lost writes in flight): rewrite every known symbol.
            stats.resyncs &+= 1
            for i in 0..<known.count where known[i] && !dirty[i] {
                dirty[i] = true
                dirtyList.append(Int32(i))
            }
            logger.notice("redis quote cache connected; rewriting latest quotes", metadata: ["symbols": "\(dirtyList.count)"])
            flush()
        } else {
            logger.warning("redis quote cache unavailable; keeping the latest quote per symbol until it returns",
                           metadata: ["error": "\(error.map { "\($0)" } ?? "closed")"])
        }
    }
}
