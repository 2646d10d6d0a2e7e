// Tests for interning, allocation-free lookup, CSV loading and the generated universe.
import Testing
import Wire

@testable import Broker

@Suite struct SymbolUniverseTests {
    @Test func generatedNamesAndIds() throws {
        let u = SymbolUniverse.generated(count: 12_000)
        #expect(u.count == 12_000)
        #expect(u.name(of: 0) == "S0000")
        #expect(u.name(of: 42) == "S0042")
        #expect(u.name(of: 11_999) == "S11999")
        #expect(u.id(of: "S0042") == 42)
        #expect(u.id(of: "S11999") == 11_999)
        #expect(u.id(of: "S12000") == nil)
        #expect(u.id(of: "") == nil)
        for i in stride(from: 0, to: 12_000, by: 97) {
            #expect(u.id(of: u.name(of: Int32(i))) == Int32(i))
        }
        #expect(!u.companyName(of: 3).isEmpty)
    }

    @Test func lookupFromBufferBytes() {
        let u = SymbolUniverse.generated(count: 100)
        var buf = ByteBuffer(string: "xxS0007yy")
        buf.moveReaderIndex(forwardBy: 2)
        #expect(u.id(buffer: buf.slice(length: 5)) == 7)
        #expect(u.id(buffer: buf.slice(length: 4)) == nil)
        var out = ByteBuffer()
        u.writeName(of: 7, into: &out)
        #expect(out.readableString == "S0007")
    }

    @Test func csvWithBomQuotesFooterAndDuplicates() throws {
        let csv =
            "\u{FEFF}SYMBOL,NAME OF COMPANY\r\nM&M,Mahindra & Mahindra Limited\r\n"
            + "AAL,\"American Airlines Group, Inc. - Common Stock\"\r\nQ,\"Say \"\"hi\"\"\"\r\n\r\n"
            + "File Creation Time: 0731202621:31,\n,\n"
        let rows = try SymbolUniverse.parseCSV(Array(csv.utf8), source: "t")
        #expect(
            rows == [
                SymbolListing(symbol: "M&M", companyName: "Mahindra & Mahindra Limited"),
                SymbolListing(symbol: "AAL", companyName: "American Airlines Group, Inc. - Common Stock"),
                SymbolListing(symbol: "Q", companyName: "Say \"hi\""),
            ])
        let u = try SymbolUniverse(listings: rows + [SymbolListing(symbol: "AAL", companyName: "dup")])
        #expect(u.count == 3)
        #expect(u.duplicatesSkipped == 1)
        #expect(u.companyName(of: u.id(of: "AAL")!) == "American Airlines Group, Inc. - Common Stock")
    }

    @Test func csvErrors() {
        #expect(throws: SymbolUniverseError.unterminatedQuote(source: "t", line: 2)) {
            try SymbolUniverse.parseCSV(Array("Symbol,Name\nA,\"open\n".utf8), source: "t")
        }
        #expect(throws: SymbolUniverseError.invalidSymbol(source: "t", line: 2)) {
            try SymbolUniverse.parseCSV(Array("Symbol,Name\nA B,x\n".utf8), source: "t")
        }
        #expect(throws: SymbolUniverseError.empty) { try SymbolUniverse(listings: []) }
    }

    @Test func loadsProjectListings() throws {
        let (u, source) = try SymbolUniverse.loadOrGenerate()
        guard case .files(let files) = source else {
            Issue.record("project listings not found from the test's working directory")
            return
        }
        #expect(files.count == 2)
        #expect(u.count > 7_000)
        #expect(u.duplicatesSkipped == 13)  // 12 on both lists + NSE lists TARAJEWELS twice
        #expect(u.id(of: "RELIANCE") != nil)
        #expect(u.id(of: "AAPL") != nil)
        #expect(u.id(of: "BAJAJ-AUTO") != nil)
        #expect(u.id(of: "M&M") != nil)
        #expect(u.id(of: "Symbol") == nil && u.id(of: "SYMBOL") == nil)
        #expect(u.companyName(of: u.id(of: "AAPL")!).hasPrefix("Apple Inc."))
        #expect(u.name(of: 0) == "20MICRONS")  // BOM stripped from the NSE header, first row is id 0
    }

    @Test func missingConfiguredFileThrowsButDefaultFallsBack() throws {
        #expect(throws: SymbolUniverseError.unreadable(path: "/nonexistent/x.csv")) {
            try SymbolUniverse.loadOrGenerate(files: ["/nonexistent/x.csv"])
        }
        let (u, source) = try SymbolUniverse.loadOrGenerate(files: [], fallbackCount: 50)
        #expect(source == .generated(count: 50))
        #expect(u.count == 50)
    }

    @Test func resolvesRelativeToTheExecutable() throws {
        let (_, source) = try SymbolUniverse.loadOrGenerate()
        guard case .files(let files) = source, let first = files.first else { return }
        // The test runs from the package root; pretend the binary sits three directories deeper.
        let root = first.hasPrefix("/") ? String(first.dropLast(SymbolUniverse.defaultFiles[0].count)) : ""
        let fakeExe = root + "Sources/Broker/Resources/a/b/c/broker"
        #expect(SymbolUniverse.resolve(path: "Resources/README.md", executablePath: fakeExe) != nil)
        #expect(SymbolUniverse.resolve(path: "Resources/nothing.csv", executablePath: fakeExe) == nil)
        #expect(SymbolUniverse.resolve(path: "/etc/hostname-not-here", executablePath: fakeExe) == nil)
    }

    @Test func fingerprintDistinguishesUniverses() {
        #expect(SymbolUniverse.generated(count: 10).fingerprint == SymbolUniverse.generated(count: 10).fingerprint)
        #expect(SymbolUniverse.generated(count: 10).fingerprint != SymbolUniverse.generated(count: 11).fingerprint)
    }
}
