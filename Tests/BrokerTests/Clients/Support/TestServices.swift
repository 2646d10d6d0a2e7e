// Finds (or starts) the real servers the client tests talk to.
//
// Settings come from BROKER_TEST_REDIS (`host:port`) and BROKER_TEST_PG (a libpq conninfo string), as exported by
// `scripts/services.sh env` (scripts/test.sh does that). When a variable is missing, the tests run
// scripts/services.sh themselves (it installs and starts Redis and PostgreSQL, idempotently) and use what it prints.
// Tests that restart a server start their own private redis-server on a free port instead of touching the shared one.
#if canImport(Glibc)
import Glibc
#endif

enum TestServices {
    /// Runs `command` through /bin/sh; returns exit status and stdout.
    @discardableResult
    static func shell(_ command: String) -> (status: Int32, output: String) {
        guard let f = popen(command, "r") else { return (-1, "") }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        let status = pclose(f)
        return (status, String(decoding: out, as: UTF8.self))
    }

    /// The repository root, from this file's path (Tests/BrokerTests/Clients/Support/TestServices.swift).
    static let repositoryRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(5)
        return parts.joined(separator: "/")
    }()

    /// Settings printed by scripts/services.sh, run at most once per test process.
    private static let started: [String: String] = {
        let r = shell("'\(repositoryRoot)/scripts/services.sh' 2>/tmp/broker-test-services.log")
        var settings: [String: String] = [:]
        for line in r.output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return settings
    }()

    static func setting(_ name: String) -> String? {
        if let v = getenv(name) { return String(cString: v) }
        return started[name]
    }

    /// `host:port` of the shared test Redis.
    static var redisAddress: String? { setting("BROKER_TEST_REDIS") }
    /// libpq conninfo of the test database.
    static var postgresConninfo: String? { setting("BROKER_TEST_PG") }

    /// A TCP port that was free a moment ago (bound to port 0, then released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// A private redis-server for tests that stop and restart it.
final class PrivateRedisServer {
    let port: Int

    init() {
        _ = TestServices.redisAddress   // makes sure redis-server is installed (services.sh)
        port = TestServices.freePort()
    }

    /// Starts (or restarts) the server on `port`; returns whether it answers PING.
    @discardableResult
    func start() -> Bool {
        TestServices.shell("redis-server --port \(port) --bind 127.0.0.1 --daemonize yes --save '' --appendonly no "
            + "--dir /tmp --pidfile /tmp/broker-test-redis-\(port).pid --logfile /tmp/broker-test-redis-\(port).log")
        for _ in 0..<200 {
            if TestServices.shell("redis-cli -p \(port) ping 2>/dev/null").output.hasPrefix("PONG") { return true }
            usleep(10_000)
        }
        return false
    }

    /// Stops the server at once (no save); returns when it no longer answers.
    func stop() {
        TestServices.shell("redis-cli -p \(port) shutdown nosave >/dev/null 2>&1")
        for _ in 0..<200 {
            if !TestServices.shell("redis-cli -p \(port) ping 2>/dev/null").output.hasPrefix("PONG") { return }
            usleep(10_000)
        }
    }

    deinit { stop() }
}
