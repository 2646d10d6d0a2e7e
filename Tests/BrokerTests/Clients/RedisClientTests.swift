// RedisClient against real redis-server processes (see Support/TestServices.swift for how they are found or
// started), plus the socket-free parts: RESP encoding and the reconnect backoff.
import Logging
import Testing
import Wire
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

@Suite struct RedisProtocolTests {
    @Test func encodesCommandsAsRESPBulkStringArrays() {
        var e = RedisCommandEncoder()
        e.command(["SET", "quote:TCS", ""])
        #expect(String(decoding: e.bytes, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$9\r\nquote:TCS\r\n$0\r\n\r\n")
        e.reset()
        let big = String(repeating: "x", count: 1234)
        e.command(["GET", big])
        #expect(String(decoding: e.bytes, as: UTF8.self) == "*2\r\n$3\r\nGET\r\n$1234\r\n\(big)\r\n")
    }

    @Test func backoffDoublesUpToTheCapAndResets() {
        var b = RedisReconnectBackoff(initialNanos: 50, maxNanos: 300)
        #expect([b.nextDelay(), b.nextDelay(), b.nextDelay(), b.nextDelay(), b.nextDelay()] == [50, 100, 200, 300, 300])
        b.reset()
        #expect(b.nextDelay() == 50)
    }

    @Test func parsesAddress() {
        #expect(RedisConfiguration(address: "127.0.0.1:6390")?.port == 6390)
        #expect(RedisConfiguration(address: "127.0.0.1:6390")?.host == "127.0.0.1")
        #expect(RedisConfiguration(address: "nohost") == nil)
    }
}

@Suite(.serialized) struct RedisClientTests {
    static let logger: Logger = {
        var l = Logger(label: "test.redis")
        l.logLevel = .critical
        return l
    }()

    final class Box: @unchecked Sendable {
        var client: RedisClient?
        var results: [Result<RedisReply, RedisError>] = []
        var changes: [Bool] = []
    }

    static func makeClient(_ runner: ClientLoopRunner, _ box: Box, _ config: RedisConfiguration) throws {
        let loop = runner.loop
        try runner.sync {
            let c = RedisClient(configuration: config, loop: loop, logger: Self.logger)
            c.onConnectionChange = { connected, _ in box.changes.append(connected) }
            c.connect()
            box.client = c
        }
    }

    @Test func pipelinedSetThenMGetRoundTrip() throws {
        let address = try #require(TestServices.redisAddress, "no Redis: run scripts/services.sh")
        let config = try #require(RedisConfiguration(address: address))
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.makeClient(runner, box, config)
        #expect(runner.wait { box.client!.isConnected })
        let prefix = "test:\(getpid()):\(UInt32.random(in: 0 ... .max)):"
        let n = 1000
        // One loop task: every SET is queued before the loop next waits, so all leave in one flush.
        let queuedAtOnce = try runner.sync { () -> Int in
            let c = box.client!
            for i in 0..<n {
                let done: RedisCompletion? = i == n - 1 ? { box.results.append($0) } : nil
                let key = Array("\(prefix)\(i)".utf8)
                let r = i % 2 == 0
                    ? c.set("\(prefix)\(i)", "v\(i)", completion: done)
                    : key.withUnsafeBytes { k in
                        Array("v\(i)".utf8).withUnsafeBytes { c.set(key: k, value: $0, completion: done) }
                    }
                precondition(r == .queued)
            }
            c.mget((0..<n).map { "\(prefix)\($0)" } + ["\(prefix)missing"]) { box.results.append($0) }
            c.get("\(prefix)7") { box.results.append($0) }
            c.ping { box.results.append($0) }
            return c.pendingReplies
        }
        #expect(queuedAtOnce == 4)
        #expect(try runner.sync { box.client!.commandsSent } == UInt64(n + 3))
        #expect(runner.wait { box.results.count == 4 })
        let results = try runner.sync { box.results }
        #expect(try results[0].get() == .status("OK"))
        guard case .array(let values) = try results[1].get() else { Issue.record("MGET not an array"); return }
        #expect(values.count == n + 1)
        #expect(values.prefix(n).enumerated().allSatisfy { $0.element == .bulk(Array("v\($0.offset)".utf8)) })
        #expect(values.last == .null)
        #expect(try results[2].get().string == "v7")
        #expect(try results[3].get() == .status("PONG"))
        // A server error reply is a failure with code .server.
        try runner.sync { _ = box.client!.send(["INCR", "\(prefix)1"]) { box.results.append($0) } }
        #expect(runner.wait { box.results.count == 5 })
        let incr = try runner.sync { box.results[4] }
        #expect(throws: RedisError.self) { try incr.get() }
        if case .failure(let e) = incr { #expect(e.code == .server && !e.isRetriable) }
        try runner.sync { _ = box.client!.send(["DEL"] + (0..<n).map { "\(prefix)\($0)" }); box.client!.close() }
    }

    @Test func outstandingCommandsAreBounded() throws {
        let address = try #require(TestServices.redisAddress, "no Redis: run scripts/services.sh")
        var config = try #require(RedisConfiguration(address: address))
        config.maxOutstandingCommands = 100
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.makeClient(runner, box, config)
        #expect(runner.wait { box.client!.isConnected })
        // In one loop task nothing can be answered yet: the 101st command is refused, not buffered.
        let results = try runner.sync { (0..<101).map { _ in box.client!.send(["PING"]) } }
        #expect(results.prefix(100).allSatisfy { $0 == .queued })
        #expect(results.last == .overloaded)
        #expect(runner.wait { box.client!.outstandingCommands == 0 })   // every reply, with or without completion
        #expect(try runner.sync { box.client!.ping { box.results.append($0) } } == .queued)
        #expect(runner.wait { box.results.count == 1 })
        try runner.sync { box.client!.close() }
    }

    @Test func reconnectsAfterServerRestart() throws {
        let server = PrivateRedisServer()
        #expect(server.start())
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.makeClient(runner, box, RedisConfiguration(host: "127.0.0.1", port: server.port,
                                                            reconnectInitialNanos: 10_000_000,
                                                            reconnectMaxNanos: 100_000_000))
        #expect(runner.wait { box.client!.isConnected })
        try runner.sync { _ = box.client!.set("k", "before") { box.results.append($0) } }
        #expect(runner.wait { box.results.count == 1 })

        server.stop()
        #expect(runner.wait { !box.client!.isConnected && box.client!.lastError != nil })
        let whileDown = try runner.sync { box.client!.set("k", "lost") }
        #expect(whileDown == .notConnected || whileDown == .queued)   // queued only while a retry is connecting

        #expect(server.start())
        #expect(runner.wait { box.client!.isConnected && box.client!.connectCount == 2 })
        try runner.sync { _ = box.client!.set("k", "after") { box.results.append($0) } }
        try runner.sync { _ = box.client!.get("k") { box.results.append($0) } }
        #expect(runner.wait { box.results.count == 3 })
        let (changes, last, lastError) = try runner.sync {
            (box.changes, box.results.last!, box.client!.lastError)
        }
        #expect(try last.get().string == "after")
        #expect(changes == [true, false, true])
        #expect(lastError == nil)
        try runner.sync { box.client!.close() }
    }

    @Test func connectFailureIsReportedAndRetried() throws {
        let port = TestServices.freePort()   // nothing listens here
        let runner = try ClientLoopRunner()
        defer { runner.shutdown() }
        let box = Box()
        try Self.makeClient(runner, box, RedisConfiguration(host: "127.0.0.1", port: port,
                                                            reconnectInitialNanos: 10_000_000,
                                                            reconnectMaxNanos: 20_000_000))
        #expect(runner.wait { box.client!.lastError?.code == .connectFailed && box.client!.connectAttempts >= 3 })
        let (connected, changes) = try runner.sync { (box.client!.isConnected, box.changes) }
        #expect(!connected)
        #expect(changes.isEmpty)
        try runner.sync { box.client!.close() }
    }
}
