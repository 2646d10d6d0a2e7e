import Testing
import Logging
@testable import Broker
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// A fanout node on its own loops with the synthetic feed, for black-box tests over real sockets.
final class FanoutRig {
    let group: EventLoopGroup
    /// The feed's own loop (`fanout.feed_thread`, the role's default), nil when it runs on loop 0.
    let feedGroup: EventLoopGroup?
    let node: FanoutNode

    init(rate: Int = 20_000, symbols: Int = 1_000, configure: (inout FanoutSettings) -> Void = { _ in }) throws {
        var s = FanoutSettings()
        s.port = 0
        s.echo = true
        configure(&s)
        group = try EventLoopGroup(count: 2, name: "fanout-test")
        group.start()
        feedGroup = s.feedThread ? try EventLoopGroup(count: 1, name: "fanout-test-feed") : nil
        feedGroup?.start()
        node = FanoutNode(settings: s, symbols: SymbolUniverse.generated(count: symbols), group: group,
                          feedLoop: feedGroup?.loops[0], logger: Logger(label: "test"))
        try node.start()
        if rate > 0 { try node.startSyntheticFeed(rate: rate, symbolCount: symbols) }
    }

    var url: String { "ws://127.0.0.1:\(node.port)/ws" }

    func check(_ scenario: String, _ extra: [String] = [], url: String? = nil, environment: [String: String]? = nil,
               timeout: Double = 60) throws -> ProcessOutcome {
        try runProcess(["python3", "\(repositoryRoot)/Tests/interop/fanout/fanout_check.py", scenario, url ?? self.url] + extra,
                       timeout: timeout, environment: environment)
    }

    deinit {
        feedGroup?.stop()
        feedGroup?.join()
        group.stop()
        group.join()
    }
}

@Suite(.serialized) struct FanoutNodeTests {
    @Test func independentClientGetsItsSymbolsOnlyInSeqOrderAndUnsubscribeStopsThem() throws {
        let rig = try FanoutRig()
        let r = try rig.check("basic")
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.hasPrefix("OK"))
    }

    @Test func feedOnTheFirstLoopServesTheSameProtocol() throws {
        let rig = try FanoutRig { $0.feedThread = false }
        #expect(rig.node.feedLoop === rig.group.loops[0])
        let r = try rig.check("basic")
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func permessageDeflateClientGetsTheSameProtocol() throws {
        let rig = try FanoutRig()
        let r = try rig.check("basic-deflate")
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func zlibCodedPerConnectionFramesDecodeForADeflateClient() throws {
        let rig = try FanoutRig { $0.limits.deflateFixedHuffman = false }
        let r = try rig.check("basic-deflate")
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func sharedCompressedFramesDecodeForADeflateClient() throws {
        let rig = try FanoutRig { $0.deflatePerConnection = false }
        let r = try rig.check("basic-deflate")
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func lateSubscriberGetsSnapshotFirst() throws {
        let rig = try FanoutRig()
        usleep(300_000)  // let the feed fill the last-value cache
        let r = try rig.check("snapshot")
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func badInputGetsClearErrorsAndTheConnectionStaysHealthy() throws {
        let rig = try FanoutRig()
        let r = try rig.check("bad-input")
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func slowReaderIsClosedWhileFastOneKeepsGettingQuotes() throws {
        let rig = try FanoutRig(rate: 50_000) { s in
            s.limits.slowConsumerTimeoutNanos = 1_000_000_000
            s.highWatermark = 16 * 1024
            s.lowWatermark = 4 * 1024
        }
        let r = try rig.check("slow", ["2"])
        #expect(r.status == 0, "\(r.output)")
        let closed = try rig.node.shards.map { s in try s.loop.submitAndWait { Int(s.shard.slowConsumersClosed) } }
        #expect(closed.reduce(0, +) == 1)
    }

    @Test func wssClientVerifiesOurCertificateAndGetsQuotes() throws {
        let dir = "/tmp/fanout-tls-\(getpid())"
        _ = try runProcess(["mkdir", "-p", dir])
        let gen = try runProcess(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                  "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                                  "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem"], timeout: 30)
        #expect(gen.status == 0, "\(gen.output)")
        let ctx = try TLSServerContext(certificatePath: "\(dir)/cert.pem", privateKeyPath: "\(dir)/key.pem")
        let rig = try FanoutRig { $0.tls = ctx }
        let r = try rig.check("basic", url: "wss://localhost:\(rig.node.port)/ws",
                              environment: ["FANOUT_CHECK_CA": "\(dir)/cert.pem"])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func healthAndMetricsAnswerOnTheSamePort() throws {
        let rig = try FanoutRig(rate: 1_000)
        let health = try runProcess(["curl", "-s", "-i", "http://127.0.0.1:\(rig.node.port)/health"], timeout: 10)
        #expect(health.output.contains("200 OK"))
        let metrics = try runProcess(["curl", "-s", "http://127.0.0.1:\(rig.node.port)/metrics"], timeout: 10)
        #expect(metrics.output.contains("# TYPE fanout_connections gauge"))
        #expect(metrics.output.contains("wire_loop_iteration_seconds_bucket"))
        rig.node.drain()
        usleep(100_000)
        let drained = try runProcess(["curl", "-s", "-i", "http://127.0.0.1:\(rig.node.port)/health"], timeout: 10)
        #expect(!drained.output.contains("200 OK"))  // listener closed or 503
    }
}

@Suite(.serialized) struct FanoutMetricsTests {
    @Test func feedAndDeliveryCountersMove() throws {
        let rig = try FanoutRig(rate: 5_000)
        let r = try rig.check("basic")
        #expect(r.status == 0, "\(r.output)")
        usleep(1_200_000)  // metrics are published from the loops once a second
        let metrics = try runProcess(["curl", "-s", "http://127.0.0.1:\(rig.node.port)/metrics"], timeout: 10).output
        func value(_ name: String) -> Int {
            let line = metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") } ?? ""
            return Int(line.split(separator: " ").last ?? "") ?? -1
        }
        #expect(value("fanout_feed_quotes_total") > 1_000)
        #expect(value("fanout_quotes_delivered_total") > 0)
        #expect(value("fanout_connections_accepted_total") == 1)
        #expect(value("wire_writev_calls_total") > 0)
    }
}
