// LogLineHandler: the platform's swift-log backend: one line per event to stderr (journald/systemd
// friendly), as text or JSON, configured from the config file.
//
// Owns: formatting an event (UTC timestamp, level, label, message, sorted metadata), writing it with
// a single write(2) so lines from different loop threads never interleave, and the `log.*` config
// keys. Logging is for lifecycle events only, never per message (STYLE.md section 10), so this may
// allocate.
public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output formats for `LogLineHandler`.
public enum LogLineFormat: String, Sendable, CaseIterable {
    /// `2026-11-27T15:55:01.123456Z notice fanout: listening port=8080`
    case text
    /// `{"ts":"2026-11-27T15:55:01.123456Z","level":"notice","label":"fanout","msg":"listening","port":"8080"}`
    case json
}

/// A `LogHandler` writing one line per event.
public struct LogLineHandler: LogHandler {
    /// The label of the logger (usually the component: `fanout`, `wire.loop0`).
    public let label: String
    /// The line format.
    public let format: LogLineFormat
    /// Events below this level are dropped by `Logger` before they reach the handler.
    public var logLevel: Logger.Level
    /// Metadata attached to every event of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Adds contextual metadata at log time.
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: @Sendable (String) -> Void
    private let now: @Sendable () -> timespec

    /// Creates a handler writing to a file descriptor (stderr by default).
    public init(
        label: String, level: Logger.Level = .info, format: LogLineFormat = .text, fd: Int32 = 2,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.init(
            label: label, level: level, format: format, metadataProvider: metadataProvider,
            now: LogLineHandler.realtime, sink: { line in LogLineHandler.writeLine(line, fd: fd) })
    }

    /// Creates a handler with an injected clock and sink (tests).
    init(
        label: String, level: Logger.Level, format: LogLineFormat, metadataProvider: Logger.MetadataProvider?,
        now: @escaping @Sendable () -> timespec, sink: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.metadataProvider = metadataProvider
        self.now = now
        self.sink = sink
    }

    /// Reads and writes one metadata entry of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Formats and writes the event.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        sink(
            LogLineHandler.line(
                format: format, time: now(), level: event.level, label: label,
                message: event.message.description, metadata: merged))
    }

    /// One formatted line including the trailing newline; metadata keys are sorted so lines are stable.
    static func line(
        format: LogLineFormat, time: timespec, level: Logger.Level, label: String, message: String,
        metadata: Logger.Metadata
    ) -> String {
        let ts = timestamp(time)
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var out = "\(ts) \(level.rawValue) \(label): \(message)"
            for k in keys { out += " \(k)=\(textValue("\(metadata[k]!)"))" }
            return out + "\n"
        case .json:
            var out =
                "{\"ts\":\"\(ts)\",\"level\":\"\(level.rawValue)\",\"label\":\(jsonString(label)),"
                + "\"msg\":\(jsonString(message))"
            for k in keys where !["ts", "level", "label", "msg"].contains(k) {
                out += ",\(jsonString(k)):\(jsonString("\(metadata[k]!)"))"
            }
            return out + "}\n"
        }
    }

    /// Values with spaces, quotes or `=` are quoted (logfmt) so a line splits unambiguously.
    static func textValue(_ v: String) -> String {
        let needsQuotes = v.isEmpty || v.utf8.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x5C }
        return needsQuotes ? jsonString(v) : v
    }

    /// A JSON string literal (RFC 8259 section 7).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// RFC 3339 UTC with microseconds: `2026-11-27T15:55:01.123456Z`.
    static func timestamp(_ t: timespec) -> String {
        let secs = Int(t.tv_sec)
        let days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = secs - days * 86400
        // Civil-from-days (Howard Hinnant): no libc time zone state touched from loop threads.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rem / 3600, 2)):\(pad(rem / 60 % 60, 2)):"
            + "\(pad(rem % 60, 2)).\(pad(Int(t.tv_nsec) / 1000, 6))Z"
    }

    @Sendable static func realtime() -> timespec {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return t
    }

    /// One write(2) per line (retrying EINTR and short writes) so concurrent lines do not interleave
    /// on a pipe or an O_APPEND file.
    static func writeLine(_ line: String, fd: Int32) {
        var line = line
        line.withUTF8 { bytes in
            var off = 0
            while off < bytes.count {
                let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }  // nowhere to report a failing log sink
                off += n
            }
        }
    }

    // MARK: - Configuration

    /// Config keys under `table` (usually `log`): level and format.
    public static func configKeys(table: String) -> [ConfigKey] {
        [
            .string(
                "\(table).level", default: "info",
                doc: "Lowest level written. Per-message events are never logged at any level.",
                allowed: Logger.Level.allCases.map(\.rawValue)),
            .string(
                "\(table).format", default: "text",
                doc: "Line format on stderr: text (key=value) or json (one object per line).",
                allowed: LogLineFormat.allCases.map(\.rawValue)),
        ]
    }

    /// A factory for `LoggingSystem.bootstrap` configured from the keys of `configKeys(table:)`.
    public static func factory(config: ConfigFile, table: String) -> @Sendable (String) -> any LogHandler {
        let level = Logger.Level(rawValue: config.string("\(table).level")) ?? .info
        let format = LogLineFormat(rawValue: config.string("\(table).format")) ?? .text
        return { label in LogLineHandler(label: label, level: level, format: format) }
    }
}
