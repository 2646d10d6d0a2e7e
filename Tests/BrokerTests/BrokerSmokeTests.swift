import Testing
@testable import Broker

@Suite struct BrokerSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
