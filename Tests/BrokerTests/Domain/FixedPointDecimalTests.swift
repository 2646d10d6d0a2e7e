// Tests for strict decimal parsing/formatting and the cash rounding rule.
import Testing

@testable import Broker

@Suite struct FixedPointDecimalTests {
    @Test func parsesPricesAndMoney() throws {
        #expect(try FixedPointDecimal.parsePrice("2450.75") == 24_507_500)
        #expect(try FixedPointDecimal.parsePrice("2450") == 24_500_000)
        #expect(try FixedPointDecimal.parsePrice("0.0001") == 1)
        #expect(try FixedPointDecimal.parseMoney("10000.00") == 1_000_000)
        #expect(try FixedPointDecimal.parseMoney("10000.5") == 1_000_050)
        #expect(try FixedPointDecimal.parseMoney("0") == 0)
        #expect(try FixedPointDecimal.parse("-12.5", scale: 2, allowNegative: true) == -1250)
    }

    @Test func rejectsMalformedInput() {
        let cases: [(String, DecimalParseError)] = [
            ("", .empty), ("-1.00", .negative), ("1e3", .exponent), ("1E3", .exponent),
            ("+1", .invalidCharacter(offset: 0)), (" 1", .invalidCharacter(offset: 0)),
            ("1,000.00", .invalidCharacter(offset: 1)), ("1.2.3", .invalidCharacter(offset: 3)),
            ("abc", .invalidCharacter(offset: 0)), (".5", .missingDigits), ("5.", .missingDigits),
            (".", .missingDigits), ("1.005", .tooManyFractionDigits),
            ("1234567890123", .tooManyIntegerDigits), ("99999999999999999999", .tooManyIntegerDigits),
        ]
        for (input, expected) in cases {
            #expect(throws: expected, "\(input)") { try FixedPointDecimal.parseMoney(input) }
        }
        #expect(throws: DecimalParseError.missingDigits) {
            try FixedPointDecimal.parse("-", scale: 2, allowNegative: true)
        }
        #expect(DecimalParseError.tooManyIntegerDigits.code == "amount_too_large")
        #expect(DecimalParseError.exponent.code == "malformed_decimal")
    }

    @Test func maxDigitsFitInt64() throws {
        let v = try FixedPointDecimal.parse("999999999999.9999", scale: 4)
        #expect(v == 9_999_999_999_999_999)
    }

    @Test func formatsAndRoundTrips() throws {
        #expect(FixedPointDecimal.formatPrice(24_507_500) == "2450.75")
        #expect(FixedPointDecimal.formatPrice(24_505_000) == "2450.50")
        #expect(FixedPointDecimal.formatPrice(5) == "0.0005")
        #expect(FixedPointDecimal.formatMoney(1_000_000) == "10000.00")
        #expect(FixedPointDecimal.formatMoney(-1_250) == "-12.50")
        for v: Int64 in [0, 1, 99, 100, 12_345, 9_999_999_999_999] {
            #expect(try FixedPointDecimal.parseMoney(FixedPointDecimal.formatMoney(v)) == v)
            #expect(try FixedPointDecimal.parsePrice(FixedPointDecimal.formatPrice(v)) == v)
        }
    }

    @Test func cashValueRounding() {
        // 2450.1234 x 1 = 2450.1234 currency = 245012.34 cents
        #expect(FixedPointDecimal.cashValue(price: 24_501_234, qty: 1, rounding: .halfUp) == 245_012)
        #expect(FixedPointDecimal.cashValue(price: 24_501_234, qty: 1, rounding: .up) == 245_013)
        #expect(FixedPointDecimal.cashValue(price: 24_501_250, qty: 1, rounding: .halfUp) == 245_013)
        #expect(FixedPointDecimal.cashValue(price: 24_500_000, qty: 10, rounding: .up) == 2_450_000)
        #expect(FixedPointDecimal.cashValue(price: Int64.max / 2, qty: 3, rounding: .up) == nil)
    }
}
