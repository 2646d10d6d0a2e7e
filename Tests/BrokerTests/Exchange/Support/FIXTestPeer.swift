// A FIX initiator peer for black-box tests of the exchange simulator: logs on over loopback and
// records what arrives (execution reports, cancel rejects, market-data entries with RptSeq).
import FIX
import Logging
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

/// One market-data entry as received.
struct ReceivedEntry: Equatable {
    var msgType: String
    var symbol: String
    var type: UInt8
    var seq: Int
    var price: Int64
    var timeNanos: Int64
}

final class FIXTestPeer: FIXApplication {
    var initiator: FIXInitiator!
    var loggedOn = false
    var reports: [FIXExecutionReport] = []
    var cancelRejects: [FIXOrderCancelReject] = []
    var entries: [ReceivedEntry] = []
    var mdRejects: [String] = []
    var businessRejects: [String] = []

    init(loop: EventLoop, port: Int, sender: String = "INGEST", target: String = "EXCHANGE") throws {
        var s = FIXSessionSettings(role: .initiator, senderCompID: sender, targetCompID: target)
        s.port = port
        s.resetOnLogon = true
        initiator = try FIXInitiator(settings: s, loop: loop, application: self, logger: Logger(label: "peer"))
        initiator.start()
    }

    var connection: FIXConnection { initiator.connection }

    func fixConnectionDidLogOn(_ connection: FIXConnection) { loggedOn = true }
    func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?) { loggedOn = false }

    func fixConnection(_ connection: FIXConnection, didReceive v: FIXMessageView) {
        switch v.msgType {
        case .executionReport?: if let r = try? FIXExecutionReport(v) { reports.append(r) }
        case .orderCancelReject?: if let r = try? FIXOrderCancelReject(v) { cancelRejects.append(r) }
        case .marketDataRequestReject?: mdRejects.append(v.string(FIXTag.text) ?? "")
        case .businessMessageReject?: businessRejects.append(v.string(FIXTag.text) ?? "")
        case .marketDataSnapshotFullRefresh?, .marketDataIncrementalRefresh?:
            let t = v.msgType == .marketDataSnapshotFullRefresh ? "W" : "X"
            let body = v.string(FIXTag.symbol) ?? ""
            guard let g = v.group(FIXTag.noMDEntries) else { return }
            v.forEachEntry(of: g) { e in
                var r = ReceivedEntry(msgType: t, symbol: v.string(FIXTag.symbol, in: e) ?? body,
                                      type: v.char(FIXTag.mdEntryType, in: e) ?? 0, seq: v.int(83, in: e) ?? -1,
                                      price: v.price(FIXTag.mdEntryPx, in: e) ?? -1, timeNanos: -1)
                if let tr = v.range(FIXTag.mdEntryTime, in: e), let d = v.range(FIXTag.mdEntryDate, in: e),
                   let nanos = FIXValue.timeOnly(v.bytes, tr), let days = FIXValue.dateOnly(v.bytes, d) {
                    r.timeNanos = days * 86_400_000_000_000 + nanos
                }
                entries.append(r)
            }
        default: break
        }
    }
}

/// A loop on its own thread plus helpers to run code on it and wait for conditions.
final class LoopRig {
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }

    init(name: String = "rig") throws {
        group = try EventLoopGroup(count: 1, name: name)
        group.start()
    }

    @discardableResult
    func sync<T>(_ body: @escaping () throws -> T) throws -> T { try loop.submitAndWait(body) }

    /// Polls `condition` on the loop every 5 ms until it holds or `seconds` pass.
    func wait(seconds: Double = 10, until condition: @escaping () -> Bool) -> Bool {
        let deadline = Syscalls.monotonicNanos() + UInt64(seconds * 1e9)
        while Syscalls.monotonicNanos() < deadline {
            if (try? sync(condition)) == true { return true }
            usleep(5_000)
        }
        return (try? sync(condition)) == true
    }

    deinit {
        group.stop()
        group.join()
    }
}
