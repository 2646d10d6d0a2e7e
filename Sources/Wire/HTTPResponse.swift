// HTTPResponse: status codes and writing HTTP/1.1 responses into a ByteBuffer (RFC 9112 section 4, 6).
//
// Owns: `HTTPStatus`, the response writer (status line, headers, Content-Length, body), canned
// error replies for `HTTPParseError`, and IMF-fixdate formatting for the Date header. Parsing requests
// lives in HTTPRequestParser.swift. Used by the WebSocket upgrade, /health, /metrics and the REST API.

/// A status code with its reason phrase.
public struct HTTPStatus: Sendable, Equatable {
    /// The three-digit code.
    public let code: Int
    /// The reason phrase (RFC 9110 section 15).
    public let reason: StaticString

    /// Creates a status.
    public init(code: Int, reason: StaticString) {
        precondition((100...999).contains(code), "status code must have three digits")
        self.code = code
        self.reason = reason
    }

    public static func == (a: HTTPStatus, b: HTTPStatus) -> Bool { a.code == b.code }

    /// Whether the response may carry content (RFC 9110 section 6.4.1: not 1xx, 204, 304).
    public var allowsContent: Bool { code >= 200 && code != 204 && code != 304 }

    public static let `continue` = HTTPStatus(code: 100, reason: "Continue")
    public static let switchingProtocols = HTTPStatus(code: 101, reason: "Switching Protocols")
    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let created = HTTPStatus(code: 201, reason: "Created")
    public static let accepted = HTTPStatus(code: 202, reason: "Accepted")
    public static let noContent = HTTPStatus(code: 204, reason: "No Content")
    public static let notModified = HTTPStatus(code: 304, reason: "Not Modified")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let conflict = HTTPStatus(code: 409, reason: "Conflict")
    public static let lengthRequired = HTTPStatus(code: 411, reason: "Length Required")
    public static let contentTooLarge = HTTPStatus(code: 413, reason: "Content Too Large")
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    public static let unsupportedMediaType = HTTPStatus(code: 415, reason: "Unsupported Media Type")
    public static let unprocessableContent = HTTPStatus(code: 422, reason: "Unprocessable Content")
    public static let upgradeRequired = HTTPStatus(code: 426, reason: "Upgrade Required")
    public static let tooManyRequests = HTTPStatus(code: 429, reason: "Too Many Requests")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    public static let httpVersionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
}

/// A response to write: status, headers and body. `Content-Length` and `Connection` are added by
/// `write`, never by the caller.
public struct HTTPResponse: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// Extra header fields in order (e.g. `Content-Type`). Values must not contain CR or LF.
    public var headers: [(name: String, value: String)]
    /// The content (ignored for statuses that allow none).
    public var body: ByteBuffer

    /// The interim response a server sends for `Expect: 100-continue` (RFC 9110 section 10.1.1).
    public static let continueLine: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"

    /// Creates a response.
    public init(
        status: HTTPStatus, headers: [(name: String, value: String)] = [], body: ByteBuffer = ByteBuffer(capacity: 0)
    ) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a UTF-8 body and its content type.
    public init(status: HTTPStatus, contentType: String, body: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: ByteBuffer(string: body))
    }

    /// Writes the response.
    ///
    /// - Parameters:
    ///   - buffer: where the bytes go.
    ///   - keepAlive: false adds `Connection: close` (RFC 9112 section 9.6); pass the request's `keepAlive`
    ///     unless the server is closing anyway.
    ///   - headRequest: for HEAD the body is left out but its Content-Length kept (RFC 9110 section 9.3.2).
    ///   - date: an IMF-fixdate for the Date header (RFC 9110 section 6.6.1), e.g. `HTTPDate.format(...)`
    ///     cached once per second by the caller; nil omits it.
    public func write(
        into buffer: inout ByteBuffer, keepAlive: Bool = true, headRequest: Bool = false,
        date: String? = nil
    ) {
        HTTPResponse.writeHead(status: status, into: &buffer)
        for (name, value) in headers {
            HTTPResponse.writeHeader(name, value, into: &buffer)
        }
        if let date { HTTPResponse.writeHeader("Date", date, into: &buffer) }
        if !keepAlive { buffer.writeStaticString("Connection: close\r\n") }
        // RFC 9110 section 8.6: no Content-Length on 1xx and 204; on 304 it would describe the cached
        // representation, which we do not track, so we leave it out too.
        if status.allowsContent {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeDecimal(body.readableBytes)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        if status.allowsContent && !headRequest { buffer.writeBuffer(body) }
    }

    /// Writes `HTTP/1.1 <code> <reason>\r\n`.
    public static func writeHead(status: HTTPStatus, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeDecimal(status.code)
        buffer.writeStaticString(" ")
        buffer.writeStaticString(status.reason)
        buffer.writeStaticString("\r\n")
    }

    /// Writes one header line; CR or LF in either part would split the response (a programming error).
    public static func writeHeader(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        precondition(
            !name.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x3A || $0 == 0x20 },
            "invalid header name")
        precondition(!value.utf8.contains { $0 == 0x0D || $0 == 0x0A }, "header value contains CR or LF")
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }

    /// The reply for a rejected request: its status, a short text body and `Connection: close`,
    /// since after a framing error the rest of the stream cannot be trusted.
    public static func writeError(_ error: HTTPParseError, into buffer: inout ByteBuffer) {
        var text = ByteBuffer(capacity: 48)
        text.writeStaticString(error.status.reason)
        text.writeStaticString("\n")
        HTTPResponse(status: error.status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: text)
            .write(into: &buffer, keepAlive: false)
    }
}

/// IMF-fixdate (RFC 9110 section 5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
public enum HTTPDate {
    /// Formats seconds since the Unix epoch (UTC).
    public static func format(epochSeconds: Int) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86400 : (epochSeconds - 86399) / 86400
        let secs = epochSeconds - days * 86400
        // Civil-from-days (Howard Hinnant's algorithm): proleptic Gregorian, no libc, no locale.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (index 4)
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(names[weekday]), \(two(day)) \(months[month - 1]) \(year) "
            + "\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60)) GMT"
    }
}
