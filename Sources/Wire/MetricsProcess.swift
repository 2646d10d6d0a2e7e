// MetricsProcess: the standard Prometheus process metrics (CPU seconds, RSS, open fds, limits),
// read at scrape time from getrusage(2) and /proc, as the load-test report needs them.
//
// Owns: registering those callback series. Collection and rendering live in Metrics.swift and
// MetricsExposition.swift. Names follow the Prometheus client library convention so dashboards work.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension MetricsRegistry {
    /// Registers `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`
    /// and `process_max_fds`. Each is computed when scraped; nothing runs on the hot path.
    public func registerProcessMetrics() {
        counter("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.") {
            MetricsProcessReader.cpuSeconds()
        }
        gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.") {
            Double(MetricsProcessReader.residentBytes())
        }
        gauge("process_open_fds", help: "Number of open file descriptors.") {
            Double(MetricsProcessReader.openFileDescriptors())
        }
        gauge("process_max_fds", help: "Maximum number of open file descriptors.") {
            var limit = rlimit()
            return getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : .nan
        }
    }
}

/// Reads process figures from the kernel.
enum MetricsProcessReader {
    /// User plus system CPU time of the whole process (all threads).
    static func cpuSeconds() -> Double {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return .nan }
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// Resident set size from /proc/self/statm (second field, in pages).
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var text = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &text, text.count)
        guard n > 0 else { return 0 }
        let fields = text[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Entries of /proc/self/fd, minus the one opendir itself holds.
    static func openFileDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0[0] }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return max(count - 1, 0)
    }
}
