// Incremental UTF-8 validation (RFC 3629 §4), including fail-fast across fragments.
import Testing
@testable import WebSocket

@Suite struct WebSocketUTF8ValidatorTests {
    func valid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { WebSocketUTF8Validator.isValid($0) } }

    @Test func acceptsValidText() {
        #expect(valid(Array("Hello-µ@ßöäüàá-UTF-8!!".utf8)))
        #expect(valid(Array("κόσμε 𝄞 \u{10FFFF} \u{FFFF}".utf8)))
        #expect(valid(Array(String(repeating: "ascii only, long enough for the fast path ", count: 9).utf8)))
        #expect(valid([]))
    }

    @Test func rejectsInvalidSequences() {
        #expect(!valid([0x80]))                    // lone continuation
        #expect(!valid([0xC0, 0x80]))              // overlong NUL
        #expect(!valid([0xC1, 0xBF]))              // overlong
        #expect(!valid([0xE0, 0x80, 0x80]))        // overlong 3-byte
        #expect(!valid([0xED, 0xA0, 0x80]))        // surrogate U+D800
        #expect(!valid([0xF0, 0x80, 0x80, 0x80]))  // overlong 4-byte
        #expect(!valid([0xF4, 0x90, 0x80, 0x80]))  // above U+10FFFF
        #expect(!valid([0xF5, 0x80, 0x80, 0x80]))
        #expect(!valid([0xFF]))
        #expect(!valid(Array("12345678".utf8) + [0xCE]))  // truncated after the ASCII fast path
    }

    @Test func failsFastOnImpossiblePrefix() {
        var v = WebSocketUTF8Validator()
        let first: [UInt8] = Array("κόσμε".utf8)
        #expect(first.withUnsafeBytes { v.validate($0) })
        // ED A0 can never become valid: the validator must say so before the message ends.
        let bad: [UInt8] = [0xED, 0xA0]
        #expect(!bad.withUnsafeBytes { v.validate($0) })
    }

    @Test func codePointSplitAcrossFragments() {
        let bytes = Array("a€b𝄞".utf8)
        for cut in 0...bytes.count {
            var v = WebSocketUTF8Validator()
            let ok1 = bytes[..<cut].withUnsafeBytes { v.validate($0) }
            let ok2 = bytes[cut...].withUnsafeBytes { v.validate($0) }
            #expect(ok1 && ok2 && v.isComplete, "cut \(cut)")
        }
    }

    @Test func incompleteAtEndIsNotComplete() {
        var v = WebSocketUTF8Validator()
        let bytes: [UInt8] = [0x61, 0xE2, 0x82]
        #expect(bytes.withUnsafeBytes { v.validate($0) })
        #expect(!v.isComplete)
    }
}
