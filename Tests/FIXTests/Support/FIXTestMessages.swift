// Test rig: building FIX messages from readable `|`-separated text and reading them back.
import FIX
import Wire

/// Bytes of `text` with `|` turned into SOH (no header or trailer added).
func soh(_ text: String) -> [UInt8] {
    Array(text.utf8).map { $0 == UInt8(ascii: "|") ? 0x01 : $0 }
}

/// A complete FIX 4.4 message around `body` (which starts at 35=): BodyLength and CheckSum computed.
func fixMessage(
    _ body: String, beginString: String = "FIX.4.4", bodyLengthDelta: Int = 0,
    checkSumDelta: Int = 0
) -> [UInt8] {
    let b = soh(body)
    var m = soh("8=\(beginString)|9=\(b.count + bodyLengthDelta)|") + b
    let sum = (m.reduce(0) { $0 + Int($1) } + checkSumDelta) & 0xFF
    let cs = String(sum)
    m += soh("10=" + String(repeating: "0", count: 3 - cs.count) + cs + "|")
    return m
}

/// Readable form of FIX bytes.
func readable(_ bytes: [UInt8]) -> String {
    String(decoding: bytes.map { $0 == 0x01 ? UInt8(ascii: "|") : $0 }, as: UTF8.self)
}

/// Splits a byte stream into complete messages using the framer (test convenience).
func frames(_ bytes: [UInt8]) -> [[UInt8]] {
    var framer = FIXFramer()
    var out: [[UInt8]] = []
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while true {
            do {
                guard let r = try framer.nextFrame(raw, offset: &offset) else { break }
                out.append(Array(raw[r]))
            } catch {
                continue
            }
        }
    }
    return out
}

/// A parsed message decoded into a tag -> value dictionary (first occurrence), for assertions.
struct DecodedMessage: CustomStringConvertible {
    var fields: [(Int, String)]
    var raw: [UInt8]
    subscript(_ tag: Int) -> String? { fields.first { $0.0 == tag }?.1 }
    var msgType: String { self[35] ?? "" }
    var seq: Int { Int(self[34] ?? "0") ?? 0 }
    var description: String { readable(raw) }
}

func decode(_ bytes: [UInt8]) -> DecodedMessage {
    var fields: [(Int, String)] = []
    var cur: [UInt8] = []
    for b in bytes {
        if b == 0x01 {
            let s = String(decoding: cur, as: UTF8.self)
            let parts = s.split(separator: "=", maxSplits: 1)
            fields.append((Int(parts[0]) ?? -1, parts.count > 1 ? String(parts[1]) : ""))
            cur = []
        } else {
            cur.append(b)
        }
    }
    return DecodedMessage(fields: fields, raw: bytes)
}

/// Every message in a buffer, decoded.
func decodeAll(_ buffer: ByteBuffer?) -> [DecodedMessage] {
    guard let buffer else { return [] }
    return frames(buffer.readableBytesArray).map(decode)
}

/// Parses one message into a fresh view and runs `body` on it while the bytes are alive.
func withView<R>(
    _ bytes: [UInt8], options: FIXValidationOptions = .strict,
    _ body: (FIXMessageView) throws -> R
) throws -> R {
    var view = FIXMessageView(capacity: 256)
    return try bytes.withUnsafeBytes { raw in
        try view.parse(raw, options: options)
        return try body(view)
    }
}

/// The error `parse` throws for `bytes`, or nil.
func parseError(_ bytes: [UInt8], options: FIXValidationOptions = .strict) -> FIXParseError? {
    var view = FIXMessageView(capacity: 256)
    return bytes.withUnsafeBytes { raw -> FIXParseError? in
        do throws(FIXParseError) {
            try view.parse(raw, options: options)
            return nil
        } catch { return error }
    }
}

let hdr = "49=CLIENT|56=EXCH|34=1|52=20260101-00:00:00.000|"
