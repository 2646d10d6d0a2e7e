// HTTPRequestParser: incremental HTTP/1.1 request parsing (RFC 9112) with limits.
//
// Owns: finding the end of the head, the request line, header fields, Content-Length bodies,
// the limits (request line, head bytes, header count, body bytes) and the typed error that maps to a
// status code. The head type is in HTTPRequestHead.swift; responses in HTTPResponse.swift.
//
// Contract with the caller (TCPConnectionHandler.didReceive): after `.needMoreData` the next call
// presents the same unconsumed bytes again with more appended, so the parser resumes its scan where
// it stopped instead of rescanning. After `.request(..., consumed: n)` the caller drops n bytes and
// calls again for a pipelined request.
//
// Choices (documented for clients of the REST API):
// - Bodies need Content-Length. Any Transfer-Encoding (chunked included) is answered 501, since no
//   client of ours streams request bodies; Transfer-Encoding together with Content-Length is 400
//   (RFC 9112 section 6.3, request smuggling).
// - Lines end in CRLF; a bare LF, obs-fold or whitespace before the colon is 400 (sections 2.2, 5.1, 5.2).
// - HTTP/1.1 without Host is 400 (section 3.2).

/// Limits of one parser. Every limit is bounded; defaults fit browsers' and curl's requests.
public struct HTTPParserConfiguration: Sendable, Equatable {
    /// Longest request line (method, target, version). Default 8 KiB like common servers; beyond: 414.
    public var maxRequestLineBytes: Int
    /// Longest head (request line plus headers). Default 16 KiB; beyond: 431.
    public var maxHeadBytes: Int
    /// Most header fields. Default 64; beyond: 431.
    public var maxHeaderCount: Int
    /// Largest Content-Length accepted. Default 1 MiB (REST bodies are small JSON); beyond: 413.
    public var maxBodyBytes: Int

    /// Creates limits; each must be within its bound (a programming error otherwise).
    public init(
        maxRequestLineBytes: Int = 8192, maxHeadBytes: Int = 16384, maxHeaderCount: Int = 64,
        maxBodyBytes: Int = 1 << 20
    ) {
        precondition((64...65536).contains(maxRequestLineBytes), "maxRequestLineBytes out of 64...65536")
        // Int32 header ranges in HTTPFieldRange; 1 MiB is far beyond any sane head anyway.
        precondition((256...(1 << 20)).contains(maxHeadBytes), "maxHeadBytes out of 256...1048576")
        precondition((1...1024).contains(maxHeaderCount), "maxHeaderCount out of 1...1024")
        precondition((0...(1 << 30)).contains(maxBodyBytes), "maxBodyBytes out of 0...1073741824")
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }

    /// The config keys for these limits under `table` (e.g. `http`), for the platform schema.
    public static func configKeys(table: String) -> [ConfigKey] {
        let d = HTTPParserConfiguration()
        return [
            .integer(
                "\(table).max_request_line_bytes", default: d.maxRequestLineBytes, bounds: 64...65536,
                doc: "Longest HTTP request line; longer requests get 414."),
            .integer(
                "\(table).max_head_bytes", default: d.maxHeadBytes, bounds: 256...(1 << 20),
                doc: "Longest HTTP request head (request line and headers); longer heads get 431."),
            .integer(
                "\(table).max_header_count", default: d.maxHeaderCount, bounds: 1...1024,
                doc: "Most HTTP header fields per request; more get 431."),
            .integer(
                "\(table).max_body_bytes", default: d.maxBodyBytes, bounds: 0...(1 << 30),
                doc: "Largest HTTP request body (Content-Length); larger get 413."),
        ]
    }

    /// Reads the limits declared by `configKeys(table:)`.
    public init(config: ConfigFile, table: String) {
        self.init(
            maxRequestLineBytes: config.int("\(table).max_request_line_bytes"),
            maxHeadBytes: config.int("\(table).max_head_bytes"),
            maxHeaderCount: config.int("\(table).max_header_count"),
            maxBodyBytes: config.int("\(table).max_body_bytes"))
    }
}

/// Why a request was rejected; `status` is the response to send before closing.
public enum HTTPParseError: Error, Sendable, Equatable {
    /// Malformed request line (400).
    case invalidRequestLine
    /// A method token we do not implement (501, RFC 9110 section 9.1).
    case unknownMethod
    /// Malformed header field, bare LF or obs-fold (400).
    case invalidHeader
    /// HTTP/1.1 request without Host (400, RFC 9112 section 3.2).
    case missingHost
    /// Malformed or conflicting Content-Length, or Content-Length with Transfer-Encoding (400).
    case invalidContentLength
    /// Any Transfer-Encoding (501): request bodies need Content-Length.
    case unsupportedTransferEncoding
    /// Request line longer than the limit (414).
    case requestLineTooLong
    /// Head longer than the limit or too many fields (431).
    case headersTooLarge
    /// Content-Length beyond the limit (413).
    case bodyTooLarge
    /// A version other than HTTP/1.0 or HTTP/1.1 (505).
    case unsupportedVersion

    /// The status to answer with.
    public var status: HTTPStatus {
        switch self {
        case .invalidRequestLine, .invalidHeader, .missingHost, .invalidContentLength: .badRequest
        case .unknownMethod, .unsupportedTransferEncoding: .notImplemented
        case .requestLineTooLong: .uriTooLong
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        }
    }
}

/// What one `parse` call found.
public enum HTTPParseResult: Sendable {
    /// The request (head or body) is incomplete; call again with the same bytes plus more.
    case needMoreData
    /// A complete request: its head, its body (empty without Content-Length; shares one buffer with
    /// the head) and how many input bytes it used.
    case request(HTTPRequestHead, body: ByteBuffer, consumed: Int)
}

/// An incremental HTTP/1.1 request parser for one connection.
public struct HTTPRequestParser: Sendable {
    /// The limits.
    public let configuration: HTTPParserConfiguration
    /// How far the search for the end of the head got in the bytes presented (resume point).
    private var scanned = 0
    /// Whether the first line's end was seen (the request-line limit applies until then).
    private var sawRequestLineEnd = false
    /// The parsed head while the body is still arriving.
    private var pending: Pending?
    /// Header ranges of the current head; capacity is reused across requests when not shared.
    private var fields: [HTTPFieldRange] = []
    private var continueRequested = false

    private struct Pending: Sendable {
        var headEnd: Int
        var method: HTTPMethod
        var version: HTTPVersion
        var keepAlive: Bool
        var contentLength: Int
        var targetStart: Int
        var pathStart: Int
        var pathEnd: Int
        var targetEnd: Int
    }

    /// Creates a parser with the given limits.
    public init(configuration: HTTPParserConfiguration = HTTPParserConfiguration()) {
        self.configuration = configuration
    }

    /// Forgets a partial request (e.g. after an error, before reusing the parser).
    public mutating func reset() {
        scanned = 0
        sawRequestLineEnd = false
        pending = nil
        continueRequested = false
        fields.removeAll(keepingCapacity: true)
    }

    /// True once per request whose head carried `Expect: 100-continue` (RFC 9110 section 10.1.1) and
    /// whose body has not fully arrived: the caller should write `HTTPResponse.continueLine` now.
    /// curl sends this for bodies over 1 KiB and otherwise waits a second before sending the body.
    public mutating func takeContinueRequest() -> Bool {
        defer { continueRequested = false }
        return continueRequested
    }

    /// Parses the bytes not yet consumed.
    ///
    /// - Parameter bytes: the unconsumed input, starting at the first byte of a request.
    /// - Returns: `.needMoreData`, or the request with the number of bytes it used.
    /// - Throws: `HTTPParseError` for malformed or oversized requests; reply with its `status`, then close.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPParseResult {
        if pending == nil {
            guard let headEnd = try findHeadEnd(bytes) else { return .needMoreData }
            pending = try parseHead(bytes, headEnd: headEnd)
        }
        let p = pending!
        let total = p.headEnd + p.contentLength
        guard bytes.count >= total else { return .needMoreData }
        // One copy of head and body into one buffer: the head's only allocation besides `fields`.
        var storage = ByteBuffer(capacity: total)
        storage.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<total]))
        let head = HTTPRequestHead(
            method: p.method, version: p.version, keepAlive: p.keepAlive, contentLength: p.contentLength,
            storage: storage.slice(length: p.headEnd), targetStart: p.targetStart, pathStart: p.pathStart,
            pathEnd: p.pathEnd, targetEnd: p.targetEnd, fields: fields)
        let body = storage.slice(offset: p.headEnd, length: p.contentLength)
        reset()
        return .request(head, body: body, consumed: total)
    }

    /// Returns the index just past CRLFCRLF, or nil when it has not arrived; enforces the
    /// request-line and head limits while scanning.
    private mutating func findHeadEnd(_ b: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int? {
        var i = max(scanned, 0)
        let n = b.count
        while i < n {
            if b[i] == 0x0A {
                // Every LF must follow a CR (section 2.2: we do not accept bare LF).
                guard i > 0, b[i - 1] == 0x0D else {
                    throw sawRequestLineEnd ? .invalidHeader : .invalidRequestLine
                }
                if !sawRequestLineEnd {
                    sawRequestLineEnd = true
                    if i - 1 > configuration.maxRequestLineBytes { throw .requestLineTooLong }
                    // Section 2.2: a server SHOULD ignore at least one empty line before the request line;
                    // we do not, an empty line is simply an invalid request line.
                } else if i >= 3, b[i - 2] == 0x0A, b[i - 3] == 0x0D {
                    if i + 1 > configuration.maxHeadBytes { throw .headersTooLarge }
                    return i + 1
                }
            }
            i += 1
        }
        scanned = n
        if !sawRequestLineEnd, n > configuration.maxRequestLineBytes + 1 { throw .requestLineTooLong }
        if n > configuration.maxHeadBytes { throw .headersTooLarge }
        return nil
    }

    @inline(__always) private static func isTokenByte(_ c: UInt8) -> Bool {
        // tchar, RFC 9110 section 5.6.2.
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    private static func matches(_ b: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ word: StaticString) -> Bool {
        guard end - start == word.utf8CodeUnitCount else { return false }
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for k in 0..<w.count where b[start + k] != w[k] { return false }
        return true
    }

    fileprivate static func matchesIgnoringCase(
        _ b: UnsafeRawBufferPointer, _ start: Int, _ end: Int,
        _ word: StaticString
    ) -> Bool {
        guard end - start == word.utf8CodeUnitCount else { return false }
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for k in 0..<w.count where HTTPRequestHead.lower(b[start + k]) != w[k] { return false }
        return true
    }

    private static func method(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> HTTPMethod? {
        // Methods are case-sensitive (RFC 9110 section 9.1).
        let candidates: (HTTPMethod, HTTPMethod, HTTPMethod)
        switch e - s {
        case 3: candidates = (.get, .put, .put)
        case 4: candidates = (.post, .head, .head)
        case 5: candidates = (.patch, .trace, .trace)
        case 6: candidates = (.delete, .delete, .delete)
        case 7: candidates = (.options, .connect, .connect)
        default: return nil
        }
        if matches(b, s, e, candidates.0.name) { return candidates.0 }
        if matches(b, s, e, candidates.1.name) { return candidates.1 }
        return matches(b, s, e, candidates.2.name) ? candidates.2 : nil
    }

    private enum FramingField { case contentLength, host, transferEncoding, connection, expect, other }

    /// The few fields that change framing or connection handling, by length first.
    private static func classify(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int) -> FramingField {
        switch e - s {
        case 14: matchesIgnoringCase(b, s, e, "content-length") ? .contentLength : .other
        case 4: matchesIgnoringCase(b, s, e, "host") ? .host : .other
        case 17: matchesIgnoringCase(b, s, e, "transfer-encoding") ? .transferEncoding : .other
        case 10: matchesIgnoringCase(b, s, e, "connection") ? .connection : .other
        case 6: matchesIgnoringCase(b, s, e, "expect") ? .expect : .other
        default: .other
        }
    }

    /// Parses the request line and header fields of the head `b[0..<headEnd]`.
    private mutating func parseHead(_ b: UnsafeRawBufferPointer, headEnd: Int) throws(HTTPParseError) -> Pending {
        // Request line: method SP request-target SP HTTP-version CRLF (section 3).
        var i = 0
        while i < headEnd, HTTPRequestParser.isTokenByte(b[i]) { i += 1 }
        guard i > 0, b[i] == 0x20 else { throw .invalidRequestLine }
        let methodEnd = i
        let targetStart = i + 1
        i = targetStart
        // Visible ASCII only in the target (RFC 3986 has no spaces or controls; obs-text is rejected).
        while i < headEnd, b[i] > 0x20, b[i] < 0x7F { i += 1 }
        let targetEnd = i
        guard targetEnd > targetStart, b[i] == 0x20 else { throw .invalidRequestLine }
        let versionStart = i + 1
        var lineEnd = versionStart
        while b[lineEnd] != 0x0D { lineEnd += 1 }
        guard b[lineEnd + 1] == 0x0A else { throw .invalidRequestLine }
        guard lineEnd - versionStart == 8, HTTPRequestParser.matches(b, versionStart, versionStart + 5, "HTTP/"),
            b[versionStart + 6] == UInt8(ascii: "."),
            (0x30...0x39).contains(b[versionStart + 5]), (0x30...0x39).contains(b[versionStart + 7])
        else { throw .invalidRequestLine }
        let version: HTTPVersion
        switch (b[versionStart + 5], b[versionStart + 7]) {
        case (0x31, 0x31): version = .http1_1
        case (0x31, 0x30): version = .http1_0
        default: throw .unsupportedVersion
        }
        guard let method = HTTPRequestParser.method(b, 0, methodEnd) else { throw .unknownMethod }

        // Target forms (section 3.2): origin-form "/p?q", absolute-form "http://h/p?q", asterisk "*".
        var pathStart = targetStart
        if b[targetStart] != UInt8(ascii: "/") && b[targetStart] != UInt8(ascii: "*") {
            var k = targetStart
            while k + 2 < targetEnd, !(b[k] == 0x3A && b[k + 1] == 0x2F && b[k + 2] == 0x2F) { k += 1 }
            guard k + 2 < targetEnd else { throw .invalidRequestLine }
            k += 3
            while k < targetEnd, b[k] != UInt8(ascii: "/"), b[k] != UInt8(ascii: "?") { k += 1 }
            pathStart = k
        }
        var pathEnd = pathStart
        while pathEnd < targetEnd, b[pathEnd] != UInt8(ascii: "?") { pathEnd += 1 }

        // Header fields: name ":" OWS value OWS CRLF (section 5).
        fields.removeAll(keepingCapacity: true)
        var contentLength: Int? = nil
        var sawHost = false
        var sawTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        i = lineEnd + 2
        while i < headEnd - 2 {
            let nameStart = i
            while HTTPRequestParser.isTokenByte(b[i]) { i += 1 }
            // Empty name, obs-fold (line starting with SP/HT) or whitespace before ':' are all 400.
            guard i > nameStart, b[i] == UInt8(ascii: ":") else { throw .invalidHeader }
            let nameEnd = i
            i += 1
            while b[i] == 0x20 || b[i] == 0x09 { i += 1 }
            let valueStart = i
            while b[i] != 0x0D {
                let c = b[i]
                // field-vchar / obs-text / SP / HT (section 5.5); CR only as the line end, LF never alone.
                guard c >= 0x20 || c == 0x09, c != 0x7F else { throw .invalidHeader }
                i += 1
            }
            guard b[i + 1] == 0x0A else { throw .invalidHeader }
            var valueEnd = i
            while valueEnd > valueStart, b[valueEnd - 1] == 0x20 || b[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            i += 2
            guard fields.count < configuration.maxHeaderCount else { throw .headersTooLarge }
            fields.append(
                HTTPFieldRange(
                    nameStart: Int32(nameStart), nameEnd: Int32(nameEnd),
                    valueStart: Int32(valueStart), valueEnd: Int32(valueEnd)))

            switch HTTPRequestParser.classify(b, nameStart, nameEnd) {
            case .contentLength:
                let v = try HTTPRequestParser.contentLength(b, valueStart, valueEnd)
                // Repeated Content-Length must agree (section 6.3 item 5).
                if let c = contentLength, c != v { throw .invalidContentLength }
                contentLength = v
            case .host:
                if sawHost { throw .invalidHeader }  // section 3.2: more than one Host is 400
                sawHost = true
            case .transferEncoding:
                sawTransferEncoding = true
            case .connection:
                let view = HTTPConnectionTokens(b: b, start: valueStart, end: valueEnd)
                connectionClose = connectionClose || view.contains("close")
                connectionKeepAlive = connectionKeepAlive || view.contains("keep-alive")
            case .expect:
                expectContinue = HTTPRequestParser.matchesIgnoringCase(b, valueStart, valueEnd, "100-continue")
            case .other:
                break
            }
        }
        if sawTransferEncoding { throw contentLength == nil ? .unsupportedTransferEncoding : .invalidContentLength }
        if version == .http1_1 && !sawHost { throw .missingHost }
        let length = contentLength ?? 0
        if length > configuration.maxBodyBytes { throw .bodyTooLarge }
        continueRequested =
            expectContinue && version == .http1_1 && length > 0
            && b.count < headEnd + length
        let keepAlive = version == .http1_1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return Pending(
            headEnd: headEnd, method: method, version: version, keepAlive: keepAlive,
            contentLength: length, targetStart: targetStart, pathStart: pathStart, pathEnd: pathEnd,
            targetEnd: targetEnd)
    }

    /// 1*DIGIT (section 6.3 / RFC 9110 section 8.6), capped to avoid overflow.
    private static func contentLength(_ b: UnsafeRawBufferPointer, _ s: Int, _ e: Int)
        throws(HTTPParseError) -> Int
    {
        guard e > s, e - s <= 15 else { throw e - s > 15 ? .bodyTooLarge : .invalidContentLength }
        var v = 0
        for k in s..<e {
            let c = b[k]
            guard c >= 0x30, c <= 0x39 else { throw .invalidContentLength }
            v = v * 10 + Int(c - 0x30)
        }
        return v
    }
}

/// Comma-separated tokens of a Connection value, compared case-insensitively.
private struct HTTPConnectionTokens {
    let b: UnsafeRawBufferPointer
    let start: Int
    let end: Int

    func contains(_ token: StaticString) -> Bool {
        var i = start
        while i < end {
            while i < end, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x2C { i += 1 }
            var j = i
            while j < end, b[j] != 0x2C { j += 1 }
            var e = j
            while e > i, b[e - 1] == 0x20 || b[e - 1] == 0x09 { e -= 1 }
            if e > i, HTTPRequestParser.matchesIgnoringCase(b, i, e, token) { return true }
            i = j
        }
        return false
    }
}
