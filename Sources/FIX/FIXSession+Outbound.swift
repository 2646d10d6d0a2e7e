// FIXSession's outbound side: the standard header, administrative messages, rejects, and
// answering a ResendRequest from the store (FIX 4.4 Vol. 2 "Resend Request", "Sequence Reset").
//
// Owns: what the session writes into its encoder. Leaves deciding when to write to FIXSession.swift.

import Wire

extension FIXSession {
    /// Starts a message with the standard header: CompIDs, MsgSeqNum (the next one unless `seq`
    /// is given, as for resends) and SendingTime (FIX 4.4 Vol. 2 "Standard Message Header").
    mutating func beginHeader(_ msgType: FIXMsgType, now: FIXTimestamp, seq: Int? = nil) {
        encoder.beginMessage(msgType)
        encoder.field(FIXTag.senderCompID, bytes: senderID)
        encoder.field(FIXTag.targetCompID, bytes: targetID)
        encoder.field(FIXTag.msgSeqNum, seq ?? store.nextSenderMsgSeqNum)
        encoder.field(FIXTag.sendingTime, timestamp: now, precision: settings.timestampPrecision)
    }

    /// Finishes an administrative message: consumes its sequence number without storing it.
    mutating func finishAdmin(now: FIXTimestamp) {
        encoder.finishMessage()
        store.setNextSenderMsgSeqNum(store.nextSenderMsgSeqNum + 1)
        lastSentAt = now
        counters.messagesSent += 1
    }

    /// Logon(A): EncryptMethod 0, our HeartBtInt, ResetSeqNumFlag when resetting, credentials.
    mutating func sendLogon(now: FIXTimestamp, reset: Bool) {
        beginHeader(.logon, now: now)
        encoder.field(FIXTag.encryptMethod, 0)
        encoder.field(FIXTag.heartBtInt, Int(heartbeatNanos / 1_000_000_000))
        if reset { encoder.field(FIXTag.resetSeqNumFlag, bool: true) }
        if settings.role == .initiator {
            if let u = settings.username { encoder.field(FIXTag.username, u) }
            if let p = settings.password { encoder.field(FIXTag.password, p) }
        }
        finishAdmin(now: now)
    }

    mutating func sendLogout(text: String?, now: FIXTimestamp) {
        beginHeader(.logout, now: now)
        if let text { encoder.field(FIXTag.text, text) }
        finishAdmin(now: now)
    }

    mutating func sendReject(_ error: FIXParseError, refSeqNum: Int, refMsgType: FIXMsgType?, now: FIXTimestamp)
    {
        sendReject(
            reason: error.sessionRejectReason ?? 99, refTag: error.refTagID, text: error.text,
            refSeqNum: refSeqNum, refMsgType: refMsgType, now: now)
    }

    mutating func sendReject(
        reason: Int, refTag: Int?, text: String, refSeqNum: Int, refMsgType: FIXMsgType?, now: FIXTimestamp
    ) {
        beginHeader(.reject, now: now)
        encoder.field(FIXTag.refSeqNum, refSeqNum)
        if let refTag { encoder.field(FIXTag.refTagID, refTag) }
        if let refMsgType { encoder.field(FIXTag.refMsgType, msgType: refMsgType) }
        encoder.field(FIXTag.sessionRejectReason, reason)
        encoder.field(FIXTag.text, text)
        finishAdmin(now: now)
        counters.rejectsSent += 1
    }

    mutating func sendResendRequest(from begin: Int, now: FIXTimestamp) {
        beginHeader(.resendRequest, now: now)
        encoder.field(FIXTag.beginSeqNo, begin)
        encoder.field(FIXTag.endSeqNo, 0)  // FIX 4.4: 0 means "through the latest"
        finishAdmin(now: now)
        counters.resendRequestsSent += 1
    }

    mutating func sendBusinessReject(refSeqNum: Int, refMsgType: FIXMsgType, now: FIXTimestamp) {
        beginHeader(.businessMessageReject, now: now)
        encoder.field(FIXTag.refSeqNum, refSeqNum)
        encoder.field(FIXTag.refMsgType, msgType: refMsgType)
        encoder.field(FIXTag.businessRejectReason, 3)  // 3 = Unsupported Message Type
        encoder.field(FIXTag.text, "Unsupported Message Type")
        finishAdmin(now: now)
        counters.rejectsSent += 1
    }

    /// Answers the ResendRequest in `view` from the store (FIX 4.4 Vol. 2 "Resend Request"):
    /// application messages again with PossDupFlag(43)=Y and OrigSendingTime(122), runs of
    /// administrative or unknown numbers as one SequenceReset-GapFill.
    mutating func answerResendRequest(now: FIXTimestamp) {
        guard let begin = view.int(FIXTag.beginSeqNo), let endRaw = view.int(FIXTag.endSeqNo), begin > 0 else { return }
        let last = store.nextSenderMsgSeqNum - 1
        let end = (endRaw == 0 || endRaw > last) ? last : endRaw
        guard begin <= end else { return }
        // Cold path: copy what the store yields so the store's buffers are not held while encoding.
        var stored: [(Int, ByteBuffer)] = []
        store.forEachMessage(in: begin...end) { seq, bytes in stored.append((seq, ByteBuffer(bytes: bytes))) }
        var expectedNext = begin  // first number not yet covered by a resend or gap fill
        for (seq, message) in stored {
            message.withUnsafeReadableBytes { raw in
                do throws(FIXParseError) { try scratch.parse(raw, options: .lenient) } catch { return }
                guard let type = scratch.msgType, !type.isAdmin else { return }
                if seq > expectedNext { sendGapFill(from: expectedNext, to: seq, now: now) }
                resendStored(seq: seq, now: now)
                expectedNext = seq + 1
            }
        }
        if expectedNext <= end { sendGapFill(from: expectedNext, to: end + 1, now: now) }
        lastSentAt = now
    }

    mutating func sendGapFill(from seq: Int, to newSeq: Int, now: FIXTimestamp) {
        beginHeader(.sequenceReset, now: now, seq: seq)
        encoder.field(FIXTag.possDupFlag, bool: true)
        encoder.field(FIXTag.origSendingTime, timestamp: now, precision: settings.timestampPrecision)
        encoder.field(FIXTag.gapFillFlag, bool: true)
        encoder.field(FIXTag.newSeqNo, newSeq)
        encoder.finishMessage()
        counters.gapFillsSent += 1
    }

    /// Re-encodes the message in `scratch` with a fresh header and PossDupFlag.
    mutating func resendStored(seq: Int, now: FIXTimestamp) {
        guard let type = scratch.msgType else { return }
        beginHeader(type, now: now, seq: seq)
        encoder.field(FIXTag.possDupFlag, bool: true)
        if let r = scratch.range(FIXTag.sendingTime) {
            encoder.field(FIXTag.origSendingTime, bytes: UnsafeRawBufferPointer(rebasing: scratch.bytes[r]))
        }
        for k in 0..<scratch.fieldCount {
            let f = scratch.field(at: k)
            switch Int(f.tag) {
            case 8, 9, 10, 35, 49, 56, 34, 43, 52, 97, 122: continue
            default: encoder.field(Int(f.tag), bytes: UnsafeRawBufferPointer(rebasing: scratch.bytes[f.range]))
            }
        }
        encoder.finishMessage()
        counters.messagesResent += 1
    }
}
