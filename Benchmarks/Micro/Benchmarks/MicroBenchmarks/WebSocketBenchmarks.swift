// WebSocket (RFC 6455 / RFC 7692) hot paths: frame encode, frame decode through the connection
// core (header + unmask + UTF-8 + message assembly), masking, UTF-8 validation and
// permessage-deflate of a quote batch.
import Benchmark
import Broker
import WebSocket
import Wire

enum WebSocketFixtures {
    /// Client request (decode, small): what a trading front end sends.
    static let subscribe = Array(#"{"action":"subscribe","symbols":["RELIANCE","TCS"]}"#.utf8)
    /// Server message (encode, small): one quote as DESIGN.md spells it.
    static let quote = Array(
        #"{"type":"quote","symbol":"RELIANCE","ltp":2450.75,"bid":2450.50,"ask":2451.00,"ts":1795788017526000000,"seq":42}"#
            .utf8)
    static let key = WebSocketMaskingKey(0x37, 0xFA, 0x21, 0x3D)

    /// `count` bytes of ASCII JSON-looking text.
    static func asciiText(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + quote.count)
        while out.count < count { out += quote }
        return Array(out.prefix(count))
    }

    /// `count` bytes of valid UTF-8 mixing 1-, 2-, 3- and 4-byte sequences, padded with spaces.
    static func mixedText(_ count: Int) -> [UInt8] {
        let pattern = Array("RELIANCE ₹2450.75 Société Générale 株式会社 トヨタ 📈📉 Ünïcödé ".utf8)
        var out: [UInt8] = []
        var i = 0
        while true {
            // Copy whole scalars only: a lead byte and its continuation bytes.
            var len = 1
            let b = pattern[i]
            if b >= 0xF0 { len = 4 } else if b >= 0xE0 { len = 3 } else if b >= 0xC0 { len = 2 }
            if out.count + len > count { break }
            out += pattern[i..<(i + len)]
            i = (i + len) % pattern.count
        }
        while out.count < count { out.append(UInt8(ascii: " ")) }
        return out
    }

    /// A masked client frame carrying `payload` (what a server decodes).
    static func maskedFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) -> [UInt8] {
        payload.withUnsafeBytes {
            WebSocketFrameEncoder.frame(opcode: opcode, payload: $0, maskingKey: key).readableBytesArray
        }
    }

    /// A `quotes` batch of `count` quotes encoded by Broker's Quote (the DESIGN.md wire format).
    static func quoteBatch(_ count: Int) -> [UInt8] {
        let symbols = SymbolUniverse.generated(count: 1_000)
        var b = ByteBuffer(capacity: 4096)
        b.writeStaticString(Quote.batchPrefix)
        for i in 0..<count {
            if i > 0 { b.writeStaticString(Quote.batchSeparator) }
            let px = Int64(24_500_000 + 2_500 * i)
            let q = Quote(symbolId: Int32(i * 37 % 1_000), bid: px - 2_500, ask: px + 2_500, last: px,
                          bidSize: 100, askSize: 200, lastSize: 10,
                          ts: 1_795_788_017_526_000_000 + UInt64(i) * 1_000, seq: 40_000 + UInt64(i))
            q.writeJSONObject(into: &b, symbols: symbols)
        }
        b.writeStaticString(Quote.batchSuffix)
        return b.readableBytesArray
    }
}

func registerWebSocketBenchmarks() {
    let quote = WebSocketFixtures.quote
    let big = WebSocketFixtures.asciiText(64 * 1024)

    // MARK: Frame encode (server -> client: unmasked, into a reused buffer)

    func encodeFrame(_ name: String, _ payload: [UInt8], _ config: Benchmark.Configuration) {
        let out = Held(ByteBuffer(capacity: payload.count + WebSocketFrameEncoder.maxHeaderLength))
        Benchmark(name, configuration: config) { b in
            out.with { out in
                payload.withUnsafeBytes { p in
                    for _ in b.scaledIterations {
                        out.clear()
                        WebSocketFrameEncoder.writeFrame(opcode: .text, payload: p, maskingKey: nil, into: &out)
                        blackHole(out.readableBytes)
                    }
                }
            }
        }
    }
    encodeFrame("WebSocket_encodeFrame_small", quote, perKilo())
    encodeFrame("WebSocket_encodeFrame_64KiB", big, perOne())

    // MARK: Frame decode (client -> server: WebSocketStateMachine.receive -> .deliverText)

    func decodeFrame(_ name: String, _ payload: [UInt8], _ config: Benchmark.Configuration) {
        let frame = WebSocketFixtures.maskedFrame(.text, payload)
        // One connection core for the whole run: its message buffer is reused between messages.
        let core = Held(WebSocketStateMachine(role: .server, now: 0))
        Benchmark(name, configuration: config) { b in
            core.with { core in
                frame.withUnsafeBytes { raw in
                    for _ in b.scaledIterations {
                        let (action, consumed) = core.receive(raw, now: 1)
                        guard case .deliverText(let text)? = action, consumed == raw.count,
                              text.readableBytes == payload.count
                        else { fatalError("frame not delivered: \(String(describing: action))") }
                        blackHole(text.readableBytes)
                    }
                }
            }
        }
    }
    decodeFrame("WebSocket_decodeFrame_small", WebSocketFixtures.subscribe, perKilo())
    decodeFrame("WebSocket_decodeFrame_64KiB", big, perOne())

    // MARK: Masking (XOR with the 4-byte key, 8 bytes at a time)

    func maskInPlace(_ name: String, _ size: Int, _ config: Benchmark.Configuration) {
        let data = Held(WebSocketFixtures.asciiText(size))
        Benchmark(name, configuration: config) { b in
            data.with { data in
                data.withUnsafeMutableBytes { p in
                    for i in b.scaledIterations {
                        WebSocketMasking.apply(WebSocketFixtures.key, to: p, offset: i & 3)
                    }
                    blackHole(p[size - 1])
                }
            }
        }
    }
    maskInPlace("WebSocket_maskInPlace_1KiB", 1024, perKilo())
    maskInPlace("WebSocket_maskInPlace_64KiB", 64 * 1024, perOne())

    func unmaskCopy(_ name: String, _ size: Int, _ config: Benchmark.Configuration) {
        let data = WebSocketFixtures.asciiText(size)
        let out = Held(ByteBuffer(capacity: size))
        Benchmark(name, configuration: config) { b in
            out.with { out in
                data.withUnsafeBytes { p in
                    for _ in b.scaledIterations {
                        out.clear()
                        WebSocketMasking.appendUnmasked(p, key: WebSocketFixtures.key, to: &out)
                        blackHole(out.readableBytes)
                    }
                }
            }
        }
    }
    unmaskCopy("WebSocket_unmaskCopy_1KiB", 1024, perKilo())
    unmaskCopy("WebSocket_unmaskCopy_64KiB", 64 * 1024, perOne())

    // MARK: UTF-8 validation of text messages

    func validateUTF8(_ name: String, _ text: [UInt8]) {
        precondition(String(validating: text, as: UTF8.self) != nil, "fixture must be valid UTF-8")
        Benchmark(name) { b in
            text.withUnsafeBytes { p in
                for _ in b.scaledIterations {
                    guard WebSocketUTF8Validator.isValid(p) else { fatalError("valid text rejected") }
                }
            }
        }
    }
    validateUTF8("WebSocket_validateUTF8ASCII_4KiB", WebSocketFixtures.asciiText(4096))
    validateUTF8("WebSocket_validateUTF8Mixed_4KiB", WebSocketFixtures.mixedText(4096))

    // MARK: permessage-deflate of a 20-quote batch (server: no context takeover, level 6, 15 bits)

    let batch = WebSocketFixtures.quoteBatch(20)
    let compressor = WebSocketDeflateCompressor(windowBits: 15, level: 6, noContextTakeover: true)
    let deflateOut = Held(ByteBuffer(capacity: 2 * batch.count + 64))
    Benchmark("WebSocket_deflate_quoteBatch20", configuration: perOne()) { b in
        deflateOut.with { out in
            batch.withUnsafeBytes { p in
                for _ in b.scaledIterations {
                    out.clear()
                    compressor.compress(p, into: &out)
                    blackHole(out.readableBytes)
                }
            }
        }
    }

    let compressed: [UInt8] = {
        let c = WebSocketDeflateCompressor(windowBits: 15, level: 6, noContextTakeover: true)
        var out = ByteBuffer(capacity: batch.count)
        batch.withUnsafeBytes { c.compress($0, into: &out) }
        return out.readableBytesArray
    }()
    let decompressor = WebSocketDeflateDecompressor(noContextTakeover: true)
    let inflateOut = Held(ByteBuffer(capacity: 32 * 1024))
    Benchmark("WebSocket_inflate_quoteBatch20", configuration: perOne()) { b in
        inflateOut.with { out in
            compressed.withUnsafeBytes { p in
                for _ in b.scaledIterations {
                    out.clear()
                    do {
                        try decompressor.decompress(p, into: &out, limit: 1 << 20)
                    } catch {
                        fatalError("inflate failed: \(error)")
                    }
                    guard out.readableBytes == batch.count else { fatalError("inflated size mismatch") }
                }
            }
        }
    }

    // MARK: S4's per-connection path: one quote coded against the connection's 128-byte history
    // (zlib at level 6 / memLevel 1 after deflateSetDictionary, or fixed Huffman codes)

    let universe = SymbolUniverse.generated(count: 1_000)
    let quotes: [[UInt8]] = (0..<64).map { i in
        var b = ByteBuffer(capacity: 512)
        b.writeStaticString(Quote.batchPrefix)
        for k in 0..<2 {
            if k > 0 { b.writeStaticString(Quote.batchSeparator) }
            let px = Int64(1_000_000 + 7_919 * ((i * 2 + k) * 613 % 4_001))
            let q = Quote(symbolId: Int32((i * 2 + k) * 389 % 1_000), bid: px - 100, ask: px + 100, last: px,
                          bidSize: 100, askSize: 200, lastSize: 10,
                          ts: 1_795_788_017_526_000_000 + UInt64(i) * 731_113, seq: 40_000 + UInt64(i))
            q.writeJSONObject(into: &b, symbols: universe)
        }
        b.writeStaticString(Quote.batchSuffix)
        return b.readableBytesArray
    }
    for fixed in [false, true] {
        let c = WebSocketDeflateHistoryCompressor(windowBits: 9, level: 6, memoryLevel: 1, historyBytes: 128,
                                                  fixedHuffman: fixed)
        let out = Held(ByteBuffer(capacity: 4096))
        let history = Held([UInt8]())
        Benchmark("WebSocket_deflateWithHistory_\(fixed ? "fixedHuffman" : "zlib")_quoteBatch2", configuration: perOne()) { b in
            out.with { o in
                history.with { h in
                    var k = 0
                    for _ in b.scaledIterations {
                        o.clear()
                        quotes[k & 63].withUnsafeBytes { c.compress($0, history: &h, into: &o) }
                        k += 1
                        blackHole(o.readableBytes)
                    }
                }
            }
        }
    }
}
