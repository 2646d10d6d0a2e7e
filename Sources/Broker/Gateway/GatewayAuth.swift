// Gateway authentication: salted slow password hashes and HS256 JSON Web Tokens, both through OpenSSL.
//
// Owns: PBKDF2-HMAC-SHA256 password hashing (`PKCS5_PBKDF2_HMAC`, RFC 8018 section 5.2) with a random salt per
// user, the stored hash format, JWT HS256 signing and verification (RFC 7519, RFC 7515 section 3.1 compact form,
// HMAC-SHA256 per RFC 7518 section 3.2), base64url (RFC 4648 section 5) and constant-time comparison.
// Cold path (one login, one token check per request): Strings are fine here.
internal import COpenSSL
import Wire

/// Password hashing with PBKDF2-HMAC-SHA256. Stored form: `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`.
public enum GatewayPasswordHash {
    /// Default work factor: 100,000 iterations (~30-60 ms on this machine; OWASP 2023 suggests 600,000 for
    /// SHA-256, configurable through `gateway.password_iterations`).
    public static let defaultIterations = 100_000

    /// Hashes `password` with a fresh 16-byte random salt.
    /// - Precondition: iterations >= 1.
    public static func make(password: String, iterations: Int = defaultIterations) -> String {
        precondition(iterations >= 1)
        var salt = [UInt8](repeating: 0, count: 16)
        // RAND_bytes fails only when the CSPRNG cannot be seeded; refusing to create users is right then.
        precondition(RAND_bytes(&salt, 16) == 1, "RAND_bytes failed")
        let hash = derive(password: password, salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(hex(salt))$\(hex(hash))"
    }

    /// Whether `password` matches the stored form (constant-time in the hash comparison).
    public static func verify(password: String, stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let iterations = Int(parts[1]), iterations >= 1,
              iterations <= 10_000_000, let salt = unhex(parts[2]), let expected = unhex(parts[3]),
              expected.count == 32
        else { return false }
        let actual = derive(password: password, salt: salt, iterations: iterations)
        return constantTimeEqual(actual, expected)
    }

    static func derive(password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var p = password
        let ok = p.withUTF8 { pw in
            pw.withMemoryRebound(to: CChar.self) { pwc in
                PKCS5_PBKDF2_HMAC(pwc.baseAddress, Int32(pwc.count), salt, Int32(salt.count), Int32(iterations),
                                  EVP_sha256(), 32, &out)
            }
        }
        precondition(ok == 1, "PKCS5_PBKDF2_HMAC failed")
        return out
    }
}

/// The claims the gateway puts in its tokens.
public struct GatewayClaims: Equatable, Sendable {
    /// The user id (`sub`).
    public var subject: String
    /// Expiry, seconds since the epoch (`exp`).
    public var expiresAt: Int64
}

/// Why a token was refused (all map to 401 `invalid_token`; the reason is for logs and tests).
public enum GatewayTokenError: Error, Equatable, Sendable {
    /// Not three base64url parts, or a header other than ours.
    case malformed
    /// The signature does not match.
    case badSignature
    /// `exp` has passed.
    case expired
}

/// Signs and verifies HS256 JWTs with one secret.
public struct GatewayTokenSigner: Sendable {
    private let secret: [UInt8]
    /// Token lifetime in seconds.
    public let lifetimeSeconds: Int64
    /// The only header we issue and accept: fixing it refuses `alg: none` and algorithm confusion (RFC 8725 3.1).
    static let header = base64url(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    /// Creates a signer.
    /// - Precondition: the secret has at least 16 bytes (RFC 7518 section 3.2 asks for >= 256 bits; config
    ///   validation enforces 32 for production).
    public init(secret: String, lifetimeSeconds: Int64 = 3_600) {
        precondition(secret.utf8.count >= 16, "token secret too short")
        self.secret = Array(secret.utf8)
        self.lifetimeSeconds = lifetimeSeconds
    }

    /// Issues a token for `subject` valid from `now` (seconds since the epoch).
    public func issue(subject: String, now: Int64) -> String {
        var payload = ByteBuffer(capacity: 64)
        payload.writeString(#"{"sub":"#)
        JSONValue.writeString(subject, into: &payload)
        payload.writeString(#","iat":\#(now),"exp":\#(now + lifetimeSeconds)}"#)
        let signingInput = Self.header + "." + base64url(payload.readableBytesArray)
        return signingInput + "." + base64url(mac(Array(signingInput.utf8)))
    }

    /// Verifies a token at `now` and returns its claims.
    public func verify(_ token: String, now: Int64) throws(GatewayTokenError) -> GatewayClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.header[...], let sig = unbase64url(parts[2]) else {
            throw .malformed
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard constantTimeEqual(mac(signingInput), sig) else { throw .badSignature }
        guard let payload = unbase64url(parts[1]),
              let json = try? JSONParser.parse(String(decoding: payload, as: UTF8.self)),
              let sub = json["sub"]?.stringValue, let exp = json["exp"]?.intValue
        else { throw .malformed }
        guard Int64(exp) > now else { throw .expired }
        return GatewayClaims(subject: sub, expiresAt: Int64(exp))
    }

    private func mac(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        _ = HMAC(EVP_sha256(), secret, Int32(secret.count), data, data.count, &out, &len)
        return out
    }
}

// MARK: - Encoding helpers

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return CRYPTO_memcmp(a, b, a.count) == 0
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

func unhex(_ s: Substring) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    func v(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
    var out = [UInt8]()
    out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
        guard let h = v(u[i]), let l = v(u[i + 1]) else { return nil }
        out.append(h << 4 | l)
        i += 2
    }
    return out
}

private let b64 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

/// base64url without padding (RFC 7515 section 2).
func base64url(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 3 <= bytes.count {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out.append(b64[Int(n >> 18 & 63)]); out.append(b64[Int(n >> 12 & 63)])
        out.append(b64[Int(n >> 6 & 63)]); out.append(b64[Int(n & 63)])
        i += 3
    }
    let rest = bytes.count - i
    if rest == 1 {
        let n = UInt32(bytes[i]) << 16
        out.append(b64[Int(n >> 18 & 63)]); out.append(b64[Int(n >> 12 & 63)])
    } else if rest == 2 {
        let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
        out.append(b64[Int(n >> 18 & 63)]); out.append(b64[Int(n >> 12 & 63)]); out.append(b64[Int(n >> 6 & 63)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Decodes unpadded base64url; nil on any other character or an impossible length.
func unbase64url(_ s: Substring) -> [UInt8]? {
    var out = [UInt8]()
    var acc: UInt32 = 0
    var bits = 0
    for c in s.utf8 {
        let v: UInt8
        switch c {
        case 0x41...0x5A: v = c - 0x41
        case 0x61...0x7A: v = c - 0x61 + 26
        case 0x30...0x39: v = c - 0x30 + 52
        case UInt8(ascii: "-"): v = 62
        case UInt8(ascii: "_"): v = 63
        default: return nil
        }
        acc = acc << 6 | UInt32(v)
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
        }
    }
    guard bits < 6 else { return nil }   // a lone trailing character cannot encode a byte
    return out
}
