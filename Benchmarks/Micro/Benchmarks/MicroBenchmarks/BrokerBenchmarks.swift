// Broker fanout: quote encoding, the subscription map, and one update fanned out to 2,000
// subscribers over real loopback TCP connections, all through the public API (FanoutShard,
// FanoutClient, TCPListener/TCPConnection, EventLoop.runOnceForTests).
import Benchmark
import Broker
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A fanout transport over an accepted loopback TCP connection.
final class BenchTransport: FanoutTransport, TCPConnectionHandler {
    let tcp: TCPConnection
    init(tcp: TCPConnection) { self.tcp = tcp }
    func closeWebSocket(code: UInt16, reason: String) { fatalError("benchmark client closed: \(code) \(reason)") }
    var acceptsData: Bool { true }
    func connection(_ c: TCPConnection, didReceive bytes: UnsafeRawBufferPointer) -> Int { bytes.count }
    func connectionDidClose(_ c: TCPConnection, error: IOError?) {}
}

/// One event loop (driven on the benchmark thread), one shard on it, and `count` subscribers:
/// server ends are TCPConnections accepted by a TCPListener, client ends are plain non-blocking
/// sockets the rig drains outside the measured region.
final class FanoutRig {
    let loop: EventLoop
    let shard: FanoutShard
    let listener: TCPListener
    var transports: [BenchTransport] = []
    var clients: [FanoutClient] = []
    var peers: [CInt] = []
    var seq: UInt64 = 0
    let frame: ByteBuffer
    let element: ByteBuffer
    private var sink = [UInt8](repeating: 0, count: 64 * 1024)

    init(subscribers count: Int, symbol: Int32) throws {
        loop = try EventLoop(name: "bench-fanout")
        shard = FanoutShard(loop: loop, symbolCount: 1_000)
        var accepted: [TCPConnection] = []
        listener = try TCPListener(host: "127.0.0.1", port: 0, loop: loop, reusePort: false) { accepted.append($0) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(listener.port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        while peers.count < count {
            // Connect in batches below the listen backlog, then let the loop accept them.
            for _ in 0..<min(256, count - peers.count) {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                precondition(fd >= 0, "socket: \(errno)")
                let rc = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                precondition(rc == 0, "connect: \(errno)")
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                peers.append(fd)
            }
            var spins = 0
            while accepted.count < peers.count {
                loop.runOnceForTests()
                spins += 1
                precondition(spins < 100_000, "listener did not accept")
            }
        }
        for tcp in accepted {
            let t = BenchTransport(tcp: tcp)
            tcp.handler = t
            transports.append(t)
            let c = FanoutClient(transport: t)
            shard.add(c)
            guard shard.subscribe(c, [symbol]) == [symbol] else { fatalError("subscribe failed") }
            clients.append(c)
        }
        // One quote encoded once by Broker's QuoteEncoder; every update below shares its bytes.
        var encoder = QuoteEncoder(symbols: SymbolUniverse.generated(count: 1_000))
        let u = encoder.encode(Quote(symbolId: symbol, bid: 24_505_000, ask: 24_510_000, last: 24_507_500,
                                     bidSize: 100, askSize: 200, lastSize: 10,
                                     ts: 1_795_788_017_526_000_000, seq: 0))
        frame = u.frame
        element = u.element
        flushAndDrain()
    }

    /// The next update of the symbol (a fresh seq, the same shared encodings).
    @inline(__always)
    func nextUpdate(_ symbol: Int32) -> QuoteUpdate {
        seq &+= 1
        return QuoteUpdate(symbolId: symbol, seq: seq, ts: 0, frame: frame, element: element)
    }

    /// Runs the loop once (flushes queued writes) and reads everything the clients received.
    func flushAndDrain() {
        loop.runOnceForTests()
        drainPeers()
    }

    /// Reads and discards whatever the client sockets hold.
    func drainPeers() {
        sink.withUnsafeMutableBytes { buf in
            for fd in peers {
                while recv(fd, buf.baseAddress, buf.count, Int32(MSG_DONTWAIT)) > 0 {}
            }
        }
    }

    func close() {
        for c in clients { shard.remove(c) }
        for t in transports { t.tcp.close() }
        for fd in peers { Glibc.close(fd) }
        listener.close()
        loop.runOnceForTests()
        clients.removeAll()
        transports.removeAll()
        peers.removeAll()
    }
}

/// The rig of the benchmark currently running (created in setup, released in teardown).
nonisolated(unsafe) var fanoutRig: FanoutRig?

func registerBrokerBenchmarks() {
    let subscribers = 2_000
    let hot: Int32 = 7

    // MARK: Quote encoding (once per update, shared by every subscriber)

    let quoteEncoder = Held(QuoteEncoder(symbols: SymbolUniverse.generated(count: 1_000)))
    Benchmark("Broker_encodeQuote_1k", configuration: perKilo(tolerance: 4)) { b in
        quoteEncoder.with { enc in
            for i in b.scaledIterations {
                let q = Quote(symbolId: Int32(i % 1_000), bid: 24_505_000, ask: 24_510_000, last: 24_507_500 + Int64(i),
                              bidSize: 100, askSize: 200, lastSize: 10,
                              ts: 1_795_788_017_526_000_000 &+ UInt64(i), seq: UInt64(i))
                let u = enc.encode(q)
                blackHole(u.frame.readableBytes)
            }
        }
    }

    // MARK: Subscription map (FanoutShard.subscribe + unsubscribe of 20 symbols)

    let symbols20: [Int32] = (0..<20).map { Int32($0 * 41 % 1_000) }
    Benchmark("Broker_subscribeUnsubscribe_20symbols", configuration: perKilo(tolerance: 20)) { b in
        guard let rig = fanoutRig else { fatalError("no rig") }
        let c = rig.clients[0]
        for _ in b.scaledIterations {
            guard let added = rig.shard.subscribe(c, symbols20), added.count == 20 else { fatalError("subscribe") }
            let removed = rig.shard.unsubscribe(c, symbols20)
            blackHole(removed.count)
        }
    } setup: {
        fanoutRig = try FanoutRig(subscribers: 1, symbol: hot)
    } teardown: {
        fanoutRig?.close()
        fanoutRig = nil
    }

    // MARK: Fanout of one update to 2,000 subscribers

    // Filing the update under 2,000 subscribers and queueing one shared frame per connection
    // (publish + drain); the writev flush and the clients' reads are outside the measurement.
    Benchmark("Broker_fanoutPublishDrain_2000subs", configuration: perOne(tolerance: 20, warmup: 10)) { b in
        guard let rig = fanoutRig else { fatalError("no rig") }
        rig.shard.publish(rig.nextUpdate(hot))
        rig.shard.drain()
        b.stopMeasurement()
        rig.flushAndDrain()
    } setup: {
        fanoutRig = try FanoutRig(subscribers: subscribers, symbol: hot)
    } teardown: {
        fanoutRig?.close()
        fanoutRig = nil
    }

    // The same plus one loop iteration: drain (before-sleep hook) and 2,000 writev calls onto
    // loopback sockets. The clients' reads are outside the measurement.
    Benchmark("Broker_fanoutPublishFlush_2000subs", configuration: perOne(tolerance: 20, warmup: 10)) { b in
        guard let rig = fanoutRig else { fatalError("no rig") }
        rig.shard.publish(rig.nextUpdate(hot))
        rig.loop.runOnceForTests()
        b.stopMeasurement()
        rig.drainPeers()
    } setup: {
        fanoutRig = try FanoutRig(subscribers: subscribers, symbol: hot)
    } teardown: {
        fanoutRig?.close()
        fanoutRig = nil
    }
}
