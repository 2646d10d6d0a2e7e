// TestProcess: run an external program (openssl, python3) from a test and collect its exit status
// and output. Test-only; uses posix_spawnp so no shell quoting is involved.
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a finished child process.
struct TestProcessResult {
    var status: Int32
    var output: String
}

enum TestProcess {
    /// Runs `arguments[0]` (looked up in PATH) and waits; stdout and stderr go to one file we read back.
    static func run(_ arguments: [String]) -> TestProcessResult {
        let child = spawn(arguments)
        return child.wait()
    }

    /// Starts a process without waiting.
    static func spawn(_ arguments: [String]) -> TestChild {
        let outPath = "/tmp/wire-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        precondition(rc == 0, "posix_spawnp \(arguments[0]) failed: \(rc)")
        return TestChild(pid: pid, outputPath: outPath)
    }
}

/// A running child process.
final class TestChild {
    let pid: pid_t
    let outputPath: String
    private var finished: TestProcessResult?

    init(pid: pid_t, outputPath: String) {
        self.pid = pid
        self.outputPath = outputPath
    }

    /// Waits for exit and returns status (exit code, or 128 + signal) and combined output.
    func wait() -> TestProcessResult {
        if let finished { return finished }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let result = TestProcessResult(status: code, output: readFile(outputPath))
        unlink(outputPath)
        finished = result
        return result
    }

    /// Kills the child (if still running) and reaps it.
    func kill() {
        if finished == nil { _ = Glibc.kill(pid, SIGKILL) }
        _ = wait()
    }
}

/// Reads a small file into a String ("" when missing).
func readFile(_ path: String) -> String {
    guard let f = fopen(path, "r") else { return "" }
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

/// Writes a string to a file, replacing it.
func writeFile(_ path: String, _ text: String) {
    let f = fopen(path, "w")!
    _ = text.withCString { fputs($0, f) }
    fclose(f)
}

/// A fresh private directory under /tmp.
func makeTemporaryDirectory(_ prefix: String) -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(p != nil, "mkdtemp failed")
    return String(cString: p!)
}
