// The symbol universe: which symbols exist, their company names, and their dense ids.
//
// Owns: interning symbols to dense Int32 ids (0..<count, in load order), allocation-free lookup
// by name bytes through an open-addressing hash table, and the generated `S0000..` universe.
// CSV parsing and file discovery live in SymbolUniverse+Loading.swift; search in SymbolSearch.swift.
// Immutable once built, so one instance is shared by every event loop without locks.
public import Wire

/// One row of a listing file.
public struct SymbolListing: Equatable, Sendable {
    /// Ticker as traded, e.g. "RELIANCE", "M&M", "BAJAJ-AUTO".
    public var symbol: String
    /// Company or security name, e.g. "Apple Inc. - Common Stock".
    public var companyName: String

    /// Creates a listing.
    public init(symbol: String, companyName: String) {
        self.symbol = symbol
        self.companyName = companyName
    }
}

/// Why a universe could not be built.
public enum SymbolUniverseError: Error, Equatable, Sendable {
    /// The file could not be read.
    case unreadable(path: String)
    /// A row's symbol is empty, too long, or has bytes that are not printable ASCII (or '"', '\').
    case invalidSymbol(source: String, line: Int)
    /// A quoted field never closed.
    case unterminatedQuote(source: String, line: Int)
    /// No symbols at all.
    case empty
}

/// An immutable, interned set of symbols. Ids are dense `Int32` in `0..<count`.
public final class SymbolUniverse: Sendable {
    /// Longest accepted symbol in bytes (NASDAQ's longest is 5, NSE's about 20).
    public static let maxSymbolLength = 32

    /// Number of symbols.
    public let count: Int
    /// Symbols skipped because an earlier file already had them (first listing wins).
    public let duplicatesSkipped: Int
    /// FNV-1a over all symbol names in id order: two processes agree on ids iff fingerprints match.
    public let fingerprint: UInt64

    // All symbol names back to back; name i is nameBytes[nameOffsets[i]..<nameOffsets[i+1]].
    private let nameBytes: [UInt8]
    private let nameOffsets: [Int32]
    private let names: [String]
    private let companyNames: [String]
    // Open addressing, linear probing; -1 is empty. Capacity is a power of two >= 2 * count.
    private let slots: [Int32]
    private let hashes: [UInt64]

    /// Builds a universe from listings in order; later duplicates of a symbol are skipped.
    /// - Throws: `.invalidSymbol` (line = index + 1) for a bad symbol, `.empty` for no listings.
    public init(listings: [SymbolListing]) throws(SymbolUniverseError) {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        var names: [String] = []
        var companies: [String] = []
        var hashes: [UInt64] = []
        var seen = Set<String>()
        var skipped = 0
        bytes.reserveCapacity(listings.count * 6)
        for (index, listing) in listings.enumerated() {
            let utf8 = Array(listing.symbol.utf8)
            guard Self.isValidSymbol(utf8) else { throw .invalidSymbol(source: "listings", line: index + 1) }
            guard seen.insert(listing.symbol).inserted else {
                skipped += 1
                continue
            }
            bytes.append(contentsOf: utf8)
            offsets.append(Int32(bytes.count))
            names.append(listing.symbol)
            companies.append(listing.companyName)
            hashes.append(Self.hash(utf8))
        }
        guard !names.isEmpty else { throw .empty }
        var capacity = 16
        while capacity < names.count * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        let mask = capacity - 1
        for id in 0..<names.count {
            var s = Int(truncatingIfNeeded: hashes[id]) & mask
            while slots[s] != -1 { s = (s + 1) & mask }
            slots[s] = Int32(id)
        }
        var fp: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { fp = (fp ^ UInt64(b)) &* 0x100_0000_01b3 }
        fp = (fp ^ UInt64(names.count)) &* 0x100_0000_01b3
        self.count = names.count
        self.duplicatesSkipped = skipped
        self.fingerprint = fp
        self.nameBytes = bytes
        self.nameOffsets = offsets
        self.names = names
        self.companyNames = companies
        self.slots = slots
        self.hashes = hashes
    }

    /// The synthetic universe of DESIGN.md: `count` symbols `S0000`, `S0001`, ... (zero-padded to
    /// four digits, wider when needed: `S12345`), with deterministic made-up company names so
    /// search has words to match.
    public static func generated(count: Int) -> SymbolUniverse {
        precondition(count > 0 && count <= Int(Int32.max))
        var listings: [SymbolListing] = []
        listings.reserveCapacity(count)
        for i in 0..<count {
            listings.append(SymbolListing(symbol: generatedSymbol(i), companyName: generatedCompanyName(i)))
        }
        // Generated symbols are valid and distinct by construction.
        return try! SymbolUniverse(listings: listings)
    }

    /// The generated symbol for index `i` ("S0007", "S12345").
    public static func generatedSymbol(_ i: Int) -> String {
        let digits = String(i)
        return "S" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static let nameWords = [
        "Alpha", "Apex", "Atlas", "Aurora", "Beacon", "Blue", "Bright", "Cedar", "Citadel", "Coastal",
        "Delta", "Eagle", "Echo", "Evergreen", "Falcon", "First", "Frontier", "Global", "Granite", "Harbor",
        "Horizon", "Iron", "Keystone", "Liberty", "Lunar", "Meridian", "Nova", "Oak", "Orion", "Pacific",
        "Pinnacle", "Prime", "Quantum", "Redwood", "River", "Sierra", "Silver", "Solar", "Summit", "Titan",
        "Union", "Vertex", "Vista", "Western", "Zenith",
    ]
    private static let nameSectors = [
        "Energy", "Bank", "Pharma", "Motors", "Foods", "Software", "Steel", "Textiles", "Telecom", "Retail",
    ]

    /// Deterministic company name for generated index `i`, e.g. "Orion Quantum Energy Ltd".
    public static func generatedCompanyName(_ i: Int) -> String {
        let w = nameWords.count
        let a = nameWords[i % w]
        let b = nameWords[(i / w + i) % w]
        let c = nameSectors[(i / (w * w) + i / 7) % nameSectors.count]
        return "\(a) \(b) \(c) Ltd"
    }

    /// Symbol names accepted: 1...maxSymbolLength printable ASCII bytes, no '"' or '\', no spaces,
    /// so a symbol can be copied into JSON without escaping.
    static func isValidSymbol(_ utf8: [UInt8]) -> Bool {
        guard !utf8.isEmpty, utf8.count <= maxSymbolLength else { return false }
        return utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    @inline(__always)
    static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64: short keys, no allocation, good enough spread
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Id of the symbol spelled by `bytes`, or nil. Allocation-free: hashes the bytes and compares
    /// against the interned name bytes; meant for names sliced out of FIX/JSON frames.
    public func id(bytes: UnsafeRawBufferPointer) -> Int32? {
        guard bytes.count > 0, bytes.count <= Self.maxSymbolLength else { return nil }
        let h = Self.hash(bytes)
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = slots[s]
            if id < 0 { return nil }
            if hashes[Int(id)] == h && equalsName(Int(id), bytes) { return id }
            s = (s + 1) & mask
        }
    }

    /// Id of `symbol`, or nil (cold-path convenience).
    public func id(of symbol: String) -> Int32? {
        var s = symbol
        return s.withUTF8 { id(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Id of the symbol in the readable bytes of `buffer`, or nil.
    public func id(buffer: ByteBuffer) -> Int32? {
        buffer.withUnsafeReadableBytes { id(bytes: $0) }
    }

    private func equalsName(_ id: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = Int(nameOffsets[id])
        let end = Int(nameOffsets[id + 1])
        guard end - start == bytes.count else { return false }
        var i = 0
        while i < bytes.count {
            if nameBytes[start + i] != bytes[i] { return false }
            i += 1
        }
        return true
    }

    /// The symbol for `id` (e.g. "RELIANCE").
    public func name(of id: Int32) -> String { names[Int(id)] }

    /// The company name for `id` (may be empty).
    public func companyName(of id: Int32) -> String { companyNames[Int(id)] }

    /// Whether `id` names a symbol of this universe.
    public func contains(_ id: Int32) -> Bool { id >= 0 && Int(id) < count }

    /// Length in bytes of the symbol for `id`.
    public func nameLength(of id: Int32) -> Int { Int(nameOffsets[Int(id) + 1] - nameOffsets[Int(id)]) }

    /// Appends the symbol's bytes (no quotes, never needs JSON escaping) to `buffer` without allocating
    /// (beyond the buffer's own growth).
    @inline(__always)
    public func writeName(of id: Int32, into buffer: inout ByteBuffer) {
        let start = Int(nameOffsets[Int(id)])
        let end = Int(nameOffsets[Int(id) + 1])
        nameBytes.withUnsafeBytes { all in
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: all[start..<end]))
        }
    }

    /// Calls `body` with the symbol's bytes. The pointer must not escape.
    public func withNameBytes<R>(of id: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = Int(nameOffsets[Int(id)])
        let end = Int(nameOffsets[Int(id) + 1])
        return try nameBytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// All listings in id order (cold path: snapshots, search index building).
    public var listings: [SymbolListing] {
        (0..<count).map { SymbolListing(symbol: names[$0], companyName: companyNames[$0]) }
    }
}
