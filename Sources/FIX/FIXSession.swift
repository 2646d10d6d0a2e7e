// The FIX 4.4 session layer as a pure state machine (FIX 4.4 Vol. 2, "Session Protocol").
//
// Owns: Logon/Logout, heartbeats and TestRequest, inbound sequencing (gap -> ResendRequest and
// queueing until filled, too-low -> Logout), answering ResendRequest from the store with
// PossDup resends and GapFills, SequenceReset, Reject(3) and BusinessMessageReject(j), CompID
// and SendingTime checks. Does no I/O besides the injected store: time comes in as `now:`,
// outbound bytes accumulate in `takeOutbound()`, everything else is returned as actions
// (QuickFIX `Session::next(now)`; postgres-nio `ConnectionStateMachine`).
// Leaves sockets, timers and reconnects to `FIXConnection`.

public import Wire

/// Why the session wants the transport closed.
public enum FIXDisconnectReason: Equatable, Sendable {
    /// We sent Logout and the peer answered.
    case logoutCompleted
    /// The peer sent Logout; we answered.
    case logoutReceived(text: String?)
    /// No Logon answer in time.
    case logonTimeout
    /// No Logout answer in time.
    case logoutTimeout
    /// Still silent after a TestRequest.
    case heartbeatTimeout
    /// The first message was not a valid Logon.
    case firstMessageNotLogon
    /// The Logon was refused (credentials, CompIDs, HeartBtInt).
    case logonRejected(String)
    /// MsgSeqNum lower than expected without PossDupFlag (FIX 4.4 Vol. 2 test case 2.e).
    case msgSeqNumTooLow(expected: Int, received: Int)
    /// A message without a usable MsgSeqNum or MsgType.
    case unsequencedMessage
    /// SenderCompID/TargetCompID did not match.
    case compIDMismatch
    /// SendingTime out of tolerance.
    case sendingTimeAccuracy
    /// More out-of-order messages than `maxQueuedMessages`.
    case queueOverflow
    /// The application asked for it.
    case requested
}

/// What the session asks its owner to do after a call.
public enum FIXSessionAction: Equatable, Sendable {
    /// The message just received (read it through `inbound`) is an in-sequence application
    /// message or a Reject(3): hand it to the application now, before the next call.
    case deliver
    /// The Logon exchange completed.
    case loggedOn
    /// Flush what `takeOutbound()` holds, then close the transport.
    case disconnect(FIXDisconnectReason)
}

/// Counters for metrics and tests.
public struct FIXSessionCounters: Sendable, Equatable {
    public var messagesReceived = 0
    public var messagesSent = 0
    public var rejectsSent = 0
    public var resendRequestsSent = 0
    public var messagesResent = 0
    public var gapFillsSent = 0
    public var invalidMessages = 0
}

/// One FIX session: initiator or acceptor, generic over its store so the hot path calls it directly.
public struct FIXSession<Store: FIXMessageStore> {
    enum State: Equatable { case disconnected, awaitingLogon, logonSent, active, logoutSent }

    /// The configuration.
    public let settings: FIXSessionSettings
    /// Sequence numbers and outbound messages.
    public let store: Store
    /// Counters.
    public internal(set) var counters = FIXSessionCounters()

    var state = State.disconnected
    var encoder = FIXEncoder(buffer: ByteBuffer(capacity: 4096))
    var view: FIXMessageView
    var scratch: FIXMessageView  // for re-reading stored messages during a resend
    let senderID: [UInt8]
    let targetID: [UInt8]
    var heartbeatNanos: Int64
    var connectedAt = FIXTimestamp(nanoseconds: 0)
    var lastReceivedAt = FIXTimestamp(nanoseconds: 0)
    var lastSentAt = FIXTimestamp(nanoseconds: 0)
    var logoutSentAt = FIXTimestamp(nanoseconds: 0)
    var testRequestSentAt: FIXTimestamp?
    var testRequestCounter = 0
    var logonResetRequested = false
    // Gap recovery: the highest MsgSeqNum seen when we sent our ResendRequest; the resend is
    // complete once the expected number passes it (EndSeqNo=0 asks for everything after).
    var resendUpTo: Int?
    var queued: [Int: ByteBuffer] = [:]
    var current: ByteBuffer?  // keeps a dequeued message's bytes alive while it is parsed
    var answeredResendRequest = 0

    /// Creates a session in the disconnected state.
    public init(settings: FIXSessionSettings, store: Store) {
        self.settings = settings
        self.store = store
        senderID = Array(settings.senderCompID.utf8)
        targetID = Array(settings.targetCompID.utf8)
        heartbeatNanos = Int64(settings.heartbeatInterval) * 1_000_000_000
        view = FIXMessageView(capacity: 1024)
        scratch = FIXMessageView(capacity: 1024)
    }

    /// The message of the last `.deliver` action. Valid until the next call into the session.
    public var inbound: FIXMessageView { view }

    /// True between the Logon exchange and the Logout exchange.
    public var isLoggedOn: Bool { state == .active || state == .logoutSent }

    /// The HeartBtInt in force (negotiated on Logon), in seconds.
    public var heartbeatInterval: Int { Int(heartbeatNanos / 1_000_000_000) }

    /// True while a ResendRequest we sent is outstanding.
    public var isResending: Bool { resendUpTo != nil }

    /// Messages held back until a gap is filled.
    public var queuedCount: Int { queued.count }

    /// Bytes to write to the peer, or nil when nothing is pending. Call after every call that
    /// may send; one buffer per call, so many messages of one tick leave in one write.
    public mutating func takeOutbound() -> ByteBuffer? {
        guard encoder.buffer.readableBytes > 0 else { return nil }
        return encoder.takeBuffer()
    }

    // MARK: Transport events

    /// The transport is up. An initiator sends Logon; an acceptor waits for one.
    public mutating func connected(now: FIXTimestamp, into actions: inout [FIXSessionAction]) {
        connectedAt = now
        lastReceivedAt = now
        queued.removeAll()
        resendUpTo = nil
        testRequestSentAt = nil
        heartbeatNanos = Int64(settings.heartbeatInterval) * 1_000_000_000
        switch settings.role {
        case .acceptor:
            state = .awaitingLogon
        case .initiator:
            logonResetRequested = settings.resetOnLogon
            if logonResetRequested { store.reset(now: now) }
            sendLogon(now: now, reset: logonResetRequested)
            state = .logonSent
        }
    }

    /// The transport closed (either side). Resets sequence numbers if configured.
    public mutating func disconnected(now: FIXTimestamp) {
        state = .disconnected
        queued.removeAll()
        current = nil
        resendUpTo = nil
        testRequestSentAt = nil
        if encoder.inMessage { encoder.cancelMessage() }
        encoder.buffer.clear()
        if settings.resetOnDisconnect { store.reset(now: now) }
    }

    /// Starts a Logout (FIX 4.4 Vol. 2 "Logout"): the session ends when the peer answers or
    /// `logoutTimeout` passes.
    public mutating func logout(text: String? = nil, now: FIXTimestamp, into actions: inout [FIXSessionAction]) {
        switch state {
        case .active:
            sendLogout(text: text, now: now)
            state = .logoutSent
            logoutSentAt = now
        case .logoutSent:
            break
        default:
            state = .disconnected
            actions.append(.disconnect(.requested))
        }
    }

    // MARK: Timers

    /// Drives heartbeats and timeouts; call at least once a second.
    public mutating func tick(now: FIXTimestamp, into actions: inout [FIXSessionAction]) {
        switch state {
        case .disconnected:
            return
        case .awaitingLogon, .logonSent:
            if now.nanoseconds - connectedAt.nanoseconds >= Int64(settings.logonTimeout) * 1_000_000_000 {
                state = .disconnected
                actions.append(.disconnect(.logonTimeout))
            }
        case .logoutSent:
            if now.nanoseconds - logoutSentAt.nanoseconds >= Int64(settings.logoutTimeout) * 1_000_000_000 {
                endSession(now: now)
                actions.append(.disconnect(.logoutTimeout))
            }
        case .active:
            guard heartbeatNanos > 0 else { return }
            let silent = now.nanoseconds - lastReceivedAt.nanoseconds
            // QuickFIX's factors: TestRequest after 1.2 intervals of silence (allowing for
            // transmission time, FIX 4.4 Vol. 2 "Heartbeat"), give up after 2.4.
            if silent >= heartbeatNanos * 12 / 10 && testRequestSentAt != nil
                && silent >= heartbeatNanos * 24 / 10
            {
                state = .disconnected
                actions.append(.disconnect(.heartbeatTimeout))
                return
            }
            if silent >= heartbeatNanos * 12 / 10 && testRequestSentAt == nil {
                testRequestCounter += 1
                beginHeader(.testRequest, now: now)
                encoder.field(FIXTag.testReqID, "TEST\(testRequestCounter)")
                finishAdmin(now: now)
                testRequestSentAt = now
            }
            if now.nanoseconds - lastSentAt.nanoseconds >= heartbeatNanos {
                beginHeader(.heartbeat, now: now)
                finishAdmin(now: now)
            }
        }
    }

    // MARK: Sending

    /// Sends an application message: writes the standard header, lets `body` write the body
    /// fields, stores it for resend.
    /// - Returns: the MsgSeqNum used, or nil when the session is not logged on (nothing sent).
    @discardableResult
    public mutating func send(
        _ msgType: FIXMsgType, now: FIXTimestamp, body: (inout FIXEncoder) -> Void
    ) -> Int? {
        guard state == .active else { return nil }
        let seq = store.nextSenderMsgSeqNum
        beginHeader(msgType, now: now)
        body(&encoder)
        let r = encoder.finishMessage()
        if settings.persistMessages {
            encoder.buffer.withUnsafeReadableBytes {
                store.save(seqNum: seq, message: UnsafeRawBufferPointer(rebasing: $0[r]))
            }
        } else {
            // Not kept for resend (QuickFIX PersistMessages=N): a ResendRequest gets a GapFill.
            store.setNextSenderMsgSeqNum(seq + 1)
        }
        lastSentAt = now
        counters.messagesSent += 1
        return seq
    }

    /// Keeps an application message for the peer while the session is not logged on: encodes it under the next
    /// MsgSeqNum into the store without sending it. The peer's next Logon then shows a gap, its ResendRequest
    /// gets the message with PossDupFlag(43)=Y (FIX 4.4 Vol. 2 "Resend Request"; QuickFIX stores what is sent
    /// while logged out the same way), so nothing sent during an outage is lost unless the peer resets.
    /// - Returns: the MsgSeqNum used, or nil when logged on (use `send`) or when messages are not persisted.
    @discardableResult
    public mutating func storeForResend(
        _ msgType: FIXMsgType, now: FIXTimestamp, body: (inout FIXEncoder) -> Void
    ) -> Int? {
        guard state != .active, settings.persistMessages, !encoder.inMessage else { return nil }
        let mark = encoder.buffer.readableBytes
        let seq = store.nextSenderMsgSeqNum
        beginHeader(msgType, now: now)
        body(&encoder)
        let r = encoder.finishMessage()
        encoder.buffer.withUnsafeReadableBytes {
            store.save(seqNum: seq, message: UnsafeRawBufferPointer(rebasing: $0[r]))
        }
        encoder.buffer.truncate(toReadable: mark)   // stored, not sent
        return seq
    }

    mutating func endSession(now: FIXTimestamp) {
        state = .disconnected
        if settings.resetOnLogout { store.reset(now: now) }
    }

    // MARK: Receiving

    /// Handles one framed message (as returned by `FIXFramer`). The bytes must stay valid
    /// until the actions are handled (`.deliver` reads them through `inbound`).
    public mutating func receive(
        _ frame: UnsafeRawBufferPointer, now: FIXTimestamp, into actions: inout [FIXSessionAction]
    ) {
        guard state != .disconnected else { return }
        lastReceivedAt = now
        testRequestSentAt = nil
        counters.messagesReceived += 1
        var parseError: FIXParseError?
        do throws(FIXParseError) { try view.parse(frame, options: settings.validation) } catch { parseError = error }
        if parseError != nil { counters.invalidMessages += 1 }
        guard let msgType = view.msgType, view.msgSeqNum > 0 else {
            // Without MsgSeqNum we cannot sequence or reject it (FIX 4.4 Vol. 2 test case 2.a).
            if state == .active { sendLogout(text: "MsgSeqNum or MsgType missing or invalid", now: now) }
            state = .disconnected
            actions.append(.disconnect(.unsequencedMessage))
            return
        }
        let seq = view.msgSeqNum
        var justLoggedOn = false

        switch state {
        case .disconnected:
            return
        case .awaitingLogon:
            guard msgType == .logon, parseError == nil else {
                state = .disconnected
                actions.append(.disconnect(.firstMessageNotLogon))
                return
            }
            guard acceptLogon(now: now, into: &actions) else { return }
            justLoggedOn = true
        case .logonSent:
            if msgType == .logout {
                state = .disconnected
                actions.append(.disconnect(.logonRejected(view.string(FIXTag.text) ?? "Logout received")))
                return
            }
            guard msgType == .logon, parseError == nil else {
                state = .disconnected
                actions.append(.disconnect(.firstMessageNotLogon))
                return
            }
            guard checkCompIDs(), let hb = view.int(FIXTag.heartBtInt), hb >= 0 else {
                state = .disconnected
                actions.append(.disconnect(.logonRejected("Logon response invalid")))
                return
            }
            if view.bool(FIXTag.resetSeqNumFlag) == true && !logonResetRequested {
                store.setNextTargetMsgSeqNum(1)  // the acceptor restarted its numbering
            }
            state = .active
            justLoggedOn = true
            actions.append(.loggedOn)
        case .active, .logoutSent:
            break
        }

        // Rules for every message of an established session (FIX 4.4 Vol. 2 "Message recovery").
        if let parseError {
            handleInvalid(parseError, msgType: msgType, seq: seq, now: now, into: &actions)
            return
        }
        if settings.checkCompID && !checkCompIDs() {
            sendReject(reason: 9, refTag: nil, text: "CompID problem", refSeqNum: seq, refMsgType: msgType, now: now)
            sendLogout(text: "CompID problem", now: now)
            state = .disconnected
            actions.append(.disconnect(.compIDMismatch))
            return
        }
        if !checkSendingTime(now: now) {
            sendReject(
                reason: 10, refTag: 52, text: "SendingTime accuracy problem", refSeqNum: seq,
                refMsgType: msgType, now: now)
            sendLogout(text: "SendingTime accuracy problem", now: now)
            state = .disconnected
            actions.append(.disconnect(.sendingTimeAccuracy))
            return
        }
        let possDup = view.bool(FIXTag.possDupFlag) == true
        if possDup && msgType != .sequenceReset {
            // PossDup resends carry OrigSendingTime(122), no later than SendingTime (test case 2.g).
            guard let orig = view.timestamp(FIXTag.origSendingTime) else {
                sendReject(
                    reason: 1, refTag: 122, text: "Required tag missing (122)", refSeqNum: seq,
                    refMsgType: msgType, now: now)
                if seq == store.nextTargetMsgSeqNum { store.setNextTargetMsgSeqNum(seq + 1) }
                return
            }
            if let sent = view.timestamp(FIXTag.sendingTime), orig > sent {
                sendReject(
                    reason: 10, refTag: 122, text: "OrigSendingTime later than SendingTime",
                    refSeqNum: seq, refMsgType: msgType, now: now)
                sendLogout(text: "SendingTime accuracy problem", now: now)
                state = .disconnected
                actions.append(.disconnect(.sendingTimeAccuracy))
                return
            }
        }
        if msgType == .logon && state == .active && !justLoggedOn && view.bool(FIXTag.resetSeqNumFlag) == true {
            // A Logon with ResetSeqNumFlag during the session restarts both sequences at 1
            // (FIX 4.4 Vol. 2 "Sequence number reset"); the acknowledging Logon carries 141=Y.
            store.reset(now: now)
            store.setNextTargetMsgSeqNum(seq + 1)
            queued.removeAll()
            resendUpTo = nil
            sendLogon(now: now, reset: true)
            return
        }
        if msgType == .sequenceReset && view.bool(FIXTag.gapFillFlag) != true {
            // Reset mode ignores MsgSeqNum (FIX 4.4 Vol. 2 "Sequence Reset - Reset").
            sequenceReset(seq: seq, now: now)
            return
        }
        if msgType == .resendRequest && seq >= store.nextTargetMsgSeqNum && seq != answeredResendRequest {
            // Answer even when it arrives ahead of a gap: the peer may be waiting for it to move on.
            // Remember it, so the queued copy is not answered twice once the gap is filled.
            answeredResendRequest = seq
            answerResendRequest(now: now)
        }

        let expected = store.nextTargetMsgSeqNum
        if seq > expected {
            if msgType == .logout {
                // A Logout ahead of a gap ends the session anyway; no point recovering first.
                handleLogout(now: now, into: &actions)
                return
            }
            enqueue(frame, seq: seq, expected: expected, now: now, into: &actions)
            return
        }
        if seq < expected {
            if possDup { return }  // a duplicate we already processed
            let text = "MsgSeqNum too low, expecting \(expected) but received \(seq)"
            sendLogout(text: text, now: now)
            state = .disconnected
            actions.append(.disconnect(.msgSeqNumTooLow(expected: expected, received: seq)))
            return
        }
        if let upTo = resendUpTo, seq >= upTo { resendUpTo = nil }

        switch msgType {
        case .logon:
            store.setNextTargetMsgSeqNum(seq + 1)
        case .heartbeat, .testRequest, .resendRequest:
            store.setNextTargetMsgSeqNum(seq + 1)
            if msgType == .testRequest, let r = view.range(FIXTag.testReqID) {
                beginHeader(.heartbeat, now: now)
                encoder.field(FIXTag.testReqID, bytes: UnsafeRawBufferPointer(rebasing: view.bytes[r]))
                finishAdmin(now: now)
            }
        case .sequenceReset:
            gapFill(seq: seq, now: now)
        case .logout:
            store.setNextTargetMsgSeqNum(seq + 1)
            handleLogout(now: now, into: &actions)
        case .reject:
            store.setNextTargetMsgSeqNum(seq + 1)
            actions.append(.deliver)
        default:
            store.setNextTargetMsgSeqNum(seq + 1)
            if msgType.isAdmin || msgType.rawValue == 0 {
                return
            }
            if let supported = settings.supportedApplicationMessageTypes, !supported.contains(msgType) {
                sendBusinessReject(refSeqNum: seq, refMsgType: msgType, now: now)
                return
            }
            actions.append(.deliver)
        }
    }

    /// True when a message that arrived ahead of a gap is ready to be processed now.
    public var hasQueuedMessageReady: Bool { queued[store.nextTargetMsgSeqNum] != nil }

    /// Processes the next queued message if it is now in sequence (call while it returns true,
    /// handling actions after each call as for `receive`).
    @discardableResult
    public mutating func processQueued(now: FIXTimestamp, into actions: inout [FIXSessionAction]) -> Bool {
        let next = store.nextTargetMsgSeqNum
        for seq in queued.keys where seq < next { queued[seq] = nil }  // skipped by a gap fill
        guard state != .disconnected, let bytes = queued.removeValue(forKey: next) else { return false }
        current = bytes
        // Invariant: `current` owns the storage and is not mutated until the next call.
        let frame = UnsafeRawBufferPointer(start: bytes.unsafeReadableAddress, count: bytes.readableBytes)
        receive(frame, now: now, into: &actions)
        return true
    }

    mutating func enqueue(
        _ frame: UnsafeRawBufferPointer, seq: Int, expected: Int, now: FIXTimestamp,
        into actions: inout [FIXSessionAction]
    ) {
        if queued.count >= settings.maxQueuedMessages {
            sendLogout(text: "Too many messages ahead of a sequence gap", now: now)
            state = .disconnected
            actions.append(.disconnect(.queueOverflow))
            return
        }
        // The frame's bytes belong to the caller's read buffer: copy to keep it (STYLE.md 5).
        if queued[seq] == nil { queued[seq] = ByteBuffer(bytes: frame) }
        if resendUpTo == nil {
            resendUpTo = seq
            sendResendRequest(from: expected, now: now)
        }
    }

    mutating func handleInvalid(
        _ error: FIXParseError, msgType: FIXMsgType, seq: Int, now: FIXTimestamp,
        into actions: inout [FIXSessionAction]
    ) {
        let expected = store.nextTargetMsgSeqNum
        if seq > expected {
            // Sequence first: the message is rejected when its turn comes after the gap.
            enqueue(view.bytes, seq: seq, expected: expected, now: now, into: &actions)
            return
        }
        if seq < expected { return }
        sendReject(error, refSeqNum: seq, refMsgType: msgType, now: now)
        store.setNextTargetMsgSeqNum(seq + 1)
    }

    mutating func handleLogout(now: FIXTimestamp, into actions: inout [FIXSessionAction]) {
        if state == .logoutSent {
            endSession(now: now)
            actions.append(.disconnect(.logoutCompleted))
        } else {
            let text = view.string(FIXTag.text)
            sendLogout(text: nil, now: now)
            endSession(now: now)
            actions.append(.disconnect(.logoutReceived(text: text)))
        }
    }

    /// Acceptor side of Logon. Returns false when the session was refused.
    mutating func acceptLogon(now: FIXTimestamp, into actions: inout [FIXSessionAction]) -> Bool {
        func refuse(_ text: String, logout: Bool) -> Bool {
            if logout { sendLogout(text: text, now: now) }
            state = .disconnected
            actions.append(.disconnect(.logonRejected(text)))
            return false
        }
        guard checkCompIDs() else { return refuse("CompID problem", logout: false) }
        guard let hb = view.int(FIXTag.heartBtInt), (0...3600).contains(hb) else {
            return refuse("Invalid HeartBtInt", logout: true)
        }
        if let user = settings.username, !view.value(FIXTag.username, equals: Array(user.utf8)) {
            return refuse("Invalid username or password", logout: true)
        }
        if let pass = settings.password, !view.value(FIXTag.password, equals: Array(pass.utf8)) {
            return refuse("Invalid username or password", logout: true)
        }
        if !checkSendingTime(now: now) { return refuse("SendingTime accuracy problem", logout: true) }
        let reset = view.bool(FIXTag.resetSeqNumFlag) == true
        if reset || settings.resetOnLogon { store.reset(now: now) }
        heartbeatNanos = Int64(hb) * 1_000_000_000
        state = .active
        sendLogon(now: now, reset: reset)
        actions.append(.loggedOn)
        return true
    }

    func checkCompIDs() -> Bool {
        // Their SenderCompID is our TargetCompID and vice versa.
        view.value(FIXTag.senderCompID, equals: targetID) && view.value(FIXTag.targetCompID, equals: senderID)
    }

    func checkSendingTime(now: FIXTimestamp) -> Bool {
        guard settings.checkLatency else { return true }
        guard let sent = view.timestamp(FIXTag.sendingTime) else { return false }
        let skew = abs(now.nanoseconds - sent.nanoseconds)
        return skew <= Int64(settings.maxLatency) * 1_000_000_000
    }

    mutating func sequenceReset(seq: Int, now: FIXTimestamp) {
        let expected = store.nextTargetMsgSeqNum
        guard let newSeq = view.int(FIXTag.newSeqNo), newSeq > 0 else {
            sendReject(
                reason: 6, refTag: 36, text: "Incorrect NewSeqNo", refSeqNum: seq, refMsgType: .sequenceReset, now: now)
            return
        }
        if newSeq < expected {
            sendReject(
                reason: 5, refTag: 36, text: "NewSeqNo \(newSeq) lower than expected \(expected)",
                refSeqNum: seq, refMsgType: .sequenceReset, now: now)
            return
        }
        store.setNextTargetMsgSeqNum(newSeq)
        if let upTo = resendUpTo, newSeq > upTo { resendUpTo = nil }
        dropQueued(below: newSeq)
    }

    /// Forgets queued messages a SequenceReset skipped over.
    mutating func dropQueued(below seq: Int) {
        guard !queued.isEmpty else { return }
        for k in queued.keys where k < seq { queued[k] = nil }
    }

    mutating func gapFill(seq: Int, now: FIXTimestamp) {
        guard let newSeq = view.int(FIXTag.newSeqNo), newSeq > seq else {
            sendReject(
                reason: 5, refTag: 36, text: "NewSeqNo must be greater than MsgSeqNum",
                refSeqNum: seq, refMsgType: .sequenceReset, now: now)
            store.setNextTargetMsgSeqNum(seq + 1)
            return
        }
        store.setNextTargetMsgSeqNum(newSeq)
        if let upTo = resendUpTo, newSeq > upTo { resendUpTo = nil }
        dropQueued(below: newSeq)
    }

}
