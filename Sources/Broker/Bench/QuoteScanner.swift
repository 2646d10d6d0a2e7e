// QuoteScanner: what the load harness does with each received text message: find the quotes in
// it (a `quote` or a `quotes` batch) with their `ts`, `seq` and symbol, without decoding JSON.
// Quote objects are flat and the only objects the server writes with `"ts":`; a quote ends at its
// closing brace.

/// One quote as the harness sees it.
public struct ScannedQuote: Equatable, Sendable {
    /// `ts` (realtime ns at the feed).
    public var ts: UInt64 = 0
    /// `seq` (per symbol, +1 per update); 0 when absent.
    public var seq: UInt64 = 0
    /// `QuoteScanner.symbolHash` of the symbol's name; 0 when absent.
    public var symbolHash: UInt64 = 0
}

/// Counts quotes and reads their timestamps, sequence numbers and symbols from server messages.
public enum QuoteScanner {
    /// FNV-1a of a symbol name's bytes: the key the harness looks symbols up by.
    public static func symbolHash(_ name: String) -> UInt64 {
        var h = fnvOffset
        for b in name.utf8 { fnv(&h, b) }
        return h
    }

    private static let fnvOffset: UInt64 = 0xcbf2_9ce4_8422_2325

    @inline(__always)
    private static func fnv(_ h: inout UInt64, _ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }

    private static func number(_ p: UnsafeRawBufferPointer, from start: Int) -> (UInt64, Int) {
        var j = start
        var v: UInt64 = 0
        while j < p.count {
            let d = p[j] &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ UInt64(d)
            j += 1
        }
        return (v, j)
    }

    /// Calls `body` for every quote in `payload` (an object with `"ts":`, reported at its closing
    /// brace); returns how many it found.
    @discardableResult
    public static func scanQuotes(_ p: UnsafeRawBufferPointer, _ body: (ScannedQuote) -> Void) -> Int {
        var found = 0
        let n = p.count
        var i = 0
        var q = ScannedQuote()
        var hasTs = false
        while i < n {
            let b = p[i]
            if b == 0x7D {  // }
                if hasTs {
                    body(q)
                    found += 1
                    hasTs = false
                    q = ScannedQuote()
                }
                i += 1
            } else if b == 0x22 {  // "
                if i + 4 < n && p[i + 1] == 0x74 && p[i + 2] == 0x73 && p[i + 3] == 0x22 && p[i + 4] == 0x3A {  // "ts":
                    (q.ts, i) = number(p, from: i + 5)
                    hasTs = true
                } else if i + 5 < n && p[i + 1] == 0x73 && p[i + 2] == 0x65 && p[i + 3] == 0x71 && p[i + 4] == 0x22
                    && p[i + 5] == 0x3A
                {  // "seq":
                    (q.seq, i) = number(p, from: i + 6)
                } else if i + 9 < n && p[i + 1] == 0x73 && p[i + 2] == 0x79 && p[i + 3] == 0x6D && p[i + 4] == 0x62
                    && p[i + 5] == 0x6F && p[i + 6] == 0x6C && p[i + 7] == 0x22 && p[i + 8] == 0x3A && p[i + 9] == 0x22
                {  // "symbol":"
                    var h = fnvOffset
                    var j = i + 10
                    while j < n && p[j] != 0x22 {
                        fnv(&h, p[j])
                        j += 1
                    }
                    q.symbolHash = h
                    i = j + 1
                } else {
                    i += 1
                }
            } else {
                i += 1
            }
        }
        return found
    }

    /// Calls `body(ts)` for every quote in `payload`; returns how many it found.
    @discardableResult
    public static func scan(_ payload: UnsafeRawBufferPointer, _ body: (UInt64) -> Void) -> Int {
        scanQuotes(payload) { body($0.ts) }
    }
}
