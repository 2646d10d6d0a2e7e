// Market-data application messages (FIX 4.4 Vol. 3 "Market Data").
//
// Owns: MarketDataRequest(V) builder/reader, and allocation-free writers and readers of
// MarketDataSnapshotFullRefresh(W) and MarketDataIncrementalRefresh(X) entries (NoMDEntries 268
// with 279/269/55/270/271/272/273). These run at feed rates (DESIGN.md: 100k updates/s), so
// entries are plain values walked with a non-escaping closure; symbols of up to 15 bytes are
// Swift small strings and do not allocate.

import Wire

/// One NoMDEntries(268) entry.
public struct FIXMDEntry: Equatable, Sendable {
    /// MDUpdateAction(279); 35=X only.
    public var updateAction: FIXMDUpdateAction?
    /// MDEntryType(269).
    public var entryType: FIXMDEntryType
    /// MDEntryPx(270) scaled by 1e-4.
    public var price: Int64?
    /// MDEntrySize(271) in whole units.
    public var size: Int64?
    /// Symbol(55) per entry; 35=X carries it per entry, 35=W once in the body.
    public var symbol: String?
    /// MDEntryDate(272) + MDEntryTime(273) as one instant; the feed timestamp `ts`.
    public var time: FIXTimestamp?

    /// Creates an entry.
    public init(
        updateAction: FIXMDUpdateAction? = nil, entryType: FIXMDEntryType, price: Int64? = nil,
        size: Int64? = nil, symbol: String? = nil, time: FIXTimestamp? = nil
    ) {
        self.updateAction = updateAction
        self.entryType = entryType
        self.price = price
        self.size = size
        self.symbol = symbol
        self.time = time
    }
}

/// MarketDataRequest(V).
public struct FIXMarketDataRequest: Equatable, Sendable {
    public var mdReqID: String
    public var subscriptionRequestType: FIXSubscriptionRequestType
    /// MarketDepth(264): 0 full book, 1 top of book.
    public var marketDepth: Int
    /// MDUpdateType(265): 0 full refresh, 1 incremental; only with subscribe.
    public var mdUpdateType: Int?
    public var entryTypes: [FIXMDEntryType]
    public var symbols: [String]

    public static let msgType = FIXMsgType.marketDataRequest

    /// Creates a request.
    public init(
        mdReqID: String, subscriptionRequestType: FIXSubscriptionRequestType, marketDepth: Int = 1,
        mdUpdateType: Int? = nil, entryTypes: [FIXMDEntryType], symbols: [String]
    ) {
        self.mdReqID = mdReqID
        self.subscriptionRequestType = subscriptionRequestType
        self.marketDepth = marketDepth
        self.mdUpdateType = mdUpdateType
        self.entryTypes = entryTypes
        self.symbols = symbols
    }

    /// Reads the body of a parsed 35=V.
    public init(_ v: FIXMessageView) throws(FIXParseError) {
        mdReqID = try v.requiredString(FIXTag.mdReqID)
        subscriptionRequestType = try v.requiredCode(FIXTag.subscriptionRequestType)
        marketDepth = try v.requiredInt(FIXTag.marketDepth)
        mdUpdateType = v.int(FIXTag.mdUpdateType)
        var types: [FIXMDEntryType] = []
        if let g = v.group(FIXTag.noMDEntryTypes) {
            try v.forEachEntry(of: g) { (e: FIXGroupEntry) throws(FIXParseError) in
                guard let c = v.char(FIXTag.mdEntryType, in: e) else {
                    throw .incorrectDataFormat(tag: FIXTag.mdEntryType)
                }
                types.append(FIXMDEntryType(rawValue: c))
            }
        }
        var syms: [String] = []
        if let g = v.group(FIXTag.noRelatedSym) {
            v.forEachEntry(of: g) { e in if let s = v.string(FIXTag.symbol, in: e) { syms.append(s) } }
        }
        guard !syms.isEmpty else { throw .requiredTagMissing(tag: FIXTag.noRelatedSym) }
        entryTypes = types
        symbols = syms
    }

    /// Writes the body fields.
    public func encode(into e: inout FIXEncoder) {
        e.field(FIXTag.mdReqID, mdReqID)
        e.field(FIXTag.subscriptionRequestType, char: subscriptionRequestType.rawValue)
        e.field(FIXTag.marketDepth, marketDepth)
        if let mdUpdateType { e.field(FIXTag.mdUpdateType, mdUpdateType) }
        e.field(FIXTag.noMDEntryTypes, entryTypes.count)
        for t in entryTypes { e.field(FIXTag.mdEntryType, char: t.rawValue) }
        e.field(FIXTag.noRelatedSym, symbols.count)
        for s in symbols { e.field(FIXTag.symbol, s) }
    }
}

/// Writers and readers of 35=W and 35=X bodies.
public enum FIXMarketData {
    /// Writes a MarketDataSnapshotFullRefresh(W) body: MDReqID, Symbol, then the entries.
    @inlinable public static func encodeSnapshot<C: Collection>(
        into e: inout FIXEncoder, mdReqID: String?, symbol: String, entries: C,
        timePrecision: FIXTimestampPrecision = .milliseconds
    ) where C.Element == FIXMDEntry {
        if let mdReqID { e.field(FIXTag.mdReqID, mdReqID) }
        e.field(FIXTag.symbol, symbol)
        e.field(FIXTag.noMDEntries, entries.count)
        for entry in entries { encodeEntry(entry, into: &e, incremental: false, precision: timePrecision) }
    }

    /// Writes a MarketDataIncrementalRefresh(X) body: MDReqID, then entries (each with 279 and 55).
    @inlinable public static func encodeIncremental<C: Collection>(
        into e: inout FIXEncoder, mdReqID: String?, entries: C,
        timePrecision: FIXTimestampPrecision = .milliseconds
    ) where C.Element == FIXMDEntry {
        if let mdReqID { e.field(FIXTag.mdReqID, mdReqID) }
        e.field(FIXTag.noMDEntries, entries.count)
        for entry in entries { encodeEntry(entry, into: &e, incremental: true, precision: timePrecision) }
    }

    // Inlinable with its callers so they specialize for the caller's collection: unspecialized
    // generic iteration allocates coroutine frames per element.
    @inlinable static func encodeEntry(
        _ m: FIXMDEntry, into e: inout FIXEncoder, incremental: Bool, precision: FIXTimestampPrecision
    ) {
        if incremental { e.field(FIXTag.mdUpdateAction, char: (m.updateAction ?? .new).rawValue) }
        e.field(FIXTag.mdEntryType, char: m.entryType.rawValue)
        if incremental, let s = m.symbol { e.field(FIXTag.symbol, s) }
        if let p = m.price { e.field(FIXTag.mdEntryPx, price: p) }
        if let s = m.size { e.field(FIXTag.mdEntrySize, Int(s)) }
        if let t = m.time {
            e.field(FIXTag.mdEntryDate, date: t)
            e.field(FIXTag.mdEntryTime, timeOnly: t, precision: precision)
        }
    }

    /// Calls `body` with each NoMDEntries entry of a parsed 35=W or 35=X, in order. For 35=W the
    /// body's Symbol(55) is filled into every entry.
    /// - Throws: `.requiredTagMissing(268)` without entries, `.incorrectDataFormat` for a bad value.
    public static func forEachEntry(
        in v: FIXMessageView, _ body: (FIXMDEntry) -> Void
    ) throws(FIXParseError) {
        guard let g = v.group(FIXTag.noMDEntries) else { throw .requiredTagMissing(tag: FIXTag.noMDEntries) }
        let bodySymbol = v.msgType == .marketDataSnapshotFullRefresh ? v.string(FIXTag.symbol) : nil
        try v.forEachEntry(of: g) { (e: FIXGroupEntry) throws(FIXParseError) in
            // One pass over the entry's fields (an entry holds a handful; no per-tag rescans).
            var entry = FIXMDEntry(entryType: FIXMDEntryType(rawValue: 0))
            var sawType = false
            var date: Range<Int>?
            var time: Range<Int>?
            for k in e.fields {
                let f = v.field(at: k)
                let r = f.range
                switch Int(f.tag) {
                case FIXTag.mdEntryType:
                    guard r.count == 1 else { throw .incorrectDataFormat(tag: FIXTag.mdEntryType) }
                    entry.entryType = FIXMDEntryType(rawValue: v.bytes[r.lowerBound])
                    sawType = true
                case FIXTag.mdUpdateAction:
                    guard r.count == 1 else { throw .incorrectDataFormat(tag: FIXTag.mdUpdateAction) }
                    entry.updateAction = FIXMDUpdateAction(rawValue: v.bytes[r.lowerBound])
                case FIXTag.mdEntryPx:
                    guard let p = FIXValue.fixedPoint(v.bytes, r) else {
                        throw .incorrectDataFormat(tag: FIXTag.mdEntryPx)
                    }
                    entry.price = p
                case FIXTag.mdEntrySize:
                    guard let q = FIXValue.fixedPoint(v.bytes, r) else {
                        throw .incorrectDataFormat(tag: FIXTag.mdEntrySize)
                    }
                    entry.size = q / fixPriceScale
                case FIXTag.symbol:
                    entry.symbol = String(decoding: UnsafeRawBufferPointer(rebasing: v.bytes[r]), as: UTF8.self)
                case FIXTag.mdEntryDate:
                    date = r
                case FIXTag.mdEntryTime:
                    time = r
                default:
                    break
                }
            }
            guard sawType else { throw .requiredTagMissing(tag: FIXTag.mdEntryType) }
            if entry.symbol == nil { entry.symbol = bodySymbol }
            if let d = date, let t = time {
                guard let days = FIXValue.dateOnly(v.bytes, d) else {
                    throw .incorrectDataFormat(tag: FIXTag.mdEntryDate)
                }
                guard let nanos = FIXValue.timeOnly(v.bytes, t) else {
                    throw .incorrectDataFormat(tag: FIXTag.mdEntryTime)
                }
                entry.time = FIXTimestamp(nanoseconds: days * 86_400_000_000_000 + nanos)
            }
            body(entry)
        }
    }
}
