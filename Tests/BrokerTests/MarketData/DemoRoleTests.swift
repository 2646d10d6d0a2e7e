// `broker demo` in-process: exchange -> FIX loopback -> ingest -> in-process bus -> fanout, checked by
// the independent Python client (Tests/interop/fanout/fanout_check.py); extra services get the hook.
import Foundation
import Logging
import Synchronization
import Testing
import Wire
@testable import Broker

@Suite(.serialized) struct DemoRoleTests {
    func config(_ extra: String = "") throws -> ConfigFile {
        try ConfigFile(text: """
            [general]
            loops = 2
            [symbols]
            generated = 200
            [demo]
            rate = 20000
            [exchange]
            order_store_dir = "\(NSTemporaryDirectory())demo-fix-\(getpid())"
            \(extra)
            """, name: "test.toml", schema: BrokerConfig.schema)
    }

    @Test func independentClientGetsItsSymbolsOnlyInSeqOrderThroughTheWholePipeline() throws {
        let started = Mutex(0)
        let rt = try DemoRole.start(config: try config(), logger: Logger(label: "demo"), listen: "127.0.0.1:0",
                                    services: [{ ctx in
                                        started.withLock { $0 += 1 }
                                        #expect(ctx.exchangePort > 0 && ctx.exchangePeerCompIDs.contains("GATEWAY"))
                                        ctx.addRoute { head, _ in
                                            guard head.path == "/api/v1/ping" else { return nil }
                                            return HTTPResponse(status: .ok, contentType: "text/plain", body: "pong")
                                        }
                                    }])
        defer { rt.stop() }
        #expect(started.withLock { $0 } == 1)
        let url = rt.webSocketURL
        let basic = try runProcess(["python3", "\(repositoryRoot)/Tests/interop/fanout/fanout_check.py", "basic", url],
                                   timeout: 30)
        #expect(basic.status == 0, "\(basic.output)")
        let snapshot = try runProcess(["python3", "\(repositoryRoot)/Tests/interop/fanout/fanout_check.py", "snapshot",
                                       url], timeout: 30)
        #expect(snapshot.status == 0, "\(snapshot.output)")
        let ping = try runProcess(["curl", "-s", "http://127.0.0.1:\(rt.fanout.port)/api/v1/ping"], timeout: 10)
        #expect(ping.output == "pong")
        let base = "http://127.0.0.1:\(rt.fanout.port)"
        let exchange = try runProcess(["curl", "-s", "\(base)/metrics/exchange"], timeout: 10)
        #expect(exchange.output.contains("exchange_sessions_logged_on 1"), "\(exchange.output)")
        let ingest = try runProcess(["curl", "-s", "\(base)/metrics/ingest"], timeout: 10)
        #expect(ingest.output.contains("ingest_latency_ns{quantile=\"0.99\"}"), "\(ingest.output)")
        // The cache holds what the ingestor normalized.
        #expect(rt.context.quotes.latest(1) != nil)
        #expect(DemoRole.banner(rt).contains("python3 -m websockets ws://127.0.0.1:\(rt.fanout.port)/ws"))
        #expect(DemoRole.banner(rt).contains("{\"action\":\"subscribe\",\"symbols\":[\"S0000\""))
    }
}
