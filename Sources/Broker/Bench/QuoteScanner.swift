// QuoteScanner: what the load harness does with each received text message: count the quotes in
// it (a `quote` or a `quotes` batch) and the latency of each (receive time - `ts`), without
// decoding JSON. Quote objects are the only place the server writes `"ts":`.

/// Counts quotes and records latencies from server messages.
public enum QuoteScanner {
    /// Calls `body(ts)` for every quote in `payload`; returns how many it found.
    @inlinable
    @discardableResult
    public static func scan(_ payload: UnsafeRawBufferPointer, _ body: (UInt64) -> Void) -> Int {
        var found = 0
        let n = payload.count
        var i = 0
        // `"ts":` is 5 bytes: " t s " :
        while i + 5 < n {
            if payload[i] == 0x22 && payload[i + 1] == 0x74 && payload[i + 2] == 0x73 && payload[i + 3] == 0x22
                && payload[i + 4] == 0x3A
            {
                var j = i + 5
                var v: UInt64 = 0
                while j < n {
                    let d = payload[j] &- 0x30
                    if d > 9 { break }
                    v = v &* 10 &+ UInt64(d)
                    j += 1
                }
                body(v)
                found += 1
                i = j
            } else {
                i += 1
            }
        }
        return found
    }
}
