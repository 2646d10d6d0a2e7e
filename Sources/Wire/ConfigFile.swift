// ConfigFile: the resolved configuration: schema defaults < file < environment < command line.
//
// Owns: checking parsed entries against the schema (unknown keys and tables, types, bounds), reading
// the file, environment overrides (`BROKER_FANOUT_LISTEN` for `fanout.listen`), `--set key=value`
// and mapped flags (`--listen` for `fanout.listen`), and typed accessors. The TOML subset is in
// ConfigParser.swift, the schema and default-file rendering in ConfigSchema.swift.
// Startup-only code: allocation here is fine.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a resolved value came from (for `--check-config` output and error hints).
public enum ConfigOrigin: Sendable, Equatable {
    /// The schema default.
    case schemaDefault
    /// The config file, at this line.
    case file(line: Int)
    /// An environment variable.
    case environment(String)
    /// A command-line `--set` or flag (the text names which).
    case commandLine(String)
}

/// One override from the command line (or anywhere else that is not the file or environment).
public struct ConfigOverride: Sendable, Equatable {
    /// The dotted key.
    public let key: String
    /// The value text, parsed by the key's type (strings may be given bare).
    public let text: String
    /// How errors name it: `--set fanout.listen` or `--listen`.
    public let origin: String

    /// Creates an override.
    public init(key: String, text: String, origin: String) {
        self.key = key
        self.text = text
        self.origin = origin
    }
}

/// A command-line flag that sets a config key: `--listen 127.0.0.1:8080` -> `fanout.listen`.
public struct ConfigFlag: Sendable, Equatable {
    /// The flag including dashes, e.g. `--listen`.
    public let flag: String
    /// The dotted key it sets.
    public let key: String
    /// For switches (`--echo`): the value set when the flag is present; nil means the flag takes an argument.
    public let impliedValue: String?

    /// Creates a flag mapping.
    public init(_ flag: String, key: String, impliedValue: String? = nil) {
        self.flag = flag
        self.key = key
        self.impliedValue = impliedValue
    }
}

/// Pulls config overrides out of a command line.
public enum ConfigCommandLine {
    /// Extracts `--set key=value` (also `--set=key=value`) and the mapped `flags` (`--flag value`,
    /// `--flag=value`, or a switch with an implied value) in order; later ones win.
    ///
    /// - Returns: the overrides and the arguments that were not config overrides, in order.
    /// - Throws: `ConfigError.Kind.badArgument` for `--set` without `key=value` or a flag missing its value.
    public static func extractOverrides(from arguments: [String], flags: [ConfigFlag] = [])
        throws(ConfigError) -> (overrides: [ConfigOverride], remaining: [String])
    {
        var overrides: [ConfigOverride] = []
        var remaining: [String] = []
        var i = 0
        func takeValue(_ name: String, inline: Substring?) throws(ConfigError) -> String {
            if let inline { return String(inline) }
            i += 1
            guard i < arguments.count else { throw ConfigError(.badArgument, origin: name, "missing value") }
            return arguments[i]
        }
        while i < arguments.count {
            let arg = arguments[i]
            let eq = arg.firstIndex(of: "=")
            let name = eq.map { String(arg[..<$0]) } ?? arg
            let inline = eq.map { arg[arg.index(after: $0)...] }
            if name == "--set" {
                let assignment = try takeValue("--set", inline: inline)
                guard let e = assignment.firstIndex(of: "="), e != assignment.startIndex else {
                    throw ConfigError(
                        .badArgument, origin: "--set", "expected section.key=value, found '\(assignment)'")
                }
                let key = String(assignment[..<e])
                overrides.append(
                    ConfigOverride(
                        key: key, text: String(assignment[assignment.index(after: e)...]),
                        origin: "--set \(key)"))
            } else if let flag = flags.first(where: { $0.flag == name }) {
                if let implied = flag.impliedValue {
                    overrides.append(
                        ConfigOverride(
                            key: flag.key, text: inline.map(String.init) ?? implied,
                            origin: flag.flag))
                } else {
                    overrides.append(
                        ConfigOverride(
                            key: flag.key, text: try takeValue(flag.flag, inline: inline),
                            origin: flag.flag))
                }
            } else {
                remaining.append(arg)
            }
            i += 1
        }
        return (overrides, remaining)
    }
}

/// The platform's resolved configuration: every schema key has a value.
///
/// ```swift
/// let flags = [ConfigFlag("--listen", key: "fanout.listen")]
/// let (overrides, rest) = try ConfigCommandLine.extractOverrides(from: args, flags: flags)
/// let config = try ConfigFile.load(path: "broker.toml", schema: schema,
///                                  environment: ConfigFile.processEnvironment(), overrides: overrides)
/// let port = config.int("fanout.max_connections")
/// ```
public struct ConfigFile: Sendable {
    /// The schema the values were checked against.
    public let schema: ConfigSchema
    private var values: [String: (value: ConfigValue, origin: ConfigOrigin)]

    /// Reads and resolves a config file. `path` nil means defaults plus overrides only.
    ///
    /// - Parameters:
    ///   - path: the file; errors name it as given (`broker.toml:12: ...`).
    ///   - schema: every key that may appear.
    ///   - environment: variables to consult, usually `ConfigFile.processEnvironment()`.
    ///   - environmentPrefix: variables named prefix + KEY override keys; nil ignores the environment.
    ///     Any other variable with the prefix is an unknown-key error, unless listed in `ignoredEnvironment`.
    ///   - ignoredEnvironment: prefixed variables that are not keys (e.g. `BROKER_CONFIG`).
    ///   - overrides: command-line overrides, applied last in order.
    /// - Throws: `ConfigError` naming the file and line, the variable, or the flag.
    public static func load(
        path: String?, schema: ConfigSchema, environment: [String: String] = [:],
        environmentPrefix: String? = "BROKER_", ignoredEnvironment: Set<String> = [],
        overrides: [ConfigOverride] = []
    ) throws(ConfigError) -> ConfigFile {
        let text = try path.map { (p: String) throws(ConfigError) -> String in try readFile(p) } ?? ""
        return try ConfigFile(
            text: text, name: path ?? "<defaults>", schema: schema, environment: environment,
            environmentPrefix: environmentPrefix, ignoredEnvironment: ignoredEnvironment,
            overrides: overrides)
    }

    /// Resolves config text (see `load`); `name` is used in error origins.
    public init(
        text: String, name: String, schema: ConfigSchema, environment: [String: String] = [:],
        environmentPrefix: String? = "BROKER_", ignoredEnvironment: Set<String> = [],
        overrides: [ConfigOverride] = []
    ) throws(ConfigError) {
        self.schema = schema
        self.values = [:]
        for k in schema.keys { values[k.name] = (k.defaultValue, .schemaDefault) }

        var parser = ConfigParser(text: text, name: name)
        let doc = try parser.parseDocument()
        for t in doc.tables where !schema.hasTable(t.name) {
            throw ConfigError(.unknownTable, origin: "\(name):\(t.line)", "unknown table '[\(t.name)]'")
        }
        for e in doc.entries {
            let origin = "\(name):\(e.line)"
            guard let key = schema.key(e.key) else {
                throw ConfigError(.unknownKey, origin: origin, "unknown key '\(e.key)'")
            }
            values[key.name] = (try ConfigFile.typed(e.value, key: key, origin: origin), .file(line: e.line))
        }

        if let prefix = environmentPrefix {
            var byEnv: [String: ConfigKey] = [:]
            for k in schema.keys {
                let env = ConfigSchema.environmentName(for: k.name, prefix: prefix)
                precondition(byEnv[env] == nil, "config keys \(k.name) and \(byEnv[env]!.name) share variable \(env)")
                byEnv[env] = k
            }
            // Sorted so the first error is deterministic whatever the dictionary order.
            for (env, text) in environment.sorted(by: { $0.key < $1.key })
            where env.hasPrefix(prefix) && !ignoredEnvironment.contains(env) {
                let origin = "environment \(env)"
                guard let key = byEnv[env] else {
                    throw ConfigError(.unknownKey, origin: origin, "no config key is named by this variable")
                }
                values[key.name] = (try ConfigFile.parseOverride(text, key: key, origin: origin), .environment(env))
            }
        }

        for o in overrides {
            guard let key = schema.key(o.key) else {
                throw ConfigError(.unknownKey, origin: o.origin, "unknown key '\(o.key)'")
            }
            values[key.name] = (
                try ConfigFile.parseOverride(o.text, key: key, origin: o.origin),
                .commandLine(o.origin)
            )
        }
    }

    // MARK: - Accessors (a missing key or wrong type is a programming error: the schema decides both)

    /// The value of `key`.
    public func value(_ key: String) -> ConfigValue {
        guard let v = values[key] else { preconditionFailure("config key '\(key)' is not in the schema") }
        return v.value
    }

    /// Where the value of `key` came from.
    public func origin(of key: String) -> ConfigOrigin {
        guard let v = values[key] else { preconditionFailure("config key '\(key)' is not in the schema") }
        return v.origin
    }

    /// The string value of `key`.
    public func string(_ key: String) -> String {
        guard case .string(let s) = value(key) else { preconditionFailure("config key '\(key)' is not a string") }
        return s
    }

    /// The integer value of `key`.
    public func int(_ key: String) -> Int {
        guard case .integer(let i) = value(key) else { preconditionFailure("config key '\(key)' is not an integer") }
        return i
    }

    /// The float value of `key`.
    public func double(_ key: String) -> Double {
        guard case .float(let d) = value(key) else { preconditionFailure("config key '\(key)' is not a float") }
        return d
    }

    /// The boolean value of `key`.
    public func bool(_ key: String) -> Bool {
        guard case .bool(let b) = value(key) else { preconditionFailure("config key '\(key)' is not a boolean") }
        return b
    }

    /// The string-array value of `key`.
    public func strings(_ key: String) -> [String] {
        guard case .strings(let a) = value(key) else { preconditionFailure("config key '\(key)' is not [string]") }
        return a
    }

    /// The integer-array value of `key`.
    public func ints(_ key: String) -> [Int] {
        guard case .integers(let a) = value(key) else { preconditionFailure("config key '\(key)' is not [integer]") }
        return a
    }

    /// The string value of a declared key.
    public func string(_ key: ConfigKey) -> String { string(key.name) }
    /// The integer value of a declared key.
    public func int(_ key: ConfigKey) -> Int { int(key.name) }
    /// The float value of a declared key.
    public func double(_ key: ConfigKey) -> Double { double(key.name) }
    /// The boolean value of a declared key.
    public func bool(_ key: ConfigKey) -> Bool { bool(key.name) }
    /// The string-array value of a declared key.
    public func strings(_ key: ConfigKey) -> [String] { strings(key.name) }
    /// The integer-array value of a declared key.
    public func ints(_ key: ConfigKey) -> [Int] { ints(key.name) }

    /// Every key with its effective value and origin, one per line, in schema order
    /// (`fanout.listen = "0.0.0.0:9000"  # environment BROKER_FANOUT_LISTEN`), for `--check-config`.
    public func renderEffective() -> String {
        var out = ""
        for k in schema.keys {
            let (v, o) = values[k.name]!
            let from: String
            switch o {
            case .schemaDefault: from = "default"
            case .file(let line): from = "line \(line)"
            case .environment(let env): from = "environment \(env)"
            case .commandLine(let flag): from = flag
            }
            out += "\(k.name) = \(v.tomlText)  # \(from)\n"
        }
        return out
    }

    // MARK: - Conversions

    /// Gives a raw file value the key's type (integers are accepted for floats), then validates.
    static func typed(_ raw: ConfigRawValue, key: ConfigKey, origin: String) throws(ConfigError) -> ConfigValue {
        let v: ConfigValue?
        switch (key.type, raw) {
        case (.string, .string(let s)): v = .string(s)
        case (.integer, .integer(let i)): v = .integer(i)
        case (.float, .float(let d)): v = .float(d)
        case (.float, .integer(let i)): v = .float(Double(i))
        case (.bool, .bool(let b)): v = .bool(b)
        case (.strings, .array(let a)):
            var out: [String] = []
            for e in a { if case .string(let s) = e { out.append(s) } }
            v = out.count == a.count ? .strings(out) : nil
        case (.integers, .array(let a)):
            var out: [Int] = []
            for e in a { if case .integer(let i) = e { out.append(i) } }
            v = out.count == a.count ? .integers(out) : nil
        default: v = nil
        }
        guard let v else {
            var found = raw.phrase
            if case .array(let a) = raw, let first = a.first {
                found = "an array of \(first.phrase.split(separator: " ")[1])s"
            }
            throw ConfigError(
                .typeMismatch, origin: origin, "key '\(key.name)' expects \(key.type.phrase), found \(found)")
        }
        if let complaint = key.validate(v) {
            throw ConfigError(.invalidValue, origin: origin, "key '\(key.name)' \(complaint)")
        }
        return v
    }

    /// Parses override text for `key`: strings may be bare (or quoted TOML strings), arrays may be
    /// TOML arrays or comma-separated bare elements (`a,b`), other types use TOML syntax.
    static func parseOverride(_ text: String, key: ConfigKey, origin: String) throws(ConfigError) -> ConfigValue {
        func toml(_ t: String) throws(ConfigError) -> ConfigRawValue {
            var p = ConfigParser(text: t, name: origin)
            do {
                return try p.parseStandaloneValue()
            } catch {
                // The parser's line-numbered origin means nothing for a one-line override.
                throw ConfigError(
                    .typeMismatch, origin: origin,
                    "key '\(key.name)' expects \(key.type.phrase), "
                        + "found '\(t)' (\(error.message))")
            }
        }
        let trimmed = text.trimmingSpaces
        let raw: ConfigRawValue
        switch key.type {
        case .string:
            raw = trimmed.hasPrefix("\"") || trimmed.hasPrefix("'") ? try toml(trimmed) : .string(text)
        case .strings, .integers:
            if trimmed.hasPrefix("[") {
                raw = try toml(trimmed)
            } else if trimmed.isEmpty {
                raw = .array([])
            } else {
                var elements: [ConfigRawValue] = []
                for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
                    let p = String(part).trimmingSpaces
                    elements.append(key.type == .strings && !p.hasPrefix("\"") ? .string(p) : try toml(p))
                }
                raw = .array(elements)
            }
        default:
            raw = try toml(trimmed)
        }
        return try typed(raw, key: key, origin: origin)
    }

    // MARK: - Process access

    /// The process environment, read from `environ`.
    public static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        // Invariant: environ is a NULL-terminated array of NUL-terminated "NAME=value" strings.
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }

    /// Reads a whole (small) file with plain syscalls; Wire does not use Foundation.
    static func readFile(_ path: String) throws(ConfigError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            throw ConfigError(.unreadable(e), origin: path, "cannot read: \(String(cString: strerror(e)))")
        }
        defer { close(fd) }
        var buffer = ByteBuffer(capacity: 4096)
        while true {
            var failure: CInt = 0
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { dst -> Int in
                let r = read(fd, dst.baseAddress, dst.count)
                if r < 0 {
                    failure = errno
                    return 0
                }
                return r
            }
            if failure == EINTR { continue }
            if failure != 0 {
                throw ConfigError(
                    .unreadable(failure), origin: path, "cannot read: \(String(cString: strerror(failure)))")
            }
            if n == 0 { break }
        }
        return buffer.readableString
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        let u = utf8
        guard let s = u.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let e = u.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(self[s...e])
    }
}
