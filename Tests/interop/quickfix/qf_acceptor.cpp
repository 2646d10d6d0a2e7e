// QuickFIX acceptor peer: answers NewOrderSingle with ExecutionReport and MarketDataRequest with
// a snapshot. An order with ClOrdID "GAP" first makes QuickFIX skip three outbound sequence
// numbers, so the Swift initiator must recover them with ResendRequest (QuickFIX gap-fills).
// It keeps its messages in a FileStore under STOREDIR: QuickFIX's MemoryStore::get starts at
// std::map::find(BeginSeqNo), so a range whose first number was never stored comes back empty and
// is gap-filled whole, message 7 included; FileStore looks every number up.
// Usage: qf_acceptor PORT SENDER TARGET SECONDS STOREDIR   prints READY, LOGON, ORDER id...,
// MDREQ id sym, RESENDREQ b e, SENT_APP type seq possdup, SENT_SEQRESET seq new, HEARTBEAT, LOGOUT.
#include "qf_common.h"

#include <quickfix/FileStore.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/fix44/ExecutionReport.h>
#include <quickfix/fix44/MarketDataSnapshotFullRefresh.h>

class AcceptorApp : public FIX::Application {
public:
    std::atomic<bool> loggedOut{false};

    void onCreate(const FIX::SessionID&) override {}
    void onLogon(const FIX::SessionID&) override { say("LOGON"); }
    void onLogout(const FIX::SessionID&) override { say("LOGOUT"); loggedOut = true; }
    void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
        std::string type = fieldOf(m, 35);
        if (type == "4") say("SENT_SEQRESET " + fieldOf(m, 34) + " " + fieldOf(m, 36));
    }
    void toApp(FIX::Message& m, const FIX::SessionID&) throw(FIX::DoNotSend) override {
        say("SENT_APP " + fieldOf(m, 35) + " " + fieldOf(m, 34) + " " + fieldOf(m, 43));
    }

    void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
        throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
        std::string type = fieldOf(m, 35);
        if (type == "0") say("HEARTBEAT");
        if (type == "2") say("RESENDREQ " + fieldOf(m, 7) + " " + fieldOf(m, 16));
        if (type == "3") say("REJECT " + fieldOf(m, 373) + " " + fieldOf(m, 58));
    }

    void fromApp(const FIX::Message& m, const FIX::SessionID& id)
        throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
        std::string type = fieldOf(m, 35);
        if (type == "D") {
            std::string cl = fieldOf(m, 11);
            say("ORDER " + cl + " " + fieldOf(m, 55) + " " + fieldOf(m, 38) + " " + fieldOf(m, 44));
            if (cl == "GAP") {
                FIX::Session* s = FIX::Session::lookupSession(id);
                s->setNextSenderMsgSeqNum(s->getExpectedSenderNum() + 3);
            }
            FIX44::ExecutionReport er(FIX::OrderID("O-" + cl), FIX::ExecID("X-" + cl), FIX::ExecType('0'),
                                      FIX::OrdStatus('0'), FIX::Side(fieldOf(m, 54)[0]),
                                      FIX::LeavesQty(std::stod(fieldOf(m, 38))), FIX::CumQty(0), FIX::AvgPx(0));
            er.set(FIX::ClOrdID(cl));
            er.set(FIX::Symbol(fieldOf(m, 55)));
            er.set(FIX::OrderQty(std::stod(fieldOf(m, 38))));
            FIX::Session::sendToTarget(er, id);
        } else if (type == "V") {
            std::string req = fieldOf(m, 262);
            std::string sym = groupFieldOf(m, 146, 55, 1, 55);
            say("MDREQ " + req + " " + sym);
            FIX44::MarketDataSnapshotFullRefresh snap;
            snap.set(FIX::MDReqID(req));
            snap.set(FIX::Symbol(sym));
            FIX44::MarketDataSnapshotFullRefresh::NoMDEntries bid;
            bid.set(FIX::MDEntryType('0'));
            bid.set(FIX::MDEntryPx(2450.5));
            bid.set(FIX::MDEntrySize(100));
            snap.addGroup(bid);
            FIX44::MarketDataSnapshotFullRefresh::NoMDEntries offer;
            offer.set(FIX::MDEntryType('1'));
            offer.set(FIX::MDEntryPx(2451));
            offer.set(FIX::MDEntrySize(50));
            snap.addGroup(offer);
            FIX::Session::sendToTarget(snap, id);
        }
    }
};

int main(int argc, char** argv) {
    if (argc < 6) {
        std::fprintf(stderr, "usage: %s PORT SENDER TARGET SECONDS STOREDIR\n", argv[0]);
        return 2;
    }
    int seconds = std::atoi(argv[4]);
    try {
        FIX::SessionSettings settings = makeSettings(false, argv[1], argv[2], argv[3], "30", dictionaryBeside(argv[0]));
        AcceptorApp app;
        FIX::FileStoreFactory store{std::string(argv[5])};
        FIX::SocketAcceptor acceptor(app, store, settings);
        acceptor.start();
        say("READY");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (!app.loggedOut && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        acceptor.stop();
        return app.loggedOut ? 0 : 3;
    } catch (std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
