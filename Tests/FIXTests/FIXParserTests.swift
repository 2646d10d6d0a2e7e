// FIXParser: framing and parsing a stream with good, invalid and garbled messages.
import Testing
@testable import FIX

@Suite struct FIXParserTests {
    @Test func framesAndParsesAStreamWithBadMessagesInIt() {
        let good1 = fixMessage("35=0|" + hdr)
        let badFields = fixMessage("35=0|49=CLIENT|56=EXCH|34=2|52=20260101-00:00:00|58=a|58=b|")
        let garbled = fixMessage("35=0|" + hdr, checkSumDelta: 1)
        let good2 = fixMessage("35=1|" + hdr + "112=T|")
        let stream = good1 + badFields + garbled + soh("junk") + good2
        var parser = FIXParser()
        var types: [FIXMsgType] = []
        var errors: [FIXParseError] = []
        var rejectSeq = 0
        stream.withUnsafeBytes { raw in
            var offset = 0
            while true {
                do throws(FIXParseError) {
                    guard try parser.next(raw, offset: &offset) else { break }
                    types.append(parser.message.msgType!)
                } catch {
                    errors.append(error)
                    if !error.isGarbled { rejectSeq = parser.message.msgSeqNum }
                }
            }
            #expect(offset == raw.count)
        }
        #expect(types == [.heartbeat, .testRequest])
        #expect(errors.count == 2 && errors[0] == .duplicateTag(tag: 58) && errors[1].isGarbled)
        #expect(rejectSeq == 2)
        #expect(parser.framer.garbageBytesSkipped == 4)
    }
}
