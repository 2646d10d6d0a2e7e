// Command line of `nio-fanout`. Owns flag parsing and validation only; what the flags drive lives in
// main.swift (server), SyntheticFeed.swift (feed) and LoopFanout.swift (delivery).

import NIOCore

/// Parsed command line: `nio-fanout --listen HOST:PORT --rate R --symbols U [--threads N]`.
struct Options: Sendable {
    /// Address to bind; IPv4 or IPv6 literal, or a name NIO can resolve.
    var host = "127.0.0.1"
    /// TCP port to bind.
    var port = 8090
    /// Synthetic feed updates per second, over all symbols.
    var rate = 1_000
    /// Number of symbols in the universe, `S0000`..`S{U-1}`.
    var symbols = 1_000
    /// Event loops serving connections (the feed has a thread of its own on top).
    var threads = System.coreCount

    static let usage = """
        usage: nio-fanout --listen HOST:PORT --rate R --symbols U [--threads N]
          --listen   address to bind (default 127.0.0.1:8090); WebSocket on /ws, /health, /stats
          --rate     synthetic feed updates per second over all symbols (default 1000)
          --symbols  number of symbols S0000..S{U-1} (default 1000)
          --threads  event loops serving connections (default: number of cores)
        """

    /// Parses `arguments` (without the program name).
    /// - Throws: `OptionsError` naming the flag at fault.
    static func parse(_ arguments: [String]) throws(OptionsError) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            if flag == "-h" || flag == "--help" { throw .help }
            guard let value = iterator.next() else { throw .invalid("\(flag) needs a value") }
            switch flag {
            case "--listen":
                // Split at the last colon so "[::1]:8090" and "::1:8090" keep their host part.
                guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
                    (0...65_535).contains(port)
                else { throw .invalid("--listen expects HOST:PORT, got \(value)") }
                var host = String(value[..<colon])
                if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                options.host = host.isEmpty ? "0.0.0.0" : host
                options.port = port
            case "--rate":
                guard let rate = Int(value), rate >= 0, rate <= 100_000_000 else {
                    throw .invalid("--rate expects 0...100000000 updates/s, got \(value)")
                }
                options.rate = rate
            case "--symbols":
                guard let symbols = Int(value), symbols >= 1, symbols <= 10_000_000 else {
                    throw .invalid("--symbols expects 1...10000000, got \(value)")
                }
                options.symbols = symbols
            case "--threads":
                guard let threads = Int(value), threads >= 1, threads <= 1_024 else {
                    throw .invalid("--threads expects 1...1024, got \(value)")
                }
                options.threads = threads
            default:
                throw .invalid("unknown flag \(flag)")
            }
        }
        return options
    }
}

/// Why the command line was refused.
enum OptionsError: Error {
    /// `--help` was asked for.
    case help
    /// A flag or its value is wrong; the text names it.
    case invalid(String)
}
