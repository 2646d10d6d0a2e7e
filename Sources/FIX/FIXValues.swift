// Value types of FIX fields: integers, fixed-point prices, UTCTimestamp.
//
// Owns: allocation-free parsing of field values from raw bytes and formatting of timestamps.
// Prices are Int64 scaled by 1e-4 (DESIGN.md: never Double for money). Timestamps are
// nanoseconds since the Unix epoch, UTC (FIX 4.4 Vol. 1 "UTCTimestamp"; FIX 5.0 SP2 EP
// extended the fraction to micro- and nanoseconds, which we accept and can emit).

public import Wire

/// Fixed-point scale of prices: value = units * 10^-4.
public let fixPriceScale: Int64 = 10_000

/// A wall-clock instant in nanoseconds since 1970-01-01T00:00:00Z. Also the session's clock.
public struct FIXTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the Unix epoch, UTC.
    public var nanoseconds: Int64

    /// Wraps a nanosecond count.
    @inlinable public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// `n` seconds after the epoch (handy for tests: `now: .seconds(31)`).
    @inlinable public static func seconds(_ n: Int64) -> FIXTimestamp { FIXTimestamp(nanoseconds: n * 1_000_000_000) }
    /// `n` milliseconds after the epoch.
    @inlinable public static func milliseconds(_ n: Int64) -> FIXTimestamp { FIXTimestamp(nanoseconds: n * 1_000_000) }

    /// This instant moved by `seconds`.
    @inlinable public func adding(seconds: Int64) -> FIXTimestamp {
        FIXTimestamp(nanoseconds: nanoseconds + seconds * 1_000_000_000)
    }
    /// This instant moved by `nanos`.
    @inlinable public func adding(nanoseconds nanos: Int64) -> FIXTimestamp {
        FIXTimestamp(nanoseconds: nanoseconds + nanos)
    }

    @inlinable public static func < (a: FIXTimestamp, b: FIXTimestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    public var description: String {
        var b = ByteBuffer(capacity: 32)
        b.writeFIXTimestamp(self, precision: .nanoseconds)
        return b.readableString
    }
}

/// Fraction digits written in UTCTimestamp fields (QuickFIX `TimestampPrecision`).
public enum FIXTimestampPrecision: Int, Sendable {
    case seconds = 0
    case milliseconds = 3
    case microseconds = 6
    case nanoseconds = 9
}

/// Allocation-free decoders for FIX value types. Each returns nil when the bytes are malformed.
public enum FIXValue {
    /// Parses a FIX `int` (optional leading '-', decimal digits, at most 18 of them).
    @inlinable public static func int(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var i = range.lowerBound
        let end = range.upperBound
        guard i < end else { return nil }
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        guard i < end, end - i <= 18 else { return nil }
        var v = 0
        while i < end {
            let d = Int(bytes[i]) &- 48
            guard d >= 0 && d <= 9 else { return nil }
            v = v &* 10 &+ d
            i += 1
        }
        return negative ? -v : v
    }

    /// Parses a FIX `Price`/`Qty`/`float` into an Int64 scaled by 10^`scale` (default 4).
    ///
    /// Digits beyond `scale` are accepted only when they are zeros: a price we cannot
    /// represent exactly is a data-format error, never silently rounded.
    @inlinable public static func fixedPoint(
        _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, scale: Int = 4
    ) -> Int64? {
        var i = range.lowerBound
        let end = range.upperBound
        guard i < end else { return nil }
        var negative = false
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var intPart: Int64 = 0
        var intDigits = 0
        while i < end {
            let d = Int64(bytes[i]) &- 48
            if d < 0 || d > 9 { break }
            intDigits += 1
            guard intDigits <= 14 else { return nil }  // keeps intPart * 10^4 far from overflow
            intPart = intPart &* 10 &+ d
            i += 1
        }
        var frac: Int64 = 0
        var fracDigits = 0
        if i < end {
            guard bytes[i] == UInt8(ascii: ".") else { return nil }
            i += 1
            while i < end {
                let d = Int64(bytes[i]) &- 48
                guard d >= 0 && d <= 9 else { return nil }
                if fracDigits < scale {
                    frac = frac &* 10 &+ d
                    fracDigits += 1
                } else if d != 0 {
                    return nil
                }
                i += 1
            }
        }
        guard intDigits > 0 || fracDigits > 0 else { return nil }
        var pow: Int64 = 1
        for _ in 0..<scale { pow &*= 10 }
        var fpow: Int64 = 1
        for _ in 0..<(scale - fracDigits) { fpow &*= 10 }
        let v = intPart &* pow &+ frac &* fpow
        return negative ? -v : v
    }

    /// Parses a UTCTimestamp `YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]`.
    @inlinable public static func timestamp(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> FIXTimestamp? {
        let s = range.lowerBound
        guard range.count >= 17, bytes[s + 8] == UInt8(ascii: "-"),
            let days = dateOnly(bytes, s..<(s + 8)), let nanos = timeOnly(bytes, (s + 9)..<range.upperBound)
        else { return nil }
        return FIXTimestamp(nanoseconds: days * 86_400_000_000_000 + nanos)
    }

    /// Parses a UTCDateOnly `YYYYMMDD` into days since the epoch.
    @inlinable public static func dateOnly(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        guard range.count == 8 else { return nil }
        var year: Int64 = 0
        var month: Int64 = 0
        var day: Int64 = 0
        for k in 0..<8 {
            let d = Int64(bytes[range.lowerBound + k]) &- 48
            guard d >= 0 && d <= 9 else { return nil }
            if k < 4 { year = year * 10 + d } else if k < 6 { month = month * 10 + d } else { day = day * 10 + d }
        }
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        return daysFromCivil(year: year, month: month, day: day)
    }

    /// Parses a UTCTimeOnly `HH:MM:SS[.sss|.ssssss|.sssssssss]` into nanoseconds of the day.
    @inlinable public static func timeOnly(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        let n = range.count
        guard n == 8 || n == 12 || n == 15 || n == 18 else { return nil }
        let s = range.lowerBound
        guard bytes[s + 2] == UInt8(ascii: ":"), bytes[s + 5] == UInt8(ascii: ":") else { return nil }
        @inline(__always) func two(_ at: Int) -> Int64? {
            let a = Int64(bytes[s + at]) &- 48
            let b = Int64(bytes[s + at + 1]) &- 48
            guard a >= 0 && a <= 9 && b >= 0 && b <= 9 else { return nil }
            return a * 10 + b
        }
        guard let h = two(0), let m = two(3), let sec = two(6), h < 24, m < 60, sec <= 60 else { return nil }
        var nanos: Int64 = 0
        if n > 8 {
            guard bytes[s + 8] == UInt8(ascii: ".") else { return nil }
            var f: Int64 = 0
            for k in 9..<n {
                let d = Int64(bytes[s + k]) &- 48
                guard d >= 0 && d <= 9 else { return nil }
                f = f * 10 + d
            }
            for _ in 0..<(9 - (n - 9)) { f *= 10 }
            nanos = f
        }
        return ((h * 60 + m) * 60 + sec) * 1_000_000_000 + nanos
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
    /// low-level date algorithms", days_from_civil).
    @inlinable public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01 (civil_from_days, same source).
    @inlinable public static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension ByteBuffer {
    /// Writes `ts` as a UTCTimestamp with `precision` fraction digits, without allocating.
    @inlinable public mutating func writeFIXTimestamp(_ ts: FIXTimestamp, precision: FIXTimestampPrecision) {
        writeFIXDate(ts)
        writeInteger(UInt8(ascii: "-"))
        writeFIXTimeOnly(ts, precision: precision)
    }

    /// Writes the UTCDateOnly `YYYYMMDD` of `ts`.
    @inlinable public mutating func writeFIXDate(_ ts: FIXTimestamp) {
        var days = ts.nanoseconds / 86_400_000_000_000
        if ts.nanoseconds % 86_400_000_000_000 < 0 { days -= 1 }
        let (y, m, d) = FIXValue.civilFromDays(days)
        _ = writeWithUnsafeMutableBytes(minimumWritableBytes: 8) { out in
            var v = y * 10_000 + m * 100 + d
            for k in (0..<8).reversed() {
                out[k] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
            }
            return 8
        }
    }

    /// Writes the UTCTimeOnly `HH:MM:SS[.fraction]` of `ts`.
    @inlinable public mutating func writeFIXTimeOnly(_ ts: FIXTimestamp, precision: FIXTimestampPrecision) {
        var nod = ts.nanoseconds % 86_400_000_000_000
        if nod < 0 { nod += 86_400_000_000_000 }
        let sod = nod / 1_000_000_000
        let sub = nod % 1_000_000_000
        let digits = precision.rawValue
        let count = 8 + (digits > 0 ? digits + 1 : 0)
        _ = writeWithUnsafeMutableBytes(minimumWritableBytes: count) { out in
            @inline(__always) func put(_ at: Int, _ value: Int64, _ width: Int) {
                var v = value
                var k = width
                while k > 0 {
                    k -= 1
                    out[at + k] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                    v /= 10
                }
            }
            put(0, sod / 3600, 2)
            out[2] = UInt8(ascii: ":")
            put(3, (sod / 60) % 60, 2)
            out[5] = UInt8(ascii: ":")
            put(6, sod % 60, 2)
            if digits > 0 {
                out[8] = UInt8(ascii: ".")
                var frac = sub
                for _ in 0..<(9 - digits) { frac /= 10 }
                put(9, frac, digits)
            }
            return count
        }
    }
}
