// Test rig for FIXConnection over real loopback sockets: a loop thread, a recording application.
import FIX
import Wire

#if canImport(Glibc)
    import Glibc
#endif

/// One event loop on its own thread.
final class FIXLoopRunner: @unchecked Sendable {
    let group: EventLoopGroup
    var loop: EventLoop { group.loops[0] }

    init() throws {
        group = try EventLoopGroup(count: 1, name: "fix-test")
        group.start()
    }

    /// Runs `body` on the loop and waits for its result.
    func sync<T>(_ body: @escaping () throws -> T) throws -> T {
        try loop.submitAndWait(body)
    }

    /// Polls `condition` on the loop every 10 ms until it holds or `seconds` pass.
    @discardableResult
    func wait(seconds: Double = 5, _ condition: @escaping () -> Bool) -> Bool {
        let deadline = Syscalls.monotonicNanos() + UInt64(seconds * 1e9)
        while Syscalls.monotonicNanos() < deadline {
            if (try? sync(condition)) == true { return true }
            usleep(10_000)
        }
        return false
    }

    func shutdown() {
        group.stop()
        group.join()
    }
}

/// Records what the session reports; optionally answers orders with execution reports.
final class RecordingApp: FIXApplication, @unchecked Sendable {
    var logons = 0
    var disconnects: [FIXDisconnectReason?] = []
    var received: [DecodedMessage] = []
    var answerOrders = false

    func fixConnectionDidLogOn(_ connection: FIXConnection) { logons += 1 }

    func fixConnection(_ connection: FIXConnection, didReceive message: FIXMessageView) {
        received.append(decode(Array(message.bytes)))
        if answerOrders, message.msgType == .newOrderSingle, let order = try? FIXNewOrderSingle(message) {
            connection.send(
                FIXExecutionReport(
                    orderID: "O-\(order.clOrdID)", clOrdID: order.clOrdID, execID: "X-\(order.clOrdID)", execType: .new,
                    ordStatus: .new, symbol: order.symbol, side: order.side, orderQty: order.orderQty,
                    price: order.price, leavesQty: order.orderQty, cumQty: 0, avgPx: 0))
        }
    }

    func fixConnectionDidDisconnect(_ connection: FIXConnection, reason: FIXDisconnectReason?) {
        disconnects.append(reason)
    }
}

