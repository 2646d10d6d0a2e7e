// Context takeover kept as history (WebSocketDeflateHistoryCompressor): what one shared stream
// produces for many connections must inflate through each client's continuous window, including
// a client window of only 2^9 bytes, exactly as RFC 7692 §7.2.2 receivers do.
import CZlib
import Testing
import Wire
@testable import WebSocket

/// A receiver as RFC 7692 describes it: one raw inflate stream per connection, 00 00 ff ff
/// appended to each message (§7.2.2), the window kept across messages.
final class ContinuousInflater {
    let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    init(windowBits: Int32) {
        stream.initialize(to: z_stream())
        precondition(inflateInit2_(stream, -windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    }
    deinit { inflateEnd(stream); stream.deallocate() }

    func inflateMessage(_ payload: [UInt8]) -> [UInt8]? {
        var input = payload + [0x00, 0x00, 0xFF, 0xFF]
        var out = [UInt8](repeating: 0, count: 1 << 16)
        let (rc, produced) = input.withUnsafeMutableBufferPointer { i in
            out.withUnsafeMutableBufferPointer { o in
                stream.pointee.next_in = i.baseAddress
                stream.pointee.avail_in = UInt32(i.count)
                stream.pointee.next_out = o.baseAddress
                stream.pointee.avail_out = UInt32(o.count)
                let rc = inflate(stream, Z_SYNC_FLUSH)
                return (rc, o.count - Int(stream.pointee.avail_out))
            }
        }
        guard rc == Z_OK || rc == Z_BUF_ERROR, stream.pointee.avail_in == 0 else { return nil }
        return Array(out[0..<produced])
    }
}

@Suite struct WebSocketDeflateHistoryTests {
    /// Quote-like messages: keys repeat within and across messages, values change.
    func messages(_ n: Int, seed: UInt64) -> [[UInt8]] {
        var state = seed
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        return (0..<n).map { i in
            let count = Int(next() % 6) + 1
            let quotes = (0..<count).map { _ in
                #"{"type":"quote","symbol":"S\#(next() % 1000)","ltp":\#(next() % 100_000).25,"bid":\#(next() % 100_000).5,"# +
                #""ask":\#(next() % 100_000).75,"ts":17957880175\#(next() % 100_000_000),"seq":\#(i)}"#
            }
            let text = count == 1 ? quotes[0] : #"{"type":"quotes","data":["# + quotes.joined(separator: ",") + "]}"
            return Array(text.utf8)
        }
    }

    func compress(_ c: WebSocketDeflateHistoryCompressor, _ m: [UInt8], _ history: inout [UInt8]) -> [UInt8] {
        var out = ByteBuffer(capacity: 0)
        m.withUnsafeBytes { c.compress($0, history: &history, into: &out) }
        return out.readableBytesArray
    }

    @Test(arguments: [false, true])
    func interleavedConnectionsInflateThroughTheirOwnNineBitWindows(fixedHuffman: Bool) throws {
        let c = WebSocketDeflateHistoryCompressor(windowBits: 9, level: 6, memoryLevel: 1, historyBytes: 128,
                                                  fixedHuffman: fixedHuffman)
        let streams = [messages(300, seed: 1), messages(300, seed: 2), messages(300, seed: 3)]
        var histories: [[UInt8]] = [[], [], []]
        let receivers = (0..<3).map { _ in ContinuousInflater(windowBits: 9) }
        var plain = 0, wire = 0
        for i in 0..<300 {
            for k in 0..<3 {  // the shared stream serves the three connections in turn
                let payload = compress(c, streams[k][i], &histories[k])
                plain += streams[k][i].count
                wire += payload.count
                let inflated = try #require(receivers[k].inflateMessage(payload), "connection \(k) message \(i)")
                #expect(inflated == streams[k][i])
            }
        }
        // The context is really used: far smaller than compressing each message alone.
        #expect(Double(wire) < 0.45 * Double(plain), "wire \(wire) plain \(plain)")
    }

    @Test(arguments: [false, true])
    func historyIsTheTailOfWhatWasSent(fixedHuffman: Bool) {
        let c = WebSocketDeflateHistoryCompressor(windowBits: 9, historyBytes: 16, fixedHuffman: fixedHuffman)
        var h: [UInt8] = []
        _ = compress(c, Array("0123456789".utf8), &h)
        #expect(h == Array("0123456789".utf8))
        _ = compress(c, Array("abcdefghij".utf8), &h)
        #expect(h == Array("456789abcdefghij".utf8))
        _ = compress(c, Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8), &h)
        #expect(h == Array("KLMNOPQRSTUVWXYZ".utf8))
    }

    @Test(arguments: [false, true])
    func ourDecompressorWithContextTakeoverReadsIt(fixedHuffman: Bool) throws {
        let c = WebSocketDeflateHistoryCompressor(fixedHuffman: fixedHuffman)
        let d = WebSocketDeflateDecompressor(noContextTakeover: false)
        var h: [UInt8] = []
        for m in messages(100, seed: 9) {
            let payload = compress(c, m, &h)
            var out = ByteBuffer(capacity: 0)
            try payload.withUnsafeBytes { try d.decompress($0, into: &out, limit: 1 << 20) }
            #expect(out.readableBytesArray == m)
        }
    }
}

@Suite struct WebSocketIdleBufferTests {
    @Test func messageBufferIsKeptWhileTalkingAndDroppedWhenIdle() {
        var sm = WebSocketStateMachine(role: .client, now: 0)
        let text = String(repeating: "hello ", count: 20)
        let frame = WebSocketFrameEncoder.frame(opcode: .text, payload: ByteBuffer(string: text), maskingKey: nil)
        let empty = ByteBuffer(capacity: 0).capacity  // the shared empty storage's
        #expect(feed(&sm, frame.readableBytesArray) == [.deliverText(ByteBuffer(string: text))])
        #expect(sm.message.capacity == empty)  // a first message takes its buffer along
        #expect(feed(&sm, frame.readableBytesArray) == [.deliverText(ByteBuffer(string: text))])
        #expect(sm.message.capacity > empty)  // a talking connection reuses it: no allocation per message
        // Mid-frame: nothing is dropped.
        let bytes = frame.readableBytesArray
        _ = bytes.withUnsafeBytes { sm.receive(UnsafeRawBufferPointer(rebasing: $0[0..<4]), now: 0) }
        sm.releaseIdleBuffers()
        #expect(sm.message.capacity > empty)
        _ = bytes.withUnsafeBytes { sm.receive(UnsafeRawBufferPointer(rebasing: $0[4...]), now: 0) }
        // Between messages (the connection's timer): the buffer goes.
        sm.releaseIdleBuffers()
        #expect(sm.message.capacity == empty)
        #expect(feed(&sm, frame.readableBytesArray) == [.deliverText(ByteBuffer(string: text))])
    }
}
