import Testing
import Foundation
@testable import Broker
@testable import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A transport over one end of a socketpair; the test reads frames from the other end.
final class PairTransport: FanoutTransport, TCPConnectionHandler {
    let tcp: TCPConnection
    let peer: CInt
    var closedWith: (UInt16, String)?

    init(loop: EventLoop) throws {
        var fds: [CInt] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        tcp = TCPConnection(fd: fds[0], loop: loop, remoteAddress: "pair", state: .open)
        peer = fds[1]
        try loop.register(tcp, fd: fds[0], interest: 0)
        tcp.handler = self
    }

    func closeWebSocket(code: UInt16, reason: String) { closedWith = (code, reason) }
    var acceptsData: Bool { closedWith == nil }
    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int { bytes.count }
    func connectionDidClose(_ c: TCPConnection, error: IOError?) {}

    /// Reads every complete unmasked frame available now and returns the text payloads.
    func readFrames() -> [String] {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        var out: [String] = []
        var i = 0
        while i + 2 <= bytes.count {
            var len = Int(bytes[i + 1] & 0x7F)
            var h = 2
            if len == 126 { len = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]); h = 4 }
            guard bytes[i] == 0x81, i + h + len <= bytes.count else { out.append("<garbage>"); break }
            out.append(String(decoding: bytes[(i + h)..<(i + h + len)], as: UTF8.self))
            i += h + len
        }
        return out
    }
}

func makeUpdate(_ arena: inout ByteBufferArena, symbol: Int32, seq: UInt64) -> QuoteUpdate {
    let json = #"{"type":"quote","symbol":"S\#(symbol)","seq":\#(seq)}"#
    let frame = arena.encode { b in
        b.writeInteger(UInt8(0x81)); b.writeInteger(UInt8(json.utf8.count)); b.writeString(json)
    }
    let element = arena.encode { b in b.writeString(","); b.writeString(json) }
    return QuoteUpdate(symbolId: symbol, seq: seq, ts: 0, frame: frame, element: element)
}

@Suite struct FanoutShardTests {
    let loop: EventLoop
    var arena = ByteBufferArena()
    init() throws { loop = try EventLoop(name: "t") }

    @Test mutating func singleQuoteUsesSharedFrameAndBatchesCombine() throws {
        let shard = FanoutShard(loop: loop, symbolCount: 10)
        let a = try PairTransport(loop: loop), b = try PairTransport(loop: loop)
        let ca = FanoutClient(transport: a), cb = FanoutClient(transport: b)
        shard.add(ca); shard.add(cb)
        #expect(shard.subscribe(ca, [1, 2]) == [1, 2])
        #expect(shard.subscribe(cb, [2]) == [2])
        shard.publish(makeUpdate(&arena, symbol: 1, seq: 1))
        shard.publish(makeUpdate(&arena, symbol: 2, seq: 1))
        shard.publish(makeUpdate(&arena, symbol: 3, seq: 1))
        shard.drain()
        loop.flushPending()
        #expect(a.readFrames() == [#"{"type":"quotes","data":[{"type":"quote","symbol":"S1","seq":1},{"type":"quote","symbol":"S2","seq":1}]}"#])
        #expect(b.readFrames() == [#"{"type":"quote","symbol":"S2","seq":1}"#])
        #expect(shard.quotesDelivered == 3)
        #expect(shard.framesSent == 2)
    }

    @Test mutating func snapshotFirstThenLiveAndNeverOlderAfterNewer() throws {
        let shard = FanoutShard(loop: loop, symbolCount: 10)
        shard.publish(makeUpdate(&arena, symbol: 4, seq: 7))
        shard.drain()
        let a = try PairTransport(loop: loop)
        let ca = FanoutClient(transport: a)
        shard.add(ca)
        _ = shard.subscribe(ca, [4])
        shard.publish(makeUpdate(&arena, symbol: 4, seq: 6))  // stale: dropped
        shard.publish(makeUpdate(&arena, symbol: 4, seq: 8))
        shard.drain()
        loop.flushPending()
        #expect(a.readFrames() == [#"{"type":"quotes","data":[{"type":"quote","symbol":"S4","seq":7},{"type":"quote","symbol":"S4","seq":8}]}"#])
    }

    @Test mutating func unsubscribeAndRemoveStopTheFlowAndKeepListsConsistent() throws {
        let shard = FanoutShard(loop: loop, symbolCount: 10)
        let ts = try (0..<3).map { _ in try PairTransport(loop: loop) }
        let cs = ts.map { FanoutClient(transport: $0) }
        for c in cs { shard.add(c); _ = shard.subscribe(c, [5, 6]) }
        #expect(shard.subscriberCount(of: 5) == 3)
        shard.unsubscribe(cs[0], [5])
        shard.remove(cs[1])
        #expect(shard.subscriberCount(of: 5) == 1)
        #expect(shard.subscriberCount(of: 6) == 2)
        shard.publish(makeUpdate(&arena, symbol: 5, seq: 1))
        shard.drain()
        loop.flushPending()
        #expect(ts[0].readFrames().isEmpty)
        #expect(ts[1].readFrames().isEmpty)
        #expect(ts[2].readFrames().count == 1)
        // A pending quote of a symbol unsubscribed in the same tick is not delivered.
        shard.publish(makeUpdate(&arena, symbol: 6, seq: 1))
        shard.unsubscribe(cs[2], [6])
        shard.drain()
        loop.flushPending()
        #expect(ts[2].readFrames().isEmpty)
        #expect(ts[0].readFrames().count == 1)
    }

    @Test mutating func slowClientIsConflatedFastOneUnaffected() throws {
        var limits = FanoutLimits()
        limits.slowConsumerTimeoutNanos = 0
        let shard = FanoutShard(loop: loop, symbolCount: 10, limits: limits)
        let slow = try PairTransport(loop: loop), fast = try PairTransport(loop: loop)
        let cs = FanoutClient(transport: slow), cf = FanoutClient(transport: fast)
        shard.add(cs); shard.add(cf)
        _ = shard.subscribe(cs, [1]); _ = shard.subscribe(cf, [1])
        slow.tcp.highWatermark = 10
        slow.tcp.write(ByteBuffer(string: String(repeating: "x", count: 100)))  // now above the watermark
        #expect(slow.tcp.isAboveHighWatermark)
        shard.publish(makeUpdate(&arena, symbol: 1, seq: 1))
        shard.publish(makeUpdate(&arena, symbol: 1, seq: 2))
        shard.drain()
        #expect(cs.isConflating)
        #expect(cs.conflatedAway == 1)
        // Each connection is flushed as drain serves it (no queue waits for the loop's flush).
        #expect(fast.readFrames().count == 1)
        loop.flushPending()
        #expect(fast.readFrames().isEmpty)
        // Writable again: the latest quote (seq 2) goes out alone.
        _ = slow.readFrames()
        shard.clientBecameWritable(cs)
        shard.drain()
        loop.flushPending()
        #expect(slow.readFrames() == [#"{"type":"quote","symbol":"S1","seq":2}"#])
    }

    @Test mutating func slowPastTimeoutIsClosedWith1008() throws {
        let shard = FanoutShard(loop: loop, symbolCount: 4, limits: {
            var l = FanoutLimits(); l.slowConsumerTimeoutNanos = 0; return l
        }())
        let slow = try PairTransport(loop: loop)
        let cs = FanoutClient(transport: slow)
        shard.add(cs)
        _ = shard.subscribe(cs, [0])
        slow.tcp.highWatermark = 1
        // More than a socketpair buffers, so the connection stays above its watermark.
        slow.tcp.write(ByteBuffer(bytes: [UInt8](repeating: 0, count: 8 << 20)))
        shard.publish(makeUpdate(&arena, symbol: 0, seq: 1))
        shard.drain()
        // First drain starts conflation (slowSince = now); the next one past the timeout closes.
        #expect(cs.isConflating)
        #expect(slow.closedWith == nil)
        shard.publish(makeUpdate(&arena, symbol: 0, seq: 2))
        loop.runOnceForTests()
        shard.publish(makeUpdate(&arena, symbol: 0, seq: 3))
        shard.drain()
        #expect(slow.closedWith?.0 == 1008)
        #expect(shard.slowConsumersClosed == 1)
        #expect(shard.clientCount == 0)
    }

    @Test mutating func subscriptionLimitRejectsWholeRequest() throws {
        var l = FanoutLimits(); l.maxSymbolsPerConnection = 2
        let shard = FanoutShard(loop: loop, symbolCount: 10, limits: l)
        let c = FanoutClient(transport: try PairTransport(loop: loop))
        shard.add(c)
        #expect(shard.subscribe(c, [1, 2, 3]) == nil)
        #expect(c.subscriptionCount == 0)
        #expect(shard.subscribe(c, [1, 2, 1]) == [1, 2])
    }
}

import WebSocket

extension PairTransport {
    /// Reads every frame available now as (rsv1, payload bytes).
    func readRawFrames() -> [(compressed: Bool, payload: [UInt8])] {
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        var out: [(Bool, [UInt8])] = []
        var i = 0
        while i + 2 <= bytes.count {
            var len = Int(bytes[i + 1] & 0x7F)
            var h = 2
            if len == 126 { len = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]); h = 4 }
            guard i + h + len <= bytes.count else { break }
            out.append((bytes[i] & 0x40 != 0, Array(bytes[(i + h)..<(i + h + len)])))
            i += h + len
        }
        return out
    }
}

@Suite struct FanoutCompressionTests {
    @Test func perConnectionContextCompressesBatchesToUnderHalfAndDecodes() throws {
        let loop = try EventLoop(name: "z")
        var encoder = QuoteEncoder(symbols: SymbolUniverse.generated(count: 50))
        let shard = FanoutShard(loop: loop, symbolCount: 50)
        let t = try PairTransport(loop: loop)
        let c = FanoutClient(transport: t)
        c.compression = .perConnection
        shard.add(c)
        _ = shard.subscribe(c, Array(0..<20))
        var gen = SyntheticQuoteGenerator(symbolCount: 20, seed: 7)
        let inflater = WebSocketDeflateDecompressor(noContextTakeover: false)
        var plainBytes = 0, wireBytes = 0, quotes = 0
        for tick in 0..<50 {
            for _ in 0..<5 { shard.publish(encoder.encode(gen.next(ts: UInt64(1_000 + tick)))) }
            shard.drain()
            loop.flushPending()
            for f in t.readRawFrames() {
                #expect(f.compressed)
                wireBytes += f.payload.count + 2
                var out = ByteBuffer()
                try f.payload.withUnsafeBytes { try inflater.decompress($0, into: &out, limit: 1 << 20) }
                plainBytes += out.readableBytes + 2
                let text = out.readableString
                #expect(text.hasPrefix(#"{"type":"quote"#))
                quotes += text.components(separatedBy: "\"ts\":").count - 1
            }
        }
        #expect(quotes == 250)
        #expect(Double(wireBytes) <= 0.5 * Double(plainBytes), "wire \(wireBytes) plain \(plainBytes)")
    }

    @Test func loneQuotesAndBatchesInterleaveInOneContext() throws {
        // Lone quotes leave as the shared no-context frame, batches with the connection's history:
        // one continuous inflater (the client's) must read them all in order.
        let loop = try EventLoop(name: "z")
        var encoder = QuoteEncoder(symbols: SymbolUniverse.generated(count: 20))
        let shard = FanoutShard(loop: loop, symbolCount: 20)
        let t = try PairTransport(loop: loop), u = try PairTransport(loop: loop)
        let c = FanoutClient(transport: t), other = FanoutClient(transport: u)
        c.compression = .perConnection
        other.compression = .perConnection
        shard.add(c); shard.add(other)
        _ = shard.subscribe(c, Array(0..<20))
        _ = shard.subscribe(other, Array(0..<20))
        var gen = SyntheticQuoteGenerator(symbolCount: 20, seed: 11)
        let inflater = WebSocketDeflateDecompressor(noContextTakeover: false)
        var quotes = 0
        for tick in 0..<60 {
            for _ in 0..<(tick % 3 == 0 ? 1 : 3) { shard.publish(encoder.encode(gen.next(ts: UInt64(tick)))) }
            shard.drain()
            _ = u.readRawFrames()
            for f in t.readRawFrames() {
                #expect(f.compressed)
                var out = ByteBuffer()
                try f.payload.withUnsafeBytes { try inflater.decompress($0, into: &out, limit: 1 << 20) }
                let text = out.readableString
                #expect(text.hasPrefix(#"{"type":"quote"#) && text.hasSuffix("}"), "\(text)")
                quotes += text.components(separatedBy: "\"ts\":").count - 1
            }
        }
        #expect(quotes == 20 * 1 + 40 * 3)  // 20 lone quotes and 40 batches of three
    }

    @Test func sharedModeCompressesEachQuoteOnceForAllSubscribers() throws {
        let loop = try EventLoop(name: "z")
        var encoder = QuoteEncoder(symbols: SymbolUniverse.generated(count: 10))
        let shard = FanoutShard(loop: loop, symbolCount: 10)
        let a = try PairTransport(loop: loop), b = try PairTransport(loop: loop)
        let ca = FanoutClient(transport: a), cb = FanoutClient(transport: b)
        ca.compression = .shared
        cb.compression = .shared
        shard.add(ca); shard.add(cb)
        _ = shard.subscribe(ca, [1]); _ = shard.subscribe(cb, [1])
        var gen = SyntheticQuoteGenerator(symbolCount: 10, seed: 1)
        shard.publish(encoder.encode(gen.next(symbol: 1, ts: 5)))
        shard.drain()
        loop.flushPending()
        let fa = a.readRawFrames(), fb = b.readRawFrames()
        #expect(fa.count == 1 && fa[0].compressed)
        #expect(fa.map(\.payload) == fb.map(\.payload))  // the same bytes went to both
    }
}

@Suite struct FanoutBatchIntervalTests {
    @Test func updatesWithinTheIntervalLeaveTogether() throws {
        let loop = try EventLoop(name: "i")
        var encoder = QuoteEncoder(symbols: SymbolUniverse.generated(count: 4))
        var limits = FanoutLimits()
        limits.batchIntervalNanos = 50_000_000
        let shard = FanoutShard(loop: loop, symbolCount: 4, limits: limits)
        let t = try PairTransport(loop: loop)
        let c = FanoutClient(transport: t)
        shard.add(c)
        _ = shard.subscribe(c, [0])
        var gen = SyntheticQuoteGenerator(symbolCount: 4, seed: 3)
        loop.runOnceForTests()  // sets the loop clock; first drain happens now
        shard.publish(encoder.encode(gen.next(symbol: 0, ts: 1)))
        shard.drain()
        loop.flushPending()
        #expect(t.readFrames().count == 1)
        // Two more within 50 ms: held back, then sent as one batch once the interval is over.
        shard.publish(encoder.encode(gen.next(symbol: 0, ts: 2)))
        shard.drain()
        shard.publish(encoder.encode(gen.next(symbol: 0, ts: 3)))
        shard.drain()
        loop.flushPending()
        #expect(t.readFrames().isEmpty)
        usleep(60_000)
        loop.runOnceForTests()
        loop.runOnceForTests()
        let frames = t.readFrames()
        #expect(frames.count == 1)
        #expect(frames.first?.hasPrefix(#"{"type":"quotes""#) == true)
    }
}
