// JSONValue: a small strict JSON (RFC 8259) parser and writer for control-plane messages
// (WebSocket subscribe requests, REST bodies). Not for the quote path, which writes JSON with
// ByteBuffer's writers. Numbers keep their text so money is never routed through Double.
public import Wire

/// A parsed JSON value.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's exact text (e.g. "2450.50"), validated as JSON number syntax.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order (duplicate keys are rejected by the parser).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let m) = self else { return nil }
        return m.first { $0.0 == key }?.1
    }

    /// The string value, or nil.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The number's text, or nil.
    public var numberText: String? { if case .number(let s) = self { return s } else { return nil } }
    /// The value as an Int when it is an integral number within range, or nil.
    public var intValue: Int? {
        guard case .number(let s) = self else { return nil }
        return Int(s)
    }
    /// The elements of an array, or nil.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    /// The bool, or nil.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// Serializes compactly.
    public func write(into b: inout ByteBuffer) {
        switch self {
        case .null: b.writeStaticString("null")
        case .bool(let v): b.writeStaticString(v ? "true" : "false")
        case .number(let s): b.writeString(s)
        case .string(let s): JSONValue.writeString(s, into: &b)
        case .array(let a):
            b.writeStaticString("[")
            for (i, v) in a.enumerated() {
                if i > 0 { b.writeStaticString(",") }
                v.write(into: &b)
            }
            b.writeStaticString("]")
        case .object(let m):
            b.writeStaticString("{")
            for (i, (k, v)) in m.enumerated() {
                if i > 0 { b.writeStaticString(",") }
                JSONValue.writeString(k, into: &b)
                b.writeStaticString(":")
                v.write(into: &b)
            }
            b.writeStaticString("}")
        }
    }

    /// Compact serialization as a String.
    public var text: String {
        var b = ByteBuffer()
        write(into: &b)
        return b.readableString
    }

    /// Writes `s` as a JSON string literal with the escapes RFC 8259 section 7 requires.
    public static func writeString(_ s: String, into b: inout ByteBuffer) {
        b.writeStaticString("\"")
        for u in s.utf8 {
            switch u {
            case 0x22: b.writeStaticString("\\\"")
            case 0x5C: b.writeStaticString("\\\\")
            case 0x0A: b.writeStaticString("\\n")
            case 0x0D: b.writeStaticString("\\r")
            case 0x09: b.writeStaticString("\\t")
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                b.writeStaticString("\\u00")
                b.writeInteger(hex[Int(u >> 4)])
                b.writeInteger(hex[Int(u & 0xF)])
            default: b.writeInteger(u)
            }
        }
        b.writeStaticString("\"")
    }
}

/// Why a JSON text was refused.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    /// Byte offset of the problem.
    public let offset: Int
    /// What is wrong.
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// A strict JSON parser with depth and size limits.
public struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    private let maxDepth: Int

    /// Parses one JSON document (whitespace around it allowed, nothing else).
    /// - Throws: `JSONParseError` with the offset and reason.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes: bytes, maxDepth: maxDepth)
        p.skipWS()
        let v = try p.value(depth: 0)
        p.skipWS()
        guard p.i == bytes.count else { throw p.error("trailing characters") }
        return v
    }

    /// Parses a String.
    public static func parse(_ text: String, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        var t = text
        let r: Result<JSONValue, JSONParseError> = t.withUTF8 { u in
            Result { () throws(JSONParseError) -> JSONValue in try parse(UnsafeRawBufferPointer(u), maxDepth: maxDepth) }
        }
        return try r.get()
    }

    private init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func error(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    private mutating func skipWS() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func literal(_ word: StaticString, _ v: JSONValue) throws(JSONParseError) -> JSONValue {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("unexpected end") }
        for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw error("unexpected character") }
        i += n
        return v
    }

    private mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maxDepth else { throw error("nested deeper than \(maxDepth)") }
        guard i < bytes.count else { throw error("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        i += 1
        var members: [(String, JSONValue)] = []
        skipWS()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object([]) }
        while true {
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let k = try string()
            if members.contains(where: { $0.0 == k }) { throw error("duplicate member '\(k)'") }
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWS()
            members.append((k, try value(depth: depth + 1)))
            skipWS()
            guard i < bytes.count else { throw error("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        i += 1
        var out: [JSONValue] = []
        skipWS()
        if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array([]) }
        while true {
            skipWS()
            out.append(try value(depth: depth + 1))
            skipWS()
            guard i < bytes.count else { throw error("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("control character in string") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw error("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var cp = try hex4()
                    if (0xD800..<0xDC00).contains(cp) {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                        else { throw error("unpaired surrogate") }
                        i += 2
                        let lo = try hex4()
                        guard (0xDC00..<0xE000).contains(lo) else { throw error("unpaired surrogate") }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(cp) {
                        throw error("unpaired surrogate")
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(cp)!)).utf8)
                default: throw error("invalid escape")
                }
                continue
            }
            out.append(c)
            i += 1
        }
        // Invalid UTF-8 is refused rather than repaired (WebSocket text was already validated).
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
        return s
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - 55)
            default: throw error("bad hex digit")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    private mutating func number() throws(JSONParseError) -> JSONValue {
        let start = i
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (48...57).contains(bytes[i]) else { throw error("bad number") }
        if bytes[i] == 48 { i += 1 } else { while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 } }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count, (48...57).contains(bytes[i]) else { throw error("bad fraction") }
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, (48...57).contains(bytes[i]) else { throw error("bad exponent") }
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        guard i - start <= 64 else { throw error("number too long") }
        return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
    }
}
