// The message store interface and its in-memory implementation.
//
// Owns: what the session needs persisted (QuickFIX `MessageStore.h`, quickfixgo `store.go`):
// both next sequence numbers, outbound application messages by MsgSeqNum for resend, and the
// session's creation time. `FIXFileStore` is the durable implementation.
//
// Only application messages are saved: on a ResendRequest, administrative messages are
// replaced by SequenceReset-GapFill anyway (FIX 4.4 Vol. 2 "Resending messages"), so a
// missing sequence number in the store simply becomes part of a gap fill.

/// Persistence of one FIX session's sequence numbers and outbound messages.
///
/// Methods are called on the session's event loop only; implementations need no locks.
public protocol FIXMessageStore: AnyObject {
    /// MsgSeqNum of the next message we send.
    var nextSenderMsgSeqNum: Int { get }
    /// MsgSeqNum we expect on the next message we receive.
    var nextTargetMsgSeqNum: Int { get }
    /// When the store (the session's sequence) was created or last reset.
    var creationTime: FIXTimestamp { get }
    /// Sets the next outbound MsgSeqNum.
    func setNextSenderMsgSeqNum(_ value: Int)
    /// Sets the next expected inbound MsgSeqNum.
    func setNextTargetMsgSeqNum(_ value: Int)
    /// Saves an outbound message sent as `seqNum` and sets the next sender number to `seqNum + 1`.
    func save(seqNum: Int, message: UnsafeRawBufferPointer)
    /// Calls `body` with every saved message with MsgSeqNum in `range`, ascending.
    func forEachMessage(in range: ClosedRange<Int>, _ body: (Int, UnsafeRawBufferPointer) -> Void)
    /// Starts a new sequence: both numbers back to 1, saved messages dropped.
    func reset(now: FIXTimestamp)
    /// Makes everything recorded so far durable according to the store's policy.
    func flush()
}

/// A store in memory: for tests and for sessions that may lose state on restart.
public final class FIXMemoryStore: FIXMessageStore {
    public private(set) var nextSenderMsgSeqNum = 1
    public private(set) var nextTargetMsgSeqNum = 1
    public private(set) var creationTime: FIXTimestamp
    private var messages: [Int: [UInt8]] = [:]

    /// Creates an empty store.
    public init(creationTime: FIXTimestamp = FIXTimestamp(nanoseconds: 0)) {
        self.creationTime = creationTime
    }

    public func setNextSenderMsgSeqNum(_ value: Int) { nextSenderMsgSeqNum = value }
    public func setNextTargetMsgSeqNum(_ value: Int) { nextTargetMsgSeqNum = value }

    public func save(seqNum: Int, message: UnsafeRawBufferPointer) {
        messages[seqNum] = Array(message)
        nextSenderMsgSeqNum = seqNum + 1
    }

    public func forEachMessage(in range: ClosedRange<Int>, _ body: (Int, UnsafeRawBufferPointer) -> Void) {
        for seq in messages.keys.sorted() where range.contains(seq) {
            messages[seq]!.withUnsafeBytes { body(seq, $0) }
        }
    }

    public func reset(now: FIXTimestamp) {
        messages.removeAll()
        nextSenderMsgSeqNum = 1
        nextTargetMsgSeqNum = 1
        creationTime = now
    }

    public func flush() {}

    /// Number of saved messages (tests).
    public var savedCount: Int { messages.count }
}
