// ConfigParser: the TOML subset the config file is written in (https://toml.io/en/v1.0.0).
//
// Owns: turning file text into (dotted key, raw value, line) entries and table headers, with
// syntax errors naming the line. Knows nothing of the schema: ConfigFile checks keys and types.
//
// Supported: `[table]` / `[a.b]` headers, `key = value` and dotted keys (`tls.cert = ...`), bare keys
// `[A-Za-z0-9_-]+`, basic strings "..." with the TOML escapes (\b \t \n \f \r \" \\ \uXXXX
// \UXXXXXXXX), literal strings '...', decimal integers with `_` between digits, floats
// (`1.5`, `1e3`, `-0.25`), booleans, homogeneous arrays of those (multi-line, trailing comma,
// comments inside), `#` comments. Not supported, each a clear error: multi-line strings,
// inline tables, arrays of tables, quoted keys, dates, hex/octal/binary integers, nested arrays.

/// A value as written, before the schema gives it a type.
enum ConfigRawValue: Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case array([ConfigRawValue])

    var phrase: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .array: "an array"
        }
    }
}

/// One `key = value` line: the full dotted key (table prefix included) and its line number.
struct ConfigEntry: Equatable {
    var key: String
    var value: ConfigRawValue
    var line: Int
}

/// The parsed file: assignments and table headers in order.
struct ConfigDocument: Equatable {
    var entries: [ConfigEntry] = []
    var tables: [(name: String, line: Int)] = []

    static func == (a: ConfigDocument, b: ConfigDocument) -> Bool {
        a.entries == b.entries && a.tables.map(\.name) == b.tables.map(\.name)
    }
}

/// A hand-written scanner over the file's UTF-8 bytes; runs once at startup.
struct ConfigParser {
    private let bytes: [UInt8]
    private let name: String
    private var i = 0
    private var line = 1

    /// - Parameters:
    ///   - text: the file contents.
    ///   - name: the file name used in error origins (`broker.toml`).
    init(text: String, name: String) {
        self.bytes = Array(text.utf8)
        self.name = name
    }

    private func fail(_ message: String, kind: ConfigError.Kind = .syntax) -> ConfigError {
        ConfigError(kind, origin: "\(name):\(line)", message)
    }

    private var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    private func peek(_ offset: Int) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

    /// Skips spaces and tabs on the current line.
    private mutating func skipSpaces() {
        while let b = current, b == 0x20 || b == 0x09 { i += 1 }
    }

    /// Skips a `#` comment up to (not including) the newline.
    private mutating func skipComment() {
        guard current == UInt8(ascii: "#") else { return }
        while let b = current, b != 0x0A { i += 1 }
    }

    /// Consumes one newline (`\n` or `\r\n`) and counts it. Returns false when none is there.
    private mutating func consumeNewline() -> Bool {
        if current == 0x0D, peek(1) == 0x0A {
            i += 2
            line += 1
            return true
        }
        if current == 0x0A {
            i += 1
            line += 1
            return true
        }
        return false
    }

    /// Skips whitespace, newlines and comments (inside arrays).
    private mutating func skipBlank() {
        while true {
            skipSpaces()
            skipComment()
            if !consumeNewline() { return }
        }
    }

    /// After a header or value only spaces and a comment may follow on the line.
    private mutating func expectEndOfLine() throws(ConfigError) {
        skipSpaces()
        skipComment()
        if current == nil || consumeNewline() { return }
        throw fail("unexpected \(describe(current!)) after value")
    }

    private func describe(_ b: UInt8) -> String {
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return b == 0x0A || b == 0x0D ? "end of line" : "byte 0x" + String(b, radix: 16)
    }

    /// Parses the whole document.
    mutating func parseDocument() throws(ConfigError) -> ConfigDocument {
        var doc = ConfigDocument()
        var table = ""
        var seenTables: [String: Int] = [:]
        var seenKeys: [String: Int] = [:]
        while true {
            skipSpaces()
            skipComment()
            if consumeNewline() { continue }
            guard let b = current else { break }
            if b == UInt8(ascii: "[") {
                if peek(1) == UInt8(ascii: "[") { throw fail("arrays of tables ([[...]]) are not supported") }
                i += 1
                skipSpaces()
                table = try parseKeyPath()
                guard current == UInt8(ascii: "]") else { throw fail("expected ']' after table name '\(table)'") }
                i += 1
                if let first = seenTables[table] {
                    throw fail("duplicate table '[\(table)]' (first on line \(first))", kind: .duplicateTable)
                }
                seenTables[table] = line
                doc.tables.append((table, line))
                try expectEndOfLine()
                continue
            }
            let key = try parseKeyPath()
            let full = table.isEmpty ? key : table + "." + key
            guard current == UInt8(ascii: "=") else { throw fail("expected '=' after key '\(full)'") }
            i += 1
            skipSpaces()
            let valueLine = line
            let value = try parseValue()
            if let first = seenKeys[full] {
                line = valueLine
                throw fail("duplicate key '\(full)' (first set on line \(first))", kind: .duplicateKey)
            }
            seenKeys[full] = valueLine
            doc.entries.append(ConfigEntry(key: full, value: value, line: valueLine))
            try expectEndOfLine()
        }
        return doc
    }

    /// Parses a standalone value (an override's text) that must fill the whole input.
    mutating func parseStandaloneValue() throws(ConfigError) -> ConfigRawValue {
        skipSpaces()
        let v = try parseValue()
        skipSpaces()
        if let b = current { throw fail("unexpected \(describe(b)) after value") }
        return v
    }

    /// `a.b.c` with optional spaces around the dots; leaves spaces after it skipped.
    private mutating func parseKeyPath() throws(ConfigError) -> String {
        var parts: [String] = []
        while true {
            let start = i
            while let b = current, ConfigKey.isBareKeyByte(b) { i += 1 }
            if i == start {
                if current == UInt8(ascii: "\"") || current == UInt8(ascii: "'") {
                    throw fail("quoted keys are not supported")
                }
                throw fail(current.map { "expected a key, found \(describe($0))" } ?? "expected a key")
            }
            parts.append(String(decoding: bytes[start..<i], as: UTF8.self))
            skipSpaces()
            guard current == UInt8(ascii: ".") else { break }
            i += 1
            skipSpaces()
        }
        return parts.joined(separator: ".")
    }

    private mutating func parseValue() throws(ConfigError) -> ConfigRawValue {
        guard let b = current, b != 0x0A, b != 0x0D, b != UInt8(ascii: "#") else { throw fail("expected a value") }
        switch b {
        case UInt8(ascii: "\""):
            if peek(1) == b, peek(2) == b { throw fail("multi-line strings are not supported") }
            return .string(try parseBasicString())
        case UInt8(ascii: "'"):
            if peek(1) == b, peek(2) == b { throw fail("multi-line strings are not supported") }
            return .string(try parseLiteralString())
        case UInt8(ascii: "["):
            return try parseArray()
        case UInt8(ascii: "{"):
            throw fail("inline tables are not supported")
        default:
            return try parseScalarWord()
        }
    }

    private mutating func parseBasicString() throws(ConfigError) -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard let b = current, b != 0x0A, b != 0x0D else { throw fail("unterminated string") }
            i += 1
            if b == UInt8(ascii: "\"") { break }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                continue
            }
            guard let e = current else { throw fail("unterminated string") }
            i += 1
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "u") ? 4 : 8
                guard i + n <= bytes.count,
                    let v = UInt32(String(decoding: bytes[i..<i + n], as: UTF8.self), radix: 16),
                    let scalar = Unicode.Scalar(v)
                else { throw fail("invalid unicode escape in string") }
                i += n
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))' in string")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func parseLiteralString() throws(ConfigError) -> String {
        i += 1
        let start = i
        while true {
            guard let b = current, b != 0x0A, b != 0x0D else { throw fail("unterminated string") }
            if b == UInt8(ascii: "'") { break }
            i += 1
        }
        defer { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private mutating func parseArray() throws(ConfigError) -> ConfigRawValue {
        i += 1  // '['
        var elements: [ConfigRawValue] = []
        while true {
            skipBlank()
            guard let b = current else { throw fail("unterminated array") }
            if b == UInt8(ascii: "]") {
                i += 1
                break
            }
            if b == UInt8(ascii: "[") { throw fail("nested arrays are not supported") }
            let v = try parseValue()
            if let first = elements.first, first.phrase != v.phrase {
                throw fail("mixed types in array (\(first.phrase) and \(v.phrase))")
            }
            elements.append(v)
            skipBlank()
            if current == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if current == UInt8(ascii: "]") {
                i += 1
                break
            }
            throw fail(current.map { "expected ',' or ']' in array, found \(describe($0))" } ?? "unterminated array")
        }
        return .array(elements)
    }

    /// true/false, integers and floats: a run of word characters, then classified.
    private mutating func parseScalarWord() throws(ConfigError) -> ConfigRawValue {
        let start = i
        while let b = current,
            ConfigKey.isBareKeyByte(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: ":")
        {
            i += 1
        }
        let word = String(decoding: bytes[start..<i], as: UTF8.self)
        if word.isEmpty { throw fail("expected a value, found \(describe(current!))") }
        if word == "true" { return .bool(true) }
        if word == "false" { return .bool(false) }
        if let f = word.utf8.first, !(f >= 0x30 && f <= 0x39) && f != UInt8(ascii: "+") && f != UInt8(ascii: "-") {
            throw fail("expected a value, found '\(word)' (strings need quotes)")
        }
        return try ConfigParser.number(word, fail: fail)
    }

    /// Classifies and converts a number per TOML 1.0 (integers: no leading zeros, `_` only
    /// between digits; floats: integer part, then fraction and/or exponent).
    static func number(_ word: String, fail: (String, ConfigError.Kind) -> ConfigError) throws(ConfigError)
        -> ConfigRawValue
    {
        let u = Array(word.utf8)
        func digitsWithUnderscores(_ s: ArraySlice<UInt8>) -> Bool {
            guard let f = s.first, let l = s.last, isDigit(f), isDigit(l) else { return false }
            var prevUnderscore = false
            for b in s {
                if b == UInt8(ascii: "_") {
                    if prevUnderscore { return false }
                    prevUnderscore = true
                } else if isDigit(b) {
                    prevUnderscore = false
                } else {
                    return false
                }
            }
            return true
        }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        var body = u[...]
        if let f = body.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { body = body.dropFirst() }
        let looksFloat =
            body.contains(UInt8(ascii: ".")) || body.contains(UInt8(ascii: "e"))
            || body.contains(UInt8(ascii: "E"))
        if !looksFloat {
            guard digitsWithUnderscores(body), !(body.count > 1 && body.first == UInt8(ascii: "0")) else {
                throw fail("invalid integer '\(word)'", .syntax)
            }
            guard let v = Int(word.filter { $0 != "_" }) else { throw fail("integer '\(word)' overflows", .syntax) }
            return .integer(v)
        }
        // Float: int-part [. frac] [e|E [+-] exp]
        var mantissa = body
        var exponent: ArraySlice<UInt8>? = nil
        if let e = body.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            mantissa = body[..<e]
            var exp = body[(e + 1)...]
            if let f = exp.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { exp = exp.dropFirst() }
            exponent = exp
        }
        var intPart = mantissa
        var fracPart: ArraySlice<UInt8>? = nil
        if let dot = mantissa.firstIndex(of: UInt8(ascii: ".")) {
            intPart = mantissa[..<dot]
            fracPart = mantissa[(dot + 1)...]
        }
        let ok =
            digitsWithUnderscores(intPart) && !(intPart.count > 1 && intPart.first == UInt8(ascii: "0"))
            && (fracPart.map(digitsWithUnderscores) ?? true) && (exponent.map(digitsWithUnderscores) ?? true)
        guard ok, let d = Double(word.filter { $0 != "_" }), d.isFinite else {
            throw fail("invalid number '\(word)'", .syntax)
        }
        return .float(d)
    }
}
