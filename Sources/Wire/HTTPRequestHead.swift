// HTTPRequestHead: one parsed HTTP/1.1 request head (RFC 9112 section 3, 5) and its accessors.
//
// Owns: method and version types, the head itself (its bytes kept in one ByteBuffer plus an index of
// header ranges, so parsing does not allocate per header), case-insensitive header lookup, target
// path/query split and percent-decoding. Parsing lives in HTTPRequestParser.swift, responses in
// HTTPResponse.swift.

/// Request methods (RFC 9110 section 9). Unknown methods are rejected with 501 by the parser.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, patch, options, connect, trace

    /// The method token as sent on the wire.
    public var name: StaticString {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .patch: "PATCH"
        case .options: "OPTIONS"
        case .connect: "CONNECT"
        case .trace: "TRACE"
        }
    }
}

/// The two HTTP/1.x versions a request may carry (anything else is 505, RFC 9110 section 15.6.6).
public enum HTTPVersion: Sendable, Equatable {
    case http1_0
    case http1_1
}

/// Byte ranges of one header field within the head's storage; Int32 keeps the index small.
@usableFromInline struct HTTPFieldRange: Sendable, Equatable {
    var nameStart: Int32
    var nameEnd: Int32
    var valueStart: Int32
    var valueEnd: Int32
}

/// A parsed request head. Its bytes live in one buffer; strings are made only when asked for.
public struct HTTPRequestHead: Sendable {
    /// The method.
    public let method: HTTPMethod
    /// The protocol version.
    public let version: HTTPVersion
    /// Whether the connection stays open after the response (RFC 9112 section 9.3): HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    public let keepAlive: Bool
    /// The body length from `Content-Length` (0 when absent).
    public let contentLength: Int
    /// The request head's bytes, from the method to the blank line.
    let storage: ByteBuffer
    let targetStart: Int
    let pathStart: Int
    let pathEnd: Int
    let targetEnd: Int
    let fields: [HTTPFieldRange]

    init(
        method: HTTPMethod, version: HTTPVersion, keepAlive: Bool, contentLength: Int, storage: ByteBuffer,
        targetStart: Int, pathStart: Int, pathEnd: Int, targetEnd: Int, fields: [HTTPFieldRange]
    ) {
        self.method = method
        self.version = version
        self.keepAlive = keepAlive
        self.contentLength = contentLength
        self.storage = storage
        self.targetStart = targetStart
        self.pathStart = pathStart
        self.pathEnd = pathEnd
        self.targetEnd = targetEnd
        self.fields = fields
    }

    private func string(_ start: Int, _ end: Int) -> String {
        storage.withUnsafeReadableBytes {
            String(decoding: UnsafeRawBufferPointer(rebasing: $0[start..<end]), as: UTF8.self)
        }
    }

    private func bytesEqual(_ start: Int, _ end: Int, _ other: String, ignoringCase: Bool) -> Bool {
        var other = other
        return other.withUTF8 { o in
            guard o.count == end - start else { return false }
            return storage.withUnsafeReadableBytes { b in
                for k in 0..<o.count {
                    let x = b[start + k]
                    let y = o[k]
                    if x == y { continue }
                    if !ignoringCase || HTTPRequestHead.lower(x) != HTTPRequestHead.lower(y) { return false }
                }
                return true
            }
        }
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    /// The raw request target (`/api/v1/search?q=AP`), not percent-decoded.
    public var target: String { string(targetStart, targetEnd) }

    /// The path part of the target, not percent-decoded (`/api/v1/search`). For absolute-form targets
    /// (`http://host/x`, RFC 9112 section 3.2.2) this is the path after the authority.
    public var path: String { pathStart == pathEnd ? "/" : string(pathStart, pathEnd) }

    /// The query after `?`, not percent-decoded, or nil when the target has none.
    public var query: String? { pathEnd == targetEnd ? nil : string(pathEnd + 1, targetEnd) }

    /// True when the raw path equals `path` byte for byte (routing without allocating).
    public func pathEquals(_ path: String) -> Bool {
        bytesEqual(pathStart, pathEnd, path, ignoringCase: false)
    }

    /// True when the raw path starts with `prefix` (`/api/v1/orders/`), without allocating.
    public func pathHasPrefix(_ prefix: String) -> Bool {
        var prefix = prefix
        return prefix.withUTF8 { p in
            guard p.count <= pathEnd - pathStart else { return false }
            return storage.withUnsafeReadableBytes { b in
                for k in 0..<p.count where b[pathStart + k] != p[k] { return false }
                return true
            }
        }
    }

    /// The decoded value of the first query parameter called `name` (`/ws?token=a%20b` -> "a b"),
    /// nil when absent or when its percent-encoding is malformed. `+` decodes to a space
    /// (application/x-www-form-urlencoded, which is what browsers put in queries).
    public func queryValue(_ name: String) -> String? {
        guard let q = query else { return nil }
        for pair in q.split(separator: "&", omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: "=") ?? pair.endIndex
            guard HTTPPercentDecoding.decode(pair[..<eq], plusAsSpace: true) == name else { continue }
            return HTTPPercentDecoding.decode(
                eq == pair.endIndex ? "" : pair[pair.index(after: eq)...], plusAsSpace: true)
        }
        return nil
    }

    /// Number of header fields.
    public var headerCount: Int { fields.count }

    /// The header field at `index` (in arrival order) as strings.
    public func header(at index: Int) -> (name: String, value: String) {
        let f = fields[index]
        return (string(Int(f.nameStart), Int(f.nameEnd)), string(Int(f.valueStart), Int(f.valueEnd)))
    }

    private func firstField(_ name: String) -> HTTPFieldRange? {
        fields.first { bytesEqual(Int($0.nameStart), Int($0.nameEnd), name, ignoringCase: true) }
    }

    /// The value of the first header named `name` (case-insensitive, RFC 9110 section 5.1), without
    /// surrounding whitespace; nil when absent.
    public subscript(name: String) -> String? {
        firstField(name).map { string(Int($0.valueStart), Int($0.valueEnd)) }
    }

    /// Whether a header named `name` is present.
    public func contains(_ name: String) -> Bool { firstField(name) != nil }

    /// Calls `body` with the raw bytes of the first `name` header's value; nil when absent.
    /// The pointer must not escape (e.g. hash `Sec-WebSocket-Key` without making a String).
    public func withValue<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let f = firstField(name) else { return nil }
        return try storage.withUnsafeReadableBytes { b in
            try body(UnsafeRawBufferPointer(rebasing: b[Int(f.valueStart)..<Int(f.valueEnd)]))
        }
    }

    /// Whether any `name` header's comma-separated list holds `token`, case-insensitively
    /// (`Connection: keep-alive, Upgrade` holds `upgrade`; RFC 9110 section 5.6.1). Does not allocate.
    public func value(of name: String, containsToken token: String) -> Bool {
        for f in fields where bytesEqual(Int(f.nameStart), Int(f.nameEnd), name, ignoringCase: true) {
            if HTTPRequestHead.list(storage, Int(f.valueStart), Int(f.valueEnd), contains: token) { return true }
        }
        return false
    }

    static func list(_ storage: ByteBuffer, _ start: Int, _ end: Int, contains token: String) -> Bool {
        var token = token
        return token.withUTF8 { t in
            storage.withUnsafeReadableBytes { b in
                var i = start
                while i < end {
                    while i < end, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x2C { i += 1 }
                    var j = i
                    while j < end, b[j] != 0x2C { j += 1 }
                    var e = j
                    while e > i, b[e - 1] == 0x20 || b[e - 1] == 0x09 { e -= 1 }
                    if e - i == t.count {
                        var same = true
                        for k in 0..<t.count where lower(b[i + k]) != lower(t[k]) {
                            same = false
                            break
                        }
                        if same { return true }
                    }
                    i = j
                }
                return false
            }
        }
    }
}

/// Percent-decoding of URI components (RFC 3986 section 2.1).
public enum HTTPPercentDecoding {
    /// Decodes `%XX` escapes (and `+` as space when `plusAsSpace`). Returns nil when a `%` is not
    /// followed by two hex digits or the result is not valid UTF-8.
    public static func decode(_ s: some StringProtocol, plusAsSpace: Bool = false) -> String? {
        let u = Array(s.utf8)
        guard u.contains(UInt8(ascii: "%")) || (plusAsSpace && u.contains(UInt8(ascii: "+"))) else { return String(s) }
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            let b = u[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusAsSpace && b == UInt8(ascii: "+") ? 0x20 : b)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
