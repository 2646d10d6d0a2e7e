// Locating, building and running the QuickFIX C++ interop peers (Tests/interop/quickfix).
//
// The peers are built once per test run by scripts/quickfix-peers.sh into .build/quickfix-peers;
// when g++ or libquickfix-dev is missing the interop tests are skipped (not failed), since the
// rest of the engine does not need them.
#if canImport(Glibc)
    import Glibc
#endif

enum QuickFIXPeers {
    /// The package root, from this file's location (Tests/FIXTests/Support/...).
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)
        return parts.joined(separator: "/")
    }()

    static let directory = root + "/.build/quickfix-peers"

    /// Path of a built peer.
    static func path(_ name: String) -> String { directory + "/" + name }

    /// True once the peers exist (building them on first use).
    static let available: Bool = {
        let result = PeerProcess.run(["bash", root + "/scripts/quickfix-peers.sh", directory])
        if result.status != 0 { print("QuickFIX peers unavailable, interop tests skipped:\n\(result.output)") }
        return result.status == 0 && access(path("qf_acceptor"), X_OK) == 0 && access(path("qf_initiator"), X_OK) == 0
    }()
}

/// A child process whose stdout and stderr go to a file the test reads.
final class PeerProcess: @unchecked Sendable {
    let pid: pid_t
    let outputPath: String
    private var status: Int32?

    private init(pid: pid_t, outputPath: String) {
        self.pid = pid
        self.outputPath = outputPath
    }

    /// Starts `arguments[0]` (searched in PATH).
    static func spawn(_ arguments: [String]) -> PeerProcess {
        let out = "/tmp/fix-peer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        precondition(rc == 0, "posix_spawnp \(arguments[0]) failed: \(rc)")
        return PeerProcess(pid: pid, outputPath: out)
    }

    /// Runs to completion.
    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        let p = spawn(arguments)
        let s = p.wait()
        return (s, p.output)
    }

    /// What the process printed so far.
    var output: String {
        guard let f = fopen(outputPath, "r") else { return "" }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Output lines.
    var lines: [String] { output.split(separator: "\n").map(String.init) }

    /// Waits for exit; returns the exit code (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if let status { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let code = (raw & 0x7F) == 0 ? (raw >> 8) & 0xFF : 128 + (raw & 0x7F)
        status = code
        return code
    }

    /// Kills (if running), reaps and removes the output file.
    func terminate() {
        if status == nil { kill(pid, SIGKILL) }
        wait()
        unlink(outputPath)
    }

    /// Polls until a line satisfies `match` or `seconds` pass.
    @discardableResult
    func waitForLine(seconds: Double = 10, _ match: (String) -> Bool) -> Bool {
        let deadline = time(nil) + time_t(seconds.rounded(.up))
        while time(nil) <= deadline {
            if lines.contains(where: match) { return true }
            usleep(20_000)
        }
        return false
    }
}

/// Polls `condition` until it holds or `seconds` pass.
@discardableResult
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = time(nil) + time_t(seconds.rounded(.up))
    while time(nil) <= deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return false
}
