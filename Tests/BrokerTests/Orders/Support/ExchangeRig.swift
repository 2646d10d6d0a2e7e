// A minimal exchange for the order-path tests: a FIXAcceptor taking D/F/G and answering 8/9 from the domain
// MatchingEngine, with SimulatedLiquidityProvider ladders so user orders fill. Stands in for the `exchange`
// role (branch md) until it lands; it runs on the test's loop.
import FIX
import Logging
import Wire
@testable import Broker

final class ExchangeRig: FIXApplication {
    struct Ctx {
        var clOrdID: String
        var symbol: String
        var side: FIXSide
        var qty: Int64
        var price: Int64?
        var bookId: UInt64 = 0
        var cum: Int64 = 0
        var notional: Int64 = 0   // sum of px * qty, for AvgPx
    }

    let symbols: SymbolUniverse
    var engine: MatchingEngine
    var lps: [SimulatedLiquidityProvider]
    var orders: [Ctx] = [Ctx(clOrdID: "", symbol: "", side: .buy, qty: 0)]   // owner 0 = liquidity provider
    var byClOrdID: [String: Int] = [:]
    var byBookId: [UInt64: Int] = [:]
    var acceptor: FIXAcceptor!
    var execSeq = 0
    var received: [String] = []
    /// When set, new orders are rejected with this text (tests of exchange rejects).
    var rejectText: String?
    /// Counterparty cash and shares (liquidity providers), for conservation checks.
    var counterpartyCash: Int64 { lps.reduce(0) { $0 + $1.cash } }
    func counterpartyShares(_ symbol: String) -> Int64 { lps[Int(symbols.id(of: symbol)!)].position }

    /// Starts listening with a ladder around `prices` (1e-4) for the given symbols.
    init(symbols: SymbolUniverse, prices: [String: Int64], loop: EventLoop, logger: Logger, tick: Int64 = 100) throws {
        self.symbols = symbols
        engine = MatchingEngine(symbolCount: symbols.count, configuration: .init(tickSize: tick))
        lps = (0..<symbols.count).map { _ in
            SimulatedLiquidityProvider(configuration: .init(levels: 5, sizePerLevel: 1_000, owner: 0))
        }
        var s = FIXSessionSettings(role: .acceptor, senderCompID: "EXCHANGE", targetCompID: "GATEWAY")
        s.heartbeatInterval = 30
        s.resetOnLogon = true
        acceptor = try FIXAcceptor(sessions: [s], host: "127.0.0.1", port: 0, loop: loop, application: self, logger: logger)
        for (sym, px) in prices { refresh(sym, px) }
    }

    var port: Int { acceptor.port }
    var session: FIXConnection? { acceptor.connections.first }

    func refresh(_ symbol: String, _ price: Int64) {
        let id = symbols.id(of: symbol)!
        var events: [OrderBookEvent] = []
        engine.withBook(id) { book in lps[Int(id)].refresh(book: &book, referencePrice: price, events: &events) }
        handle(events, symbolId: id)
    }

    func fixConnectionDidLogOn(_ connection: FIXConnection) {}
    func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?) {}

    func fixConnection(_ connection: FIXConnection, didReceive m: FIXMessageView) {
        received.append(m.msgType.map { "\($0)" } ?? "?")
        switch m.msgType {
        case .newOrderSingle:
            guard let d = try? FIXNewOrderSingle(m), let sid = symbols.id(of: d.symbol) else { return }
            let owner = orders.count
            orders.append(Ctx(clOrdID: d.clOrdID, symbol: d.symbol, side: d.side, qty: d.orderQty, price: d.price))
            byClOrdID[d.clOrdID] = owner
            if let text = rejectText {
                report(owner, .rejected, .rejected, leaves: 0, text: text)
                return
            }
            var events: [OrderBookEvent] = []
            let req = OrderBookRequest(side: d.side == .buy ? .buy : .sell, type: d.ordType == .market ? .market : .limit,
                                       qty: d.orderQty, price: d.price ?? 0,
                                       tif: d.timeInForce == .immediateOrCancel ? .ioc : .day, owner: UInt64(owner))
            engine.submit(symbolId: sid, req, events: &events)
            handle(events, symbolId: sid)
        case .orderCancelRequest:
            guard let f = try? FIXOrderCancelRequest(m), let owner = byClOrdID[f.origClOrdID] else { return }
            byClOrdID[f.clOrdID] = owner
            orders[owner].clOrdID = f.clOrdID
            var events: [OrderBookEvent] = []
            engine.cancel(orders[owner].bookId, events: &events)
            handle(events, symbolId: symbols.id(of: orders[owner].symbol)!, cancelOrigin: (f.clOrdID, f.origClOrdID))
        case .orderCancelReplaceRequest:
            guard let g = try? FIXOrderCancelReplaceRequest(m), let owner = byClOrdID[g.origClOrdID] else { return }
            byClOrdID[g.clOrdID] = owner
            orders[owner].clOrdID = g.clOrdID
            var events: [OrderBookEvent] = []
            engine.replace(orders[owner].bookId, qty: g.orderQty, price: g.price ?? 0, events: &events)
            handle(events, symbolId: symbols.id(of: orders[owner].symbol)!, cancelOrigin: (g.clOrdID, g.origClOrdID))
        default:
            break
        }
    }

    func handle(_ events: [OrderBookEvent], symbolId: Int32, cancelOrigin: (String, String)? = nil) {
        for e in events {
            lps[Int(symbolId)].observe(e)
            switch e {
            case .accepted(let id, let owner, _, _, _) where owner != 0:
                orders[Int(owner)].bookId = id
                byBookId[id] = Int(owner)
                report(Int(owner), .new, .new, leaves: orders[Int(owner)].qty)
            case .rejected(let owner, let reason) where owner != 0:
                report(Int(owner), .rejected, .rejected, leaves: 0, text: reason.rawValue)
            case .trade(let t):
                for (owner, leaves, cum) in [(t.buyOwner, t.buyLeaves, t.buyCum), (t.sellOwner, t.sellLeaves, t.sellCum)]
                where owner != 0 {
                    let o = Int(owner)
                    orders[o].cum = cum
                    orders[o].notional += t.price * t.qty
                    report(o, .trade, leaves == 0 ? .filled : .partiallyFilled, leaves: leaves, lastQty: t.qty,
                           lastPx: t.price, execID: "T\(owner == t.buyOwner ? t.buyExecId : t.sellExecId)")
                }
            case .canceled(_, let owner, _, _, _) where owner != 0:
                report(Int(owner), .canceled, .canceled, leaves: 0, orig: cancelOrigin?.1)
            case .replaced(_, let owner, let price, let qty, let leaves, _) where owner != 0:
                orders[Int(owner)].qty = qty
                orders[Int(owner)].price = price
                report(Int(owner), .replaced, .replaced, leaves: leaves, orig: cancelOrigin?.1)
            case .cancelRejected(let id, let reason):
                guard let owner = byBookId[id] ?? cancelOrigin.flatMap({ byClOrdID[$0.0] }) else { continue }
                session?.send(FIXOrderCancelReject(
                    orderID: String(orders[owner].bookId), clOrdID: cancelOrigin?.0 ?? orders[owner].clOrdID,
                    origClOrdID: cancelOrigin?.1 ?? orders[owner].clOrdID, ordStatus: .new,
                    responseTo: .cancel, reason: 1, text: reason.rawValue))
            default:
                break
            }
        }
    }

    func report(_ owner: Int, _ type: FIXExecType, _ status: FIXOrdStatus, leaves: Int64, lastQty: Int64? = nil,
                lastPx: Int64? = nil, text: String? = nil, orig: String? = nil, execID: String? = nil) {
        execSeq += 1
        let c = orders[owner]
        let avg = c.cum > 0 ? c.notional / c.cum : 0
        session?.send(FIXExecutionReport(
            orderID: String(c.bookId), clOrdID: c.clOrdID, origClOrdID: orig, execID: execID ?? "E\(execSeq)",
            execType: type, ordStatus: status, symbol: c.symbol, side: c.side, orderQty: c.qty, price: c.price,
            lastQty: lastQty, lastPx: lastPx, leavesQty: leaves, cumQty: c.cum, avgPx: avg, text: text))
    }
}
