// ConfigSchema: the declared keys of the platform's one config file (DESIGN.md "Config").
//
// Owns: `ConfigKey` (name, type, default, bounds, doc), `ConfigSchema` (the union of every
// component's keys) and rendering a fully commented default config file from it.
// Parsing the file lives in ConfigParser.swift, resolving values and overrides in ConfigFile.swift,
// errors in ConfigError.swift. Nothing here is on a hot path: it runs once at startup.

/// The type a config key holds. The file syntax is the TOML subset described in ConfigParser.swift.
public enum ConfigValueType: Sendable, Equatable {
    case string
    case integer
    case float
    case bool
    case strings
    case integers

    /// How error messages name the type ("expects an integer").
    public var phrase: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .bool: "a boolean"
        case .strings: "an array of strings"
        case .integers: "an array of integers"
        }
    }
}

/// A resolved config value.
public enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case strings([String])
    case integers([Int])

    /// The type of this value.
    public var type: ConfigValueType {
        switch self {
        case .string: .string
        case .integer: .integer
        case .float: .float
        case .bool: .bool
        case .strings: .strings
        case .integers: .integers
        }
    }

    /// The value in config-file syntax, e.g. `"a\"b"`, `42`, `["x", "y"]`.
    public var tomlText: String {
        switch self {
        case .string(let s): ConfigValue.quote(s)
        case .integer(let i): String(i)
        case .float(let d): ConfigValue.floatText(d)
        case .bool(let b): b ? "true" : "false"
        case .strings(let a): "[" + a.map(ConfigValue.quote).joined(separator: ", ") + "]"
        case .integers(let a): "[" + a.map { String($0) }.joined(separator: ", ") + "]"
        }
    }

    static func floatText(_ d: Double) -> String {
        // TOML floats need a fraction or exponent; Swift prints 2.0 as "2.0" but 1e+20 as "1e+20".
        let s = String(d)
        return s.contains(".") || s.contains("e") || s.contains("n") || s.contains("i") ? s : s + ".0"
    }

    /// Quotes `s` as a TOML basic string, escaping what the parser unescapes.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where u.value < 0x20 || u.value == 0x7F:
                let hex = String(u.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

/// One documented key of the config file, declared by the component that reads it.
///
/// ```swift
/// static let listen = ConfigKey.string("fanout.listen", default: "0.0.0.0:8080",
///                                      doc: "Address the WebSocket listener binds.")
/// ```
public struct ConfigKey: Sendable {
    /// Full dotted name: table path plus key, e.g. `fanout.max_connections`.
    public let name: String
    /// The value type.
    public let type: ConfigValueType
    /// The value used when neither the file nor an override sets the key.
    public let defaultValue: ConfigValue
    /// What the key does and why its default is what it is; rendered as comments.
    public let doc: String
    /// Inclusive bounds for integers (and each element of integer arrays).
    public let integerBounds: ClosedRange<Int>?
    /// Inclusive bounds for floats.
    public let floatBounds: ClosedRange<Double>?
    /// Allowed values for strings (and each element of string arrays); nil means any.
    public let allowed: [String]?
    /// Extra validation: returns a message (e.g. "expected HOST:PORT") when the value is bad.
    public let check: (@Sendable (ConfigValue) -> String?)?

    /// Declares a key of any type. Prefer the typed factories below.
    public init(
        _ name: String, type: ConfigValueType, default defaultValue: ConfigValue, doc: String,
        integerBounds: ClosedRange<Int>? = nil, floatBounds: ClosedRange<Double>? = nil,
        allowed: [String]? = nil, check: (@Sendable (ConfigValue) -> String?)? = nil
    ) {
        precondition(defaultValue.type == type, "default of \(name) has the wrong type")
        precondition(ConfigKey.isValidName(name), "invalid config key name '\(name)'")
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.doc = doc
        self.integerBounds = integerBounds
        self.floatBounds = floatBounds
        self.allowed = allowed
        self.check = check
        precondition(validate(defaultValue) == nil, "default of \(name) is invalid: \(validate(defaultValue)!)")
    }

    /// A string key, optionally restricted to `allowed` values.
    public static func string(
        _ name: String, default value: String, doc: String, allowed: [String]? = nil,
        check: (@Sendable (ConfigValue) -> String?)? = nil
    ) -> ConfigKey {
        ConfigKey(name, type: .string, default: .string(value), doc: doc, allowed: allowed, check: check)
    }

    /// An integer key with inclusive bounds (every limit has bounds; STYLE.md section 10).
    public static func integer(_ name: String, default value: Int, bounds: ClosedRange<Int>, doc: String)
        -> ConfigKey
    {
        ConfigKey(name, type: .integer, default: .integer(value), doc: doc, integerBounds: bounds)
    }

    /// A float key with inclusive bounds. Never use floats for money or prices.
    public static func float(_ name: String, default value: Double, bounds: ClosedRange<Double>, doc: String)
        -> ConfigKey
    {
        ConfigKey(name, type: .float, default: .float(value), doc: doc, floatBounds: bounds)
    }

    /// A boolean key.
    public static func bool(_ name: String, default value: Bool, doc: String) -> ConfigKey {
        ConfigKey(name, type: .bool, default: .bool(value), doc: doc)
    }

    /// An array-of-strings key; each element must be in `allowed` when given.
    public static func strings(_ name: String, default value: [String], doc: String, allowed: [String]? = nil)
        -> ConfigKey
    {
        ConfigKey(name, type: .strings, default: .strings(value), doc: doc, allowed: allowed)
    }

    /// An array-of-integers key; each element must be within `bounds`.
    public static func integers(_ name: String, default value: [Int], bounds: ClosedRange<Int>, doc: String)
        -> ConfigKey
    {
        ConfigKey(name, type: .integers, default: .integers(value), doc: doc, integerBounds: bounds)
    }

    /// The table part of the name (`fanout.tls` for `fanout.tls.cert`), empty for root keys.
    public var table: String {
        guard let dot = name.lastIndex(of: ".") else { return "" }
        return String(name[..<dot])
    }

    /// The last component of the name (`cert` for `fanout.tls.cert`).
    public var leaf: String {
        guard let dot = name.lastIndex(of: ".") else { return name }
        return String(name[name.index(after: dot)...])
    }

    /// Checks a value of the right type against bounds, allowed values and `check`.
    /// Returns the complaint (without location), or nil when the value is acceptable.
    public func validate(_ value: ConfigValue) -> String? {
        switch value {
        case .integer(let i):
            if let b = integerBounds, !b.contains(i) {
                return "value \(i) is out of range \(b.lowerBound)...\(b.upperBound)"
            }
        case .integers(let a):
            if let b = integerBounds, let bad = a.first(where: { !b.contains($0) }) {
                return "element \(bad) is out of range \(b.lowerBound)...\(b.upperBound)"
            }
        case .float(let d):
            if let b = floatBounds, !b.contains(d) {
                return "value \(d) is out of range \(b.lowerBound)...\(b.upperBound)"
            }
        case .string(let s):
            if let allowed, !allowed.contains(s) {
                let list = allowed.map(ConfigValue.quote).joined(separator: ", ")
                return "value \(ConfigValue.quote(s)) is not one of \(list)"
            }
        case .strings(let a):
            if let allowed, let bad = a.first(where: { !allowed.contains($0) }) {
                return "element \(ConfigValue.quote(bad)) is not one of "
                    + allowed.map(ConfigValue.quote).joined(separator: ", ")
            }
        case .bool:
            break
        }
        return check?(value)
    }

    /// Bare TOML key segments: `[A-Za-z0-9_-]+`, joined by dots.
    static func isValidName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { p in !p.isEmpty && p.utf8.allSatisfy(ConfigKey.isBareKeyByte) }
    }

    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x2D
    }
}

/// Every key of the config file: the union of the components' declarations.
///
/// Components declare `static let configKeys: [ConfigKey]`; the executable builds one schema from
/// all of them, so an unknown key in the file is an error naming its line.
public struct ConfigSchema: Sendable {
    /// Keys in declaration order (rendering keeps it within each table).
    public private(set) var keys: [ConfigKey]
    /// Optional per-table documentation rendered above the table header.
    public private(set) var tableDocs: [String: String]
    private var index: [String: Int]

    /// Builds a schema. Duplicate names, and a key that is also a table, are programming errors.
    public init(keys: [ConfigKey] = [], tableDocs: [String: String] = [:]) {
        self.keys = []
        self.tableDocs = tableDocs
        self.index = [:]
        add(keys)
    }

    /// Adds a component's keys.
    public mutating func add(_ more: [ConfigKey]) {
        for k in more {
            precondition(index[k.name] == nil, "config key \(k.name) declared twice")
            precondition(
                !keys.contains { $0.name.hasPrefix(k.name + ".") || k.name.hasPrefix($0.name + ".") },
                "config key \(k.name) collides with a table of the same name")
            index[k.name] = keys.count
            keys.append(k)
        }
    }

    /// Documents a table (rendered as comments above `[table]`).
    public mutating func document(table: String, _ doc: String) {
        tableDocs[table] = doc
    }

    /// The key called `name`, if declared.
    public func key(_ name: String) -> ConfigKey? {
        index[name].map { keys[$0] }
    }

    /// True when some key lives in `table` or below it.
    public func hasTable(_ table: String) -> Bool {
        keys.contains { $0.name.hasPrefix(table + ".") }
    }

    /// The environment variable that overrides `key`: prefix + name upper-cased with `.` and `-`
    /// turned into `_` (`fanout.listen` -> `BROKER_FANOUT_LISTEN`).
    public static func environmentName(for key: String, prefix: String) -> String {
        prefix + String(key.uppercased().map { $0 == "." || $0 == "-" ? "_" : $0 })
    }

    /// Tables in order of first appearance; the root table ("") first.
    var tablesInOrder: [String] {
        var seen: Set<String> = []
        var order: [String] = keys.contains { $0.table.isEmpty } ? [""] : []
        seen.insert("")
        for k in keys where seen.insert(k.table).inserted { order.append(k.table) }
        return order
    }

    /// Renders a config file holding every key at its default, each preceded by its doc,
    /// type, bounds and environment variable as comments. Parsing the result yields the defaults.
    ///
    /// - Parameters:
    ///   - header: comment lines for the top of the file (without `#`).
    ///   - environmentPrefix: prefix used to name each key's override variable; nil omits it.
    ///   - commentedOut: when true the assignments themselves are commented out (`# key = value`).
    public func renderDefaults(header: String = "", environmentPrefix: String? = "BROKER_", commentedOut: Bool = false)
        -> String
    {
        var out = ""
        func comment(_ text: String) {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                out += line.isEmpty ? "#\n" : "# \(line)\n"
            }
        }
        if !header.isEmpty {
            comment(header)
            out += "\n"
        }
        for table in tablesInOrder {
            if !table.isEmpty {
                if let doc = tableDocs[table] { comment(doc) }
                out += "[\(table)]\n"
            }
            for k in keys where k.table == table {
                out += "\n"
                comment(k.doc)
                var facts = "Type: \(k.type.phrase)"
                if let b = k.integerBounds { facts += ", range \(b.lowerBound)...\(b.upperBound)" }
                if let b = k.floatBounds { facts += ", range \(b.lowerBound)...\(b.upperBound)" }
                if let a = k.allowed { facts += ", one of " + a.map(ConfigValue.quote).joined(separator: ", ") }
                facts += "."
                if let p = environmentPrefix {
                    facts += " Env: \(ConfigSchema.environmentName(for: k.name, prefix: p))."
                }
                comment(facts)
                out += (commentedOut ? "# " : "") + "\(k.leaf) = \(k.defaultValue.tomlText)\n"
            }
            out += "\n"
        }
        return out
    }
}
