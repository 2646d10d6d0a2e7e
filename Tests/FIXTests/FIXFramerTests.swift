// Framing: partial reads, many per read, garbage, bad BodyLength/CheckSum, oversized, floods.
import Testing

@testable import FIX

@Suite struct FIXFramerTests {
    let hb = fixMessage("35=0|" + hdr)

    /// Runs the framer over chunks, as a read loop that keeps unconsumed bytes would.
    func run(_ chunks: [[UInt8]], framer: inout FIXFramer) -> (frames: [[UInt8]], errors: [FIXParseError], left: Int) {
        var pending: [UInt8] = []
        var out: [[UInt8]] = []
        var errors: [FIXParseError] = []
        for chunk in chunks {
            pending += chunk
            let consumed = pending.withUnsafeBytes { raw -> Int in
                var offset = 0
                while true {
                    do throws(FIXParseError) {
                        guard let r = try framer.nextFrame(raw, offset: &offset) else { break }
                        out.append(Array(raw[r]))
                    } catch {
                        errors.append(error)
                    }
                }
                return offset
            }
            pending.removeFirst(consumed)
        }
        return (out, errors, pending.count)
    }

    @Test func wholeMessage() {
        var f = FIXFramer()
        let r = run([hb], framer: &f)
        #expect(r.frames == [hb])
        #expect(r.errors.isEmpty && r.left == 0 && f.framesDecoded == 1)
    }

    @Test func partialAcrossEveryByteBoundary() {
        for cut in 1..<hb.count {
            var f = FIXFramer()
            let r = run([Array(hb[..<cut]), Array(hb[cut...])], framer: &f)
            #expect(r.frames == [hb], "cut at \(cut)")
            #expect(r.left == 0)
        }
    }

    @Test func byteAtATime() {
        var f = FIXFramer()
        let r = run(hb.map { [$0] } + hb.map { [$0] }, framer: &f)
        #expect(r.frames == [hb, hb])
    }

    @Test func manyPerRead() {
        var f = FIXFramer()
        let r = run([Array([[UInt8]](repeating: hb, count: 50).joined())], framer: &f)
        #expect(r.frames.count == 50 && r.left == 0)
    }

    @Test func garbageBeforeBeginStringIsSkippedAndCounted() {
        var f = FIXFramer()
        let r = run([soh("hello|junk") + hb], framer: &f)
        #expect(r.frames == [hb])
        #expect(f.garbageBytesSkipped == 10)
    }

    @Test func partialBeginStringAtEndIsKept() {
        var f = FIXFramer()
        let r = run([soh("xx8=FI")], framer: &f)
        #expect(r.frames.isEmpty && r.left == 4)
        #expect(f.garbageBytesSkipped == 2)
    }

    @Test func binaryGarbageFloodIsConsumed() {
        var f = FIXFramer()
        var rng = SystemRandomNumberGenerator()
        let junk = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &rng) & 0x7F | 0x80 }
        let r = run([junk, hb], framer: &f)
        #expect(r.frames == [hb])
        #expect(f.garbageBytesSkipped == junk.count)
    }

    @Test func wrongVersionIsGarbled() {
        var f = FIXFramer()
        let r = run([fixMessage("35=0|" + hdr, beginString: "FIX.4.2") + hb], framer: &f)
        #expect(r.errors == [.unsupportedBeginString])
        #expect(r.frames == [hb])
    }

    @Test func wrongChecksumIsGarbledAndSkippedWhole() {
        var f = FIXFramer()
        let r = run([fixMessage("35=0|" + hdr, checkSumDelta: 1) + hb], framer: &f)
        #expect(r.frames == [hb])
        guard case .checkSumMismatch = r.errors.first else {
            Issue.record("\(r.errors)")
            return
        }
        #expect(f.garbledFrames == 1)
        #expect(r.errors[0].isGarbled && r.errors[0].sessionRejectReason == nil)
    }

    @Test func bodyLengthTooShortOrLongResynchronises() {
        for delta in [-3, 2] {
            var f = FIXFramer()
            let r = run([fixMessage("35=0|" + hdr, bodyLengthDelta: delta) + hb], framer: &f)
            #expect(r.frames == [hb], "delta \(delta)")
            #expect(r.errors.contains(.bodyLengthMismatch), "delta \(delta)")
        }
    }

    @Test func badBodyLengthSyntax() {
        for bad in ["8=FIX.4.4|9=x1|", "8=FIX.4.4|9=012|", "8=FIX.4.4|9=|", "8=FIX.4.4|9=12345678|", "8=FIX.4.4|8=1|"] {
            var f = FIXFramer()
            let r = run([soh(bad) + hb], framer: &f)
            #expect(r.frames == [hb], "\(bad)")
            #expect(r.errors.first == .invalidBodyLength, "\(bad)")
        }
    }

    @Test func oversizedIsRejectedBeforeBuffering() {
        var f = FIXFramer(maxBodyLength: 4096)
        let r = run([soh("8=FIX.4.4|9=5000000|35=0|")], framer: &f)
        #expect(r.errors == [.messageTooLarge(5_000_000)])
        #expect(r.left < 10)
    }

    @Test func truncatedMessageWaits() {
        var f = FIXFramer()
        let r = run([Array(hb.dropLast(3))], framer: &f)
        #expect(r.frames.isEmpty && r.errors.isEmpty && r.left == hb.count - 3)
    }

    @Test func badCheckSumDigits() {
        var m = hb
        m[m.count - 2] = UInt8(ascii: "x")
        var f = FIXFramer()
        let r = run([m + hb], framer: &f)
        #expect(r.errors == [.invalidCheckSumField])
        #expect(r.frames == [hb])
    }
}
