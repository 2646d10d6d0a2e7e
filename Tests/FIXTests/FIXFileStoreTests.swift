// File store: persistence across reopen, torn records, slot fallback, reset, resend after restart.
import Foundation
import Testing

@testable import FIX

@Suite struct FIXFileStoreTests {
    let dir: String

    init() {
        dir = NSTemporaryDirectory() + "fixstore-" + UUID().uuidString
    }

    func open(_ policy: FIXStoreSyncPolicy = .fsyncOnFlush) throws -> FIXFileStore {
        try FIXFileStore(directory: dir, senderCompID: "EXCH", targetCompID: "CLIENT", policy: policy, now: t0)
    }

    func messages(_ store: FIXFileStore, _ range: ClosedRange<Int> = 1...1000) -> [Int: [UInt8]] {
        var out: [Int: [UInt8]] = [:]
        store.forEachMessage(in: range) { seq, bytes in out[seq] = Array(bytes) }
        return out
    }

    func save(_ store: FIXFileStore, _ seq: Int, _ text: String) {
        Array(text.utf8).withUnsafeBytes { store.save(seqNum: seq, message: $0) }
    }

    @Test func survivesReopen() throws {
        for policy in [FIXStoreSyncPolicy.buffered, .writeThrough, .fsyncOnFlush, .fsyncEveryRecord] {
            try? FileManager.default.removeItem(atPath: dir)
            do {
                let s = try open(policy)
                save(s, 1, "one")
                s.setNextSenderMsgSeqNum(3)  // an admin message took 2
                save(s, 3, "three")
                s.setNextTargetMsgSeqNum(42)
                s.flush()
            }
            let s = try open(policy)
            #expect(s.nextSenderMsgSeqNum == 4 && s.nextTargetMsgSeqNum == 42, "\(policy)")
            #expect(messages(s) == [1: Array("one".utf8), 3: Array("three".utf8)], "\(policy)")
            #expect(messages(s, 2...3).keys.sorted() == [3])
            #expect(s.creationTime == t0 && s.recoveredTornBytes == 0)
        }
    }

    @Test func missingParentDirectoriesAreCreated() throws {
        let nested = dir + "/data/fix"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let s = try FIXFileStore(directory: nested, senderCompID: "A", targetCompID: "B", now: t0)
            s.setNextSenderMsgSeqNum(7)
            s.flush()
        }
        #expect(try FIXFileStore(directory: nested, senderCompID: "A", targetCompID: "B", now: t0).nextSenderMsgSeqNum == 7)
        // A file in the way is an error naming the call.
        #expect(FileManager.default.createFile(atPath: dir + "/file", contents: nil))
        #expect(throws: FIXStoreError.self) {
            try FIXFileStore(directory: dir + "/file/fix", senderCompID: "A", targetCompID: "B", now: t0)
        }
    }

    @Test func tornLastRecordIsCutOff() throws {
        do {
            let s = try open()
            save(s, 1, "one")
            save(s, 2, "two")
            s.flush()
        }
        let path = dir + "/EXCH-CLIENT.body"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let full = data.count
        data.removeLast(3)  // the last record lost its tail in the crash
        try data.write(to: URL(fileURLWithPath: path))
        let s = try open()
        #expect(s.recoveredTornBytes > 0)
        #expect(messages(s).keys.sorted() == [1])
        save(s, 2, "two again")
        s.flush()
        let s2 = try open()
        #expect(messages(s2)[2] == Array("two again".utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == full + 6)
    }

    @Test func corruptRecordStopsReplay() throws {
        do {
            let s = try open()
            save(s, 1, "one")
            save(s, 2, "two")
            s.flush()
        }
        let path = dir + "/EXCH-CLIENT.body"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count - 6] ^= 0xFF  // flip a byte inside the last message
        try data.write(to: URL(fileURLWithPath: path))
        let s = try open()
        #expect(messages(s).keys.sorted() == [1])
    }

    @Test func tornSequenceSlotFallsBackToPreviousGeneration() throws {
        do {
            let s = try open()
            s.setNextTargetMsgSeqNum(10)
            s.flush()  // generation 1 -> slot 1
            s.setNextTargetMsgSeqNum(11)
            s.flush()  // generation 2 -> slot 0
        }
        let path = dir + "/EXCH-CLIENT.seqnums"
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[17] ^= 0xFF  // garble slot 0
        try data.write(to: URL(fileURLWithPath: path))
        let s = try open()
        #expect(s.nextTargetMsgSeqNum == 10)
    }

    @Test func senderSeqRecoveredFromLogWhenSlotsLost() throws {
        do {
            let s = try open()
            save(s, 1, "a")
            save(s, 2, "b")
            s.flush()
        }
        try Data().write(to: URL(fileURLWithPath: dir + "/EXCH-CLIENT.seqnums"))
        let s = try open()
        #expect(s.nextSenderMsgSeqNum == 3 && s.nextTargetMsgSeqNum == 1)
    }

    @Test func resetStartsOver() throws {
        let s = try open()
        save(s, 1, "a")
        s.setNextTargetMsgSeqNum(9)
        s.reset(now: t0.adding(seconds: 5))
        #expect(s.nextSenderMsgSeqNum == 1 && s.nextTargetMsgSeqNum == 1 && s.messageCount == 0)
        let s2 = try open()
        #expect(s2.nextSenderMsgSeqNum == 1 && s2.messageCount == 0 && s2.creationTime == t0.adding(seconds: 5))
    }

    @Test func restartedEngineAnswersResendWithOriginalMessages() throws {
        do {
            let store = try open()
            var session = FIXSession(settings: .acceptorForTests, store: store)
            let rig = SessionRig()
            var a: [FIXSessionAction] = []
            session.connected(now: t0, into: &a)
            rig.peer("35=A|34=1|98=0|108=30|").withUnsafeBytes { session.receive($0, now: t0, into: &a) }
            for i in 0..<3 {
                session.send(.executionReport, now: t0) { enc in enc.field(17, "exec-\(i)") }
            }
            _ = session.takeOutbound()
            store.flush()
            // crash: no logout, objects dropped
        }
        let store = try open()
        #expect(store.nextSenderMsgSeqNum == 5 && store.nextTargetMsgSeqNum == 2)
        var rig = SessionRig(.acceptorForTests, store: FIXMemoryStore())
        rig.session = FIXSession(settings: .acceptorForTests, store: FIXMemoryStore())
        var session = FIXSession(settings: .acceptorForTests, store: store)
        var a: [FIXSessionAction] = []
        session.connected(now: t0, into: &a)
        rig.peer("35=A|34=2|98=0|108=30|").withUnsafeBytes { session.receive($0, now: t0, into: &a) }
        rig.peer("35=2|34=3|7=1|16=0|").withUnsafeBytes { session.receive($0, now: t0, into: &a) }
        let out = decodeAll(session.takeOutbound())
        // Logon 5, then: GapFill over our old Logon 1, the three executions, GapFill over Logon 5.
        #expect(out.map(\.msgType) == ["A", "4", "8", "8", "8", "4"])
        #expect(out[0].seq == 5)
        #expect(out[1][36] == "2" && out[5].seq == 5 && out[5][36] == "6")
        #expect(out[2..<5].map { $0[17] } == ["exec-0", "exec-1", "exec-2"])
        #expect(out[2..<5].allSatisfy { $0[43] == "Y" && $0[122] != nil })
        try? FileManager.default.removeItem(atPath: dir)
    }
}
