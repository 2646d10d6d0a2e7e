// ExchangeMarketData: what the simulator's market data looks like on FIX, and who asked for it.
//
// Owns: `ExchangeMarketDataWriter` (35=W and 35=X bodies written straight into the session's
// encoder, no intermediate values) and `ExchangeSubscriptions` (MarketDataRequest 35=V state per
// session). Leaves sessions, timers and sending to ExchangeSimulator.
//
// Wire format (FIX 4.4 Vol. 3 "Market Data"): one quote = three NoMDEntries(268) entries, bid (269=0),
// offer (269=1) and trade (269=2), each carrying
//   MDUpdateAction 279=1 (35=X only) | MDEntryType 269 | Symbol 55 (35=X only; 35=W has it in the body)
//   | RptSeq 83 = the symbol's sequence number | MDEntryPx 270 | MDEntrySize 271
//   | MDEntryDate 272 + MDEntryTime 273 = generation time with nanosecond precision (HH:MM:SS.nnnnnnnnn).
// Several quotes share one 35=X (exchange.updates_per_message). 35=V with Symbol(55) "*" subscribes
// to every symbol (an extension: FIX 4.4 has no wildcard; NoRelatedSym must not be empty).
public import FIX
public import Wire

/// Writes quotes as FIX market-data entries.
public enum ExchangeMarketDataWriter {
    /// Entries per quote (bid, offer, trade).
    public static let entriesPerQuote = 3

    /// Appends the three 35=X entries of `q`.
    @inlinable
    public static func writeIncrementalEntries(_ q: Quote, symbols: SymbolUniverse, into e: inout FIXEncoder) {
        writeEntry(.bid, q.bid, q.bidSize, q, symbols: symbols, incremental: true, into: &e)
        writeEntry(.offer, q.ask, q.askSize, q, symbols: symbols, incremental: true, into: &e)
        writeEntry(.trade, q.last, q.lastSize, q, symbols: symbols, incremental: true, into: &e)
    }

    /// Writes a whole 35=W body for `q`: MDReqID, Symbol, then the three entries.
    public static func writeSnapshot(_ q: Quote, mdReqID: String?, symbols: SymbolUniverse, into e: inout FIXEncoder) {
        if let mdReqID { e.field(FIXTag.mdReqID, mdReqID) }
        writeSymbol(q.symbolId, symbols: symbols, into: &e)
        e.field(FIXTag.noMDEntries, entriesPerQuote)
        writeEntry(.bid, q.bid, q.bidSize, q, symbols: symbols, incremental: false, into: &e)
        writeEntry(.offer, q.ask, q.askSize, q, symbols: symbols, incremental: false, into: &e)
        writeEntry(.trade, q.last, q.lastSize, q, symbols: symbols, incremental: false, into: &e)
    }

    @inlinable
    static func writeSymbol(_ id: Int32, symbols: SymbolUniverse, into e: inout FIXEncoder) {
        e.buffer.writeStaticString("55=")
        symbols.writeName(of: id, into: &e.buffer)
        e.buffer.writeInteger(fixSOH)
    }

    @inlinable
    static func writeEntry(_ type: FIXMDEntryType, _ price: Int64, _ size: Int64, _ q: Quote,
                           symbols: SymbolUniverse, incremental: Bool, into e: inout FIXEncoder) {
        if incremental { e.field(FIXTag.mdUpdateAction, char: FIXMDUpdateAction.change.rawValue) }
        e.field(FIXTag.mdEntryType, char: type.rawValue)
        if incremental { writeSymbol(q.symbolId, symbols: symbols, into: &e) }
        e.field(ExchangeMarketDataWriter.rptSeqTag, Int(truncatingIfNeeded: q.seq))
        e.field(FIXTag.mdEntryPx, price: price)
        e.field(FIXTag.mdEntrySize, Int(size))
        let t = FIXTimestamp(nanoseconds: Int64(truncatingIfNeeded: q.ts))
        e.field(FIXTag.mdEntryDate, date: t)
        e.field(FIXTag.mdEntryTime, timeOnly: t, precision: .nanoseconds)
    }

    /// RptSeq(83): sequence number per instrument update (FIX 4.4 MDIncGrp).
    public static let rptSeqTag = 83
    /// MDReqRejReason(281).
    public static let mdReqRejReasonTag = 281
}

/// MarketDataRequest state per FIX session (session = a small dense index chosen by the simulator).
public struct ExchangeSubscriptions: Sendable {
    struct Request: Sendable {
        var mdReqID: String
        var symbols: [Int32]?  // nil = all
    }
    struct Session: Sendable {
        var requests: [Request] = []
        var all = false
        var wanted: [Bool] = []
        var count = 0
    }

    /// Number of symbols.
    public let symbolCount: Int
    private var sessions: [Session] = []

    /// Creates an empty table for `symbolCount` symbols.
    public init(symbolCount: Int) { self.symbolCount = symbolCount }

    /// Adds (or replaces, same MDReqID) a subscription; `symbolIds` nil = every symbol.
    public mutating func subscribe(session: Int, mdReqID: String, symbolIds: [Int32]?) {
        grow(session)
        sessions[session].requests.removeAll { $0.mdReqID == mdReqID }
        sessions[session].requests.append(Request(mdReqID: mdReqID, symbols: symbolIds))
        rebuild(session)
    }

    /// Removes the subscription `mdReqID`. Returns whether there was one.
    @discardableResult
    public mutating func unsubscribe(session: Int, mdReqID: String) -> Bool {
        guard session < sessions.count else { return false }
        let before = sessions[session].requests.count
        sessions[session].requests.removeAll { $0.mdReqID == mdReqID }
        rebuild(session)
        return sessions[session].requests.count != before
    }

    /// Forgets every subscription of `session` (disconnect).
    public mutating func drop(session: Int) {
        guard session < sessions.count else { return }
        sessions[session] = Session()
    }

    /// Whether `session` receives updates of `symbolId`.
    @inline(__always)
    public func wants(session: Int, symbolId: Int32) -> Bool {
        guard session < sessions.count else { return false }
        let s = sessions[session]
        return s.all || (s.count > 0 && s.wanted[Int(symbolId)])
    }

    /// Whether `session` has any subscription.
    public func isSubscribed(session: Int) -> Bool {
        session < sessions.count && (sessions[session].all || sessions[session].count > 0)
    }

    /// The MDReqID to echo on updates of `session` (the latest request's).
    public func mdReqID(session: Int) -> String? {
        session < sessions.count ? sessions[session].requests.last?.mdReqID : nil
    }

    private mutating func grow(_ session: Int) {
        while sessions.count <= session { sessions.append(Session()) }
    }

    private mutating func rebuild(_ session: Int) {
        var s = sessions[session]
        s.all = s.requests.contains { $0.symbols == nil }
        s.wanted = s.all ? [] : [Bool](repeating: false, count: symbolCount)
        s.count = 0
        if !s.all {
            for r in s.requests {
                for id in r.symbols ?? [] where !s.wanted[Int(id)] {
                    s.wanted[Int(id)] = true
                    s.count += 1
                }
            }
        }
        sessions[session] = s
    }
}
