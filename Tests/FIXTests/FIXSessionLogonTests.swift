// Logon, Logout, credentials, CompIDs and timeouts (FIX 4.4 Vol. 2 test cases 1a-1e, 13).
import Testing

@testable import FIX

@Suite struct FIXSessionLogonTests {
    @Test func acceptorAnswersLogon() {
        var rig = SessionRig()
        rig.run(
            """
            I35=A|34=1|98=0|108=30|
            L
            E35=A|34=1|49=EXCH|56=CLIENT|98=0|108=30|141=<ABSENT>
            N
            """)
        let on = rig.session.isLoggedOn
        #expect(on)
        #expect(rig.session.store.nextTargetMsgSeqNum == 2 && rig.session.store.nextSenderMsgSeqNum == 2)
    }

    @Test func acceptorAdoptsInitiatorHeartBtInt() {
        var rig = SessionRig()
        rig.run("I35=A|34=1|98=0|108=5|\nE35=A|108=5|")
        #expect(rig.session.heartbeatInterval == 5)
    }

    @Test func firstMessageNotLogonDisconnects() {
        var rig = SessionRig()
        rig.run("I35=0|34=1|\nX\nN")
        #expect(rig.disconnectReason == .firstMessageNotLogon)
    }

    @Test func garbledLogonDisconnects() {
        var rig = SessionRig()
        rig.receive("35=A|34=1|98=0|")  // HeartBtInt missing
        #expect(rig.disconnectReason == .firstMessageNotLogon)
    }

    @Test func wrongCompIDOnLogonDisconnectsSilently() {
        var rig = SessionRig()
        rig.receive("35=A|34=1|49=OTHER|98=0|108=30|")
        #expect(rig.disconnectReason == .logonRejected("CompID problem"))
        #expect(rig.sent.isEmpty)
    }

    @Test func credentialsChecked() {
        var settings = FIXSessionSettings.acceptorForTests
        settings.username = "u1"
        settings.password = "secret"
        var bad = SessionRig(settings)
        bad.run("I35=A|34=1|98=0|108=30|553=u1|554=nope|\nE35=5|58=Invalid username or password\nX")
        let on = bad.session.isLoggedOn
        #expect(!on)
        var missing = SessionRig(settings)
        missing.run("I35=A|34=1|98=0|108=30|\nE35=5|\nX")
        var good = SessionRig(settings)
        good.run("I35=A|34=1|98=0|108=30|553=u1|554=secret|\nL\nE35=A|")
    }

    @Test func initiatorSendsCredentialsAndReset() {
        var settings = FIXSessionSettings.initiatorForTests
        settings.username = "u1"
        settings.password = "pw"
        settings.resetOnLogon = true
        var rig = SessionRig(settings)
        rig.run(
            """
            E35=A|34=1|49=CLIENT|56=EXCH|98=0|108=30|141=Y|553=u1|554=pw
            I35=A|34=1|98=0|108=30|141=Y|
            L
            N
            """)
        let on = rig.session.isLoggedOn
        #expect(on)
    }

    @Test func initiatorLogonRefusedByLogout() {
        var rig = SessionRig(.initiatorForTests)
        rig.receive("35=5|34=1|58=go away|")
        #expect(rig.disconnectReason == .logonRejected("go away"))
    }

    @Test func logonTimeout() {
        var rig = SessionRig(.initiatorForTests)
        rig.advance(9)
        #expect(rig.disconnectReason == nil)
        rig.advance(1)
        #expect(rig.disconnectReason == .logonTimeout)
    }

    @Test func acceptorResetSeqNumFlag() {
        let store = FIXMemoryStore()
        store.setNextSenderMsgSeqNum(50)
        store.setNextTargetMsgSeqNum(40)
        var rig = SessionRig(store: store)
        rig.run("I35=A|34=1|98=0|108=30|141=Y|\nL\nE35=A|34=1|141=Y|")
        #expect(store.nextTargetMsgSeqNum == 2 && store.nextSenderMsgSeqNum == 2)
    }

    @Test func logonWithTooLowSeqLogsOut() {
        let store = FIXMemoryStore()
        store.setNextTargetMsgSeqNum(5)
        var rig = SessionRig(store: store)
        rig.run("I35=A|34=2|98=0|108=30|\nE35=A|\nE35=5|58=MsgSeqNum too low, expecting 5 but received 2\nX")
        #expect(rig.disconnectReason == .msgSeqNumTooLow(expected: 5, received: 2))
    }

    @Test func peerInitiatedLogout() {
        var rig = SessionRig()
        rig.logon()
        rig.run("I35=5|34=2|58=bye|\nE35=5|34=2|\nX")
        #expect(rig.disconnectReason == .logoutReceived(text: "bye"))
    }

    @Test func weInitiateLogout() {
        var rig = SessionRig()
        rig.logon()
        var a: [FIXSessionAction] = []
        rig.session.logout(text: "done", now: rig.now, into: &a)
        rig.drain()
        #expect(a.isEmpty)
        rig.run("E35=5|58=done|\nI35=5|34=2|\nX\nN")
        #expect(rig.disconnectReason == .logoutCompleted)
    }

    @Test func logoutTimeout() {
        var rig = SessionRig()
        rig.logon()
        var a: [FIXSessionAction] = []
        rig.session.logout(now: rig.now, into: &a)
        rig.advance(2)
        #expect(rig.disconnectReason == .logoutTimeout)
    }

    @Test func resetOnLogoutAndDisconnect() {
        var settings = FIXSessionSettings.acceptorForTests
        settings.resetOnLogout = true
        var rig = SessionRig(settings)
        rig.logon()
        rig.receive("35=5|34=2|")
        #expect(rig.session.store.nextSenderMsgSeqNum == 1)
        settings.resetOnLogout = false
        settings.resetOnDisconnect = true
        var rig2 = SessionRig(settings)
        rig2.logon()
        #expect(rig2.session.store.nextSenderMsgSeqNum == 2)
        rig2.session.disconnected(now: rig2.now)
        #expect(rig2.session.store.nextSenderMsgSeqNum == 1 && rig2.session.store.nextTargetMsgSeqNum == 1)
    }

    @Test func logonWithResetMidSessionRestartsBothSequences() {
        var rig = SessionRig()
        rig.logon()
        rig.receive("35=0|34=2|")
        rig.session.send(.executionReport, now: rig.now) { $0.field(17, "e1") }
        rig.run(
            """
            E35=8|34=2|
            I35=A|34=1|98=0|108=30|141=Y|
            E35=A|34=1|141=Y|
            N
            I35=0|34=2|
            N
            """)
        #expect(rig.session.store.nextTargetMsgSeqNum == 3 && rig.session.store.nextSenderMsgSeqNum == 2)
        #expect(rig.session.store.savedCount == 0)
        let on = rig.session.isLoggedOn
        #expect(on)
    }

    @Test func settingsValidation() {
        var s = FIXSessionSettings.acceptorForTests
        #expect(throws: Never.self) { try s.validate() }
        s.heartbeatInterval = -1
        #expect(throws: FIXSettingsError.self) { try s.validate() }
        s = .acceptorForTests
        s.senderCompID = "A B"
        #expect(throws: FIXSettingsError.self) { try s.validate() }
        s = .acceptorForTests
        s.maxReconnectInterval = 0
        #expect(throws: FIXSettingsError.self) { try s.validate() }
    }
}
