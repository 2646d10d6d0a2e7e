// Password hashes and HS256 tokens.
import Testing
@testable import Broker

@Suite struct GatewayAuthTests {
    @Test func passwordHashIsSaltedAndVerifies() {
        let a = GatewayPasswordHash.make(password: "demo", iterations: 1_000)
        let b = GatewayPasswordHash.make(password: "demo", iterations: 1_000)
        #expect(a != b)   // fresh salt each time
        #expect(a.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(!a.contains("demo"))
        #expect(GatewayPasswordHash.verify(password: "demo", stored: a))
        #expect(!GatewayPasswordHash.verify(password: "Demo", stored: a))
        #expect(!GatewayPasswordHash.verify(password: "demo", stored: "plain$demo"))
    }

    @Test func pbkdf2MatchesRFC7914TestVector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64 (first 32 bytes).
        let dk = GatewayPasswordHash.derive(password: "passwd", salt: Array("salt".utf8), iterations: 1)
        #expect(hex(dk) == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    }

    @Test func tokensVerifyExpireAndRejectTampering() throws {
        let s = GatewayTokenSigner(secret: String(repeating: "s", count: 32), lifetimeSeconds: 60)
        let t = s.issue(subject: "demo", now: 1_000)
        #expect(try s.verify(t, now: 1_059) == GatewayClaims(subject: "demo", expiresAt: 1_060))
        #expect(throws: GatewayTokenError.expired) { try s.verify(t, now: 1_060) }
        var parts = t.split(separator: ".").map(String.init)
        parts[1] = base64url(Array(#"{"sub":"admin","iat":1000,"exp":9999999999}"#.utf8))
        #expect(throws: GatewayTokenError.badSignature) { try s.verify(parts.joined(separator: "."), now: 1_000) }
        #expect(throws: GatewayTokenError.malformed) { try s.verify("a.b", now: 0) }
        let other = GatewayTokenSigner(secret: String(repeating: "o", count: 32))
        #expect(throws: GatewayTokenError.badSignature) { try other.verify(t, now: 1_000) }
    }

    @Test func base64urlRoundTrips() {
        for n in 0..<10 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 77 + 250) }
            #expect(unbase64url(Substring(base64url(bytes))) == bytes)
        }
        #expect(base64url(Array("hello?>".utf8)) == "aGVsbG8_Pg")
    }
}
