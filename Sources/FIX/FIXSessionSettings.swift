// Per-session configuration, with QuickFIX-like knobs and validated bounds.
//
// Owns: `FIXSessionSettings` and `FIXSettingsError`. The config-file reader (Broker) maps its
// keys onto these fields; names follow QuickFIX's session settings where one exists.

/// How the file store makes records durable.
public enum FIXStoreSyncPolicy: Sendable, Equatable {
    /// Records are buffered and written (no fsync) when the store is flushed; a machine crash
    /// can lose the last tick, a process crash cannot once flushed.
    case buffered
    /// Every record is written at once (no fsync).
    case writeThrough
    /// Records are buffered, then written and `fdatasync`ed when the store is flushed (once per
    /// loop tick, before queued socket writes leave): nothing we sent can be forgotten.
    case fsyncOnFlush
    /// Every record is written and `fdatasync`ed at once (slowest, safest).
    case fsyncEveryRecord
}

/// A settings value out of bounds.
public struct FIXSettingsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The setting, as named in the config file.
    public let key: String
    /// What is wrong.
    public let reason: String
    public var description: String { "\(key): \(reason)" }
}

/// Everything one FIX session is configured with.
public struct FIXSessionSettings: Sendable, Equatable {
    /// Which side opens the connection.
    public enum Role: Sendable, Equatable { case initiator, acceptor }

    /// Initiator (connects and sends Logon first) or acceptor.
    public var role: Role
    /// Our SenderCompID(49).
    public var senderCompID: String
    /// The peer's CompID, our TargetCompID(56).
    public var targetCompID: String
    /// HeartBtInt(108) in seconds an initiator proposes; an acceptor adopts the initiator's.
    /// 30 s is the common default (QuickFIX `HeartBtInt`).
    public var heartbeatInterval: Int = 30
    /// Send (initiator) or honour (acceptor) ResetSeqNumFlag(141) on every Logon (`ResetOnLogon`).
    public var resetOnLogon = false
    /// Reset sequence numbers after a Logout exchange (`ResetOnLogout`).
    public var resetOnLogout = false
    /// Reset sequence numbers whenever the connection drops (`ResetOnDisconnect`).
    public var resetOnDisconnect = false
    /// Check SendingTime(52) against our clock (`CheckLatency`).
    public var checkLatency = true
    /// Largest accepted SendingTime skew in seconds (`MaxLatency`, QuickFIX default 120).
    public var maxLatency: Int = 120
    /// Check SenderCompID/TargetCompID of every message (`CheckCompID`).
    public var checkCompID = true
    /// Field validation switches (`ValidateFieldsHaveValues`, duplicate tags, group counts).
    public var validation = FIXValidationOptions.strict
    /// Fraction digits of the timestamps we send (`TimestampPrecision`; FIX 4.4 has ms).
    public var timestampPrecision = FIXTimestampPrecision.milliseconds
    /// Directory of the file store; nil keeps state in memory (`FileStorePath`).
    public var storeDirectory: String?
    /// Keep sent application messages for resend (`PersistMessages`). Market-data sessions
    /// turn it off: a stale quote is worse than a gap, and storing each one costs a copy.
    public var persistMessages = true
    /// How the file store syncs.
    public var storeSync = FIXStoreSyncPolicy.fsyncOnFlush
    /// Initiator: Username(553) to send. Acceptor: Username required on Logon when set.
    public var username: String?
    /// Initiator: Password(554) to send. Acceptor: Password required on Logon when set.
    public var password: String?
    /// Seconds to wait for the Logon answer (`LogonTimeout`, QuickFIX default 10).
    public var logonTimeout: Int = 10
    /// Seconds to wait for the Logout answer (`LogoutTimeout`, QuickFIX default 2).
    public var logoutTimeout: Int = 2
    /// Application MsgTypes the application handles; others are answered with
    /// BusinessMessageReject(j) 380=3. Nil accepts every application message.
    public var supportedApplicationMessageTypes: Set<FIXMsgType>?
    /// Out-of-order messages held while a gap is being resent; past it the session disconnects,
    /// bounding memory against a peer that never fills its gap.
    public var maxQueuedMessages = 10_000
    /// Largest BodyLength accepted (1 MiB is far above any message exchanged here).
    public var maxBodyLength = 1 << 20
    /// Initiator: first reconnect delay in seconds (`ReconnectInterval`), doubled per failure...
    public var reconnectInterval: Int = 1
    /// ...up to this many seconds.
    public var maxReconnectInterval: Int = 30
    /// Initiator: where to connect.
    public var host = "127.0.0.1"
    /// Initiator: port to connect to; acceptor: port to listen on.
    public var port = 0

    /// Creates settings with the defaults above.
    public init(role: Role, senderCompID: String, targetCompID: String) {
        self.role = role
        self.senderCompID = senderCompID
        self.targetCompID = targetCompID
    }

    /// Checks every bound; call at startup so a bad config fails before any connection.
    public func validate() throws(FIXSettingsError) {
        func bad(_ key: String, _ reason: String) -> FIXSettingsError { FIXSettingsError(key: key, reason: reason) }
        for (key, id) in [("SenderCompID", senderCompID), ("TargetCompID", targetCompID)] {
            if id.isEmpty || id.utf8.count > 64 { throw bad(key, "must be 1...64 characters") }
            if id.utf8.contains(where: { $0 <= 32 || $0 >= 127 || $0 == UInt8(ascii: "=") }) {
                throw bad(key, "must be printable ASCII without spaces or '='")
            }
        }
        if !(0...3600).contains(heartbeatInterval) { throw bad("HeartBtInt", "must be 0...3600 seconds") }
        if !(1...86_400).contains(maxLatency) { throw bad("MaxLatency", "must be 1...86400 seconds") }
        if !(1...600).contains(logonTimeout) { throw bad("LogonTimeout", "must be 1...600 seconds") }
        if !(1...600).contains(logoutTimeout) { throw bad("LogoutTimeout", "must be 1...600 seconds") }
        if !(1...1_000_000).contains(maxQueuedMessages) { throw bad("MaxQueuedMessages", "must be 1...1000000") }
        if !(256...9_999_999).contains(maxBodyLength) { throw bad("MaxBodyLength", "must be 256...9999999") }
        if !(1...3600).contains(reconnectInterval) { throw bad("ReconnectInterval", "must be 1...3600 seconds") }
        if maxReconnectInterval < reconnectInterval || maxReconnectInterval > 86_400 {
            throw bad("MaxReconnectInterval", "must be ReconnectInterval...86400 seconds")
        }
        if !(0...65_535).contains(port) { throw bad("SocketConnectPort", "must be 0...65535") }
        if let dir = storeDirectory, dir.isEmpty { throw bad("FileStorePath", "must not be empty") }
    }
}
