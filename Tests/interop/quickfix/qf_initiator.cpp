// QuickFIX initiator peer (HeartBtInt=1): on logon sends NewOrderSingle qf-1 and a
// MarketDataRequest for TCS; once it has the execution report and the snapshot and has seen
// heartbeats for ~2.5 s, it logs out. The Swift acceptor opens a sequence gap before its
// execution report, so QuickFIX must send a ResendRequest (printed as SENT_RESENDREQ).
// Usage: qf_initiator PORT SENDER TARGET [SECONDS]   prints LOGON, EXEC id status orderid,
// SNAP symbol count px1 px2, INCR count sym1 px2, HEARTBEAT, SEQRESET newseq, SENT_RESENDREQ b e, LOGOUT.
#include "qf_common.h"

#include <quickfix/SocketInitiator.h>
#include <quickfix/fix44/MarketDataRequest.h>
#include <quickfix/fix44/NewOrderSingle.h>

class InitiatorApp : public FIX::Application {
public:
    std::atomic<bool> loggedOn{false}, loggedOut{false}, gotExec{false}, gotSnap{false};
    FIX::SessionID session;
    std::chrono::steady_clock::time_point logonAt;

    void onCreate(const FIX::SessionID& id) override { session = id; }
    void onLogon(const FIX::SessionID& id) override {
        say("LOGON");
        logonAt = std::chrono::steady_clock::now();
        loggedOn = true;
        FIX44::NewOrderSingle order(FIX::ClOrdID("qf-1"), FIX::Side(FIX::Side_BUY), FIX::TransactTime(),
                                    FIX::OrdType(FIX::OrdType_LIMIT));
        order.set(FIX::Symbol("TCS"));
        order.set(FIX::OrderQty(10));
        order.set(FIX::Price(3500.25));
        FIX::Session::sendToTarget(order, id);
        FIX44::MarketDataRequest req(FIX::MDReqID("md-1"), FIX::SubscriptionRequestType('0'), FIX::MarketDepth(1));
        FIX44::MarketDataRequest::NoMDEntryTypes bid;
        bid.set(FIX::MDEntryType('0'));
        req.addGroup(bid);
        FIX44::MarketDataRequest::NoMDEntryTypes offer;
        offer.set(FIX::MDEntryType('1'));
        req.addGroup(offer);
        FIX44::MarketDataRequest::NoRelatedSym sym;
        sym.set(FIX::Symbol("TCS"));
        req.addGroup(sym);
        FIX::Session::sendToTarget(req, id);
    }
    void onLogout(const FIX::SessionID&) override {
        if (loggedOn) { say("LOGOUT"); loggedOut = true; }
    }
    void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
        if (fieldOf(m, 35) == "2") say("SENT_RESENDREQ " + fieldOf(m, 7) + " " + fieldOf(m, 16));
    }
    void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}

    void fromAdmin(const FIX::Message& m, const FIX::SessionID&)
        throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
        std::string type = fieldOf(m, 35);
        if (type == "0") say("HEARTBEAT");
        if (type == "4") say("SEQRESET " + fieldOf(m, 36));
        if (type == "3") say("REJECT " + fieldOf(m, 373) + " " + fieldOf(m, 58));
    }

    void fromApp(const FIX::Message& m, const FIX::SessionID&)
        throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
        std::string type = fieldOf(m, 35);
        if (type == "8") {
            say("EXEC " + fieldOf(m, 11) + " " + fieldOf(m, 39) + " " + fieldOf(m, 37));
            gotExec = true;
        } else if (type == "X") {
            say("INCR " + fieldOf(m, 268) + " " + groupFieldOf(m, 268, 279, 1, 55) + " "
                + groupFieldOf(m, 268, 279, 2, 270));
        } else if (type == "W") {
            say("SNAP " + fieldOf(m, 55) + " " + fieldOf(m, 268) + " " + groupFieldOf(m, 268, 269, 1, 270) + " "
                + groupFieldOf(m, 268, 269, 2, 270));
            gotSnap = true;
        }
    }
};

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s PORT SENDER TARGET [SECONDS]\n", argv[0]);
        return 2;
    }
    int seconds = argc > 4 ? std::atoi(argv[4]) : 30;
    try {
        FIX::SessionSettings settings = makeSettings(true, argv[1], argv[2], argv[3], "1", dictionaryBeside(argv[0]));
        InitiatorApp app;
        FIX::MemoryStoreFactory store;
        FIX::SocketInitiator initiator(app, store, settings);
        initiator.start();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        bool sentLogout = false;
        while (!app.loggedOut && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            if (!sentLogout && app.gotExec && app.gotSnap
                && std::chrono::steady_clock::now() - app.logonAt > std::chrono::milliseconds(2500)) {
                sentLogout = true;
                FIX::Session* s = FIX::Session::lookupSession(app.session);
                if (s) s->logout("done");
            }
        }
        initiator.stop();
        return app.loggedOut ? 0 : 3;
    } catch (std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
