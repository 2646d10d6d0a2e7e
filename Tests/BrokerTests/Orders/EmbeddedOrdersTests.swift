// The embedded default: gateway + in-process ledger on the journal, seeded demo user, surviving a restart.
import Foundation
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct EmbeddedOrdersTests {
    @Test func demoTradesOnTheJournalAndRecoversAfterRestart() throws {
        let journal = NSTemporaryDirectory() + "orders-\(UUID().uuidString).journal"
        defer { unlink(journal) }
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let symbols = try SymbolUniverse(listings: [SymbolListing(symbol: "TCS", companyName: "Tata Consultancy Services")])
        final class Box: @unchecked Sendable {
            var exchange: ExchangeRig?
            var embedded: EmbeddedOrders?
            var port = 0
            var failed: String?
            var listener: TCPListener?
        }
        let box = Box()
        let loop = runner.loop
        var settings = GatewaySettings()
        settings.port = 0
        settings.passwordIterations = 1_000
        settings.tokenSecret = String(repeating: "d", count: 32)
        func start() throws {
            try runner.sync {
                if box.exchange == nil {
                    box.exchange = try ExchangeRig(symbols: symbols, prices: ["TCS": 35_000_000], loop: loop,
                                                   logger: ordersTestLogger)
                }
                try EmbeddedOrders.start(loop: loop, symbols: symbols, quotes: nil, exchangeHost: "127.0.0.1",
                                         exchangePort: box.exchange!.port, journalPath: journal, fsync: .none,
                                         settings: settings, logger: ordersTestLogger) { r in
                    switch r {
                    case .failure(let e): box.failed = "\(e)"
                    case .success(let e):
                        box.embedded = e
                        do {
                            let (_, l) = try e.gateway.listen()
                            box.listener = l
                            box.port = l.port
                        } catch { box.failed = "\(error)" }
                    }
                }
            }
            #expect(runner.wait { box.port != 0 || box.failed != nil })
            #expect(runner.wait { box.embedded?.gateway.exchangeConnected == true })
        }
        try start()
        let c = try HTTPTestClient(port: box.port)
        let login = c.request("POST", "/api/v1/session", body: #"{"user":"demo","password":"demo"}"#)
        let token = try #require(login.json?["token"]?.stringValue)
        #expect(c.request("GET", "/api/v1/portfolio", token: token).json?["cash"]?.stringValue == "1000000.00")
        let placed = c.request("POST", "/api/v1/orders", token: token,
                               body: #"{"client_order_id":"e1","symbol":"TCS","side":"buy","qty":2,"price":"3500.01"}"#)
        #expect(placed.status == 201)
        let id = try #require(placed.json?["order_id"]?.stringValue)
        var filled = false
        for _ in 0..<300 where !filled {
            filled = c.request("GET", "/api/v1/orders/\(id)", token: token).json?["status"]?.stringValue == "filled"
            if !filled { usleep(10_000) }
        }
        #expect(filled)
        let before = c.request("GET", "/api/v1/portfolio", token: token).body
        #expect(before.contains(#""cash":"992999.98""#))
        // "Crash": drop the gateway and store without any shutdown, then start again on the same journal.
        try runner.sync {
            box.embedded?.store.flush()
            box.embedded?.gateway.stop()
            box.listener?.close()
            box.embedded = nil
            box.port = 0
        }
        try start()
        let c2 = try HTTPTestClient(port: box.port)
        let token2 = try #require(c2.request("POST", "/api/v1/session", body: #"{"user":"demo","password":"demo"}"#)
            .json?["token"]?.stringValue)
        #expect(c2.request("GET", "/api/v1/portfolio", token: token2).body == before)   // not re-seeded, same holdings
        #expect(c2.request("GET", "/api/v1/orders/\(id)", token: token2).json?["status"]?.stringValue == "filled")
        // The same client order id is still known after the restart.
        let retry = c2.request("POST", "/api/v1/orders", token: token2,
                               body: #"{"client_order_id":"e1","symbol":"TCS","side":"buy","qty":2,"price":"3500.01"}"#)
        #expect(retry.status == 200 && retry.json?["order_id"]?.stringValue == id)
        let totals = try runner.sync { box.embedded!.store.ledger.totals }
        let lp = try runner.sync { box.exchange!.counterpartyCash }
        #expect(totals.cash + lp == totals.netDeposits)
    }
}
