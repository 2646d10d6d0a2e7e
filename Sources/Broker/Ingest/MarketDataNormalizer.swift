// MarketDataNormalizer: FIX market data (35=W/X, read in place from the parsed view) into `Quote`s.
//
// Owns: walking NoMDEntries(268) entries field by field over the received bytes (no copy, no
// String), resolving Symbol(55) bytes to the dense symbol id, merging an update's bid/offer/trade
// entries into one quote per (symbol, RptSeq 83), and keeping each symbol's latest state so a
// partial update (only a trade entry, say) still yields a whole quote. Leaves sessions to FIX and
// publishing to MarketDataIngestor. Entry layout: ExchangeMarketData.swift.
//
// Without RptSeq, an entry starts a new quote when its symbol changes or its type repeats, and the
// symbol's seq is counted locally.
public import FIX

/// Turns market-data messages into quotes; one instance per FIX session (loop thread).
public struct MarketDataNormalizer: Sendable {
    /// The universe symbols are resolved in.
    public let symbols: SymbolUniverse
    private var state: [Quote]
    /// Entries whose symbol is not in the universe (skipped).
    public private(set) var unknownSymbolEntries: UInt64 = 0
    /// Quotes whose seq was not the previous one + 1 (gaps, or an exchange restart).
    public private(set) var sequenceGaps: UInt64 = 0
    private var cur: Int32 = -1
    private var curSeq: UInt64 = 0
    private var curTypes: UInt8 = 0

    /// Creates a normalizer with no state.
    public init(symbols: SymbolUniverse) {
        self.symbols = symbols
        state = (0..<symbols.count).map {
            Quote(symbolId: Int32($0), bid: 0, ask: 0, last: 0, ts: 0, seq: 0)
        }
    }

    /// The latest normalized state of `symbolId` (seq 0 = nothing yet).
    public func latest(_ symbolId: Int32) -> Quote { state[Int(symbolId)] }

    /// Reads one 35=W or 35=X and calls `emit` once per quote it completes, in message order.
    /// - Returns: the number of quotes emitted.
    /// - Throws: `FIXParseError` for a message without NoMDEntries or with a malformed value.
    @discardableResult
    public mutating func normalize(_ v: FIXMessageView, emit: (Quote) -> Void) throws(FIXParseError) -> Int {
        guard let g = v.group(FIXTag.noMDEntries) else { throw .requiredTagMissing(tag: FIXTag.noMDEntries) }
        let bytes = v.bytes
        var bodySymbol: Int32 = -1
        if v.msgType == .marketDataSnapshotFullRefresh, let r = v.range(FIXTag.symbol) {
            bodySymbol = symbols.id(bytes: UnsafeRawBufferPointer(rebasing: bytes[r])) ?? -2
        }
        var emitted = 0
        cur = -1
        var k = g.fields.lowerBound
        let end = g.fields.upperBound
        while k < end {
            // One entry: from its delimiter to the next delimiter.
            var type: UInt8 = 0
            var action: UInt8 = UInt8(ascii: "0")
            var sym = bodySymbol
            var price: Int64 = -1
            var size: Int64 = -1
            var seq: UInt64 = 0
            var hasSeq = false
            var days: Int64 = -1
            var nanos: Int64 = -1
            var first = true
            while k < end {
                let f = v.field(at: k)
                if !first && Int(f.tag) == g.delimiter { break }
                first = false
                k += 1
                let r = f.range
                switch f.tag {
                case 279: action = r.count == 1 ? bytes[r.lowerBound] : 0
                case 269: type = r.count == 1 ? bytes[r.lowerBound] : 0
                case 55: sym = symbols.id(bytes: UnsafeRawBufferPointer(rebasing: bytes[r])) ?? -2
                case 83:
                    guard let s = FIXValue.int(bytes, r), s >= 0 else { throw .incorrectDataFormat(tag: 83) }
                    seq = UInt64(s)
                    hasSeq = true
                case 270:
                    guard let p = FIXValue.fixedPoint(bytes, r) else { throw .incorrectDataFormat(tag: 270) }
                    price = p
                case 271:
                    guard let s = FIXValue.fixedPoint(bytes, r) else { throw .incorrectDataFormat(tag: 271) }
                    size = s / fixPriceScale
                case 272:
                    guard let d = FIXValue.dateOnly(bytes, r) else { throw .incorrectDataFormat(tag: 272) }
                    days = d
                case 273:
                    guard let t = FIXValue.timeOnly(bytes, r) else { throw .incorrectDataFormat(tag: 273) }
                    nanos = t
                default: break
                }
            }
            if sym < 0 {
                unknownSymbolEntries &+= 1
                continue
            }
            let bit: UInt8
            switch type {
            case UInt8(ascii: "0"): bit = 1
            case UInt8(ascii: "1"): bit = 2
            case UInt8(ascii: "2"): bit = 4
            default: continue  // other entry types carry nothing a Quote holds
            }
            if action == UInt8(ascii: "2") { continue }  // delete: keep the last known value
            let newQuote = sym != cur || (hasSeq ? seq != curSeq : curTypes & bit != 0)
            if newQuote {
                if cur >= 0 { emit(state[Int(cur)]); emitted += 1 }
                cur = sym
                curTypes = 0
                let prev = state[Int(sym)].seq
                let s = hasSeq ? seq : prev &+ 1
                if prev != 0 && s != prev &+ 1 { sequenceGaps &+= 1 }
                curSeq = s
                state[Int(sym)].seq = s
            }
            curTypes |= bit
            var q = state[Int(sym)]
            switch bit {
            case 1:
                if price >= 0 { q.bid = price }
                if size >= 0 { q.bidSize = size }
            case 2:
                if price >= 0 { q.ask = price }
                if size >= 0 { q.askSize = size }
            default:
                if price >= 0 { q.last = price }
                if size >= 0 { q.lastSize = size }
            }
            if days >= 0 && nanos >= 0 { q.ts = UInt64(days * 86_400_000_000_000 + nanos) }
            state[Int(sym)] = q
        }
        if cur >= 0 { emit(state[Int(cur)]); emitted += 1 }
        cur = -1
        return emitted
    }
}
