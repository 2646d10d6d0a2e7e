// Application messages: each builder round-trips through encoder, framer, view and reader.
import Testing
import Wire

@testable import FIX

@Suite struct FIXApplicationMessagesTests {
    let ts = FIXTimestamp(nanoseconds: 1_795_788_017_526_000_000)

    /// Encodes a body behind a standard header and parses it back.
    func roundTrip<R>(
        _ type: FIXMsgType, _ body: (inout FIXEncoder) -> Void,
        read: (FIXMessageView) throws -> R
    ) throws -> R {
        var enc = FIXEncoder()
        enc.beginMessage(type)
        enc.field(49, "A")
        enc.field(56, "B")
        enc.field(34, 1)
        enc.field(52, timestamp: ts, precision: .milliseconds)
        body(&enc)
        enc.finishMessage()
        let bytes = enc.buffer.readableBytesArray
        #expect(frames(bytes) == [bytes])
        return try withView(bytes, read)
    }

    @Test func newOrderSingle() throws {
        let o = FIXNewOrderSingle(
            clOrdID: "c-1", account: "acct", symbol: "TCS", side: .buy, ordType: .limit,
            orderQty: 10, price: 35_000_000, timeInForce: .day, transactTime: ts)
        let back = try roundTrip(.newOrderSingle, o.encode) { try FIXNewOrderSingle($0) }
        #expect(back == o)
        let market = FIXNewOrderSingle(
            clOrdID: "c-2", symbol: "TCS", side: .sell, ordType: .market, orderQty: 5,
            transactTime: ts)
        #expect(try roundTrip(.newOrderSingle, market.encode) { try FIXNewOrderSingle($0) } == market)
    }

    @Test func limitOrderWithoutPriceRejected() throws {
        let o = FIXNewOrderSingle(
            clOrdID: "c-1", symbol: "TCS", side: .buy, ordType: .limit, orderQty: 10,
            transactTime: ts)
        #expect(throws: FIXParseError.requiredTagMissing(tag: 44)) {
            try roundTrip(.newOrderSingle, o.encode) { try FIXNewOrderSingle($0) }
        }
    }

    @Test func fractionalQuantityRejected() throws {
        #expect(throws: FIXParseError.incorrectDataFormat(tag: 38)) {
            try roundTrip(
                .newOrderSingle,
                { e in
                    e.field(11, "c")
                    e.field(55, "TCS")
                    e.field(54, "1")
                    e.field(60, timestamp: ts, precision: .seconds)
                    e.field(38, "1.5")
                    e.field(40, "1")
                }
            ) { try FIXNewOrderSingle($0) }
        }
    }

    @Test func cancelAndReplace() throws {
        let c = FIXOrderCancelRequest(
            origClOrdID: "c-1", clOrdID: "c-2", orderID: "o-9", symbol: "TCS", side: .buy,
            orderQty: 10, transactTime: ts)
        #expect(try roundTrip(.orderCancelRequest, c.encode) { try FIXOrderCancelRequest($0) } == c)
        let r = FIXOrderCancelReplaceRequest(
            orderID: "o-9", origClOrdID: "c-2", clOrdID: "c-3", symbol: "TCS",
            side: .buy, ordType: .limit, orderQty: 5, price: 34_900_000,
            timeInForce: .immediateOrCancel, transactTime: ts)
        #expect(try roundTrip(.orderCancelReplaceRequest, r.encode) { try FIXOrderCancelReplaceRequest($0) } == r)
    }

    @Test func executionReportAndCancelReject() throws {
        let e = FIXExecutionReport(
            orderID: "o-1", clOrdID: "c-1", execID: "x-1", execType: .trade,
            ordStatus: .partiallyFilled, symbol: "TCS", side: .buy, orderQty: 10,
            price: 35_000_000, lastQty: 4, lastPx: 34_995_000, leavesQty: 6, cumQty: 4,
            avgPx: 34_995_000, text: "fill", transactTime: ts)
        #expect(try roundTrip(.executionReport, e.encode) { try FIXExecutionReport($0) } == e)
        let j = FIXOrderCancelReject(
            orderID: "o-1", clOrdID: "c-2", origClOrdID: "c-1", ordStatus: .filled,
            responseTo: .cancel, reason: 0, text: "too late")
        #expect(try roundTrip(.orderCancelReject, j.encode) { try FIXOrderCancelReject($0) } == j)
    }

    @Test func executionReportMissingAvgPx() throws {
        #expect(throws: FIXParseError.self) {
            try roundTrip(
                .executionReport,
                { e in
                    e.field(37, "o")
                    e.field(17, "x")
                    e.field(150, "0")
                    e.field(39, "0")
                    e.field(55, "S")
                    e.field(54, "1")
                    e.field(151, 1)
                    e.field(14, 0)
                }
            ) { try FIXExecutionReport($0) }
        }
    }

    @Test func marketDataRequest() throws {
        let v = FIXMarketDataRequest(
            mdReqID: "r-1", subscriptionRequestType: .subscribe, marketDepth: 1,
            mdUpdateType: 1, entryTypes: [.bid, .offer, .trade], symbols: ["TCS", "INFY"])
        #expect(try roundTrip(.marketDataRequest, v.encode) { try FIXMarketDataRequest($0) } == v)
    }

    @Test func snapshotEntries() throws {
        let entries = [
            FIXMDEntry(entryType: .bid, price: 24_505_000, size: 100, time: ts),
            FIXMDEntry(entryType: .offer, price: 24_510_000, size: 50, time: ts),
            FIXMDEntry(entryType: .trade, price: 24_507_500, size: 7, time: ts),
        ]
        let got = try roundTrip(
            .marketDataSnapshotFullRefresh,
            { e in
                FIXMarketData.encodeSnapshot(into: &e, mdReqID: "r-1", symbol: "RELIANCE", entries: entries)
            }
        ) { v -> [FIXMDEntry] in
            var out: [FIXMDEntry] = []
            try FIXMarketData.forEachEntry(in: v) { out.append($0) }
            return out
        }
        #expect(
            got
                == entries.map {
                    var e = $0
                    e.symbol = "RELIANCE"
                    return e
                })
    }

    @Test func incrementalEntriesWithNanosecondTimes() throws {
        let t = FIXTimestamp(nanoseconds: 1_795_788_017_526_001_002)
        let entries = [
            FIXMDEntry(updateAction: .change, entryType: .bid, price: 1, size: 1, symbol: "S0001", time: t),
            FIXMDEntry(updateAction: .new, entryType: .trade, price: 2, size: 3, symbol: "S0002", time: t),
        ]
        let got = try roundTrip(
            .marketDataIncrementalRefresh,
            { e in
                FIXMarketData.encodeIncremental(into: &e, mdReqID: nil, entries: entries, timePrecision: .nanoseconds)
            }
        ) { v -> [FIXMDEntry] in
            var out: [FIXMDEntry] = []
            try FIXMarketData.forEachEntry(in: v) { out.append($0) }
            return out
        }
        #expect(got == entries)
    }

    @Test func badEntryPriceIsDataFormatError() throws {
        let m = fixMessage("35=X|" + hdr + "268=1|279=0|269=0|55=TCS|270=12.3.4|")
        #expect(throws: FIXParseError.incorrectDataFormat(tag: 270)) {
            try withView(m) { v in try FIXMarketData.forEachEntry(in: v) { _ in } }
        }
    }
}
