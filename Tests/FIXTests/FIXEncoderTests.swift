// Encoder: BodyLength and CheckSum computed, fields round-trip through framer and view.
import Testing
import Wire

@testable import FIX

@Suite struct FIXEncoderTests {
    @Test func matchesReferenceBytes() {
        var enc = FIXEncoder()
        enc.beginMessage(.heartbeat)
        enc.field(49, "CLIENT")
        enc.field(56, literal: "EXCH")
        enc.field(34, 1)
        enc.field(52, "20260101-00:00:00.000")
        enc.finishMessage()
        #expect(enc.buffer.readableBytesArray == fixMessage("35=0|" + hdr))
    }

    @Test func bodyLengthDigitBoundaries() throws {
        for size in [1, 5, 80, 95, 980, 9_990, 99_990] {
            var enc = FIXEncoder()
            enc.beginMessage(.heartbeat)
            enc.field(58, String(repeating: "x", count: size))
            enc.finishMessage()
            let bytes = enc.buffer.readableBytesArray
            #expect(frames(bytes) == [bytes], "size \(size)")
        }
    }

    @Test func severalMessagesShareOneBuffer() throws {
        var enc = FIXEncoder()
        for i in 0..<10 {
            enc.beginMessage(.testRequest)
            enc.field(112, i)
            let r = enc.finishMessage()
            #expect(r.upperBound == enc.buffer.readableBytes)
        }
        let out = frames(enc.takeBuffer().readableBytesArray).map(decode)
        #expect(out.map { $0[112] } == (0..<10).map { String($0) })
        #expect(enc.buffer.readableBytes == 0)
    }

    @Test func typedFieldsRoundTrip() throws {
        var enc = FIXEncoder()
        enc.beginMessage(.newOrderSingle)
        enc.field(44, price: 24_507_500)
        enc.field(99, price: -1)
        enc.field(38, price: 1_000_000)
        enc.field(54, char: UInt8(ascii: "2"))
        enc.field(43, bool: true)
        enc.field(60, timestamp: FIXTimestamp(nanoseconds: 1_795_788_017_526_001_002), precision: .nanoseconds)
        enc.field(372, msgType: .marketDataRequest)
        enc.finishMessage()
        let m = decode(enc.buffer.readableBytesArray)
        #expect(m[44] == "2450.75" && m[99] == "-0.0001" && m[38] == "100")
        #expect(m[54] == "2" && m[43] == "Y" && m[372] == "V")
        #expect(m[60] == "20261127-14:00:17.526001002")
    }

    @Test func cancelMessageLeavesEarlierMessages() {
        var enc = FIXEncoder()
        enc.beginMessage(.heartbeat)
        enc.finishMessage()
        let n = enc.buffer.readableBytes
        enc.beginMessage(.heartbeat)
        enc.field(58, "x")
        enc.cancelMessage()
        #expect(enc.buffer.readableBytes == n && !enc.inMessage)
    }
}
