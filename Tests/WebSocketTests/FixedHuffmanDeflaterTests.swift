// FixedHuffmanDeflater: every message it makes must inflate through a continuous raw inflate
// stream (RFC 7692 §7.2.2: 00 00 ff ff appended, window kept), whatever the bytes, with no back
// reference beyond the window the peer agreed to.
import CZlib
import Testing
import Wire
@testable import WebSocket

@Suite struct FixedHuffmanDeflaterTests {
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
    }

    /// Messages of every kind: random bytes (all 256 values, so 9-bit literal codes), long runs
    /// (maximal 258-byte matches, overlapping copies), repeated text, empty ones, and messages
    /// longer than the window.
    func assortedMessages(seed: UInt64) -> [[UInt8]] {
        var r = LCG(state: seed)
        var out: [[UInt8]] = [[]]
        for i in 0..<200 {
            switch i % 6 {
            case 0: out.append((0..<Int(r.next() % 300)).map { _ in UInt8(truncatingIfNeeded: r.next()) })
            case 1: out.append([UInt8](repeating: UInt8(truncatingIfNeeded: r.next()), count: Int(r.next() % 2000) + 1))
            case 2: out.append(Array(String(repeating: "abcabcabd", count: Int(r.next() % 100)).utf8))
            case 3: out.append([])
            case 4:
                // Longer than a 9-bit window, with repeats near and far.
                let unit = (0..<700).map { _ in UInt8(truncatingIfNeeded: r.next() % 7 + 97) }
                out.append(unit + unit + unit.reversed())
            default:
                out.append(Array(#"{"type":"quote","symbol":"S\#(r.next() % 1000)","ltp":\#(r.next() % 99999).25,"ts":\#(r.next())}"#.utf8))
            }
        }
        return out
    }

    func check(windowBits: Int, historyBytes: Int) throws {
        let c = FixedHuffmanDeflater(windowBits: windowBits)
        let receiver = ContinuousInflater(windowBits: Int32(windowBits))
        var sent: [UInt8] = []
        for (i, m) in assortedMessages(seed: UInt64(windowBits * 1000 + historyBytes)).enumerated() {
            var out = ByteBuffer(capacity: 0)
            let history = Array(sent.suffix(historyBytes))
            history.withUnsafeBytes { h in m.withUnsafeBytes { c.compress($0, history: h, into: &out) } }
            let payload = out.readableBytesArray
            // A message never costs more than 9 bits a byte plus the block's fixed bits.
            #expect(payload.count <= (9 * m.count + 13 + 7) / 8, "message \(i)")
            let inflated = try #require(receiver.inflateMessage(payload), "window \(windowBits) message \(i)")
            #expect(inflated == m, "window \(windowBits) message \(i)")
            sent += m
        }
    }

    @Test func inflatesThroughANineBitWindow() throws { try check(windowBits: 9, historyBytes: 128) }
    @Test func inflatesThroughAFifteenBitWindow() throws { try check(windowBits: 15, historyBytes: 4096) }
    @Test func historyLongerThanTheWindowIsCutToIt() throws { try check(windowBits: 9, historyBytes: 5000) }

    @Test func referencesReachIntoTheHistory() throws {
        let c = FixedHuffmanDeflater(windowBits: 9)
        let text = Array(#"{"type":"quote","symbol":"AAPL","ltp":189.25,"bid":189.20,"ask":189.30}"#.utf8)
        var alone = ByteBuffer(capacity: 0)
        text.withUnsafeBytes { c.compress($0, into: &alone) }
        var after = ByteBuffer(capacity: 0)
        text.withUnsafeBytes { t in c.compress(t, history: t, into: &after) }
        // Alone it is mostly literals (8 bits each); after itself it is one match.
        #expect(alone.readableBytes >= text.count * 3 / 4)
        #expect(after.readableBytes <= 6, "\(after.readableBytes) bytes")
        let r = ContinuousInflater(windowBits: 9)
        #expect(r.inflateMessage(alone.readableBytesArray) == text)
        #expect(r.inflateMessage(after.readableBytesArray) == text)
    }

    @Test func historyCompressorWithFixedCodesKeepsQuotesSmall() throws {
        let c = WebSocketDeflateHistoryCompressor(windowBits: 9, historyBytes: 128, fixedHuffman: true)
        let receiver = ContinuousInflater(windowBits: 9)
        var r = LCG(state: 7)
        var h: [UInt8] = []
        var plain = 0, wire = 0
        for seq in 0..<500 {
            let m = Array(#"{"type":"quote","symbol":"S\#(r.next() % 1000)","ltp":\#(r.next() % 100_000).25,"bid":\#(r.next() % 100_000).5,"ask":\#(r.next() % 100_000).75,"ts":17957880175\#(r.next() % 100_000_000),"seq":\#(seq)}"#.utf8)
            var out = ByteBuffer(capacity: 0)
            m.withUnsafeBytes { c.compress($0, history: &h, into: &out) }
            plain += m.count
            wire += out.readableBytes
            #expect(receiver.inflateMessage(out.readableBytesArray) == m)
        }
        #expect(Double(wire) < 0.5 * Double(plain), "wire \(wire) plain \(plain)")
    }

    @Test func decompressorWithTheNegotiatedWindowReadsEveryMessage() throws {
        // Small messages go through the one-call path, large ones (random bytes: > 2 KiB
        // compressed) through the two-part one; both keep the window.
        let c = FixedHuffmanDeflater(windowBits: 9)
        let d = WebSocketDeflateDecompressor(noContextTakeover: false, windowBits: 9)
        var r = LCG(state: 3)
        var sent: [UInt8] = []
        var messages = assortedMessages(seed: 11)
        messages.insert((0..<5000).map { _ in UInt8(truncatingIfNeeded: r.next()) }, at: 50)
        for (i, m) in messages.enumerated() {
            var payload = ByteBuffer(capacity: 0)
            Array(sent.suffix(512)).withUnsafeBytes { h in m.withUnsafeBytes { c.compress($0, history: h, into: &payload) } }
            var out = ByteBuffer(capacity: 0)
            try payload.withUnsafeReadableBytes { try d.decompress($0, into: &out, limit: 1 << 20) }
            #expect(out.readableBytesArray == m, "message \(i)")
            sent += m
        }
    }

    @Test func referenceBeyondTheNegotiatedWindowIsAnError() throws {
        // A peer that agreed to a 9-bit window but refers 4 KiB back breaks the agreement.
        let far = FixedHuffmanDeflater(windowBits: 15)
        let d = WebSocketDeflateDecompressor(noContextTakeover: false, windowBits: 9)
        var r = LCG(state: 5)
        let first = (0..<4096).map { _ in UInt8(truncatingIfNeeded: r.next()) }
        var p1 = ByteBuffer(capacity: 0)
        first.withUnsafeBytes { far.compress($0, into: &p1) }
        var out = ByteBuffer(capacity: 0)
        try p1.withUnsafeReadableBytes { try d.decompress($0, into: &out, limit: 1 << 20) }
        var p2 = ByteBuffer(capacity: 0)
        let again = Array(first[0..<64])
        first.withUnsafeBytes { h in again.withUnsafeBytes { far.compress($0, history: h, into: &p2) } }
        #expect(throws: WebSocketProtocolError.invalidCompressedData) {
            var o = ByteBuffer(capacity: 0)
            try p2.withUnsafeReadableBytes { try d.decompress($0, into: &o, limit: 1 << 20) }
        }
    }
}
