// FIX session settings read from the platform config file.
import Testing
import Wire

@testable import FIX

@Suite struct FIXSessionSettingsConfigTests {
    let schema = ConfigSchema(
        keys: FIXSessionSettings.configKeys(
            prefix: "exchange.fix", senderCompID: "EXCH", targetCompIDs: ["INGEST"], port: 9878))

    func load(_ text: String) throws -> ConfigFile {
        try ConfigFile(text: text, name: "test.toml", schema: schema)
    }

    @Test func defaultsGiveOneSession() throws {
        let sessions = try FIXSessionSettings.sessions(from: try load(""), prefix: "exchange.fix", role: .acceptor)
        #expect(sessions.count == 1)
        let s = sessions[0]
        #expect(s.senderCompID == "EXCH" && s.targetCompID == "INGEST" && s.port == 9878)
        #expect(s.heartbeatInterval == 30 && s.storeDirectory == nil && s.storeSync == .fsyncOnFlush)
        #expect(s.username == nil && s.validation == .strict)
    }

    @Test func acceptorServesEveryTargetInitiatorTheFirst() throws {
        let text = """
            [exchange.fix]
            target_comp_ids = ["INGEST", "GATEWAY"]
            heartbeat_interval = 5
            store_directory = "/var/lib/broker/fix"
            store_sync = "buffered"
            timestamp_precision = "nanoseconds"
            username = "u"
            validate_duplicate_tags = false
            """
        let acceptor = try FIXSessionSettings.sessions(from: try load(text), prefix: "exchange.fix", role: .acceptor)
        #expect(acceptor.map(\.targetCompID) == ["INGEST", "GATEWAY"])
        #expect(
            acceptor.allSatisfy {
                $0.heartbeatInterval == 5 && $0.storeDirectory == "/var/lib/broker/fix" && $0.storeSync == .buffered
                    && $0.timestampPrecision == .nanoseconds && $0.username == "u" && !$0.validation.rejectDuplicateTags
            })
        let initiator = try FIXSessionSettings.sessions(from: try load(text), prefix: "exchange.fix", role: .initiator)
        #expect(initiator.map(\.targetCompID) == ["INGEST"])
    }

    @Test func inconsistentValuesNameTheKey() throws {
        let empty = try load("[exchange.fix]\ntarget_comp_ids = []\n")
        #expect(
            throws: FIXSettingsError(key: "exchange.fix.target_comp_ids", reason: "needs at least one TargetCompID")
        ) {
            try FIXSessionSettings.sessions(from: empty, prefix: "exchange.fix", role: .acceptor)
        }
        let backwards = try load("[exchange.fix]\nreconnect_interval = 60\nmax_reconnect_interval = 10\n")
        #expect(throws: FIXSettingsError.self) {
            try FIXSessionSettings.sessions(from: backwards, prefix: "exchange.fix", role: .initiator)
        }
        #expect(throws: ConfigError.self) { try load("[exchange.fix]\nheartbeat_interval = 99999\n") }
    }
}
