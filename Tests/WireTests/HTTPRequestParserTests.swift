// Tests for HTTPRequestParser and HTTPRequestHead: incremental parsing, limits, every error, lookups.
import Testing

@testable import Wire

/// Feeds `text` as the TCPConnection contract does: the unconsumed bytes, growing by `step` each call.
private func feed(_ text: String, step: Int = Int.max, parser: inout HTTPRequestParser)
    throws(HTTPParseError) -> (HTTPRequestHead, ByteBuffer, Int)?
{
    let bytes = ByteBuffer(string: text)
    var end = min(step, bytes.readableBytes)
    while true {
        let r = try bytes.slice(length: end).withUnsafeReadableBytes { (all) throws(HTTPParseError) in
            try parser.parse(all)
        }
        if case .request(let head, let body, let consumed) = r { return (head, body, consumed) }
        if end == bytes.readableBytes { return nil }
        end = min(end + step, bytes.readableBytes)
    }
}

private func parseOne(_ text: String, _ config: HTTPParserConfiguration = HTTPParserConfiguration())
    throws(HTTPParseError) -> HTTPRequestHead?
{
    var p = HTTPRequestParser(configuration: config)
    return try feed(text, parser: &p)?.0
}

private func failure(_ text: String, _ config: HTTPParserConfiguration = HTTPParserConfiguration()) -> HTTPParseError? {
    do {
        _ = try parseOne(text, config)
        return nil
    } catch {
        return error
    }
}

@Suite struct HTTPRequestParserTests {
    @Test func parsesGetByteByByte() throws {
        let text =
            "GET /api/v1/search?q=AP%20L&x=1 HTTP/1.1\r\nHost: example\r\nX-Empty:\r\n"
            + "Sec-WebSocket-Key:  dGhlIHNhbXBsZSBub25jZQ== \t\r\nConnection: keep-alive, Upgrade\r\n\r\n"
        var p = HTTPRequestParser()
        let (head, body, consumed) = try #require(try feed(text, step: 1, parser: &p))
        #expect(consumed == text.utf8.count)
        #expect(body.readableBytes == 0)
        #expect(head.method == .get)
        #expect(head.version == .http1_1)
        #expect(head.keepAlive)
        #expect(head.target == "/api/v1/search?q=AP%20L&x=1")
        #expect(head.path == "/api/v1/search")
        #expect(head.query == "q=AP%20L&x=1")
        #expect(head.queryValue("q") == "AP L")
        #expect(head.queryValue("x") == "1")
        #expect(head.queryValue("y") == nil)
        #expect(head.pathEquals("/api/v1/search"))
        #expect(!head.pathEquals("/api/v1/searc"))
        #expect(head.pathHasPrefix("/api/v1/"))
        #expect(!head.pathHasPrefix("/api/v2/"))
        #expect(head.headerCount == 4)
        #expect(head.header(at: 1) == ("X-Empty", ""))
        #expect(head["sec-websocket-key"] == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(head["HOST"] == "example")
        #expect(head["Origin"] == nil)
        #expect(head.contains("x-empty"))
        #expect(head.value(of: "connection", containsToken: "upgrade"))
        #expect(head.value(of: "Connection", containsToken: "KEEP-ALIVE"))
        #expect(!head.value(of: "Connection", containsToken: "close"))
        #expect(!head.value(of: "Connection", containsToken: "upgrad"))
        #expect(head.withValue(of: "Host") { $0.count } == 7)
        #expect(head.withValue(of: "Missing") { $0.count } == nil)
    }

    @Test func parsesBodyAndPipelinedRequests() throws {
        let first = "POST /api/v1/orders HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n{\"qty\": 10}"
        let second = "DELETE /api/v1/orders/7 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        var p = HTTPRequestParser()
        let (head, body, consumed) = try #require(try feed(first + second, step: 5, parser: &p))
        #expect(head.method == .post)
        #expect(head.contentLength == 11)
        #expect(body.readableString == "{\"qty\": 10}")
        #expect(consumed == first.utf8.count)
        let (head2, body2, consumed2) = try #require(try feed(second, step: 7, parser: &p))
        #expect(head2.method == .delete)
        #expect(head2.path == "/api/v1/orders/7")
        #expect(!head2.keepAlive)
        #expect(body2.readableBytes == 0)
        #expect(consumed2 == second.utf8.count)
    }

    @Test func needsMoreDataUntilBodyIsComplete() throws {
        var p = HTTPRequestParser()
        let text = "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab"
        let r = try ByteBuffer(string: text).withUnsafeReadableBytes { (b) throws(HTTPParseError) in try p.parse(b) }
        guard case .needMoreData = r else {
            Issue.record("expected needMoreData")
            return
        }
        #expect(try feed(text + "cd", parser: &p)?.1.readableString == "abcd")
    }

    @Test func keepAliveSemantics() throws {
        #expect(try parseOne("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(try parseOne("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?.keepAlive == true)
        #expect(try parseOne("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n")?.keepAlive == false)
        #expect(try parseOne("GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n")?.keepAlive == true)
        #expect(try parseOne("GET / HTTP/1.0\r\n\r\n")?.version == .http1_0)
    }

    @Test func targetForms() throws {
        let abs = try #require(try parseOne("GET http://example.com:80/a/b?c=d HTTP/1.1\r\nHost: e\r\n\r\n"))
        #expect(abs.path == "/a/b")
        #expect(abs.query == "c=d")
        let bare = try #require(try parseOne("GET http://example.com HTTP/1.1\r\nHost: e\r\n\r\n"))
        #expect(bare.path == "/")
        #expect(bare.query == nil)
        #expect(try parseOne("OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n")?.path == "*")
        #expect(try parseOne("GET /?token=a+b%2B HTTP/1.1\r\nHost: e\r\n\r\n")?.queryValue("token") == "a b+")
    }

    @Test func everyMethod() throws {
        let methods: [(String, HTTPMethod)] = [
            ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put),
            ("DELETE", .delete), ("PATCH", .patch), ("OPTIONS", .options),
            ("CONNECT", .connect), ("TRACE", .trace),
        ]
        for (name, m) in methods {
            #expect(try parseOne("\(name) / HTTP/1.1\r\nHost: h\r\n\r\n")?.method == m)
        }
    }

    @Test func malformedRequestsMapToStatuses() {
        let cases: [(String, HTTPParseError, Int)] = [
            ("GET /\r\n\r\n", .invalidRequestLine, 400),
            ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("GET / HTTX/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("GET a\u{7F}b HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("GET nohost HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("GET / HTTP/1.1\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("GET / HTTP/1.1\rX\nHost: h\r\n\r\n", .invalidRequestLine, 400),
            ("get / HTTP/1.1\r\nHost: h\r\n\r\n", .unknownMethod, 501),
            ("BREW / HTTP/1.1\r\nHost: h\r\n\r\n", .unknownMethod, 501),
            ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", .unsupportedVersion, 505),
            ("GET / HTTP/1.2\r\nHost: h\r\n\r\n", .unsupportedVersion, 505),
            ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n", .invalidHeader, 400),
            ("GET / HTTP/1.1\r\n\r\n", .missingHost, 400),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: x1\r\n\r\n", .invalidContentLength, 400),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", .invalidContentLength, 400),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", .invalidContentLength, 400),
            (
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .invalidContentLength,
                400
            ),
            (
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                .invalidContentLength, 400
            ),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", .unsupportedTransferEncoding, 501),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", .bodyTooLarge, 413),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", .bodyTooLarge, 413),
        ]
        for (text, error, code) in cases {
            #expect(failure(text) == error, "\(text.debugDescription)")
            #expect(error.status.code == code)
        }
    }

    @Test func limits() {
        let small = HTTPParserConfiguration(
            maxRequestLineBytes: 64, maxHeadBytes: 256, maxHeaderCount: 2, maxBodyBytes: 10)
        let longTarget = "GET /" + String(repeating: "a", count: 60) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(failure(longTarget, small) == .requestLineTooLong)
        #expect(HTTPParseError.requestLineTooLong.status.code == 414)
        // Detected before the line ends, so a peer cannot make us buffer without bound.
        var p = HTTPRequestParser(configuration: small)
        #expect(throws: HTTPParseError.requestLineTooLong) {
            _ = try feed("GET /" + String(repeating: "a", count: 200), step: 10, parser: &p)
        }
        let exact = "GET /" + String(repeating: "a", count: 64 - 15) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(failure(exact, small) == nil)
        #expect(failure("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", small) == .headersTooLarge)
        #expect(failure("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n", small) == nil)
        let bigHeader = "GET / HTTP/1.1\r\nHost: " + String(repeating: "h", count: 300) + "\r\n\r\n"
        #expect(failure(bigHeader, small) == .headersTooLarge)
        #expect(HTTPParseError.headersTooLarge.status.code == 431)
        var q = HTTPRequestParser(configuration: small)
        #expect(throws: HTTPParseError.headersTooLarge) {
            _ = try feed("GET / HTTP/1.1\r\nHost: " + String(repeating: "h", count: 300), step: 16, parser: &q)
        }
        #expect(failure("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", small) == .bodyTooLarge)
        #expect(failure("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", small) == nil)
    }

    @Test func expectContinueIsReportedOnce() throws {
        var p = HTTPRequestParser()
        let head = "POST /f HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n"
        #expect(try feed(head, parser: &p) == nil)
        let first = p.takeContinueRequest()
        let second = p.takeContinueRequest()
        #expect(first && !second)
        #expect(try feed(head + "abc", parser: &p)?.1.readableString == "abc")
        let afterBody = p.takeContinueRequest()
        #expect(!afterBody)
    }

    @Test func parserResetsAfterError() throws {
        var p = HTTPRequestParser()
        #expect(throws: HTTPParseError.invalidRequestLine) { _ = try feed("GARBAGE\r\n\r\n", parser: &p) }
        p.reset()
        #expect(try feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", parser: &p)?.0.method == .get)
    }

    @Test func percentDecoding() {
        #expect(HTTPPercentDecoding.decode("a%2Fb%c3%a9") == "a/bé")
        #expect(HTTPPercentDecoding.decode("a+b") == "a+b")
        #expect(HTTPPercentDecoding.decode("a+b", plusAsSpace: true) == "a b")
        #expect(HTTPPercentDecoding.decode("%") == nil)
        #expect(HTTPPercentDecoding.decode("%4") == nil)
        #expect(HTTPPercentDecoding.decode("%zz") == nil)
        #expect(HTTPPercentDecoding.decode("%ff") == nil)  // not UTF-8
        #expect(HTTPPercentDecoding.decode("plain") == "plain")
    }

    @Test func configKeysMatchDefaults() throws {
        let schema = ConfigSchema(keys: HTTPParserConfiguration.configKeys(table: "http"))
        let c = try ConfigFile(text: "[http]\nmax_header_count = 10\n", name: "t", schema: schema)
        let conf = HTTPParserConfiguration(config: c, table: "http")
        #expect(conf == HTTPParserConfiguration(maxHeaderCount: 10))
    }
}

extension HTTPParseError: CustomTestStringConvertible {
    public var testDescription: String { "\(self) (\(status.code))" }
}
