// Test rig for FIXSession: a scripted peer, injected time, outbound capture.
//
// Scripts follow the QuickFIX acceptance-test idea (I = we inject, E = we expect), written by us:
//   I35=A|34=1|98=0|108=30|     inject; 49/56/52 filled in for the peer unless given
//   E35=A|34=1|108=30|          expect the next outbound message to carry these fields
//   T31                         advance the clock by 31 s and tick
//   X                           expect a disconnect action
//   L                           expect a loggedOn action
//   A                           expect a deliver action
//   N                           expect nothing more was sent
import FIX
import Testing
import Wire

let t0 = FIXTimestamp.seconds(1_795_788_000)

extension FIXSessionSettings {
    static var acceptorForTests: FIXSessionSettings {
        var s = FIXSessionSettings(role: .acceptor, senderCompID: "EXCH", targetCompID: "CLIENT")
        s.heartbeatInterval = 30
        return s
    }

    static var initiatorForTests: FIXSessionSettings {
        var s = FIXSessionSettings(role: .initiator, senderCompID: "CLIENT", targetCompID: "EXCH")
        s.heartbeatInterval = 30
        return s
    }
}

struct SessionRig {
    var session: FIXSession<FIXMemoryStore>
    var now = t0
    var sent: [DecodedMessage] = []
    var actions: [FIXSessionAction] = []
    var delivered: [DecodedMessage] = []
    var peerSender = "CLIENT"
    var peerTarget = "EXCH"
    /// Outbound messages already matched by script `E` lines (persists across `run` calls).
    var checked = 0

    init(_ settings: FIXSessionSettings = .acceptorForTests, store: FIXMemoryStore = FIXMemoryStore()) {
        session = FIXSession(settings: settings, store: store)
        var a: [FIXSessionAction] = []
        session.connected(now: now, into: &a)
        actions += a
        drain()
        if settings.role == .initiator {
            peerSender = "EXCH"
            peerTarget = "CLIENT"
        }
    }

    mutating func drain() {
        sent += decodeAll(session.takeOutbound())
    }

    /// A peer message around `body` (fields after 35), header filled in where absent.
    func peer(_ body: String, time: FIXTimestamp? = nil) -> [UInt8] {
        var fields = body.split(separator: "|").map(String.init)
        let type = fields.removeFirst()
        var header = [type]
        if !body.contains("|49=") { header.append("49=\(peerSender)") }
        if !body.contains("|56=") { header.append("56=\(peerTarget)") }
        if !body.contains("|52=") {
            var b = ByteBuffer()
            b.writeFIXTimestamp(time ?? now, precision: .milliseconds)
            header.append("52=\(b.readableString)")
        }
        return fixMessage((header + fields).joined(separator: "|") + "|")
    }

    mutating func inject(_ bytes: [UInt8]) {
        var a: [FIXSessionAction] = []
        bytes.withUnsafeBytes { raw in
            session.receive(raw, now: now, into: &a)
        }
        handle(a)
        drain()
        while session.hasQueuedMessageReady {
            var q: [FIXSessionAction] = []
            session.processQueued(now: now, into: &q)
            handle(q)
            drain()
        }
    }

    private mutating func handle(_ a: [FIXSessionAction]) {
        for action in a {
            if action == .deliver { delivered.append(decode(Array(session.inbound.bytes))) }
        }
        actions += a
    }

    mutating func receive(_ body: String) { inject(peer(body)) }

    mutating func advance(_ seconds: Int64) {
        now = now.adding(seconds: seconds)
        var a: [FIXSessionAction] = []
        session.tick(now: now, into: &a)
        actions += a
        drain()
    }

    /// Logs on an acceptor rig with the peer's Logon (seq 1).
    mutating func logon(_ extra: String = "") {
        receive("35=A|34=1|98=0|108=30|" + extra)
        checked = sent.count
    }

    /// Runs a script; reports mismatches at the caller's location.
    mutating func run(_ script: String, sourceLocation: SourceLocation = #_sourceLocation) {
        drain()
        if checked > sent.count { checked = 0 }
        var sentIndex = checked
        defer { checked = sentIndex }
        var actionIndex = 0
        for rawLine in script.split(separator: "\n") {
            let line = String(rawLine.drop { $0 == " " })
            if line.isEmpty || line.hasPrefix("#") { continue }
            let op = line.first!
            let arg = String(line.dropFirst())
            switch op {
            case "I":
                receive(arg)
            case "T":
                advance(Int64(arg)!)
            case "E":
                guard sentIndex < sent.count else {
                    Issue.record("expected \(arg) but nothing more was sent", sourceLocation: sourceLocation)
                    return
                }
                let m = sent[sentIndex]
                sentIndex += 1
                for f in arg.split(separator: "|") {
                    let kv = f.split(separator: "=", maxSplits: 1)
                    let tag = Int(kv[0])!
                    let want = kv.count > 1 ? String(kv[1]) : ""
                    let got = m[tag]
                    if want == "<ABSENT>" {
                        #expect(got == nil, "\(line): tag \(tag) in \(m)", sourceLocation: sourceLocation)
                    } else if want != "<ANY>" {
                        #expect(got == want, "\(line): tag \(tag) in \(m)", sourceLocation: sourceLocation)
                    } else {
                        #expect(got != nil, "\(line): tag \(tag) in \(m)", sourceLocation: sourceLocation)
                    }
                }
            case "N":
                #expect(sentIndex == sent.count, "unexpected: \(sent[sentIndex...])", sourceLocation: sourceLocation)
            case "X", "L", "A":
                let found = actions[actionIndex...].firstIndex { a in
                    switch (op, a) {
                    case ("X", .disconnect), ("L", .loggedOn), ("A", .deliver): return true
                    default: return false
                    }
                }
                if let found {
                    actionIndex = found + 1
                } else {
                    Issue.record(
                        "\(line): no such action in \(actions[actionIndex...])", sourceLocation: sourceLocation)
                }
            default:
                Issue.record("bad script line \(line)", sourceLocation: sourceLocation)
            }
        }
    }

    var disconnectReason: FIXDisconnectReason? {
        for a in actions.reversed() { if case .disconnect(let r) = a { return r } }
        return nil
    }
}
