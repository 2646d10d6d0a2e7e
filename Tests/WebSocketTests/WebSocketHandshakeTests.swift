// Opening handshake (RFC 6455 §4): server validation and answers, client request and checks.
import Testing
import Wire
@testable import WebSocket

@Suite struct WebSocketHandshakeTests {
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="  // §1.3

    func head(_ text: String) throws -> HTTPRequestHead {
        var parser = HTTPRequestParser()
        let bytes = Array(text.utf8)
        let result = try bytes.withUnsafeBytes { try parser.parse($0) }
        guard case .request(let h, _, _) = result else { throw WebSocketHandshakeError.noResponse }
        return h
    }

    func request(_ lines: [String], method: String = "GET", version: String = "HTTP/1.1") -> String {
        "\(method) /ws?token=abc HTTP/\(version.dropFirst(5))\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    }

    var good: [String] {
        ["Host: example.com", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: \(Self.sampleKey)", "Sec-WebSocket-Version: 13"]
    }

    func validate(_ lines: [String], _ c: WebSocketHandshakeConfiguration = .init(), method: String = "GET",
                  version: String = "HTTP/1.1") throws -> WebSocketHandshakeResult {
        try WebSocketServerHandshake.validate(try head(request(lines, method: method, version: version)),
                                              configuration: c)
    }

    func error(_ lines: [String], _ c: WebSocketHandshakeConfiguration = .init(), method: String = "GET",
               version: String = "HTTP/1.1") -> WebSocketHandshakeError? {
        do {
            _ = try validate(lines, c, method: method, version: version)
            return nil
        } catch let e as WebSocketHandshakeError {
            return e
        } catch {
            return .noResponse
        }
    }

    @Test func rfcAcceptValue() {
        #expect(WebSocketServerHandshake.acceptValue(forKey: Self.sampleKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func validRequestAccepted() throws {
        let r = try validate(good)
        #expect(r == WebSocketHandshakeResult(subprotocol: nil, deflate: nil))
        let response = WebSocketServerHandshake.response(to: try head(request(good)), result: r).readableString
        #expect(response == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    }

    @Test func tokensAreCaseInsensitiveCommaLists() {
        var lines = good
        lines[1] = "Upgrade: WebSocket"
        lines[2] = "Connection: keep-alive, UPGRADE"
        #expect(error(lines) == nil)
    }

    @Test func eachRequirementEnforced() {
        #expect(error(good, method: "POST") == .methodNotGet)
        #expect(error(good.filter { !$0.hasPrefix("Upgrade") }) == .missingUpgrade)
        #expect(error(good.map { $0.hasPrefix("Upgrade") ? "Upgrade: h2c" : $0 }) == .missingUpgrade)
        #expect(error(good.filter { !$0.hasPrefix("Connection") }) == .missingConnectionUpgrade)
        #expect(error(good.map { $0.hasPrefix("Connection") ? "Connection: keep-alive" : $0 })
                == .missingConnectionUpgrade)
        #expect(error(good.filter { !$0.hasPrefix("Sec-WebSocket-Key") }) == .invalidKey)
        #expect(error(good.map { $0.hasPrefix("Sec-WebSocket-Key") ? "Sec-WebSocket-Key: c2hvcnQ=" : $0 })
                == .invalidKey)  // base64 of 5 bytes
        #expect(error(good.map { $0.hasPrefix("Sec-WebSocket-Key") ? "Sec-WebSocket-Key: !!!!" : $0 }) == .invalidKey)
    }

    @Test func http10Refused() {
        #expect(error(good, version: "HTTP/1.0") == .httpVersionTooOld)
    }

    @Test func wrongVersionGets426WithSupportedVersion() {
        let lines = good.map { $0.hasPrefix("Sec-WebSocket-Version") ? "Sec-WebSocket-Version: 8" : $0 }
        #expect(error(lines) == .unsupportedVersion)
        let text = WebSocketServerHandshake.rejection(for: .unsupportedVersion).readableString
        #expect(text.hasPrefix("HTTP/1.1 426 "))
        #expect(text.contains("Sec-WebSocket-Version: 13\r\n"))
    }

    @Test func badRequestAnswerCarriesReason() {
        let text = WebSocketServerHandshake.rejection(for: .invalidKey).readableString
        #expect(text.hasPrefix("HTTP/1.1 400 "))
        #expect(text.contains("Connection: close"))
        #expect(text.hasSuffix("Sec-WebSocket-Key must be base64 of 16 bytes\n"))
    }

    @Test func originAllowList() {
        let c = WebSocketHandshakeConfiguration(allowedOrigins: ["https://app.example.com"])
        #expect(error(good, c) == .originNotAllowed)
        #expect(error(good + ["Origin: https://evil.example"], c) == .originNotAllowed)
        #expect(error(good + ["Origin: https://APP.example.com"], c) == nil)
        #expect(WebSocketHandshakeError.originNotAllowed.status == .forbidden)
    }

    @Test func subprotocolChosenByServerPreference() throws {
        let c = WebSocketHandshakeConfiguration(subprotocols: ["quotes.v2", "quotes.v1"])
        #expect(try validate(good + ["Sec-WebSocket-Protocol: quotes.v1, quotes.v2"], c).subprotocol == "quotes.v2")
        #expect(try validate(good + ["Sec-WebSocket-Protocol: other"], c).subprotocol == nil)
        #expect(try validate(good + ["Sec-WebSocket-Protocol: quotes.v1"]).subprotocol == nil)  // none configured
    }

    @Test func deflateNegotiatedOnlyWhenConfigured() throws {
        let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
        #expect(try validate(good + [offer]).deflate == nil)
        let r = try validate(good + [offer], .init(deflate: .init()))
        #expect(r.deflate?.serverNoContextTakeover == true)
        let text = WebSocketServerHandshake.response(key: Self.sampleKey, result: r).readableString
        #expect(text.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                              + "client_no_context_takeover\r\n"))
    }

    // MARK: Client

    func response(_ lines: [String], status: String = "101 Switching Protocols") throws -> WebSocketResponseHead {
        let text = "HTTP/1.1 \(status)\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
        let bytes = Array(text.utf8)
        guard let (h, used) = try bytes.withUnsafeBytes({ try WebSocketResponseHead.parse($0) }) else {
            throw WebSocketHandshakeError.noResponse
        }
        #expect(used == bytes.count)
        return h
    }

    var client: WebSocketClientHandshake {
        WebSocketClientHandshake(host: "h:1", target: "/echo", origin: nil, subprotocols: ["p1"],
                                 deflate: .init(serverNoContextTakeover: false, clientNoContextTakeover: false),
                                 key: Self.sampleKey)
    }

    var goodResponse: [String] {
        ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]
    }

    @Test func clientRequestShape() {
        let text = client.request().readableString
        #expect(text.hasPrefix("GET /echo HTTP/1.1\r\nHost: h:1\r\n"))
        #expect(text.contains("Sec-WebSocket-Key: \(Self.sampleKey)\r\n"))
        #expect(text.contains("Sec-WebSocket-Version: 13\r\n"))
        #expect(text.contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
        let fresh = WebSocketClientHandshake(host: "h")
        #expect(WebSocketBase64.decode(fresh.key)?.count == 16)
    }

    @Test func clientAcceptsGoodResponse() throws {
        let r = try client.validate(try response(goodResponse + ["Sec-WebSocket-Protocol: p1",
                                                                 "Sec-WebSocket-Extensions: permessage-deflate"]))
        #expect(r.subprotocol == "p1" && r.deflate != nil)
    }

    @Test func clientRejectsBadResponses() throws {
        #expect(throws: WebSocketHandshakeError.unexpectedStatus(200)) {
            try client.validate(try response(goodResponse, status: "200 OK"))
        }
        #expect(throws: WebSocketHandshakeError.invalidAccept) {
            try client.validate(try response(Array(goodResponse.dropLast()) + ["Sec-WebSocket-Accept: x"]))
        }
        #expect(throws: WebSocketHandshakeError.invalidSubprotocol) {
            try client.validate(try response(goodResponse + ["Sec-WebSocket-Protocol: p2"]))
        }
        #expect(throws: WebSocketHandshakeError.invalidExtensions) {
            try client.validate(try response(goodResponse + ["Sec-WebSocket-Extensions: x-foo"]))
        }
    }

    @Test func responseHeadLimits() throws {
        let big = "HTTP/1.1 101 OK\r\n" + String(repeating: "X-A: b\r\n", count: 100) + "\r\n"
        #expect(throws: WebSocketHTTPParseError.headTooLarge) {
            _ = try Array(big.utf8).withUnsafeBytes { try WebSocketResponseHead.parse($0) }
        }
        let partial = Array("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n".utf8)
        let parsed = try partial.withUnsafeBytes { try WebSocketResponseHead.parse($0) }
        #expect(parsed == nil)
    }

    @Test func base64RoundTripAndStrictness() {
        for n in 0..<20 {
            let bytes = (0..<n).map { UInt8($0 * 13) }
            #expect(WebSocketBase64.decode(WebSocketBase64.encode(bytes)) == bytes)
        }
        #expect(WebSocketBase64.decode("abc") == nil)
        #expect(WebSocketBase64.decode("ab=c") == nil)
        #expect(WebSocketBase64.decode("QR==") == nil)  // non-zero padding bits
    }
}
