// Fixed-point prices, ints and UTCTimestamps.
import Testing
import Wire

@testable import FIX

@Suite struct FIXValuesTests {
    func price(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        return b.withUnsafeBytes { FIXValue.fixedPoint($0, 0..<b.count) }
    }

    func ts(_ s: String) -> FIXTimestamp? {
        let b = Array(s.utf8)
        return b.withUnsafeBytes { FIXValue.timestamp($0, 0..<b.count) }
    }

    @Test func prices() {
        #expect(price("2450.75") == 24_507_500)
        #expect(price("100") == 1_000_000)
        #expect(price("0.0001") == 1)
        #expect(price("-1.5") == -15_000)
        #expect(price(".5") == 5_000)
        #expect(price("12.340000") == 123_400)
        #expect(price("1.23456") == nil)  // not representable: no silent rounding
        #expect(price("1e5") == nil)
        #expect(price("") == nil)
        #expect(price("-") == nil)
        #expect(price("1.2.3") == nil)
        #expect(price("123456789012345") == nil)
    }

    @Test func ints() {
        let cases: [(String, Int?)] = [("0", 0), ("42", 42), ("-7", -7), ("", nil), ("4x", nil), ("-", nil)]
        for (s, v) in cases {
            let b = Array(s.utf8)
            #expect(b.withUnsafeBytes { FIXValue.int($0, 0..<b.count) } == v, "\(s)")
        }
    }

    @Test func timestampsAllPrecisions() {
        let base: Int64 = 1_795_788_017 * 1_000_000_000
        #expect(ts("20261127-14:00:17") == FIXTimestamp(nanoseconds: base))
        #expect(ts("20261127-14:00:17.526") == FIXTimestamp(nanoseconds: base + 526_000_000))
        #expect(ts("20261127-14:00:17.526001") == FIXTimestamp(nanoseconds: base + 526_001_000))
        #expect(ts("20261127-14:00:17.526001002") == FIXTimestamp(nanoseconds: base + 526_001_002))
        #expect(ts("19700101-00:00:00") == FIXTimestamp(nanoseconds: 0))
        #expect(ts("20261127-24:00:00") == nil)
        #expect(ts("20261327-10:00:00") == nil)
        #expect(ts("20261127 10:40:17") == nil)
        #expect(ts("20261127-14:00:17.52") == nil)
    }

    @Test func timestampRoundTrip() {
        for precision in [FIXTimestampPrecision.seconds, .milliseconds, .microseconds, .nanoseconds] {
            for ns: Int64 in [0, 951_782_400_123_456_789, 1_795_788_017_526_000_123, 4_102_444_799_999_999_999] {
                var b = ByteBuffer()
                b.writeFIXTimestamp(FIXTimestamp(nanoseconds: ns), precision: precision)
                #expect(b.readableBytes == 17 + (precision == .seconds ? 0 : precision.rawValue + 1))
                var unit: Int64 = 1
                for _ in 0..<(9 - precision.rawValue) { unit *= 10 }
                #expect(ts(b.readableString) == FIXTimestamp(nanoseconds: ns / unit * unit), "\(b.readableString)")
            }
        }
        var b = ByteBuffer()
        b.writeFIXTimestamp(FIXTimestamp(nanoseconds: 951_782_400_123_000_000), precision: .milliseconds)
        #expect(b.readableString == "20000229-00:00:00.123")
    }
}
