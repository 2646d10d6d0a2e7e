// Tests for the quote's client JSON and binary Kafka encoding.
import Testing
import Wire

@testable import Broker

@Suite struct QuoteTests {
    let universe = try! SymbolUniverse(listings: [
        SymbolListing(symbol: "TCS", companyName: "Tata Consultancy Services"),
        SymbolListing(symbol: "RELIANCE", companyName: "Reliance Industries"),
    ])

    var sample: Quote {
        Quote(
            symbolId: 1, bid: 24_505_000, ask: 24_510_000, last: 24_507_500, bidSize: 100, askSize: 200,
            lastSize: 5, ts: 1_795_788_017_526_000_000, seq: 42)
    }

    @Test func jsonMessageMatchesDesign() {
        var buf = ByteBuffer()
        sample.writeJSONMessage(into: &buf, symbols: universe)
        #expect(
            buf.readableString == #"{"type":"quote","symbol":"RELIANCE","ltp":2450.75,"bid":2450.50,"#
                + #""ask":2451.00,"ts":1795788017526000000,"seq":42}"#)
        #expect(buf.readableBytes <= Quote.maxJSONMessageBytes)
    }

    @Test func jsonObjectAndBatch() {
        var buf = ByteBuffer()
        buf.writeStaticString(Quote.batchPrefix)
        sample.writeJSONObject(into: &buf, symbols: universe)
        buf.writeStaticString(Quote.batchSeparator)
        var q = sample
        q.symbolId = 0
        q.last = 35_000_001
        q.seq = 43
        q.writeJSONObject(into: &buf, symbols: universe)
        buf.writeStaticString(Quote.batchSuffix)
        #expect(
            buf.readableString == #"{"type":"quotes","data":[{"symbol":"RELIANCE","ltp":2450.75,"bid":2450.50,"#
                + #""ask":2451.00,"ts":1795788017526000000,"seq":42},{"symbol":"TCS","ltp":3500.0001,"bid":2450.50,"#
                + #""ask":2451.00,"ts":1795788017526000000,"seq":43}]}"#)
    }

    @Test func jsonEncodingDoesNotGrowAPreparedBuffer() {
        var buf = ByteBuffer(capacity: 4096)
        let capacity = buf.capacity
        for _ in 0..<10 {
            sample.writeJSONMessage(into: &buf, symbols: universe)
            buf.clear()
        }
        #expect(buf.capacity == capacity)
    }

    @Test func binaryRoundTripAndLayout() throws {
        var buf = ByteBuffer()
        sample.writeBinary(into: &buf)
        #expect(buf.readableBytes == Quote.binaryLength)
        let bytes = buf.readableBytesArray
        #expect(bytes[0] == 1)
        #expect(bytes[4] == 1 && bytes[5] == 0)  // symbolId 1, little-endian
        #expect(bytes[64] == 42)  // seq low byte first
        #expect(try Quote(binary: buf) == sample)
        #expect(try Quote(binary: buf, symbolId: 0).symbolId == 0)
    }

    @Test func binaryRejectsShortAndUnknownVersion() {
        var buf = ByteBuffer()
        sample.writeBinary(into: &buf)
        #expect(throws: QuoteBinaryError.truncated) { try Quote(binary: buf.slice(length: 71)) }
        var bad = ByteBuffer(bytes: [9] + buf.readableBytesArray.dropFirst())
        #expect(throws: QuoteBinaryError.unknownVersion(9)) { try Quote(binary: bad) }
        bad.clear()
    }
}
