import Testing
@testable import FIX

@Suite struct FIXSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
