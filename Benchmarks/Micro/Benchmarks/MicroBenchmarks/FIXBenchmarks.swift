// FIX 4.4 codec: frame + parse (strict validation) + read the fields the engine uses, and encode
// of the same three messages. 1,000 messages per measured iteration.
import Benchmark
import FIX
import Wire

/// The fields of the three benchmark messages, written by one encoder so parse and encode
/// benchmarks work on the same bytes.
enum FIXFixtures {
    static let sendingTime = FIXTimestamp(nanoseconds: 1_795_788_017_526_000_000)
    static let orderID = "EX-0000001234"
    static let execID = "E-0000005678"
    static let clOrdID = "c-20261127-000042"

    /// 35=W MarketDataSnapshotFullRefresh: bid, offer and last-trade entries.
    static func marketDataSnapshot(_ e: inout FIXEncoder, seq: Int) {
        e.beginMessage(.marketDataSnapshotFullRefresh)
        header(&e, seq: seq)
        e.field(262, "md-1")
        e.field(55, "RELIANCE")
        e.field(268, 3)
        e.field(269, char: UInt8(ascii: "0")); e.field(270, price: 24_505_000); e.field(271, 1_200)
        e.field(269, char: UInt8(ascii: "1")); e.field(270, price: 24_510_000); e.field(271, 800)
        e.field(269, char: UInt8(ascii: "2")); e.field(270, price: 24_507_500); e.field(271, 50)
        e.field(272, literal: "20261127"); e.field(273, literal: "15:48:34.123")
        e.finishMessage()
    }

    /// 35=8 ExecutionReport: a partial fill.
    static func executionReport(_ e: inout FIXEncoder, seq: Int) {
        e.beginMessage(.executionReport)
        header(&e, seq: seq)
        e.field(37, orderID)
        e.field(11, clOrdID)
        e.field(17, execID)
        e.field(150, char: UInt8(ascii: "F"))
        e.field(39, char: UInt8(ascii: "1"))
        e.field(55, "RELIANCE")
        e.field(54, char: UInt8(ascii: "1"))
        e.field(38, 100)
        e.field(44, price: 24_510_000)
        e.field(32, 40)
        e.field(31, price: 24_507_500)
        e.field(151, 60)
        e.field(14, 40)
        e.field(6, price: 24_507_500)
        e.field(60, timestamp: sendingTime, precision: .milliseconds)
        e.finishMessage()
    }

    /// 35=D NewOrderSingle: a day limit buy.
    static func newOrderSingle(_ e: inout FIXEncoder, seq: Int) {
        e.beginMessage(.newOrderSingle)
        header(&e, seq: seq)
        e.field(11, clOrdID)
        e.field(1, "ACC-42")
        e.field(55, "RELIANCE")
        e.field(54, char: UInt8(ascii: "1"))
        e.field(60, timestamp: sendingTime, precision: .milliseconds)
        e.field(38, 100)
        e.field(40, char: UInt8(ascii: "2"))
        e.field(44, price: 24_510_000)
        e.field(59, char: UInt8(ascii: "0"))
        e.finishMessage()
    }

    static func header(_ e: inout FIXEncoder, seq: Int) {
        e.field(49, literal: "BROKER")
        e.field(56, literal: "EXCHANGE")
        e.field(34, seq)
        e.field(52, timestamp: sendingTime, precision: .milliseconds)
    }

    /// The bytes of one message made by `build`.
    static func bytes(_ build: (inout FIXEncoder, Int) -> Void) -> [UInt8] {
        var e = FIXEncoder()
        build(&e, 4_711)
        return e.buffer.readableBytesArray
    }
}

/// Frames and parses `message` `count` times, calling `read` on the parsed view each time.
@inline(__always)
func parseLoop(_ message: [UInt8], _ view: inout FIXMessageView, _ count: Range<Int>,
               _ read: (FIXMessageView) -> Int) {
    var framer = FIXFramer()
    message.withUnsafeBytes { raw in
        for _ in count {
            var offset = 0
            guard let frame = try? framer.nextFrame(raw, offset: &offset) else { fatalError("no frame") }
            do {
                try view.parse(UnsafeRawBufferPointer(rebasing: raw[frame]))
            } catch {
                fatalError("benchmark message rejected: \(error)")
            }
            blackHole(read(view))
        }
    }
}

func registerFIXBenchmarks() {
    let w = FIXFixtures.bytes(FIXFixtures.marketDataSnapshot)
    let er = FIXFixtures.bytes(FIXFixtures.executionReport)
    let d = FIXFixtures.bytes(FIXFixtures.newOrderSingle)

    // MARK: Parse (FIXFramer.nextFrame + FIXMessageView.parse(.strict) + typed reads)

    let view = Held(FIXMessageView(capacity: 256))  // one view, reused as the session does

    Benchmark("FIX_parseMarketDataW_1k") { b in
        view.with { view in parseLoop(w, &view, b.scaledIterations) { v in
            var sum = 0
            guard let g = v.group(268) else { fatalError("no 268 group") }
            v.forEachEntry(of: g) { entry in
                sum &+= Int(v.char(269, in: entry) ?? 0)
                sum &+= Int(v.price(270, in: entry) ?? 0)
                sum &+= v.int(271, in: entry) ?? 0
            }
            return sum &+ v.msgSeqNum
        } }
    }

    Benchmark("FIX_parseExecutionReport_1k") { b in
        view.with { view in parseLoop(er, &view, b.scaledIterations) { v in
            var sum = v.int(FIXTag.cumQty) ?? 0
            sum &+= v.int(FIXTag.leavesQty) ?? 0
            sum &+= Int(v.price(FIXTag.avgPx) ?? 0)
            sum &+= Int(v.price(31) ?? 0) &+ (v.int(32) ?? 0)
            sum &+= Int(v.char(FIXTag.execType) ?? 0) &+ Int(v.char(FIXTag.ordStatus) ?? 0)
            sum &+= v.range(FIXTag.execID)?.count ?? 0
            sum &+= v.range(FIXTag.clOrdID)?.count ?? 0
            return sum
        } }
    }

    Benchmark("FIX_parseNewOrderSingle_1k") { b in
        view.with { view in parseLoop(d, &view, b.scaledIterations) { v in
            var sum = v.int(FIXTag.orderQty) ?? 0
            sum &+= Int(v.price(FIXTag.price) ?? 0)
            sum &+= Int(v.char(FIXTag.side) ?? 0) &+ Int(v.char(FIXTag.ordType) ?? 0)
            sum &+= Int(v.timestamp(FIXTag.transactTime)?.nanoseconds ?? 0)
            sum &+= v.range(FIXTag.clOrdID)?.count ?? 0
            sum &+= v.range(FIXTag.symbol)?.count ?? 0
            return sum
        } }
    }

    // MARK: Encode (FIXEncoder into a reused buffer, BodyLength and CheckSum included)

    func encodeBenchmark(_ name: String, _ build: @escaping (inout FIXEncoder, Int) -> Void) {
        let encoder = Held(FIXEncoder(buffer: ByteBuffer(capacity: 1024)))
        Benchmark(name) { b in
            encoder.with { e in
                for i in b.scaledIterations {
                    e.buffer.clear()
                    build(&e, i &+ 1)
                    blackHole(e.buffer.readableBytes)
                }
            }
        }
    }
    encodeBenchmark("FIX_encodeMarketDataW_1k", FIXFixtures.marketDataSnapshot)
    encodeBenchmark("FIX_encodeExecutionReport_1k", FIXFixtures.executionReport)
    encodeBenchmark("FIX_encodeNewOrderSingle_1k", FIXFixtures.newOrderSingle)
}
