// Runs an external program (Python interop clients, helper binaries) with a bounded wait.
import Foundation

struct ProcessOutcome {
    var status: Int32
    var output: String
    var timedOut: Bool
}

/// Runs `arguments` (argv[0] looked up in PATH) and returns its exit status and combined output.
/// The process is killed after `timeout` seconds.
func runProcess(_ arguments: [String], timeout: Double = 60, environment: [String: String]? = nil) throws -> ProcessOutcome {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    if let environment { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    var timedOut = false
    while p.isRunning {
        if Date() > deadline {
            p.terminate()
            timedOut = true
            break
        }
        usleep(20_000)
    }
    p.waitUntilExit()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    return ProcessOutcome(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self), timedOut: timedOut)
}

/// The repository root (tests run from it under `swift test`; fall back to this file's location).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()
