// permessage-deflate negotiation (RFC 7692 §5, §7.1): parsing Sec-WebSocket-Extensions,
// choosing the first acceptable offer on the server, building the client's offer and checking
// the server's answer.
//
// Owns: configuration, agreed parameters and the header grammar (RFC 6455 §9.1). Compression
// itself lives in WebSocketDeflate.swift.

/// What one side is willing to agree to.
public struct WebSocketDeflateConfiguration: Sendable, Equatable {
    /// Server: always answer with server_no_context_takeover, so every message we send stands alone
    /// and one compressed frame can be shared by many connections (WebSocketPreparedFrame).
    /// Client: ask for it in the offer.
    public var serverNoContextTakeover: Bool
    /// Server: answer with client_no_context_takeover (the client then resets its compressor), so
    /// one shared inflate stream per loop serves every connection instead of ~40 KiB each; client
    /// messages here are small requests that gain little from context. Client: offer it.
    public var clientNoContextTakeover: Bool
    /// Largest window (9-15 bits) the server compresses with; a server answers with the smaller
    /// of this and the client's request. Client: requested when below 15.
    public var serverMaxWindowBits: Int
    /// Largest window (9-15 bits) the client compresses with; a server sends it only when the
    /// client offered client_max_window_bits (§7.1.2.2).
    public var clientMaxWindowBits: Int
    /// zlib level for outgoing messages (1 fastest ... 9 smallest).
    public var compressionLevel: Int
    /// Messages shorter than this are sent uncompressed (RSV1 clear), which §6 allows: tiny
    /// payloads do not shrink and would cost a deflate call each.
    public var minimumCompressSize: Int

    /// Creates a configuration; throws nothing but traps on out-of-range values at startup.
    public init(serverNoContextTakeover: Bool = true, clientNoContextTakeover: Bool = true,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15, compressionLevel: Int = 6,
                minimumCompressSize: Int = 64) {
        precondition((9...15).contains(serverMaxWindowBits), "serverMaxWindowBits must be 9...15")
        precondition((9...15).contains(clientMaxWindowBits), "clientMaxWindowBits must be 9...15")
        precondition((1...9).contains(compressionLevel), "compressionLevel must be 1...9")
        precondition(minimumCompressSize >= 0, "minimumCompressSize must be >= 0")
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.compressionLevel = compressionLevel
        self.minimumCompressSize = minimumCompressSize
    }
}

/// The agreed parameters of one connection (RFC 7692 §7.1).
public struct WebSocketDeflateParameters: Sendable, Equatable {
    /// The server resets its compressor after each message.
    public var serverNoContextTakeover: Bool
    /// The client resets its compressor after each message.
    public var clientNoContextTakeover: Bool
    /// The server's compression window (bits).
    public var serverMaxWindowBits: Int
    /// The client's compression window (bits).
    public var clientMaxWindowBits: Int
    /// Whether client_max_window_bits appears in the response (so it is echoed exactly).
    var clientMaxWindowBitsInResponse = false
    /// Whether server_max_window_bits appears in the response.
    var serverMaxWindowBitsInResponse = false
    /// Level and threshold for outgoing messages (local choices, not negotiated).
    public var compressionLevel = 6
    /// Messages shorter than this are sent uncompressed.
    public var minimumCompressSize = 64

    /// Creates agreed parameters.
    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.serverMaxWindowBitsInResponse = serverMaxWindowBits != 15
        self.clientMaxWindowBitsInResponse = clientMaxWindowBits != 15
    }

    /// The Sec-WebSocket-Extensions value a server answers with.
    public var responseHeaderValue: String {
        var s = "permessage-deflate"
        if serverNoContextTakeover { s += "; server_no_context_takeover" }
        if clientNoContextTakeover { s += "; client_no_context_takeover" }
        if serverMaxWindowBitsInResponse { s += "; server_max_window_bits=\(serverMaxWindowBits)" }
        if clientMaxWindowBitsInResponse { s += "; client_max_window_bits=\(clientMaxWindowBits)" }
        return s
    }
}

/// One element of a Sec-WebSocket-Extensions list: a name and its parameters.
public struct WebSocketExtensionOffer: Sendable, Equatable {
    /// Extension token, lowercased.
    public var name: String
    /// Parameters in order; `value` is nil for a bare token (quotes removed, §9.1 quoted-string).
    public var parameters: [(name: String, value: String?)]

    public static func == (a: WebSocketExtensionOffer, b: WebSocketExtensionOffer) -> Bool {
        a.name == b.name && a.parameters.count == b.parameters.count
            && zip(a.parameters, b.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// Negotiation logic for both roles.
public enum WebSocketDeflateNegotiation {
    /// The extension token (RFC 7692 §5).
    public static let extensionName = "permessage-deflate"

    /// Parses one or more Sec-WebSocket-Extensions header values (§9.1 grammar). Returns nil when
    /// the syntax is broken (unbalanced quotes, empty names).
    public static func parse(_ headerValues: [String]) -> [WebSocketExtensionOffer]? {
        var result: [WebSocketExtensionOffer] = []
        for value in headerValues {
            for element in split(value, on: ",") {
                let parts = split(element, on: ";")
                guard let first = parts.first else { continue }
                let name = first.trimmed.lowercased()
                if name.isEmpty {
                    if parts.count == 1 { continue }  // tolerate empty list elements (RFC 7230 §7)
                    return nil
                }
                guard isToken(name) else { return nil }
                var params: [(name: String, value: String?)] = []
                for p in parts.dropFirst() {
                    let pieces = p.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let pname = String(pieces[0]).trimmed.lowercased()
                    guard isToken(pname) else { return nil }
                    var pvalue: String? = nil
                    if pieces.count == 2 {
                        var v = String(pieces[1]).trimmed
                        if v.hasPrefix("\"") {
                            guard v.count >= 2, v.hasSuffix("\"") else { return nil }
                            v = String(v.dropFirst().dropLast())
                        }
                        guard isToken(v) else { return nil }  // §9.1: a quoted value must still be a token
                        pvalue = v
                    }
                    params.append((pname, pvalue))
                }
                result.append(WebSocketExtensionOffer(name: name, parameters: params))
            }
        }
        return result
    }

    /// Server side: accepts the first permessage-deflate offer whose parameters are valid and that
    /// we can honour (§5.1: "the server ... accept[s] the first acceptable offer"; §7: decline
    /// offers with unknown, duplicated or invalid parameters). Returns nil to decline them all.
    public static func accept(offers headerValues: [String],
                              configuration c: WebSocketDeflateConfiguration) -> WebSocketDeflateParameters? {
        guard let offers = parse(headerValues) else { return nil }
        for offer in offers where offer.name == extensionName {
            if var p = acceptOne(offer, c) {
                p.compressionLevel = c.compressionLevel
                p.minimumCompressSize = c.minimumCompressSize
                return p
            }
        }
        return nil
    }

    private static func acceptOne(_ offer: WebSocketExtensionOffer,
                                  _ c: WebSocketDeflateConfiguration) -> WebSocketDeflateParameters? {
        var seen = Set<String>()
        var snct = false, cnct = false
        var smwb: Int? = nil
        var cmwbOffered = false
        var cmwb: Int? = nil
        for (name, value) in offer.parameters {
            guard seen.insert(name).inserted else { return nil }  // §7: duplicate parameter
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
                snct = true
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                cnct = true
            case "server_max_window_bits":
                guard let v = value, let bits = windowBits(v) else { return nil }
                smwb = bits
            case "client_max_window_bits":
                cmwbOffered = true
                if let v = value {
                    guard let bits = windowBits(v) else { return nil }
                    cmwb = bits
                }
            default:
                return nil  // §7: unknown parameter
            }
        }
        var p = WebSocketDeflateParameters()
        // §7.1.1.1: an offered server_no_context_takeover must be accepted; we may add it ourselves.
        p.serverNoContextTakeover = snct || c.serverNoContextTakeover
        // §7.1.1.2: the server may ask the client not to take over context.
        p.clientNoContextTakeover = cnct || c.clientNoContextTakeover
        // §7.1.2.1: answer with a value no larger than the client's.
        let serverBits = min(smwb ?? 15, c.serverMaxWindowBits)
        if serverBits < 9 { return nil }  // zlib cannot compress with an 8-bit window: decline
        p.serverMaxWindowBits = serverBits
        p.serverMaxWindowBitsInResponse = smwb != nil || serverBits < 15
        // §7.1.2.2: only answer client_max_window_bits when offered; then no larger than its value.
        if cmwbOffered {
            let clientBits = min(cmwb ?? 15, c.clientMaxWindowBits)
            p.clientMaxWindowBits = clientBits
            p.clientMaxWindowBitsInResponse = clientBits < 15 || cmwb != nil
        } else {
            p.clientMaxWindowBits = 15
            p.clientMaxWindowBitsInResponse = false
        }
        return p
    }

    /// Client side: the Sec-WebSocket-Extensions value offering permessage-deflate.
    public static func offer(_ c: WebSocketDeflateConfiguration) -> String {
        var s = extensionName
        if c.serverNoContextTakeover { s += "; server_no_context_takeover" }
        if c.clientNoContextTakeover { s += "; client_no_context_takeover" }
        if c.serverMaxWindowBits < 15 { s += "; server_max_window_bits=\(c.serverMaxWindowBits)" }
        // Announce that we can honour a smaller window (§7.1.2.2).
        s += "; client_max_window_bits"
        if c.clientMaxWindowBits < 15 { s += "=\(c.clientMaxWindowBits)" }
        return s
    }

    /// Client side: checks the server's Sec-WebSocket-Extensions answer against our offer.
    /// - Returns: the agreed parameters, or nil when the server declined (no extension answered).
    /// - Throws: `WebSocketHandshakeError.invalidExtensions` when the answer names something we
    ///   did not offer or breaks §7.1 (the client must then fail the connection, §5.1).
    public static func validateResponse(
        _ headerValues: [String], offered c: WebSocketDeflateConfiguration
    ) throws(WebSocketHandshakeError) -> WebSocketDeflateParameters? {
        guard let exts = parse(headerValues) else { throw .invalidExtensions }
        if exts.isEmpty { return nil }
        guard exts.count == 1, exts[0].name == extensionName else { throw .invalidExtensions }
        var p = WebSocketDeflateParameters()
        var seen = Set<String>()
        for (name, value) in exts[0].parameters {
            guard seen.insert(name).inserted else { throw .invalidExtensions }
            switch name {
            case "server_no_context_takeover":
                guard value == nil else { throw .invalidExtensions }
                p.serverNoContextTakeover = true
            case "client_no_context_takeover":
                guard value == nil else { throw .invalidExtensions }
                p.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let v = value, let bits = windowBits(v), bits <= c.serverMaxWindowBits else {
                    throw .invalidExtensions
                }
                p.serverMaxWindowBits = bits
            case "client_max_window_bits":
                // We always offer it; the value must fit zlib (9...15) and our own limit.
                guard let v = value, let bits = windowBits(v), bits >= 9, bits <= c.clientMaxWindowBits else {
                    throw .invalidExtensions
                }
                p.clientMaxWindowBits = bits
            default:
                throw .invalidExtensions
            }
        }
        if c.serverNoContextTakeover && !p.serverNoContextTakeover {
            // Declining a requested server_no_context_takeover is not allowed (§7.1.1.1).
            throw .invalidExtensions
        }
        if c.clientNoContextTakeover { p.clientNoContextTakeover = true }
        if p.clientMaxWindowBits > c.clientMaxWindowBits { p.clientMaxWindowBits = c.clientMaxWindowBits }
        p.compressionLevel = c.compressionLevel
        p.minimumCompressSize = c.minimumCompressSize
        return p
    }

    /// §7.1.2.1: 1*DIGIT in 8...15 without leading zeros.
    static func windowBits(_ s: String) -> Int? {
        guard !s.isEmpty, s.count <= 2, s.first != "0", s.allSatisfy({ $0.isASCII && $0.isNumber }),
              let v = Int(s), (8...15).contains(v) else { return nil }
        return v
    }

    /// Splits on `separator` outside double quotes.
    static func split(_ s: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        for ch in s {
            if ch == "\"" { quoted.toggle() }
            if ch == separator && !quoted {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current)
        return parts
    }

    /// RFC 7230 §3.2.6 token characters.
    static func isToken(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        return s.utf8.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return "!#$%&'*+-.^_`|~".utf8.contains(b)
            }
        }
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs (HTTP OWS).
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
