// A small, bounded HTTP/1.1 response-head parser (RFC 9112 §4-§5) for the client side of the
// opening handshake.
//
// Owns: status-line and header-field parsing with limits on line length, total head size and
// header count. Requests are parsed by Wire's HTTPRequestParser (server side).

/// Limits on a message head; every one bounds memory per connection before the handshake.
public struct WebSocketHTTPLimits: Sendable {
    /// Longest request or status line. Default 8 KiB (common server default for the request line).
    public var maxStartLineLength: Int
    /// Largest head (start line + headers + blank line). Default 16 KiB.
    public var maxHeadSize: Int
    /// Most header fields. Default 64.
    public var maxHeaderCount: Int

    /// Creates limits.
    public init(maxStartLineLength: Int = 8 * 1024, maxHeadSize: Int = 16 * 1024, maxHeaderCount: Int = 64) {
        precondition(maxStartLineLength > 0 && maxHeadSize >= maxStartLineLength && maxHeaderCount > 0)
        self.maxStartLineLength = maxStartLineLength
        self.maxHeadSize = maxHeadSize
        self.maxHeaderCount = maxHeaderCount
    }
}

/// Why a response head was rejected.
public enum WebSocketHTTPParseError: Error, Equatable, Sendable {
    /// The status line is not VERSION SP CODE SP REASON.
    case malformedStartLine
    /// The start line is longer than allowed (414 URI Too Long).
    case startLineTooLong
    /// A header line has no colon, an empty or invalid name, or whitespace before the colon.
    case malformedHeader
    /// The head is larger than allowed, or has too many fields (431).
    case headTooLarge
    /// Not HTTP/1.x.
    case unsupportedVersion
}

/// Header fields in arrival order with case-insensitive lookup.
public struct WebSocketHTTPHeaders: Sendable, Equatable, Sequence {
    /// Fields as received (names keep their case).
    public private(set) var fields: [(name: String, value: String)] = []

    /// Empty headers.
    public init() {}

    /// Appends a field.
    public mutating func add(name: String, value: String) { fields.append((name, value)) }

    /// All values of `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        fields.compactMap { $0.name.caseInsensitiveEquals(name) ? $0.value : nil }
    }

    /// The first value of `name`, if any.
    public func first(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// Whether a comma-separated header `name` holds `token` (case-insensitive, RFC 9110 §5.6.1).
    public func containsToken(_ name: String, _ token: String) -> Bool {
        values(name).contains { v in
            v.split(separator: ",").contains { String($0).trimmed.caseInsensitiveEquals(token) }
        }
    }

    /// Iterates over the fields.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (a: WebSocketHTTPHeaders, b: WebSocketHTTPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0 == $1 }
    }
}

/// A parsed response head (client side of the handshake).
public struct WebSocketResponseHead: Sendable, Equatable {
    /// Status code, e.g. 101.
    public var status: Int
    /// Reason phrase.
    public var reason: String
    /// Header fields.
    public var headers: WebSocketHTTPHeaders

    /// Parses a response head from the start of `bytes`; nil when incomplete.
    public static func parse(_ bytes: UnsafeRawBufferPointer,
                             limits: WebSocketHTTPLimits = .init()) throws(WebSocketHTTPParseError) -> (Self, Int)? {
        guard let (start, headers, used) = try parseHead(bytes, limits: limits) else { return nil }
        let parts = start.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, httpMinorVersion(parts[0]) != nil, parts[1].count == 3,
              let status = Int(parts[1]) else { throw .malformedStartLine }
        return (WebSocketResponseHead(status: status, reason: parts.count == 3 ? String(parts[2]) : "",
                                      headers: headers), used)
    }
}

/// "HTTP/1.x" -> x.
func httpMinorVersion(_ s: Substring) -> Int? {
    guard s.count == 8, s.hasPrefix("HTTP/1."), let last = s.last, let d = last.wholeNumberValue else { return nil }
    return d
}

/// Splits a head into start line and header fields, enforcing limits; nil when incomplete.
func parseHead(_ bytes: UnsafeRawBufferPointer,
               limits: WebSocketHTTPLimits) throws(WebSocketHTTPParseError) -> (String, WebSocketHTTPHeaders, Int)? {
    let n = bytes.count
    var lineStart = 0
    var startLine: String? = nil
    var headers = WebSocketHTTPHeaders()
    var i = 0
    while true {
        // Find the end of the current line (LF; a preceding CR is stripped, RFC 9112 §2.2).
        while i < n && bytes[i] != 0x0A { i += 1 }
        let lineLimit = startLine == nil ? limits.maxStartLineLength : limits.maxHeadSize
        if i - lineStart > lineLimit {
            throw startLine == nil ? .startLineTooLong : .headTooLarge
        }
        if i > limits.maxHeadSize { throw .headTooLarge }
        if i >= n { return nil }
        var end = i
        if end > lineStart && bytes[end - 1] == 0x0D { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<end])
        i += 1
        lineStart = i
        if startLine == nil {
            // RFC 9112 §2.2: ignore at least one empty line before the request line.
            if line.isEmpty && headers.fields.isEmpty && i <= 2 { continue }
            startLine = String(decoding: line, as: UTF8.self)
            continue
        }
        if line.isEmpty { return (startLine!, headers, i) }
        guard headers.fields.count < limits.maxHeaderCount else { throw .headTooLarge }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { throw .malformedHeader }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[..<colon]), as: UTF8.self)
        // RFC 9112 §5.1: no whitespace between name and colon; names are tokens.
        guard WebSocketDeflateNegotiation.isToken(name) else { throw .malformedHeader }
        let value = String(decoding: UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]), as: UTF8.self).trimmed
        headers.add(name: name, value: value)
    }
}

extension StringProtocol {
    /// ASCII case-insensitive comparison (header names and tokens).
    func caseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            let lx = x >= 65 && x <= 90 ? x | 0x20 : x
            let ly = y >= 65 && y <= 90 ? y | 0x20 : y
            return lx == ly
        }
    }
}
