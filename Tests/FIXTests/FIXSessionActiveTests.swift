// In-session rules: heartbeats, TestRequest, sequence gaps and resends, rejects.
import Testing
import Wire

@testable import FIX

@Suite struct FIXSessionActiveTests {
    func loggedOn(_ settings: FIXSessionSettings = .acceptorForTests) -> SessionRig {
        var rig = SessionRig(settings)
        rig.logon()
        return rig
    }

    @Test func heartbeatAfterIntervalOfOurSilence() {
        var rig = loggedOn()
        rig.run(
            """
            T29
            N
            I35=0|34=2|
            T1
            E35=0|34=2|112=<ABSENT>
            """)
    }

    @Test func testRequestAnsweredWithHeartbeat() {
        var rig = loggedOn()
        rig.run("I35=1|34=2|112=ABC|\nE35=0|34=2|112=ABC|")
    }

    @Test func silentPeerGetsTestRequestThenDisconnect() {
        var rig = loggedOn()
        rig.run(
            """
            T30
            E35=0|
            T6
            E35=1|112=TEST1|
            N
            T30
            E35=0|
            T36
            X
            """)
        #expect(rig.disconnectReason == .heartbeatTimeout)
    }

    @Test func answeredTestRequestKeepsSession() {
        var rig = loggedOn()
        rig.run("T36\nE35=1|\nI35=0|34=2|112=TEST1|\nT30\nT10")
        #expect(rig.disconnectReason == nil)
    }

    @Test func applicationMessageDelivered() {
        var rig = loggedOn()
        rig.run("I35=D|34=2|11=o1|55=TCS|54=1|60=20260101-00:00:00|40=1|38=5|\nA\nN")
        #expect(rig.delivered.map { $0[11] } == ["o1"])
        #expect(rig.session.store.nextTargetMsgSeqNum == 3)
    }

    @Test func gapTriggersResendRequestAndQueues() {
        var rig = loggedOn()
        rig.run(
            """
            I35=D|34=4|11=o4|55=TCS|54=1|60=20260101-00:00:00|40=1|
            E35=2|7=2|16=0|
            I35=D|34=5|11=o5|55=TCS|54=1|60=20260101-00:00:00|40=1|
            N
            """)
        #expect(rig.delivered.isEmpty && rig.session.queuedCount == 2 && rig.session.isResending)
        // The peer resends 2 as an application message and gap-fills 3.
        rig.receive("35=D|34=2|43=Y|122=20260101-00:00:00|11=o2|55=TCS|54=1|60=20260101-00:00:00|40=1|")
        rig.receive("35=4|34=3|43=Y|123=Y|36=4|")
        #expect(rig.delivered.map { $0[11] } == ["o2", "o4", "o5"])
        #expect(rig.session.store.nextTargetMsgSeqNum == 6 && !rig.session.isResending)
        #expect(rig.session.queuedCount == 0)
    }

    @Test func noSecondResendRequestWhileOneIsOutstanding() {
        var rig = loggedOn()
        rig.receive("35=0|34=5|")
        rig.receive("35=0|34=9|")
        #expect(rig.sent.filter { $0.msgType == "2" }.count == 2 - 1)
    }

    @Test func gapFillSkipsQueuedDuplicates() {
        var rig = loggedOn()
        rig.receive("35=0|34=3|")
        rig.receive("35=4|34=2|43=Y|123=Y|36=4|")  // fills past the queued 3
        #expect(rig.session.store.nextTargetMsgSeqNum == 4 && rig.session.queuedCount == 0)
    }

    @Test func seqTooLowWithoutPossDupLogsOut() {
        var rig = loggedOn()
        rig.receive("35=0|34=2|")
        rig.run("I35=0|34=2|\nE35=5|58=MsgSeqNum too low, expecting 3 but received 2\nX")
    }

    @Test func seqTooLowWithPossDupIgnored() {
        var rig = loggedOn()
        rig.receive("35=0|34=2|")
        rig.run("I35=0|34=2|43=Y|122=20260101-00:00:00|\nN")
        #expect(rig.disconnectReason == nil)
    }

    @Test func possDupWithoutOrigSendingTimeRejected() {
        var rig = loggedOn()
        rig.run("I35=0|34=2|43=Y|\nE35=3|45=2|371=122|373=1|")
    }

    @Test func origSendingTimeAfterSendingTimeLogsOut() {
        var rig = loggedOn()
        rig.run("I35=0|34=2|43=Y|122=20990101-00:00:00|\nE35=3|373=10|\nE35=5|\nX")
    }

    @Test func sequenceResetResetIgnoresSeqNum() {
        var rig = loggedOn()
        rig.run("I35=4|34=99|36=20|\nN")
        #expect(rig.session.store.nextTargetMsgSeqNum == 20)
        rig.run("I35=4|34=1|36=5|\nE35=3|371=36|373=5|")
        #expect(rig.session.store.nextTargetMsgSeqNum == 20)
    }

    @Test func gapFillBackwardsRejected() {
        var rig = loggedOn()
        rig.run("I35=4|34=2|123=Y|36=2|\nE35=3|45=2|373=5|")
        #expect(rig.session.store.nextTargetMsgSeqNum == 3)
    }

    @Test func invalidMessageRejectedAndSeqConsumed() {
        var rig = loggedOn()
        rig.run("I35=0|34=2|58=a|58=b|\nE35=3|45=2|371=58|372=0|373=13|")
        #expect(rig.session.store.nextTargetMsgSeqNum == 3)
        rig.run("I35=D|34=3|11=x|54=1|60=20260101-00:00:00|40=1|\nE35=3|45=3|371=55|373=1|")
    }

    @Test func missingSeqNumLogsOut() {
        var rig = loggedOn()
        rig.run("I35=0|\nE35=5|\nX")
        #expect(rig.disconnectReason == .unsequencedMessage)
    }

    @Test func wrongCompIDRejectsAndLogsOut() {
        var rig = loggedOn()
        rig.run("I35=0|34=2|49=INTRUDER|\nE35=3|45=2|373=9|\nE35=5|\nX")
        #expect(rig.disconnectReason == .compIDMismatch)
    }

    @Test func sendingTimeLatencyChecked() {
        var rig = loggedOn()
        rig.inject(rig.peer("35=0|34=2|", time: rig.now.adding(seconds: -121)))
        #expect(rig.disconnectReason == .sendingTimeAccuracy)
        #expect(rig.sent.map(\.msgType).suffix(2) == ["3", "5"])
        var lax = FIXSessionSettings.acceptorForTests
        lax.checkLatency = false
        var rig2 = loggedOn(lax)
        rig2.inject(rig2.peer("35=0|34=2|", time: rig2.now.adding(seconds: -1000)))
        #expect(rig2.disconnectReason == nil)
    }

    @Test func unsupportedApplicationMessageGetsBusinessReject() {
        var s = FIXSessionSettings.acceptorForTests
        s.supportedApplicationMessageTypes = [.newOrderSingle]
        var rig = loggedOn(s)
        rig.run("I35=V|34=2|262=r|263=1|264=1|267=1|269=0|146=1|55=TCS|\nE35=j|45=2|372=V|380=3|\nN")
        #expect(rig.delivered.isEmpty && rig.session.store.nextTargetMsgSeqNum == 3)
    }

    @Test func rejectFromPeerDelivered() {
        var rig = loggedOn()
        rig.run("I35=3|34=2|45=1|373=1|\nA")
    }

    @Test func sendRequiresLogon() {
        var rig = SessionRig()
        #expect(rig.session.send(.newOrderSingle, now: rig.now) { _ in } == nil)
        rig.logon()
        let seq = rig.session.send(.newOrderSingle, now: rig.now) { enc in enc.field(11, "o1") }
        #expect(seq == 2)
        rig.drain()
        #expect(rig.sent.last?[11] == "o1" && rig.sent.last?.seq == 2)
        #expect(rig.session.store.savedCount == 1)
    }

    @Test func resendRequestAnsweredWithPossDupAndGapFills() {
        var rig = loggedOn()  // we sent Logon as 1
        for i in 0..<3 {  // app messages 2, 3, 4
            rig.session.send(.executionReport, now: rig.now) { enc in enc.field(17, "e\(i)") }
        }
        rig.advance(30)  // heartbeat 5
        rig.session.send(.executionReport, now: rig.now) { enc in enc.field(17, "e3") }  // 6
        rig.drain()
        rig.sent.removeAll()
        rig.now = rig.now.adding(seconds: 1)
        rig.run(
            """
            I35=2|34=2|7=1|16=0|
            E35=4|34=1|43=Y|123=Y|36=2|
            E35=8|34=2|43=Y|122=<ANY>|17=e0|
            E35=8|34=3|43=Y|17=e1|
            E35=8|34=4|43=Y|17=e2|
            E35=4|34=5|123=Y|36=6|
            E35=8|34=6|43=Y|17=e3|
            N
            """)
        #expect(rig.session.store.nextSenderMsgSeqNum == 7)
        #expect(rig.sent[1][122] != rig.sent[1][52])
    }

    @Test func messagesStoredWhileLoggedOutAreResentAfterTheNextLogon() {
        var rig = loggedOn()  // Logon 1
        rig.run("I35=5|34=2|\nE35=5|34=2|")  // Logout exchange: 2
        #expect(!rig.session.isLoggedOn)
        rig.sent.removeAll()
        rig.checked = 0
        // Reports produced while the peer is away: kept under 3 and 4, nothing written.
        #expect(rig.session.storeForResend(.executionReport, now: rig.now) { $0.field(17, "away1") } == 3)
        #expect(rig.session.storeForResend(.executionReport, now: rig.now) { $0.field(17, "away2") } == 4)
        rig.drain()
        #expect(rig.sent.isEmpty && rig.session.store.nextSenderMsgSeqNum == 5)
        // The peer logs on again where it left off and asks for what it missed.
        var a: [FIXSessionAction] = []
        rig.session.connected(now: rig.now, into: &a)
        rig.run(
            """
            I35=A|34=3|98=0|108=30|
            E35=A|34=5|
            I35=2|34=4|7=3|16=0|
            E35=8|34=3|43=Y|17=away1|
            E35=8|34=4|43=Y|17=away2|
            E35=4|34=5|123=Y|36=6|
            N
            """)
        #expect(rig.session.storeForResend(.executionReport, now: rig.now) { $0.field(17, "x") } == nil)  // logged on
    }

    @Test func unpersistedMessagesAreGapFilledOnResend() {
        var s = FIXSessionSettings.acceptorForTests
        s.persistMessages = false
        var rig = loggedOn(s)
        for i in 0..<3 { rig.session.send(.marketDataIncrementalRefresh, now: rig.now) { $0.field(262, "q\(i)") } }
        #expect(rig.session.store.savedCount == 0 && rig.session.store.nextSenderMsgSeqNum == 5)
        rig.drain()
        rig.checked = rig.sent.count
        rig.run("I35=2|34=2|7=2|16=0|\nE35=4|34=2|123=Y|36=5|\nN")
    }

    @Test func resendRequestRangeEndingInAdminGapFills() {
        var rig = loggedOn()
        rig.advance(30)  // heartbeat 2
        rig.drain()
        rig.sent.removeAll()
        rig.run("I35=2|34=2|7=1|16=2|\nE35=4|34=1|123=Y|36=3|\nN")
    }

    @Test func resendRequestAheadOfGapAnsweredOnce() {
        var rig = loggedOn()
        rig.session.send(.executionReport, now: rig.now) { enc in enc.field(17, "e0") }
        rig.drain()
        rig.sent.removeAll()
        rig.receive("35=2|34=3|7=2|16=0|")  // seq 2 missing
        #expect(rig.sent.map(\.msgType) == ["8", "2"])
        rig.receive("35=4|34=2|43=Y|123=Y|36=3|")
        #expect(rig.sent.map(\.msgType) == ["8", "2"])  // the queued request is not answered twice
        #expect(rig.session.store.nextTargetMsgSeqNum == 4)
    }

    @Test func queueOverflowDisconnects() {
        var s = FIXSessionSettings.acceptorForTests
        s.maxQueuedMessages = 3
        var rig = loggedOn(s)
        for seq in 10..<14 { rig.receive("35=0|34=\(seq)|") }
        #expect(rig.disconnectReason == .queueOverflow)
    }

    @Test func floodOfHeartbeatsKeepsSequence() {
        var rig = loggedOn()
        for seq in 2..<2002 { rig.receive("35=0|34=\(seq)|") }
        #expect(rig.session.store.nextTargetMsgSeqNum == 2002 && rig.sent.count == 1)
    }

    @Test func restartMidSessionResumesSequenceNumbers() {
        let store = FIXMemoryStore()
        var rig = SessionRig(store: store)
        rig.logon()
        rig.session.send(.executionReport, now: rig.now) { enc in enc.field(17, "e0") }
        rig.receive("35=0|34=2|")
        rig.session.disconnected(now: rig.now)
        // A new session object over the same store: numbers continue.
        var rig2 = SessionRig(store: store)
        rig2.run("I35=A|34=3|98=0|108=30|\nL\nE35=A|34=3|")
        #expect(store.nextTargetMsgSeqNum == 4)
    }
}
