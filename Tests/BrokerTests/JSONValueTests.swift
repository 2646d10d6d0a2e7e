import Testing
@testable import Broker

@Suite struct JSONValueTests {
    @Test func parsesTheSubscribeMessage() throws {
        let v = try JSONParser.parse(#" {"action":"subscribe","symbols":["RELIANCE","M&M"]} "#)
        #expect(v["action"]?.stringValue == "subscribe")
        #expect(v["symbols"]?.arrayValue?.compactMap(\.stringValue) == ["RELIANCE", "M&M"])
    }

    @Test func keepsNumberTextExact() throws {
        let v = try JSONParser.parse(#"{"amount":"10.00","qty":10,"price":2450.50,"e":-1.5e3}"#)
        #expect(v["price"]?.numberText == "2450.50")
        #expect(v["qty"]?.intValue == 10)
        #expect(v["e"]?.numberText == "-1.5e3")
    }

    @Test func decodesEscapesAndSurrogates() throws {
        let v = try JSONParser.parse(#"["a\"b\\c\n", "\u00e9\ud83d\ude00"]"#)
        #expect(v == .array([.string("a\"b\\c\n"), .string("é😀")]))
        #expect(v.text == #"["a\"b\\c\n","é😀"]"#)
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\\x\"", "\"\u{01}\"", "{\"a\":1}x",
        "{\"a\":1,\"a\":2}", "\"\\ud800\"", "tru", "[" + String(repeating: "[", count: 40) + String(repeating: "]", count: 41),
    ])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func escapesControlCharactersWhenWriting() {
        #expect(JSONValue.string("a\u{01}\t").text == #""a\u0001\t""#)
    }
}
