// Decimal strings <-> fixed-point Int64, and cash values of trades.
//
// Owns: strict parsing of REST/config/event decimals ("2450.50" -> 245050 at scale 2), formatting
// back, and the one rounding rule that turns price x quantity into cash. Leaves the choice of
// scale to callers: prices use `priceScale` (1e-4 units), cash uses `moneyScale` (minor units).
// Never Double: every value is an exact integer count of the smallest unit.
import Wire

/// Why a decimal string was refused. `code` is the stable string sent to clients.
public enum DecimalParseError: Error, Equatable, Sendable {
    /// Nothing to parse.
    case empty
    /// A leading '-' where only non-negative amounts are accepted.
    case negative
    /// 'e' or 'E': exponents are never accepted ("1e3" is not money).
    case exponent
    /// Any byte that is not a digit or the single '.' (spaces, '+', ',', a second '.').
    case invalidCharacter(offset: Int)
    /// A '.' without digits on both sides (".5", "5.", ".").
    case missingDigits
    /// More fraction digits than the scale allows ("1.005" as cash).
    case tooManyFractionDigits
    /// More integer digits than allowed, which also guards against Int64 overflow.
    case tooManyIntegerDigits

    /// Stable machine-readable code for error bodies.
    public var code: String {
        switch self {
        case .empty: "empty_decimal"
        case .negative: "negative_amount"
        case .exponent, .invalidCharacter, .missingDigits: "malformed_decimal"
        case .tooManyFractionDigits: "too_many_decimals"
        case .tooManyIntegerDigits: "amount_too_large"
        }
    }
}

/// Rounding of a cash value that is not a whole number of minor units.
public enum CashRounding: Sendable {
    /// Toward +infinity: used for reservations, so a reservation always covers the fills it allows.
    case up
    /// Half away from zero: used for trade settlement; both counterparties use the same value,
    /// so money is conserved exactly.
    case halfUp
}

/// Fixed-point decimal helpers. Prices are Int64 in 1e-4 units, cash Int64 in minor units (1e-2).
public enum FixedPointDecimal {
    /// Fraction digits of a price: 24507500 means 2450.75.
    public static let priceScale = 4
    /// Fraction digits of cash: 245075 means 2450.75.
    public static let moneyScale = 2
    /// One whole currency unit in price units.
    public static let priceUnit: Int64 = 10_000
    /// One whole currency unit in cash units.
    public static let moneyUnit: Int64 = 100
    /// Default bound on integer digits: 10^12 - 1 currency units is far beyond any real order and
    /// keeps 12 + 4 digits well inside Int64 (18 digits).
    public static let defaultMaxIntegerDigits = 12

    /// Parses a strict decimal: digits, optionally one '.' followed by 1...`scale` digits.
    /// No sign (unless `allowNegative`), no exponent, no spaces, no '+', no grouping.
    ///
    /// - Parameters:
    ///   - bytes: ASCII bytes, e.g. a JSON string's content.
    ///   - scale: fraction digits of the result unit (4 for prices, 2 for cash).
    ///   - maxIntegerDigits: integer digits allowed (leading zeros count).
    ///   - allowNegative: accept one leading '-'.
    /// - Returns: the value in units of 10^-scale.
    /// - Throws: `DecimalParseError` naming the first problem.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, scale: Int, maxIntegerDigits: Int = defaultMaxIntegerDigits,
        allowNegative: Bool = false
    ) throws(DecimalParseError) -> Int64 {
        precondition(scale >= 0 && scale <= 8 && maxIntegerDigits >= 1 && maxIntegerDigits + scale <= 18)
        let n = bytes.count
        guard n > 0 else { throw .empty }
        var i = 0
        var negative = false
        if bytes[0] == UInt8(ascii: "-") {
            guard allowNegative else { throw .negative }
            negative = true
            i = 1
            guard n > 1 else { throw .missingDigits }
        }
        var value: Int64 = 0
        var intDigits = 0
        var fracDigits = 0
        var sawDot = false
        while i < n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if sawDot {
                    fracDigits += 1
                    if fracDigits > scale { throw .tooManyFractionDigits }
                } else {
                    intDigits += 1
                    if intDigits > maxIntegerDigits { throw .tooManyIntegerDigits }
                }
                // Cannot overflow: at most 18 digits in total (checked above).
                value = value * 10 + Int64(b &- UInt8(ascii: "0"))
            case UInt8(ascii: "."):
                if sawDot { throw .invalidCharacter(offset: i) }
                if intDigits == 0 { throw .missingDigits }
                sawDot = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                throw .exponent
            default:
                throw .invalidCharacter(offset: i)
            }
            i += 1
        }
        if intDigits == 0 || (sawDot && fracDigits == 0) { throw .missingDigits }
        for _ in fracDigits..<scale { value *= 10 }
        return negative ? -value : value
    }

    /// Parses a strict decimal from a string; see `parse(_:scale:maxIntegerDigits:allowNegative:)`.
    public static func parse(
        _ string: String, scale: Int, maxIntegerDigits: Int = defaultMaxIntegerDigits, allowNegative: Bool = false
    ) throws(DecimalParseError) -> Int64 {
        var s = string
        let result: Result<Int64, DecimalParseError> = s.withUTF8 { utf8 in
            do throws(DecimalParseError) {
                return .success(
                    try parse(
                        UnsafeRawBufferPointer(utf8), scale: scale,
                        maxIntegerDigits: maxIntegerDigits, allowNegative: allowNegative))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses a price ("2450.75" -> 24507500).
    public static func parsePrice(_ string: String) throws(DecimalParseError) -> Int64 {
        try parse(string, scale: priceScale)
    }

    /// Parses a cash amount ("10000.00" -> 1000000).
    public static func parseMoney(_ string: String) throws(DecimalParseError) -> Int64 {
        try parse(string, scale: moneyScale)
    }

    /// Formats `value / 10^scale` with trailing fraction zeros trimmed down to `minFraction` digits.
    /// Cold-path convenience; hot paths use `ByteBuffer.writeFixedPoint` directly.
    public static func format(_ value: Int64, scale: Int, minFraction: Int) -> String {
        var buffer = ByteBuffer(capacity: 32)
        buffer.writeFixedPoint(value, scale: scale, minFraction: minFraction)
        return buffer.readableString
    }

    /// Formats a price with at least two fraction digits ("2450.75", "0.0005").
    public static func formatPrice(_ price: Int64) -> String { format(price, scale: priceScale, minFraction: 2) }

    /// Formats cash with exactly two fraction digits ("10000.00").
    public static func formatMoney(_ cash: Int64) -> String { format(cash, scale: moneyScale, minFraction: 2) }

    /// Cash value (minor units) of `qty` at `price` (1e-4 units), or nil on overflow.
    /// Price x qty is in 1e-4 currency units; dividing by 100 gives minor units with `rounding`.
    public static func cashValue(price: Int64, qty: Int64, rounding: CashRounding) -> Int64? {
        precondition(price >= 0 && qty >= 0, "cash values are computed on magnitudes")
        let (product, overflow) = price.multipliedReportingOverflow(by: qty)
        guard !overflow else { return nil }
        let whole = product / 100
        let rest = product % 100
        switch rounding {
        case .up: return rest > 0 ? whole + 1 : whole
        case .halfUp: return rest >= 50 ? whole + 1 : whole
        }
    }
}
