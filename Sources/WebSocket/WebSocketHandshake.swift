// The opening handshake (RFC 6455 §4): validating an upgrade request and building the 101
// answer (or a 400/403/426 refusal) on the server; building the request and checking the 101
// on the client. Sec-WebSocket-Accept is SHA-1 (WebSocketSHA1.swift) + base64 (§4.2.2 step 5.4).
//
// Owns: handshake rules, subprotocol choice, origin allow-list, extension negotiation hand-off,
// base64. Reading bytes off the socket and timing out slow handshakes is the connection's job.
public import Wire

/// Why a handshake was refused, with the HTTP status and reason the server answers with.
public enum WebSocketHandshakeError: Error, Equatable, Sendable {
    /// Method other than GET (§4.1 item 2).
    case methodNotGet
    /// HTTP version below 1.1 (§4.1 item 2).
    case httpVersionTooOld
    /// No Host header (§4.2.1 item 2).
    case missingHost
    /// No "Upgrade: websocket" (§4.2.1 item 3).
    case missingUpgrade
    /// No "Connection: Upgrade" token (§4.2.1 item 4).
    case missingConnectionUpgrade
    /// Sec-WebSocket-Key absent or not base64 of 16 bytes (§4.2.1 item 5).
    case invalidKey
    /// Sec-WebSocket-Version is not 13 (§4.2.2: answer 426 with the versions we speak).
    case unsupportedVersion
    /// Origin not in the allow-list (§4.2.2 item 4: 403).
    case originNotAllowed
    /// Sec-WebSocket-Extensions malformed, or (client) an answer we did not offer.
    case invalidExtensions
    /// (Client) the server answered with a status other than 101.
    case unexpectedStatus(Int)
    /// (Client) Sec-WebSocket-Accept missing or wrong (§4.1 item 4 of the client checks).
    case invalidAccept
    /// (Client) the server chose a subprotocol we did not offer.
    case invalidSubprotocol
    /// (Client) no 101 answer before the limit or the connection closed.
    case noResponse

    /// HTTP status the server answers with.
    public var status: HTTPStatus {
        switch self {
        case .unsupportedVersion: return .upgradeRequired
        case .originNotAllowed: return .forbidden
        default: return .badRequest
        }
    }

    /// Human-readable reason, sent as the response body.
    public var reason: String {
        switch self {
        case .methodNotGet: return "WebSocket upgrade requires GET"
        case .httpVersionTooOld: return "WebSocket upgrade requires HTTP/1.1"
        case .missingHost: return "missing Host header"
        case .missingUpgrade: return "missing Upgrade: websocket"
        case .missingConnectionUpgrade: return "missing Connection: Upgrade"
        case .invalidKey: return "Sec-WebSocket-Key must be base64 of 16 bytes"
        case .unsupportedVersion: return "unsupported Sec-WebSocket-Version (13 is supported)"
        case .originNotAllowed: return "origin not allowed"
        case .invalidExtensions: return "malformed Sec-WebSocket-Extensions"
        case .unexpectedStatus(let s): return "unexpected status \(s)"
        case .invalidAccept: return "invalid Sec-WebSocket-Accept"
        case .invalidSubprotocol: return "invalid Sec-WebSocket-Protocol"
        case .noResponse: return "no handshake response"
        }
    }
}

/// Server handshake options.
public struct WebSocketHandshakeConfiguration: Sendable {
    /// Subprotocols we speak, in our order of preference; empty means none is ever selected.
    public var subprotocols: [String]
    /// Allowed Origin values (exact, case-insensitive); nil allows any, including none.
    /// Browsers always send Origin, so an allow-list stops other sites' pages (§10.2).
    public var allowedOrigins: [String]?
    /// permessage-deflate options; nil never negotiates compression.
    public var deflate: WebSocketDeflateConfiguration?

    /// Creates handshake options.
    public init(subprotocols: [String] = [], allowedOrigins: [String]? = nil,
                deflate: WebSocketDeflateConfiguration? = nil) {
        self.subprotocols = subprotocols
        self.allowedOrigins = allowedOrigins
        self.deflate = deflate
    }
}

/// What an accepted handshake agreed on.
public struct WebSocketHandshakeResult: Sendable, Equatable {
    /// The chosen subprotocol, if any.
    public var subprotocol: String?
    /// Agreed permessage-deflate parameters, if any.
    public var deflate: WebSocketDeflateParameters?
}

/// Server side of the opening handshake.
public enum WebSocketServerHandshake {
    /// The GUID appended to the key (§1.3).
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Whether the request attempts a WebSocket upgrade (so other requests can go to the router):
    /// any Upgrade, Sec-WebSocket-Key or Sec-WebSocket-Version header. A broken attempt (say, a
    /// key without "Upgrade: websocket") then gets `validate`'s 400 with its reason, not a 404.
    public static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.contains("Upgrade") || head.contains("Sec-WebSocket-Key") || head.contains("Sec-WebSocket-Version")
    }

    /// All values of header `name`, in order (a header may repeat, RFC 9110 §5.3).
    static func values(_ head: HTTPRequestHead, _ name: String) -> [String] {
        (0..<head.headerCount).compactMap {
            let f = head.header(at: $0)
            return f.name.caseInsensitiveEquals(name) ? f.value : nil
        }
    }

    /// Validates an upgrade request (§4.2.1) and chooses subprotocol and extensions (§4.2.2).
    /// - Throws: `WebSocketHandshakeError`; answer with `rejection(for:)`.
    public static func validate(_ head: HTTPRequestHead,
                                configuration: WebSocketHandshakeConfiguration) throws(WebSocketHandshakeError)
        -> WebSocketHandshakeResult {
        guard head.method == .get else { throw .methodNotGet }
        guard head.version == .http1_1 else { throw .httpVersionTooOld }
        guard let host = head["Host"], !host.isEmpty else { throw .missingHost }
        guard head.value(of: "Upgrade", containsToken: "websocket") else { throw .missingUpgrade }
        guard head.value(of: "Connection", containsToken: "upgrade") else { throw .missingConnectionUpgrade }
        let versions = values(head, "Sec-WebSocket-Version")
        guard versions.count == 1, versions[0] == "13" else { throw .unsupportedVersion }
        let keys = values(head, "Sec-WebSocket-Key")
        guard keys.count == 1, let decoded = WebSocketBase64.decode(keys[0]), decoded.count == 16 else {
            throw .invalidKey
        }
        if let allowed = configuration.allowedOrigins {
            guard let origin = head["Origin"],
                  allowed.contains(where: { $0.caseInsensitiveEquals(origin) }) else { throw .originNotAllowed }
        }
        var result = WebSocketHandshakeResult()
        if !configuration.subprotocols.isEmpty {
            let offered = values(head, "Sec-WebSocket-Protocol")
                .flatMap { $0.split(separator: ",").map { String($0).trimmed } }
            result.subprotocol = configuration.subprotocols.first { offered.contains($0) }
        }
        if let d = configuration.deflate {
            let offers = values(head, "Sec-WebSocket-Extensions")
            if !offers.isEmpty {
                result.deflate = WebSocketDeflateNegotiation.accept(offers: offers, configuration: d)
            }
        }
        return result
    }

    /// The 101 Switching Protocols answer (§4.2.2 step 5) to `head`, which `validate` accepted.
    public static func response(to head: HTTPRequestHead, result: WebSocketHandshakeResult) -> ByteBuffer {
        response(key: head["Sec-WebSocket-Key"] ?? "", result: result)
    }

    /// The 101 Switching Protocols answer for a given key.
    public static func response(key: String, result: WebSocketHandshakeResult) -> ByteBuffer {
        var out = ByteBuffer(capacity: 256)
        out.writeStaticString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n")
        out.writeStaticString("Sec-WebSocket-Accept: ")
        out.writeString(acceptValue(forKey: key))
        out.writeStaticString("\r\n")
        if let p = result.subprotocol {
            out.writeStaticString("Sec-WebSocket-Protocol: ")
            out.writeString(p)
            out.writeStaticString("\r\n")
        }
        if let d = result.deflate {
            out.writeStaticString("Sec-WebSocket-Extensions: ")
            out.writeString(d.responseHeaderValue)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    /// The refusal for a failed handshake: status, reason body, and for 426 the versions we speak
    /// (§4.4). The connection is closed after it.
    public static func rejection(for error: WebSocketHandshakeError) -> ByteBuffer {
        var headers: [(name: String, value: String)] = [("Content-Type", "text/plain; charset=utf-8")]
        if error == .unsupportedVersion { headers.append(("Sec-WebSocket-Version", "13")) }
        var out = ByteBuffer(capacity: 256)
        HTTPResponse(status: error.status, headers: headers, body: ByteBuffer(string: error.reason + "\n"))
            .write(into: &out, keepAlive: false)
        return out
    }

    /// Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) (§4.2.2 step 5.4).
    public static func acceptValue(forKey key: String) -> String {
        var input = key + guid
        let digest = input.withUTF8 { WebSocketSHA1.digest(UnsafeRawBufferPointer($0)) }
        return WebSocketBase64.encode(digest)
    }
}

/// Client side of the opening handshake.
public struct WebSocketClientHandshake: Sendable {
    /// Host header value (host[:port]).
    public var host: String
    /// Request target, e.g. "/ws?token=abc".
    public var target: String
    /// Origin header, if any.
    public var origin: String?
    /// Subprotocols to offer.
    public var subprotocols: [String]
    /// permessage-deflate to offer, if any.
    public var deflate: WebSocketDeflateConfiguration?
    /// The Sec-WebSocket-Key sent (base64 of 16 random bytes).
    public let key: String

    /// Creates a handshake with a fresh random key.
    public init(host: String, target: String = "/", origin: String? = nil, subprotocols: [String] = [],
                deflate: WebSocketDeflateConfiguration? = nil) {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        self.init(host: host, target: target, origin: origin, subprotocols: subprotocols, deflate: deflate,
                  key: WebSocketBase64.encode(bytes))
    }

    /// Creates a handshake with a given key (tests).
    public init(host: String, target: String, origin: String?, subprotocols: [String],
                deflate: WebSocketDeflateConfiguration?, key: String) {
        self.host = host
        self.target = target
        self.origin = origin
        self.subprotocols = subprotocols
        self.deflate = deflate
        self.key = key
    }

    /// The upgrade request (§4.1).
    public func request() -> ByteBuffer {
        var out = ByteBuffer(capacity: 256)
        out.writeString("GET \(target) HTTP/1.1\r\nHost: \(host)\r\n")
        out.writeStaticString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
        out.writeString("Sec-WebSocket-Key: \(key)\r\n")
        if let origin { out.writeString("Origin: \(origin)\r\n") }
        if !subprotocols.isEmpty {
            out.writeString("Sec-WebSocket-Protocol: \(subprotocols.joined(separator: ", "))\r\n")
        }
        if let d = deflate { out.writeString("Sec-WebSocket-Extensions: \(WebSocketDeflateNegotiation.offer(d))\r\n") }
        out.writeStaticString("\r\n")
        return out
    }

    /// Checks the server's answer (§4.1, the client's numbered checks 1-6).
    public func validate(
        _ response: WebSocketResponseHead
    ) throws(WebSocketHandshakeError) -> WebSocketHandshakeResult {
        guard response.status == 101 else { throw .unexpectedStatus(response.status) }
        guard response.headers.containsToken("Upgrade", "websocket") else { throw .missingUpgrade }
        guard response.headers.containsToken("Connection", "upgrade") else { throw .missingConnectionUpgrade }
        guard response.headers.first("Sec-WebSocket-Accept") == WebSocketServerHandshake.acceptValue(forKey: key)
        else { throw .invalidAccept }
        var result = WebSocketHandshakeResult()
        if let p = response.headers.first("Sec-WebSocket-Protocol") {
            guard subprotocols.contains(p) else { throw .invalidSubprotocol }
            result.subprotocol = p
        }
        let exts = response.headers.values("Sec-WebSocket-Extensions")
        if !exts.isEmpty {
            guard let d = deflate else { throw .invalidExtensions }
            result.deflate = try WebSocketDeflateNegotiation.validateResponse(exts, offered: d)
        }
        return result
    }
}

/// Base64 (RFC 4648 §4) with strict decoding: canonical padding, no whitespace.
public enum WebSocketBase64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Encodes bytes with padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)],
                    alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], 61, 61]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18 & 63)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], 61]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded base64; nil on any invalid character, length or non-zero padding bits.
    public static func decode(_ s: String) -> [UInt8]? {
        let chars = Array(s.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var i = 0
        while i < chars.count {
            let isLast = i + 4 == chars.count
            var v: UInt32 = 0
            var pad = 0
            for j in 0..<4 {
                let c = chars[i + j]
                if c == 61 {  // '='
                    guard isLast, j >= 2 else { return nil }
                    pad += 1
                    v <<= 6
                    continue
                }
                guard pad == 0, let d = value(c) else { return nil }
                v = v << 6 | UInt32(d)
            }
            out.append(UInt8(v >> 16 & 0xFF))
            if pad < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if pad < 1 { out.append(UInt8(v & 0xFF)) }
            // Canonical encoding: bits under the padding must be zero.
            if pad == 2 && v & 0xFFFF != 0 { return nil }
            if pad == 1 && v & 0xFF != 0 { return nil }
            i += 4
        }
        return out
    }

    static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 65...90: return c - 65
        case 97...122: return c - 71
        case 48...57: return c + 4
        case 43: return 62
        case 47: return 63
        default: return nil
        }
    }
}
