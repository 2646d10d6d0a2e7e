import Testing
@testable import WebSocket

@Suite struct WebSocketSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
