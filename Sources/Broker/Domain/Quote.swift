// The internal quote and its two wire forms.
//
// Owns: `Quote` (fixed-point, symbol as a dense id), its client JSON exactly as DESIGN.md's
// WebSocket protocol, and the compact binary form carried on Kafka `market.quotes`.
// Encoders append to a caller's ByteBuffer and allocate nothing once the buffer has room
// (a quote message is at most `Quote.maxJSONMessageBytes`). Batching (`quotes`) and framing
// are the fanout's; this file only supplies the pieces.
public import Wire

/// The latest state of one symbol's market: prices in 1e-4 units, sizes in shares.
public struct Quote: Equatable, Hashable, Sendable {
    /// Dense id in the `SymbolUniverse` of this process.
    public var symbolId: Int32
    /// Best bid, 1e-4 units (0 when there is none).
    public var bid: Int64
    /// Best ask, 1e-4 units (0 when there is none).
    public var ask: Int64
    /// Last traded price (LTP), 1e-4 units.
    public var last: Int64
    /// Shares at the best bid.
    public var bidSize: Int64
    /// Shares at the best ask.
    public var askSize: Int64
    /// Shares in the last trade.
    public var lastSize: Int64
    /// Feed timestamp: nanoseconds since the Unix epoch when the exchange side generated it.
    public var ts: UInt64
    /// Per-symbol sequence number, increasing by one per update.
    public var seq: UInt64

    /// Creates a quote.
    public init(
        symbolId: Int32, bid: Int64, ask: Int64, last: Int64,
        bidSize: Int64 = 0, askSize: Int64 = 0, lastSize: Int64 = 0, ts: UInt64, seq: UInt64
    ) {
        self.symbolId = symbolId
        self.bid = bid
        self.ask = ask
        self.last = last
        self.bidSize = bidSize
        self.askSize = askSize
        self.lastSize = lastSize
        self.ts = ts
        self.seq = seq
    }
}

// MARK: - Client JSON

extension Quote {
    /// Upper bound of `writeJSONMessage`'s output: envelope and keys (~60 bytes), a 32-byte symbol,
    /// three prices of at most 21 bytes each (sign, 14 integer digits, '.', 4 fraction digits)
    /// and two 20-digit integers.
    public static let maxJSONMessageBytes = 256

    /// Appends the single-quote message of DESIGN.md:
    /// `{"type":"quote","symbol":"RELIANCE","ltp":2450.75,"bid":2450.50,"ask":2451.00,"ts":...,"seq":42}`.
    /// Prices are JSON numbers with at least two fraction digits (trailing zeros beyond two trimmed).
    /// This whole object may also be placed as-is inside a `quotes` batch's `data` array.
    @inlinable
    public func writeJSONMessage(into buffer: inout ByteBuffer, symbols: SymbolUniverse) {
        buffer.reserveWritable(Self.maxJSONMessageBytes)
        buffer.writeStaticString("{\"type\":\"quote\",\"symbol\":\"")
        writeJSONFields(into: &buffer, symbols: symbols)
    }

    /// Appends the bare quote object, without the `type` key, for a `quotes` batch:
    /// `{"symbol":"RELIANCE","ltp":2450.75,"bid":2450.50,"ask":2451.00,"ts":...,"seq":42}`.
    @inlinable
    public func writeJSONObject(into buffer: inout ByteBuffer, symbols: SymbolUniverse) {
        buffer.reserveWritable(Self.maxJSONMessageBytes)
        buffer.writeStaticString("{\"symbol\":\"")
        writeJSONFields(into: &buffer, symbols: symbols)
    }

    @inlinable
    func writeJSONFields(into buffer: inout ByteBuffer, symbols: SymbolUniverse) {
        // Symbols are validated at load to need no JSON escaping (SymbolUniverse.isValidSymbol).
        symbols.writeName(of: symbolId, into: &buffer)
        buffer.writeStaticString("\",\"ltp\":")
        buffer.writeFixedPoint(last, scale: FixedPointDecimal.priceScale, minFraction: 2)
        buffer.writeStaticString(",\"bid\":")
        buffer.writeFixedPoint(bid, scale: FixedPointDecimal.priceScale, minFraction: 2)
        buffer.writeStaticString(",\"ask\":")
        buffer.writeFixedPoint(ask, scale: FixedPointDecimal.priceScale, minFraction: 2)
        buffer.writeStaticString(",\"ts\":")
        buffer.writeDecimal(Int(truncatingIfNeeded: ts))
        buffer.writeStaticString(",\"seq\":")
        buffer.writeDecimal(Int(truncatingIfNeeded: seq))
        buffer.writeStaticString("}")
    }

    /// Opening of a batch message; follow with quote objects separated by `batchSeparator`, then `batchSuffix`.
    public static let batchPrefix: StaticString = "{\"type\":\"quotes\",\"data\":["
    /// Between two quote objects in a batch.
    public static let batchSeparator: StaticString = ","
    /// Closing of a batch message.
    public static let batchSuffix: StaticString = "]}"
}

// MARK: - Binary (Kafka market.quotes)

/// Why binary quote bytes were refused.
public enum QuoteBinaryError: Error, Equatable, Sendable {
    /// Fewer than `Quote.binaryLength` bytes.
    case truncated
    /// A version this build does not know.
    case unknownVersion(UInt8)
}

extension Quote {
    /// Version byte of the current binary layout.
    public static let binaryVersion: UInt8 = 1
    /// Length of one binary quote.
    public static let binaryLength = 72

    /// Appends the compact binary quote: 72 bytes, fixed layout, every integer little-endian
    /// (x86 and ARM hosts read it without swapping):
    ///
    /// | offset | size | field |
    /// | --- | --- | --- |
    /// | 0 | 1 | version (1) |
    /// | 1 | 3 | reserved, zero |
    /// | 4 | 4 | symbolId (Int32): the producer's id; valid only where `SymbolUniverse.fingerprint` matches |
    /// | 8 | 8 | bid (Int64, 1e-4) |
    /// | 16 | 8 | ask (Int64, 1e-4) |
    /// | 24 | 8 | last (Int64, 1e-4) |
    /// | 32 | 8 | bidSize (Int64) |
    /// | 40 | 8 | askSize (Int64) |
    /// | 48 | 8 | lastSize (Int64) |
    /// | 56 | 8 | ts (UInt64, ns since Unix epoch) |
    /// | 64 | 8 | seq (UInt64) |
    ///
    /// The Kafka message key is the symbol name, which is authoritative: consumers resolve it with
    /// their own universe and pass the id to `init(binary:symbolId:)`.
    @inlinable
    public func writeBinary(into buffer: inout ByteBuffer) {
        buffer.reserveWritable(Self.binaryLength)
        buffer.writeInteger(Self.binaryVersion)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(symbolId, littleEndian: true)
        buffer.writeInteger(bid, littleEndian: true)
        buffer.writeInteger(ask, littleEndian: true)
        buffer.writeInteger(last, littleEndian: true)
        buffer.writeInteger(bidSize, littleEndian: true)
        buffer.writeInteger(askSize, littleEndian: true)
        buffer.writeInteger(lastSize, littleEndian: true)
        buffer.writeInteger(ts, littleEndian: true)
        buffer.writeInteger(seq, littleEndian: true)
    }

    /// Decodes a binary quote from the first `binaryLength` bytes of `bytes` (extra bytes ignored,
    /// so later versions may append fields).
    /// - Parameter symbolId: the id resolved from the Kafka key; nil keeps the encoded id.
    /// - Throws: `.truncated`, `.unknownVersion`.
    public init(binary bytes: UnsafeRawBufferPointer, symbolId: Int32? = nil) throws(QuoteBinaryError) {
        guard bytes.count >= Self.binaryLength else { throw .truncated }
        guard bytes[0] == Self.binaryVersion else { throw .unknownVersion(bytes[0]) }
        func i64(_ o: Int) -> Int64 { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: Int64.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        let encodedId = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: Int32.self))
        self.init(
            symbolId: symbolId ?? encodedId, bid: i64(8), ask: i64(16), last: i64(24),
            bidSize: i64(32), askSize: i64(40), lastSize: i64(48), ts: u64(56), seq: u64(64))
    }

    /// Decodes a binary quote from the readable bytes of `buffer` (not consumed).
    public init(binary buffer: ByteBuffer, symbolId: Int32? = nil) throws(QuoteBinaryError) {
        let r: Result<Quote, QuoteBinaryError> = buffer.withUnsafeReadableBytes { bytes in
            do throws(QuoteBinaryError) { return .success(try Quote(binary: bytes, symbolId: symbolId)) } catch {
                return .failure(error)
            }
        }
        self = try r.get()
    }
}
