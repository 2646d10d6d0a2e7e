// Loading the symbol universe from listing files, with a generated fallback.
//
// Owns: the CSV reader for the two listing formats we ship (NASDAQ nasdaqlisted with its
// "File Creation Time" footer row; NSE EQUITY_L with a UTF-8 byte-order mark), and finding the
// project's copies in Sources/Broker/Resources relative to the working directory or the executable.
// Cold path: runs once at start.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where a loaded universe came from (for the start-up log line).
public enum SymbolUniverseSource: Equatable, Sendable {
    /// Read from these files, in order.
    case files([String])
    /// Generated `S0000..` because no file was configured or found.
    case generated(count: Int)
}

extension SymbolUniverse {
    /// The project's listing files, relative to the repository root: NSE first (the DESIGN.md
    /// examples RELIANCE, TCS), then NASDAQ. The 12 tickers listed on both keep the NSE entry.
    public static let defaultFiles = [
        "Sources/Broker/Resources/nse-equity-list.csv",
        "Sources/Broker/Resources/nasdaq-listed.csv",
    ]

    /// Parses listing CSV bytes: first column symbol, second column name; RFC 4180 quoting
    /// ("" inside quotes), CRLF or LF, optional UTF-8 BOM, a header row whose first field is
    /// "Symbol" (any case), and NASDAQ's "File Creation Time: ..." footer and empty rows skipped.
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: name used in errors.
    /// - Throws: `.invalidSymbol` or `.unterminatedQuote` with the 1-based line.
    public static func parseCSV(_ bytes: [UInt8], source: String) throws(SymbolUniverseError) -> [SymbolListing] {
        var out: [SymbolListing] = []
        var i = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
        var line = 1
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var rowStartLine = 1
        func endRow() throws(SymbolUniverseError) {
            fields.append(field)
            field = []
            defer { fields = [] }
            let symbolBytes = fields[0]
            let symbol = String(decoding: symbolBytes, as: UTF8.self)
            if symbol.isEmpty && fields.allSatisfy(\.isEmpty) { return }
            if symbol.hasPrefix("File Creation Time") { return }
            if rowStartLine == 1 || (out.isEmpty && symbol.uppercased() == "SYMBOL") {
                if symbol.uppercased() == "SYMBOL" { return }
            }
            guard isValidSymbol(symbolBytes) else { throw .invalidSymbol(source: source, line: rowStartLine) }
            let name = fields.count > 1 ? String(decoding: fields[1], as: UTF8.self) : ""
            out.append(SymbolListing(symbol: symbol, companyName: name))
        }
        var inQuotes = false
        var atFieldStart = true
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(b)
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
            } else {
                switch b {
                case UInt8(ascii: "\"") where atFieldStart:
                    inQuotes = true
                case UInt8(ascii: ","):
                    fields.append(field)
                    field = []
                    atFieldStart = true
                    i += 1
                    continue
                case UInt8(ascii: "\r"):
                    break
                case UInt8(ascii: "\n"):
                    try endRow()
                    line += 1
                    rowStartLine = line
                    atFieldStart = true
                    i += 1
                    continue
                default:
                    field.append(b)
                }
            }
            atFieldStart = false
            i += 1
        }
        if inQuotes { throw .unterminatedQuote(source: source, line: rowStartLine) }
        if !field.isEmpty || !fields.isEmpty { try endRow() }
        return out
    }

    /// Reads and merges listing files in order (first listing of a symbol wins).
    /// - Throws: `.unreadable` for a missing file, or any CSV error.
    public static func load(files: [String]) throws(SymbolUniverseError) -> SymbolUniverse {
        var listings: [SymbolListing] = []
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path: path) }
            listings += try parseCSV([UInt8](data), source: path)
        }
        return try SymbolUniverse(listings: listings)
    }

    /// Finds `path`: as given if absolute or present relative to the working directory, else relative
    /// to the executable's directory and up to four of its parents (so `.build/debug/broker` finds
    /// the repository's `Sources/...`). Returns nil when nowhere to be found.
    public static func resolve(path: String, executablePath: String? = nil) -> String? {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { return path }
        if path.hasPrefix("/") { return nil }
        let exe =
            executablePath ?? (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? ""
        var dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        for _ in 0..<5 where !dir.isEmpty {
            let candidate = (dir + [Substring(path)]).joined(separator: "/")
            if fm.fileExists(atPath: candidate) { return candidate }
            dir = dir.dropLast()
        }
        return nil
    }

    /// The start-up policy: load `files` (default: `defaultFiles`) when all are found, otherwise
    /// generate `fallbackCount` symbols. An explicitly configured file that exists but is malformed
    /// still throws: a broken config must fail at start, not silently fall back.
    public static func loadOrGenerate(
        files: [String]? = nil, fallbackCount: Int = 1_000, executablePath: String? = nil
    ) throws(SymbolUniverseError) -> (SymbolUniverse, SymbolUniverseSource) {
        let wanted = files ?? defaultFiles
        let resolved = wanted.compactMap { resolve(path: $0, executablePath: executablePath) }
        if !wanted.isEmpty && resolved.count == wanted.count {
            return (try load(files: resolved), .files(resolved))
        }
        if files != nil && !wanted.isEmpty {
            throw .unreadable(path: wanted.first { resolve(path: $0, executablePath: executablePath) == nil }!)
        }
        return (generated(count: fallbackCount), .generated(count: fallbackCount))
    }
}
