// Property tests for HTTPRequestParser: seeded mutations of valid requests must never trap, and
// feeding a request in random chunks must give the same outcome as feeding it at once.
import Testing

@testable import Wire

/// SplitMix64: a tiny seeded generator so every run checks the same inputs.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What a parse ended with, comparable across feeding strategies.
private enum Outcome: Equatable {
    case needMoreData
    case request(method: HTTPMethod, target: String, headers: Int, body: [UInt8], consumed: Int, keepAlive: Bool)
    case error(HTTPParseError)
}

private func outcome(_ bytes: [UInt8], chunks: [Int], config: HTTPParserConfiguration) -> Outcome {
    var parser = HTTPRequestParser(configuration: config)
    let all = ByteBuffer(bytes: bytes)
    var end = 0
    var i = 0
    while true {
        end = min(end + (i < chunks.count ? chunks[i] : bytes.count), bytes.count)
        i += 1
        do {
            let r = try all.slice(length: end).withUnsafeReadableBytes { (b) throws(HTTPParseError) in
                try parser.parse(b)
            }
            if case .request(let head, let body, let consumed) = r {
                return .request(
                    method: head.method, target: head.target, headers: head.headerCount,
                    body: body.readableBytesArray, consumed: consumed, keepAlive: head.keepAlive)
            }
        } catch {
            return .error(error)
        }
        if end == bytes.count { return .needMoreData }
    }
}

private let seeds: [String] = [
    "GET /api/v1/search?q=AP HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
    "POST /api/v1/orders HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{\"qty\":10}",
    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
        + "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
]

@Suite struct HTTPRequestParserFuzzTests {
    @Test func mutatedRequestsNeverTrapAndChunkingDoesNotChangeTheOutcome() {
        var rng = SeededGenerator(state: 0x5EED)
        let config = HTTPParserConfiguration(
            maxRequestLineBytes: 64, maxHeadBytes: 512, maxHeaderCount: 6,
            maxBodyBytes: 64)
        let interesting: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x00, 0x7F, 0xFF, 0x2C, 0x3F, 0x30, 0x39]
        var outcomes = [0, 0, 0]
        for round in 0..<3000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: bytes[at] = interesting.randomElement(using: &rng)!
                case 1: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 2: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
                case 3: bytes.remove(at: at)
                default: bytes.removeSubrange(at...)
                }
                if bytes.isEmpty { bytes = [0x47] }
            }
            let whole = outcome(bytes, chunks: [], config: config)
            let chunks = (0..<bytes.count).map { _ in Int.random(in: 1...7, using: &rng) }
            let pieces = outcome(bytes, chunks: chunks, config: config)
            #expect(whole == pieces, "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            switch whole {
            case .needMoreData: outcomes[0] += 1
            case .request: outcomes[1] += 1
            case .error: outcomes[2] += 1
            }
        }
        // The mutations must exercise all three outcomes, or the test proves little.
        #expect(outcomes.allSatisfy { $0 > 100 }, "\(outcomes)")
    }

    @Test func randomBytesNeverTrapAndChunkingAgrees() {
        var rng = SeededGenerator(state: 42)
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 1...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let whole = outcome(bytes, chunks: [], config: HTTPParserConfiguration())
            #expect(whole == outcome(bytes, chunks: [3, 5, 11, 1, 2], config: HTTPParserConfiguration()))
            // Random bytes almost never hold a CR LF pair, so a request can only come with one.
            if case .request = whole { #expect(bytes.contains(0x0D) && bytes.contains(0x0A)) }
        }
    }
}
