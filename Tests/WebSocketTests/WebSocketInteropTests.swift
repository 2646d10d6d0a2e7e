// Interop with Python's `websockets` package (an independent RFC 6455/7692 implementation):
// its client against our echo endpoint, and our client against its echo server, with and
// without permessage-deflate. Skipped when python3 or `websockets` is missing, never on CI flags.
import Foundation
import Testing
import Wire
@testable import WebSocket

/// Runs a script from Tests/interop/websocket and returns (exit code, stdout).
enum InteropScript {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("interop/websocket")

    static let available: Bool = {
        guard let p = try? launch(["-c", "import websockets.sync.client"]) else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    static func launch(_ arguments: [String], stdout: Pipe? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        p.standardOutput = stdout ?? FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func run(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
        let pipe = Pipe()
        let p = try launch([directory.appendingPathComponent(script).path] + arguments, stdout: pipe)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

@Suite(.serialized, .enabled(if: InteropScript.available, "python3 with the websockets package"))
struct WebSocketInteropTests {
    @Test func pythonClientAgainstOurEchoWithoutDeflate() throws {
        let rig = try EchoServerRig(configuration: .init(handshake: .init(deflate: .init())))
        defer { rig.shutdown() }
        let (code, out) = try InteropScript.run("echo_client.py", [String(rig.port)])
        #expect(code == 0, "\(out)")
        #expect(out.hasPrefix("OK"))
        #expect(rig.runner.wait { rig.echo.closes == [.normal] })
    }

    @Test func pythonClientAgainstOurEchoWithDeflate() throws {
        let rig = try EchoServerRig(configuration: .init(handshake: .init(deflate: .init())))
        defer { rig.shutdown() }
        let (code, out) = try InteropScript.run("echo_client.py", [String(rig.port), "--deflate"])
        #expect(code == 0, "\(out)")
        #expect(out.contains("permessage-deflate"))
        #expect(out.contains("server_no_context_takeover"))
    }

    @Test func pythonClientWithDeflateAgainstContextTakeoverServer() throws {
        let deflate = WebSocketDeflateConfiguration(serverNoContextTakeover: false, serverMaxWindowBits: 12)
        let rig = try EchoServerRig(configuration: .init(handshake: .init(deflate: deflate)))
        defer { rig.shutdown() }
        let (code, out) = try InteropScript.run("echo_client.py", [String(rig.port), "--deflate"])
        #expect(code == 0, "\(out)")
        #expect(out.contains("server_max_window_bits=12"))
        #expect(!out.contains("server_no_context_takeover"))
    }

    @Test(arguments: [false, true])
    func ourClientAgainstPythonEchoServer(deflate: Bool) throws {
        let pipe = Pipe()
        let process = try InteropScript.launch(
            [InteropScript.directory.appendingPathComponent("echo_server.py").path] + (deflate ? ["--deflate"] : []),
            stdout: pipe)
        defer { if process.isRunning { process.terminate() } }
        // First line: "PORT <n>".
        var line = Data()
        while let byte = try pipe.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data([10]) {
            line += byte
        }
        let port = try #require(Int(String(decoding: line, as: UTF8.self).dropFirst(5)))

        let runner = try WebSocketLoopRunner()
        defer { runner.shutdown() }
        let client = RecordingWebSocketHandler()
        let config = WebSocketClientConfiguration(deflate: deflate ? .init(serverNoContextTakeover: false) : nil)
        let ws = try runner.sync {
            try WebSocketClient.connect(host: "127.0.0.1", port: port, target: "/", on: runner.loop,
                                        configuration: config, handler: client)
        }
        #expect(runner.wait { client.connected })
        #expect(try runner.sync { ws.deflate != nil } == deflate)
        let big = String(repeating: "{\"type\":\"quote\",\"symbol\":\"S0001\"}", count: 3000)
        let texts = ["hello", "", "κόσμε 𝄞", big, big]
        try runner.sync {
            for t in texts { ws.send(text: t) }
            [UInt8](repeating: 0xAB, count: 100_000).withUnsafeBytes { _ = ws.send(.binary, payload: $0) }
        }
        #expect(runner.wait { client.texts.count == texts.count && client.binaries.count == 1 })
        #expect(try runner.sync { client.texts } == texts)
        #expect(try runner.sync { client.binaries.first } == [UInt8](repeating: 0xAB, count: 100_000))
        try runner.sync { ws.close(code: .normal) }
        #expect(runner.wait { client.closes == [.normal] })
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
