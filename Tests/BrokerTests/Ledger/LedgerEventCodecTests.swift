// LedgerEventCodec writes exactly the domain's reference JSON and reads it back.
import Testing
import Wire
@testable import Broker

@Suite struct LedgerEventCodecTests {
    static let events: [LedgerEvent] = [
        LedgerEvent(eventId: "f:1", userId: "u\"1", ts: 7, body: .deposit(amount: 100_000_000)),
        LedgerEvent(eventId: "f:2", userId: "u1", body: .withdrawal(amount: 5)),
        LedgerEvent(eventId: "p:3", userId: "u1", ts: 9, body: .orderPlaced(orderId: "3", symbol: "TCS", side: .sell, qty: 10,
                                                                              reservePrice: 35_000_100)),
        LedgerEvent(eventId: "x:3:a", userId: "u1", body: .orderReplaced(orderId: "3", qty: 4, reservePrice: 34_000_000)),
        LedgerEvent(eventId: "x:3:h", userId: "u1", body: .orderReplaced(orderId: "3", qty: 9, reservePrice: 34_000_000,
                                                                          held: 1_700_000)),
        LedgerEvent(eventId: "x:3:b", userId: "u1", body: .orderPartiallyFilled(orderId: "3", execId: "b", price: 1, qty: 2)),
        LedgerEvent(eventId: "x:3:c", userId: "u1", body: .orderFilled(orderId: "3", execId: "c", price: 35_000_000, qty: 2)),
        LedgerEvent(eventId: "x:3:d", userId: "u1", body: .orderCanceled(orderId: "3")),
        LedgerEvent(eventId: "x:3:e", userId: "u1", body: .orderRejected(orderId: "3", reason: "no \\ way")),
    ]

    @Test(arguments: events) func matchesDomainJSONAndRoundTrips(_ e: LedgerEvent) throws {
        let ours = LedgerEventCodec.string(e)
        #expect(ours == String(decoding: e.jsonBytes(), as: UTF8.self))
        #expect(try LedgerEventCodec.decode(ours) == e)
    }

    @Test func refusesBadEvents() {
        #expect(throws: LedgerEventDecodingError.self) { try LedgerEventCodec.decode(#"{"type":"NOPE","event_id":"a","user_id":"b"}"#) }
        #expect(throws: LedgerEventDecodingError.self) {
            try LedgerEventCodec.decode(#"{"type":"DEPOSIT","event_id":"a","user_id":"b","amount":"-1"}"#)
        }
        #expect(throws: LedgerEventDecodingError.self) { try LedgerEventCodec.decode("not json") }
    }
}
