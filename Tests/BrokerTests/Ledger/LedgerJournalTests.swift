// The journal keeps every flushed record across reopen and drops a torn or corrupt tail.
import Foundation
import Testing
@testable import Broker

@Suite struct LedgerJournalTests {
    func path() -> String { NSTemporaryDirectory() + "journal-\(UUID().uuidString).log" }

    func open(_ p: String) throws -> (LedgerJournal, [String]) {
        var seen: [String] = []
        let j = try LedgerJournal(path: p, policy: .batch) { seen.append(String(decoding: $0, as: UTF8.self)) }
        return (j, seen)
    }

    @Test func recordsSurviveReopen() throws {
        let p = path()
        defer { unlink(p) }
        do {
            let (j, seen) = try open(p)
            #expect(seen.isEmpty)
            for i in 0..<100 { try j.append("record \(i)") }
            try j.flush()
        }
        let (_, seen) = try open(p)
        #expect(seen == (0..<100).map { "record \($0)" })
    }

    @Test func tornTailIsDroppedAndAppendingContinues() throws {
        let p = path()
        defer { unlink(p) }
        do {
            let (j, _) = try open(p)
            try j.append("one")
            try j.append("two")
            try j.flush()
        }
        // A crash mid-write: a header promising 100 bytes, 5 of them written.
        let h = FileHandle(forWritingAtPath: p)!
        h.seekToEndOfFile()
        h.write(Data([100, 0, 0, 0, 1, 2, 3, 4, 65, 66, 67, 68, 69]))
        h.closeFile()
        do {
            let (j, seen) = try open(p)
            #expect(seen == ["one", "two"])
            #expect(j.truncatedBytes == 13)
            try j.append("three")
            try j.flush()
        }
        let (j, seen) = try open(p)
        #expect(seen == ["one", "two", "three"])
        #expect(j.truncatedBytes == 0)
    }

    @Test func corruptRecordEndsRecovery() throws {
        let p = path()
        defer { unlink(p) }
        do {
            let (j, _) = try open(p)
            try j.append("alpha")
            try j.append("beta")
            try j.flush()
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: p))
        bytes[bytes.count - 1] ^= 0xFF   // flip the last byte of "beta"
        try bytes.write(to: URL(fileURLWithPath: p))
        let (j, seen) = try open(p)
        #expect(seen == ["alpha"])
        #expect(j.truncatedBytes == 12)
    }
}
