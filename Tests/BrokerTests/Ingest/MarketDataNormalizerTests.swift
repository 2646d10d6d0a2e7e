// Ingest normalization: FIX 35=W/X as the exchange writes them -> Quote (symbol id, 1e-4 prices,
// sizes, exchange ts in ns, per-symbol seq); the Redis value format round-trips.
import FIX
import Testing
import Wire
@testable import Broker

@Suite struct MarketDataNormalizerTests {
    let symbols = SymbolUniverse.generated(count: 20)
    let ts: UInt64 = 1_795_788_017_526_000_123

    /// A whole FIX message (header, body, checksum) parsed into a view kept alive by `storage`.
    func message(_ type: FIXMsgType, _ body: (inout FIXEncoder) -> Void) -> [UInt8] {
        var e = FIXEncoder()
        e.beginMessage(type)
        e.field(FIXTag.senderCompID, "EXCHANGE")
        e.field(FIXTag.targetCompID, "INGEST")
        e.field(FIXTag.msgSeqNum, 2)
        e.field(FIXTag.sendingTime, timestamp: .seconds(1_795_788_017), precision: .milliseconds)
        body(&e)
        e.finishMessage()
        return e.buffer.readableBytesArray
    }

    func normalize(_ n: inout MarketDataNormalizer, _ bytes: [UInt8]) throws -> [Quote] {
        var v = FIXMessageView(capacity: 4096)
        var out: [Quote] = []
        try bytes.withUnsafeBytes { b in
            try v.parse(b)
            try n.normalize(v) { out.append($0) }
        }
        return out
    }

    func quote(_ id: Int32, seq: UInt64, last: Int64) -> Quote {
        Quote(symbolId: id, bid: last - 100, ask: last + 200, last: last, bidSize: 300, askSize: 400, lastSize: 7,
              ts: ts + seq, seq: seq)
    }

    @Test func incrementalWithSeveralQuotesBecomesOneQuoteEach() throws {
        let quotes = [quote(3, seq: 10, last: 1_234_500), quote(5, seq: 1, last: 99_900), quote(3, seq: 11, last: 1_234_600)]
        let bytes = message(.marketDataIncrementalRefresh) { e in
            e.field(FIXTag.mdReqID, "r1")
            e.field(FIXTag.noMDEntries, quotes.count * 3)
            for q in quotes { ExchangeMarketDataWriter.writeIncrementalEntries(q, symbols: symbols, into: &e) }
        }
        var n = MarketDataNormalizer(symbols: symbols)
        let out = try normalize(&n, bytes)
        #expect(out == quotes)  // fixed point, sizes, ns timestamps and seq survive exactly
        #expect(n.sequenceGaps == 0)
    }

    @Test func snapshotThenPartialIncrementalKeepsTheOtherSide() throws {
        let snap = quote(7, seq: 40, last: 500_000)
        var n = MarketDataNormalizer(symbols: symbols)
        let w = message(.marketDataSnapshotFullRefresh) { e in
            ExchangeMarketDataWriter.writeSnapshot(snap, mdReqID: "r1", symbols: symbols, into: &e)
        }
        #expect(try normalize(&n, w) == [snap])
        // An update carrying only a trade entry (no RptSeq): seq counted on, bid/ask kept.
        let x = message(.marketDataIncrementalRefresh) { e in
            e.field(FIXTag.noMDEntries, 1)
            e.field(FIXTag.mdUpdateAction, char: FIXMDUpdateAction.change.rawValue)
            e.field(FIXTag.mdEntryType, char: FIXMDEntryType.trade.rawValue)
            e.field(FIXTag.symbol, "S0007")
            e.field(FIXTag.mdEntryPx, price: 501_000)
            e.field(FIXTag.mdEntrySize, 25)
        }
        let out = try normalize(&n, x)
        #expect(out.count == 1)
        #expect(out[0].last == 501_000 && out[0].lastSize == 25 && out[0].seq == 41)
        #expect(out[0].bid == snap.bid && out[0].ask == snap.ask && out[0].ts == snap.ts)
    }

    @Test func unknownSymbolsAreSkippedAndGapsCounted() throws {
        let other = SymbolUniverse.generated(count: 40)
        let quotes = [quote(30, seq: 1, last: 10_000), quote(2, seq: 5, last: 20_000), quote(2, seq: 9, last: 20_100)]
        let bytes = message(.marketDataIncrementalRefresh) { e in
            e.field(FIXTag.noMDEntries, quotes.count * 3)
            for q in quotes { ExchangeMarketDataWriter.writeIncrementalEntries(q, symbols: other, into: &e) }
        }
        var n = MarketDataNormalizer(symbols: symbols)
        let out = try normalize(&n, bytes)
        #expect(out.map(\.seq) == [5, 9] && out.allSatisfy { $0.symbolId == 2 })
        #expect(n.unknownSymbolEntries == 3 && n.sequenceGaps == 1)
    }

    @Test func malformedPriceThrows() throws {
        let bytes = message(.marketDataIncrementalRefresh) { e in
            e.field(FIXTag.noMDEntries, 1)
            e.field(FIXTag.mdUpdateAction, char: FIXMDUpdateAction.change.rawValue)
            e.field(FIXTag.mdEntryType, char: FIXMDEntryType.bid.rawValue)
            e.field(FIXTag.symbol, "S0001")
            e.field(FIXTag.mdEntryPx, "12.3.4")
        }
        var n = MarketDataNormalizer(symbols: symbols)
        #expect(throws: FIXParseError.self) { try normalize(&n, bytes) }
    }

    @Test func redisValueRoundTripsAndIsReadableJSON() {
        let q = quote(4, seq: 42, last: 2_450_750)
        var b = ByteBuffer(capacity: 64)
        QuoteRedisValue.write(q, symbols: symbols, into: &b)
        #expect(b.readableString == "{\"symbol\":\"S0004\",\"ltp\":245.075,\"bid\":245.065,\"ask\":245.095,"
                + "\"bid_size\":300,\"ask_size\":400,\"last_size\":7,\"ts\":1795788017526000165,\"seq\":42}")
        #expect(QuoteRedisValue.parse(b.readableBytesArray, symbols: symbols) == q)
        #expect(QuoteRedisValue.parse(Array("{\"symbol\":\"NOPE\"}".utf8), symbols: symbols) == nil)
    }
}
