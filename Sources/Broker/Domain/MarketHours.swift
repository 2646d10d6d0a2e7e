// Trading hours from config: a daily open/close in a fixed UTC offset on chosen weekdays.
//
// Owns: deciding "is the market open at ns-since-epoch t" with integer calendar arithmetic
// (1970-01-01 was a Thursday). No time-zone database: exchanges we simulate publish their hours
// in a fixed offset (NSE 09:15-15:30 +05:30; NASDAQ 09:30-16:00 -05:00/-04:00 is two configs).
// Holidays are out of scope.

/// Market hours.
public struct MarketHours: Sendable, Equatable {
    /// Minute of the local day the market opens (inclusive).
    public let openMinute: Int
    /// Minute of the local day the market closes (exclusive).
    public let closeMinute: Int
    /// Local time = UTC + this many minutes.
    public let utcOffsetMinutes: Int
    /// Trading weekdays as a bit set, bit 0 = Sunday ... bit 6 = Saturday.
    public let weekdays: UInt8
    /// Open around the clock (the demo default).
    public let alwaysOpen: Bool

    /// Monday to Friday.
    public static let weekdaysMonFri: UInt8 = 0b0111110

    /// Around the clock, every day.
    public static let alwaysOpen = MarketHours(unchecked: 0, 1_440, 0, 0x7F, true)

    private init(unchecked open: Int, _ close: Int, _ offset: Int, _ days: UInt8, _ always: Bool) {
        openMinute = open
        closeMinute = close
        utcOffsetMinutes = offset
        weekdays = days
        alwaysOpen = always
    }

    /// Creates hours from "HH:MM" strings, e.g. `MarketHours(open: "09:15", close: "15:30", utcOffset: "+05:30")`.
    /// - Throws: `RiskConfigurationError` for malformed times or open >= close.
    public init(
        open: String, close: String, utcOffset: String = "+00:00",
        weekdays: UInt8 = MarketHours.weekdaysMonFri
    ) throws(RiskConfigurationError) {
        guard let o = Self.minutes(open), o < 1_440 else { throw .init(key: "market_open", reason: "expected HH:MM") }
        guard let c = Self.minutes(close), c <= 1_440 else {
            throw .init(key: "market_close", reason: "expected HH:MM")
        }
        guard o < c else { throw .init(key: "market_close", reason: "must be after market_open") }
        var off = utcOffset
        let sign: Int
        switch off.first {
        case "+":
            sign = 1
            off.removeFirst()
        case "-":
            sign = -1
            off.removeFirst()
        default: throw .init(key: "market_utc_offset", reason: "expected +HH:MM or -HH:MM")
        }
        guard let m = Self.minutes(off), m <= 14 * 60 else {
            throw .init(key: "market_utc_offset", reason: "expected +HH:MM or -HH:MM")
        }
        guard weekdays & 0x7F != 0 else { throw .init(key: "market_days", reason: "no trading day") }
        self.init(unchecked: o, c, sign * m, weekdays & 0x7F, false)
    }

    private static func minutes(_ s: String) -> Int? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
            let h = Int(parts[0]), let m = Int(parts[1]), h >= 0, h <= 24, m >= 0, m < 60
        else { return nil }
        return h * 60 + m
    }

    /// Whether the market is open at `nanosSinceEpoch` (wall clock, UTC).
    public func isOpen(nanosSinceEpoch t: UInt64) -> Bool {
        if alwaysOpen { return true }
        let localMinutes = Int64(t / 60_000_000_000) + Int64(utcOffsetMinutes)
        let day = localMinutes >= 0 ? localMinutes / 1_440 : (localMinutes - 1_439) / 1_440
        let minute = Int(localMinutes - day * 1_440)
        let weekday = Int(((day + 4) % 7 + 7) % 7)  // 1970-01-01 (day 0) was a Thursday (4)
        guard weekdays & (1 << weekday) != 0 else { return false }
        return minute >= openMinute && minute < closeMinute
    }
}
