import Testing
@testable import Broker
import Wire

@Suite struct QuoteScannerTests {
    @Test func countsSingleAndBatchedQuotesWithTheirTimestamps() {
        var ts: [UInt64] = []
        let single = #"{"type":"quote","symbol":"A","ltp":1.00,"bid":1.00,"ask":1.01,"ts":1795788017526000000,"seq":42}"#
        let batch = #"{"type":"quotes","data":[{"type":"quote","symbol":"A","ts":5,"seq":1},{"type":"quote","symbol":"B","ts":7,"seq":2}]}"#
        let other = #"{"type":"subscribed","symbols":["A"]}"#
        var n = 0
        for text in [single, batch, other] {
            var s = text
            n += s.withUTF8 { QuoteScanner.scan(UnsafeRawBufferPointer($0)) { ts.append($0) } }
        }
        #expect(n == 3)
        #expect(ts == [1795788017526000000, 5, 7])
    }
}
