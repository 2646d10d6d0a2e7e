// FIX session settings in the platform's config file (DESIGN.md "Config").
//
// Owns: the config keys of one FIX endpoint under a table chosen by the role that uses it
// (e.g. `exchange.fix`, `ingest.fix`, `gateway.fix`) and reading them into `FIXSessionSettings`,
// one per TargetCompID, so an acceptor serves many sessions keyed by CompIDs. The roles declare
// these keys in their schema; this file only knows the FIX meaning of each.

public import Wire

extension FIXSessionSettings {
    /// The keys of a FIX endpoint under `prefix`, with the defaults and bounds of `FIXSessionSettings`.
    /// - Parameters:
    ///   - prefix: the table, e.g. `"exchange.fix"`.
    ///   - senderCompID: default SenderCompID of this role.
    ///   - targetCompIDs: default peers (an acceptor serves one session per entry).
    ///   - host: default host (initiators connect to it, acceptors bind it).
    ///   - port: default port.
    public static func configKeys(
        prefix: String, senderCompID: String, targetCompIDs: [String], host: String = "127.0.0.1", port: Int
    ) -> [ConfigKey] {
        let p = prefix + "."
        return [
            .string(p + "sender_comp_id", default: senderCompID, doc: "SenderCompID(49) of this side."),
            .strings(
                p + "target_comp_ids", default: targetCompIDs,
                doc: "TargetCompID(56) of each peer. An acceptor serves one session per entry, routed by\n"
                    + "the CompIDs of the first Logon; an initiator uses the first entry."),
            .string(p + "host", default: host, doc: "Initiator: host to connect to. Acceptor: address to bind."),
            .integer(
                p + "port", default: port, bounds: 0...65_535,
                doc: "Initiator: port to connect to. Acceptor: port to listen on."),
            .integer(
                p + "heartbeat_interval", default: 30, bounds: 0...3600,
                doc: "HeartBtInt(108) in seconds an initiator proposes; acceptors adopt the initiator's."),
            .bool(p + "reset_on_logon", default: false, doc: "Send/honour ResetSeqNumFlag(141) on every Logon."),
            .bool(p + "reset_on_logout", default: false, doc: "Restart sequence numbers after a Logout exchange."),
            .bool(
                p + "reset_on_disconnect", default: false,
                doc: "Restart sequence numbers whenever the connection drops."),
            .bool(
                p + "check_latency", default: true,
                doc: "Reject messages whose SendingTime(52) is off by more than max_latency."),
            .integer(
                p + "max_latency", default: 120, bounds: 1...86_400,
                doc: "Largest SendingTime skew in seconds (QuickFIX's default)."),
            .bool(p + "check_comp_id", default: true, doc: "Reject and log out on a wrong SenderCompID/TargetCompID."),
            .bool(
                p + "validate_duplicate_tags", default: true,
                doc: "Reject a tag repeated outside a repeating group (373=13)."),
            .bool(
                p + "validate_required_fields", default: true,
                doc: "Reject messages missing a required field (373=1)."),
            .bool(
                p + "validate_group_counts", default: true,
                doc: "Reject a NumInGroup that disagrees with its entries (373=16)."),
            .string(
                p + "timestamp_precision", default: "milliseconds", doc: "Fraction digits of the timestamps we send.",
                allowed: ["seconds", "milliseconds", "microseconds", "nanoseconds"]),
            .string(
                p + "store_directory", default: "",
                doc: "Directory of the durable message store (sequence numbers and sent messages survive\n"
                    + "restarts and answer resends); empty keeps them in memory."),
            .bool(
                p + "persist_messages", default: true,
                doc: "Keep sent application messages to answer ResendRequest; market-data sessions may turn\n"
                    + "it off and answer with a GapFill instead."),
            .string(
                p + "store_sync", default: "fsync_on_flush",
                doc: "When store records reach the disk: fsync_on_flush syncs once per loop tick before that\n"
                    + "tick's messages leave.",
                allowed: ["buffered", "write_through", "fsync_on_flush", "fsync_every_record"]),
            .string(
                p + "username", default: "", doc: "Initiator: Username(553) sent. Acceptor: required when not empty."),
            .string(
                p + "password", default: "", doc: "Initiator: Password(554) sent. Acceptor: required when not empty."),
            .integer(p + "logon_timeout", default: 10, bounds: 1...600, doc: "Seconds to wait for the Logon answer."),
            .integer(p + "logout_timeout", default: 2, bounds: 1...600, doc: "Seconds to wait for the Logout answer."),
            .integer(
                p + "max_queued_messages", default: 10_000, bounds: 1...1_000_000,
                doc: "Messages held while a sequence gap is resent; past it the session disconnects."),
            .integer(
                p + "max_body_length", default: 1 << 20, bounds: 256...9_999_999,
                doc: "Largest BodyLength(9) accepted, bounding what a peer can make us buffer."),
            .integer(
                p + "reconnect_interval", default: 1, bounds: 1...3600,
                doc: "Initiator: first reconnect delay in seconds, doubled per failed attempt..."),
            .integer(p + "max_reconnect_interval", default: 30, bounds: 1...86_400, doc: "...up to this many seconds."),
        ]
    }

    /// Reads the sessions configured under `prefix`: one per TargetCompID (the first only for
    /// an initiator).
    /// - Throws: `FIXSettingsError` when the values are inconsistent (e.g. no TargetCompID).
    public static func sessions(
        from config: ConfigFile, prefix: String, role: Role
    ) throws(FIXSettingsError)
        -> [FIXSessionSettings]
    {
        let p = prefix + "."
        let targets = config.strings(p + "target_comp_ids")
        guard !targets.isEmpty else {
            throw FIXSettingsError(key: p + "target_comp_ids", reason: "needs at least one TargetCompID")
        }
        var out: [FIXSessionSettings] = []
        for target in role == .initiator ? [targets[0]] : targets {
            var s = FIXSessionSettings(
                role: role, senderCompID: config.string(p + "sender_comp_id"), targetCompID: target)
            s.host = config.string(p + "host")
            s.port = config.int(p + "port")
            s.heartbeatInterval = config.int(p + "heartbeat_interval")
            s.resetOnLogon = config.bool(p + "reset_on_logon")
            s.resetOnLogout = config.bool(p + "reset_on_logout")
            s.resetOnDisconnect = config.bool(p + "reset_on_disconnect")
            s.checkLatency = config.bool(p + "check_latency")
            s.maxLatency = config.int(p + "max_latency")
            s.checkCompID = config.bool(p + "check_comp_id")
            s.validation = FIXValidationOptions(
                rejectDuplicateTags: config.bool(p + "validate_duplicate_tags"),
                checkRequiredFields: config.bool(p + "validate_required_fields"),
                checkGroupCounts: config.bool(p + "validate_group_counts"))
            switch config.string(p + "timestamp_precision") {
            case "seconds": s.timestampPrecision = .seconds
            case "microseconds": s.timestampPrecision = .microseconds
            case "nanoseconds": s.timestampPrecision = .nanoseconds
            default: s.timestampPrecision = .milliseconds
            }
            s.persistMessages = config.bool(p + "persist_messages")
            let dir = config.string(p + "store_directory")
            s.storeDirectory = dir.isEmpty ? nil : dir
            switch config.string(p + "store_sync") {
            case "buffered": s.storeSync = .buffered
            case "write_through": s.storeSync = .writeThrough
            case "fsync_every_record": s.storeSync = .fsyncEveryRecord
            default: s.storeSync = .fsyncOnFlush
            }
            let user = config.string(p + "username")
            let pass = config.string(p + "password")
            s.username = user.isEmpty ? nil : user
            s.password = pass.isEmpty ? nil : pass
            s.logonTimeout = config.int(p + "logon_timeout")
            s.logoutTimeout = config.int(p + "logout_timeout")
            s.maxQueuedMessages = config.int(p + "max_queued_messages")
            s.maxBodyLength = config.int(p + "max_body_length")
            s.reconnectInterval = config.int(p + "reconnect_interval")
            s.maxReconnectInterval = config.int(p + "max_reconnect_interval")
            do throws(FIXSettingsError) {
                try s.validate()
            } catch {
                throw FIXSettingsError(key: p + error.key, reason: error.reason)
            }
            out.append(s)
        }
        return out
    }
}
