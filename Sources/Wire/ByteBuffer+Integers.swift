// ByteBuffer helpers for integers and ASCII decimals. Per-message encoders use these; none allocates.
extension ByteBuffer {
    /// Writes an integer in network (big-endian) order unless `littleEndian` is set.
    @inlinable public mutating func writeInteger<T: FixedWidthInteger>(_ value: T, littleEndian: Bool = false) {
        let size = MemoryLayout<T>.size
        reserveWritable(size)
        let v = littleEndian ? value.littleEndian : value.bigEndian
        // Invariant: reserveWritable made room for `size` bytes.
        (storage.base + writerIndex).storeBytes(of: v, as: T.self)
        writerIndex += size
    }

    /// Reads a big-endian integer `offset` bytes after the reader index without consuming it.
    @inlinable public func getInteger<T: FixedWidthInteger>(at offset: Int = 0, as: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset + size <= readableBytes else { return nil }
        // Invariant: bounds checked above.
        let v = UnsafeRawPointer(storage.base + readerIndex + offset).loadUnaligned(as: T.self)
        return T(bigEndian: v)
    }

    /// Reads and consumes a big-endian integer.
    @inlinable public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        guard let v: T = getInteger(at: 0) else { return nil }
        readerIndex += MemoryLayout<T>.size
        return v
    }

    /// Writes `value` as ASCII decimal digits. Returns the number of bytes written.
    @discardableResult
    @inlinable public mutating func writeDecimal(_ value: Int) -> Int {
        reserveWritable(20)
        var v = value.magnitude
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        return withUnsafeMutableBytes(of: &tmp) { scratch -> Int in
            var i = 24
            repeat {
                i -= 1
                scratch[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
            } while v != 0
            if value < 0 { i -= 1; scratch[i] = 45 }
            let n = 24 - i
            // Invariant: reserveWritable(20) covers the 20 digits of Int.min plus sign (20 bytes).
            (storage.base + writerIndex).copyMemory(from: scratch.baseAddress! + i, byteCount: n)
            writerIndex += n
            return n
        }
    }

    /// Writes a fixed-point number `value / 10^scale` as a decimal with exactly `scale`
    /// fraction digits trimmed to at least `minFraction` (e.g. 24507500, scale 4 -> "2450.75").
    @inlinable public mutating func writeFixedPoint(_ value: Int64, scale: Int, minFraction: Int = 2) {
        var pow: Int64 = 1
        for _ in 0..<scale { pow &*= 10 }
        if value < 0 { writeInteger(UInt8(ascii: "-")) }
        let mag = value.magnitude
        writeDecimal(Int(mag / UInt64(pow)))
        var frac = mag % UInt64(pow)
        var digits = scale
        while digits > minFraction && frac % 10 == 0 { frac /= 10; digits -= 1 }
        guard digits > 0 else { return }
        writeInteger(UInt8(ascii: "."))
        reserveWritable(digits)
        var i = digits
        while i > 0 {
            i -= 1
            // Invariant: reserveWritable(digits) above.
            (storage.base + writerIndex + i).storeBytes(of: UInt8(truncatingIfNeeded: frac % 10) &+ 48, as: UInt8.self)
            frac /= 10
        }
        writerIndex += digits
    }
}
