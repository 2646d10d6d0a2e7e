// Role: what every `broker` subcommand shares: the parsed command line, the resolved config and
// the logger. The executable maps subcommands onto `BrokerRoles.run`.
public import Wire
public import Logging

/// One resolved invocation of a role.
public struct RoleContext: Sendable {
    /// The subcommand (demo, fanout, ...).
    public var role: String
    /// The resolved configuration.
    public var config: ConfigFile
    /// Arguments that were neither config overrides nor known flags (role-specific switches).
    public var arguments: [String]
    /// The process logger.
    public var logger: Logger

    /// Creates a context.
    public init(role: String, config: ConfigFile, arguments: [String], logger: Logger) {
        self.role = role
        self.config = config
        self.arguments = arguments
        self.logger = logger
    }

    /// The value following `flag` in the remaining arguments, if any.
    public func argument(_ flag: String) -> String? {
        guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }

    /// True when `flag` is among the remaining arguments.
    public func has(_ flag: String) -> Bool { arguments.contains(flag) }
}

/// Why a role could not start.
public struct RoleError: Error, CustomStringConvertible {
    /// What went wrong, for the operator.
    public let description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
