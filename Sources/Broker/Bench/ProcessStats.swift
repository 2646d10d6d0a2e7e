// ProcessStats: CPU seconds and resident memory of a process, read from /proc, so the harness
// can report the server's cost per delivered quote.
#if canImport(Glibc)
import Glibc
#endif

/// A reading of /proc/PID/stat and /proc/PID/status.
public struct ProcessStats: Sendable, Equatable {
    /// User + system CPU time in seconds.
    public var cpuSeconds: Double
    /// Resident set size in bytes.
    public var rssBytes: Int
    /// Peak resident set size (VmHWM) in bytes.
    public var peakRSSBytes: Int

    /// Reads the stats of `pid`, or nil when the process is gone or /proc is unreadable.
    public static func read(pid: Int32) -> ProcessStats? {
        guard let stat = readText("/proc/\(pid)/stat"), let status = readText("/proc/\(pid)/status") else { return nil }
        // Fields after the parenthesised command name (which may hold spaces): state is field 3,
        // utime 14 and stime 15 (proc(5)).
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let ut = Double(fields[11]), let st = Double(fields[12]) else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        func kb(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key) {
                let digits = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0"
                return (Int(digits.trimmingTabs()) ?? 0) * 1024
            }
            return 0
        }
        return ProcessStats(cpuSeconds: (ut + st) / hz, rssBytes: kb("VmRSS:"), peakRSSBytes: kb("VmHWM:"))
    }

    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Substring {
    fileprivate func trimmingTabs() -> Substring {
        var s = self
        while let f = s.first, f == "\t" || f == " " { s = s.dropFirst() }
        return s
    }
}
