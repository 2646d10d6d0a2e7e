// Tests for the `log.*` config keys and the LogLineHandler they configure: exact line formats.
import Logging
import Synchronization
import Testing

@testable import Wire

#if canImport(Glibc)
import Glibc
#endif

/// Collects lines written by a handler.
private final class LineSink: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ s: String) { lines.withLock { $0.append(s) } }
    var all: [String] { lines.withLock { $0 } }
}

private func handler(_ format: LogLineFormat, _ sink: LineSink, level: Logger.Level = .info) -> LogLineHandler {
    LogLineHandler(
        label: "fanout", level: level, format: format, metadataProvider: nil,
        now: { timespec(tv_sec: 1_795_788_017, tv_nsec: 526_000_999) }, sink: { sink.append($0) })
}

@Suite struct ConfigLogTests {
    @Test func textLines() {
        let sink = LineSink()
        var logger = Logger(label: "fanout") { _ in handler(.text, sink) }
        logger[metadataKey: "loop"] = "0"
        logger.notice("listening", metadata: ["port": "8080", "addr": "0.0.0.0 x", "q": "a\"b"])
        logger.debug("dropped below level")
        #expect(
            sink.all == [
                "2026-11-27T14:00:17.526000Z notice fanout: listening "
                    + "addr=\"0.0.0.0 x\" loop=0 port=8080 q=\"a\\\"b\"\n"
            ])
    }

    @Test func jsonLines() {
        let sink = LineSink()
        let logger = Logger(label: "fanout") { _ in handler(.json, sink) }
        logger.error("kafka \"down\"\n", metadata: ["attempt": "3"])
        #expect(
            sink.all == [
                "{\"ts\":\"2026-11-27T14:00:17.526000Z\",\"level\":\"error\",\"label\":\"fanout\","
                    + "\"msg\":\"kafka \\\"down\\\"\\n\",\"attempt\":\"3\"}\n"
            ])
    }

    @Test func timestampsBeforeEpochAndLeapDay() {
        #expect(LogLineHandler.timestamp(timespec(tv_sec: 951_782_400, tv_nsec: 1000)) == "2000-02-29T00:00:00.000001Z")
        #expect(LogLineHandler.timestamp(timespec(tv_sec: 0, tv_nsec: 0)) == "1970-01-01T00:00:00.000000Z")
        #expect(LogLineHandler.timestamp(timespec(tv_sec: -1, tv_nsec: 0)) == "1969-12-31T23:59:59.000000Z")
    }

    @Test func configKeysValidateLevelAndFormat() throws {
        let schema = ConfigSchema(keys: LogLineHandler.configKeys(table: "log"))
        let c = try ConfigFile(text: "[log]\nlevel = \"debug\"\nformat = \"json\"\n", name: "b.toml", schema: schema)
        let h = LogLineHandler.factory(config: c, table: "log")("x") as! LogLineHandler
        #expect(h.logLevel == .debug)
        #expect(h.format == .json)
        #expect(
            throws: ConfigError(
                .invalidValue, origin: "b.toml:2",
                "key 'log.level' value \"loud\" is not one of "
                    + "\"trace\", \"debug\", \"info\", \"notice\", \"warning\", \"error\", \"critical\"")
        ) {
            try ConfigFile(text: "[log]\nlevel = \"loud\"\n", name: "b.toml", schema: schema)
        }
    }

    @Test func writesWholeLinesToAFileDescriptor() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let h = LogLineHandler(label: "wire", level: .info, format: .text, fd: fds[1])
        h.log(
            event: LogEvent(
                level: .info, message: "hello", metadata: nil, source: "Wire", file: "f", function: "g",
                line: 1))
        close(fds[1])
        var bytes = [UInt8](repeating: 0, count: 256)
        let n = read(fds[0], &bytes, bytes.count)
        let line = String(decoding: bytes[0..<max(n, 0)], as: UTF8.self)
        #expect(line.hasSuffix("Z info wire: hello\n"))
        #expect(line.count == "2026-11-27T14:00:17.526000Z info wire: hello\n".count)
    }
}
