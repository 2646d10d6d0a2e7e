import Testing
@testable import Wire

@Suite struct ByteBufferTests {
    @Test func writeReadIntegersRoundTrip() {
        var b = ByteBuffer(capacity: 4)
        b.writeInteger(UInt16(0x1234))
        b.writeInteger(UInt64(0x0102030405060708))
        #expect(b.readableBytesArray == [0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8])
        #expect(b.readInteger(as: UInt16.self) == 0x1234)
        #expect(b.readInteger(as: UInt64.self) == 0x0102030405060708)
        #expect(b.readInteger(as: UInt8.self) == nil)
    }

    @Test func sliceSharesStorageAndWriteCopies() {
        var b = ByteBuffer(string: "hello world")
        var s = b.slice(offset: 6, length: 5)
        #expect(s.readableString == "world")
        s.writeString("!")
        #expect(s.readableString == "world!")
        #expect(b.readableString == "hello world")
        b.moveReaderIndex(forwardBy: 6)
        #expect(b.readableString == "world")
    }

    @Test func decimalsAndFixedPoint() {
        var b = ByteBuffer()
        b.writeDecimal(0); b.writeStaticString(" ")
        b.writeDecimal(-1234567890123); b.writeStaticString(" ")
        b.writeFixedPoint(24507500, scale: 4); b.writeStaticString(" ")
        b.writeFixedPoint(24507512, scale: 4); b.writeStaticString(" ")
        b.writeFixedPoint(-5, scale: 4); b.writeStaticString(" ")
        b.writeFixedPoint(100, scale: 0, minFraction: 0)
        #expect(b.readableString == "0 -1234567890123 2450.75 2450.7512 -0.0005 100")
    }

    @Test func growsAndDiscards() {
        var b = ByteBuffer(capacity: 16)
        for i in 0..<1000 { b.writeInteger(UInt8(truncatingIfNeeded: i)) }
        #expect(b.readableBytes == 1000)
        b.moveReaderIndex(forwardBy: 990)
        b.discardReadBytes()
        #expect(b.readerIndex == 0)
        #expect(b.readableBytesArray == (990..<1000).map { UInt8(truncatingIfNeeded: $0) })
    }
}
