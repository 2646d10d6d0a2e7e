// Field splitting and validation rules of FIXMessageView, one test per rule.
import Testing

@testable import FIX

@Suite struct FIXMessageViewTests {
    @Test func readsFieldsByTag() throws {
        let m = fixMessage("35=D|" + hdr + "11=ord-1|55=TCS|54=1|60=20260101-00:00:00|40=2|44=3500.25|38=10|")
        try withView(m) { v in
            #expect(v.msgType == .newOrderSingle)
            #expect(v.msgSeqNum == 1)
            #expect(v.string(11) == "ord-1")
            #expect(v.price(44) == 35_002_500)
            #expect(v.int(38) == 10)
            #expect(v.char(54) == UInt8(ascii: "1"))
            #expect(v.timestamp(60) == FIXTimestamp(nanoseconds: 1_767_225_600 * 1_000_000_000))
            #expect(v.value(55, equals: Array("TCS".utf8)))
            #expect(v.range(999) == nil && !v.has(999))
            #expect(v.fieldCount == 15)
        }
    }

    @Test func reuseBetweenMessagesForgetsOldFields() throws {
        var view = FIXMessageView(capacity: 64)
        let a = fixMessage("35=D|" + hdr + "11=x|55=A|54=1|60=20260101-00:00:00|40=1|")
        let b = fixMessage("35=0|" + hdr)
        try a.withUnsafeBytes { try view.parse($0) }
        try b.withUnsafeBytes { raw in
            try view.parse(raw)
            #expect(view.msgType == .heartbeat)
            #expect(!view.has(11))
        }
    }

    @Test func msgTypeMustBeThird() {
        let m = soh("8=FIX.4.4|9=5|49=A|35=0|10=000|")
        #expect(parseError(m) == .tagOutOfOrder(tag: 35))
        #expect(FIXParseError.tagOutOfOrder(tag: 35).sessionRejectReason == 14)
    }

    @Test func checkSumMustBeLast() {
        let m = soh("8=FIX.4.4|9=5|35=0|" + hdr + "10=000|58=x|")
        #expect(parseError(m) == .tagOutOfOrder(tag: 10) || parseError(m) == .duplicateTag(tag: 10))
    }

    @Test func duplicateTagOutsideGroup() {
        let e = parseError(fixMessage("35=0|" + hdr + "58=a|58=b|"))
        #expect(e == .duplicateTag(tag: 58))
        #expect(e?.sessionRejectReason == 13 && e?.refTagID == 58)
        #expect(parseError(fixMessage("35=0|" + hdr + "58=a|58=b|"), options: .lenient) == nil)
    }

    @Test func duplicateHighTag() {
        #expect(parseError(fixMessage("35=0|" + hdr + "5001=a|5001=b|")) == .duplicateTag(tag: 5001))
    }

    @Test func emptyValue() {
        let e = parseError(fixMessage("35=0|" + hdr + "58=|"))
        #expect(e == .tagWithoutValue(tag: 58))
        #expect(e?.sessionRejectReason == 4)
    }

    @Test func badTagSyntax() {
        for body in [
            "35=0|" + hdr + "5x=1|", "35=0|" + hdr + "058=1|", "35=0|" + hdr + "novalue|", "35=0|" + hdr + "=1|",
        ] {
            let e = parseError(fixMessage(body))
            guard case .invalidTagNumber = e else {
                Issue.record("\(body): \(String(describing: e))")
                continue
            }
            #expect(e?.sessionRejectReason == 0)
        }
    }

    @Test func badTagStillYieldsSeqNumForReject() {
        var view = FIXMessageView(capacity: 64)
        let m = fixMessage("35=0|x=1|49=CLIENT|56=EXCH|34=17|52=20260101-00:00:00|")
        _ = m.withUnsafeBytes { raw in
            #expect(throws: FIXParseError.self) { try view.parse(raw) }
        }
        #expect(view.msgSeqNum == 17 && view.msgType == .heartbeat)
    }

    @Test func requiredHeaderAndBodyFields() {
        #expect(parseError(fixMessage("35=0|49=A|56=B|34=1|")) == .requiredTagMissing(tag: 52))
        #expect(parseError(fixMessage("35=1|" + hdr)) == .requiredTagMissing(tag: 112))
        #expect(parseError(fixMessage("35=A|" + hdr + "98=0|")) == .requiredTagMissing(tag: 108))
        #expect(
            parseError(fixMessage("35=D|" + hdr + "11=x|54=1|60=20260101-00:00:00|40=1|"))
                == .requiredTagMissing(tag: 55))
        #expect(parseError(fixMessage("35=1|" + hdr), options: .lenient) == nil)
        #expect(FIXParseError.requiredTagMissing(tag: 112).sessionRejectReason == 1)
    }

    @Test func invalidMsgType() {
        #expect(parseError(fixMessage("35=ABC|" + hdr)) == .invalidMsgType)
        #expect(FIXParseError.invalidMsgType.sessionRejectReason == 11)
    }

    @Test func badSeqNumFormat() {
        #expect(parseError(fixMessage("35=0|49=A|56=B|34=x|52=20260101-00:00:00|")) == .incorrectDataFormat(tag: 34))
    }

    @Test func snapshotGroups() throws {
        let m = fixMessage(
            "35=W|" + hdr + "262=r1|55=TCS|268=3|269=0|270=3500.5|271=100|269=1|270=3501|271=50|"
                + "269=2|270=3500.75|271=10|272=20260101|273=10:00:00.123|")
        try withView(m) { v in
            let g = try #require(v.group(268))
            #expect(g.count == 3 && g.delimiter == 269)
            var seen: [(UInt8, Int64, Int)] = []
            v.forEachEntry(of: g) { e in
                seen.append((v.char(269, in: e)!, v.price(270, in: e)!, v.int(271, in: e)!))
            }
            #expect(seen.map(\.0) == [48, 49, 50])
            #expect(seen.map(\.1) == [35_005_000, 35_010_000, 35_007_500])
            #expect(seen.map(\.2) == [100, 50, 10])
            #expect(v.range(270) == nil)  // group members are not top-level fields
        }
    }

    @Test func incrementalGroupsStartWith279() throws {
        let m = fixMessage("35=X|" + hdr + "268=2|279=0|269=0|55=TCS|270=1|271=2|279=1|269=1|55=INFY|270=3|271=4|")
        try withView(m) { v in
            let g = try #require(v.group(268))
            var syms: [String] = []
            v.forEachEntry(of: g) { syms.append(v.string(55, in: $0)!) }
            #expect(syms == ["TCS", "INFY"])
        }
        let bad = fixMessage("35=X|" + hdr + "268=1|269=0|279=0|55=TCS|")
        #expect(parseError(bad) == .repeatingGroupOutOfOrder(tag: 268))
    }

    @Test func groupCountMismatch() {
        let m = fixMessage("35=W|" + hdr + "55=TCS|268=3|269=0|270=1|269=1|270=2|")
        let e = parseError(m)
        #expect(e == .incorrectNumInGroupCount(tag: 268))
        #expect(e?.sessionRejectReason == 16)
    }

    @Test func relatedSymAndEntryTypesInMarketDataRequest() throws {
        let m = fixMessage("35=V|" + hdr + "262=r|263=1|264=1|267=2|269=0|269=1|146=2|55=TCS|55=INFY|")
        try withView(m) { v in
            #expect(v.group(267)?.count == 2)
            #expect(v.group(146)?.count == 2)
        }
    }

    @Test func duplicateTagInsideGroupEntriesIsFine() {
        let m = fixMessage("35=V|" + hdr + "262=r|263=1|264=1|267=1|269=0|146=3|55=A|55=B|55=C|")
        #expect(parseError(m) == nil)
    }

    @Test func dataFieldMayContainSOH() throws {
        let m = fixMessage("35=0|" + hdr + "95=3|96=a|b|58=t|")
        try withView(m) { v in
            #expect(v.withValue(96) { Array($0) } == [97, 1, 98])
            #expect(v.string(58) == "t")
        }
    }

    @Test func tooManyFields() {
        var view = FIXMessageView(capacity: 8)
        let m = fixMessage("35=0|" + hdr + "58=a|")
        _ = m.withUnsafeBytes { raw in
            #expect(throws: FIXParseError.tooManyFields(limit: 8)) { try view.parse(raw) }
        }
    }
}
