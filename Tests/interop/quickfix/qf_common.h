// Shared helpers of the QuickFIX C++ interop peers (Tests/interop/quickfix).
//
// The peers are small QuickFIX 1.15.1 programs the Swift FIXTests spawn on loopback to check our
// engine against an independent FIX implementation. They print one event per line on stdout
// (flushed), which the Swift tests read. Debian ships no FIX44.xml, and QuickFIX without one
// rejects every repeated group tag (373=13), so the peers load our own minimal dictionary
// FIX44-interop.xml, which quickfix-peers.sh copies next to the binaries.
#pragma once

#include <quickfix/Application.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/Values.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

inline std::mutex& sayLock() {
    static std::mutex m;
    return m;
}

/// Prints one event line and flushes, so a reader sees it at once.
inline void say(const std::string& line) {
    std::lock_guard<std::mutex> g(sayLock());
    std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
}

/// The dictionary beside the executable `argv0`.
inline std::string dictionaryBeside(const std::string& argv0) {
    std::string::size_type slash = argv0.rfind('/');
    return (slash == std::string::npos ? std::string(".") : argv0.substr(0, slash)) + "/FIX44-interop.xml";
}

/// Builds QuickFIX settings for one FIX.4.4 session from command-line values.
inline FIX::SessionSettings makeSettings(bool initiator, const std::string& port, const std::string& sender,
                                         const std::string& target, const std::string& heartbeat,
                                         const std::string& dictionary) {
    std::stringstream cfg;
    cfg << "[DEFAULT]\n"
        << "ConnectionType=" << (initiator ? "initiator" : "acceptor") << "\n"
        << "ReconnectInterval=1\n"
        << "StartTime=00:00:00\nEndTime=00:00:00\n"
        << "UseDataDictionary=Y\n"
        << "DataDictionary=" << dictionary << "\n"
        << "ValidateFieldsOutOfOrder=N\n"
        << "ValidateUserDefinedFields=N\n"
        << "AllowUnknownMsgFields=Y\n"
        << "ResetOnLogon=Y\n"
        << "PersistMessages=Y\n"
        << "[SESSION]\n"
        << "BeginString=FIX.4.4\n"
        << "SenderCompID=" << sender << "\n"
        << "TargetCompID=" << target << "\n"
        << "HeartBtInt=" << heartbeat << "\n";
    if (initiator) {
        cfg << "SocketConnectHost=127.0.0.1\nSocketConnectPort=" << port << "\n";
    } else {
        cfg << "SocketAcceptPort=" << port << "\n";
    }
    return FIX::SessionSettings(cfg);
}

/// The value of `tag` in entry `index` (1-based) of the group counted by `countTag`, or "".
inline std::string groupFieldOf(const FIX::Message& m, int countTag, int delimiter, int index, int tag) {
    if (static_cast<int>(static_cast<const FIX::FieldMap&>(m).groupCount(countTag)) < index) return "";
    FIX::Group g(countTag, delimiter);
    static_cast<const FIX::FieldMap&>(m).getGroup(index, countTag, g);
    return g.isSetField(tag) ? g.getField(tag) : "";
}

/// The value of `tag` in the header or body, or "" when absent.
inline std::string fieldOf(const FIX::Message& m, int tag) {
    if (m.getHeader().isSetField(tag)) return m.getHeader().getField(tag);
    if (m.isSetField(tag)) return m.getField(tag);
    return "";
}
