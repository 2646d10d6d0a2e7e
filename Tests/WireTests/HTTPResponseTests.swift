// Tests for HTTPResponse writing, canned error replies and HTTPDate.
import Testing

@testable import Wire

@Suite struct HTTPResponseTests {
    @Test func writesStatusHeadersLengthAndBody() {
        var out = ByteBuffer()
        HTTPResponse(status: .ok, contentType: "application/json", body: "{\"ok\":true}")
            .write(into: &out, date: "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(
            out.readableString == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
    }

    @Test func closeHeadAndEmptyBodies() {
        var out = ByteBuffer()
        HTTPResponse(status: .notFound, contentType: "text/plain", body: "nope").write(
            into: &out, keepAlive: false,
            headRequest: true)
        #expect(
            out.readableString == "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                + "Content-Length: 4\r\n\r\n")
        out.clear()
        HTTPResponse(status: .noContent).write(into: &out)
        #expect(out.readableString == "HTTP/1.1 204 No Content\r\n\r\n")
        out.clear()
        HTTPResponse(status: .switchingProtocols, headers: [("Upgrade", "websocket"), ("Connection", "Upgrade")])
            .write(into: &out)
        #expect(
            out.readableString
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        out.clear()
        HTTPResponse(status: .created).write(into: &out)
        #expect(out.readableString == "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func errorRepliesCloseTheConnection() {
        var out = ByteBuffer()
        HTTPResponse.writeError(.headersTooLarge, into: &out)
        #expect(
            out.readableString == "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                + "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 32\r\n\r\n"
                + "Request Header Fields Too Large\n")
        out.clear()
        HTTPResponse.writeError(.unsupportedVersion, into: &out)
        #expect(out.readableString.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
    }

    @Test func responseParsesBackAsItsFraming() throws {
        // The written Content-Length must frame exactly the body bytes.
        var out = ByteBuffer()
        let body = String(repeating: "x", count: 1000)
        HTTPResponse(status: .ok, contentType: "text/plain", body: body).write(into: &out)
        let text = out.readableString
        let parts = text.split(separator: "\r\n\r\n", maxSplits: 1)
        #expect(parts.count == 2 && parts[1].utf8.count == 1000)
        #expect(parts[0].hasSuffix("Content-Length: 1000"))
    }

    @Test func httpDates() {
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 1_795_788_017) == "Fri, 27 Nov 2026 14:00:17 GMT")
        #expect(HTTPDate.format(epochSeconds: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }
}
