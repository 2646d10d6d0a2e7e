// ConfigError: what went wrong while reading the config file or its overrides, and where.
//
// Owns: the typed error thrown by ConfigParser and ConfigFile. Its description is the line an
// operator sees, `broker.toml:12: unknown key 'fanout.max_conns'`, so the origin always comes first.

/// A config file, environment or command-line error, naming where it came from.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// The category, for callers that react differently (tests mostly).
    public enum Kind: Sendable, Equatable {
        /// The file could not be read (errno).
        case unreadable(CInt)
        /// The text is not in the supported TOML subset.
        case syntax
        /// A key the schema does not declare.
        case unknownKey
        /// A `[table]` under which the schema declares no keys.
        case unknownTable
        /// A key set twice in one file.
        case duplicateKey
        /// A `[table]` header given twice.
        case duplicateTable
        /// The value has the wrong type for the key.
        case typeMismatch
        /// The value has the right type but fails bounds, allowed values or the key's check.
        case invalidValue
        /// A malformed `--set`/flag argument.
        case badArgument
    }

    /// The category.
    public let kind: Kind
    /// Where: `broker.toml:12`, `environment BROKER_FANOUT_LISTEN`, `--set fanout.listen`.
    public let origin: String
    /// The complaint, e.g. `unknown key 'fanout.max_conns'`.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, origin: String, _ message: String) {
        self.kind = kind
        self.origin = origin
        self.message = message
    }

    /// `origin: message`.
    public var description: String { "\(origin): \(message)" }
}
