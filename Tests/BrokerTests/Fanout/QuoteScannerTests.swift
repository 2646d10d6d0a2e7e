import Testing
@testable import Broker
import Wire

@Suite struct QuoteScannerTests {
    @Test func findsSingleAndBatchedQuotesWithTimestampSequenceAndSymbol() {
        var found: [ScannedQuote] = []
        let single = #"{"type":"quote","symbol":"AAPL","ltp":1.00,"bid":1.00,"ask":1.01,"ts":1795788017526000000,"seq":42}"#
        let batch = #"{"type":"quotes","data":[{"symbol":"A","ts":5,"seq":1},{"symbol":"B","ltp":2.5,"ts":7,"seq":2}]}"#
        let other = #"{"type":"subscribed","symbols":["A","B"]}"#
        var n = 0
        for text in [single, batch, other] {
            var s = text
            n += s.withUTF8 { QuoteScanner.scanQuotes(UnsafeRawBufferPointer($0)) { found.append($0) } }
        }
        #expect(n == 3)
        #expect(found == [
            ScannedQuote(ts: 1795788017526000000, seq: 42, symbolHash: QuoteScanner.symbolHash("AAPL")),
            ScannedQuote(ts: 5, seq: 1, symbolHash: QuoteScanner.symbolHash("A")),
            ScannedQuote(ts: 7, seq: 2, symbolHash: QuoteScanner.symbolHash("B")),
        ])
        #expect(QuoteScanner.symbolHash("A") != QuoteScanner.symbolHash("B"))
        var ts: [UInt64] = []
        var s = batch
        _ = s.withUTF8 { QuoteScanner.scan(UnsafeRawBufferPointer($0)) { ts.append($0) } }
        #expect(ts == [5, 7])
    }
}
