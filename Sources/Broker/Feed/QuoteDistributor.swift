// QuoteDistributor: hands each batch of encoded updates to every loop's fanout shard. The loop
// that produced the batch publishes directly; other loops get one task per batch through their
// lock-free queue (one closure per batch per loop, never per quote).
public import Wire

/// Delivers encoded quote batches to all shards.
public final class QuoteDistributor: @unchecked Sendable {
    private let shards: [FanoutShard]
    /// Updates handed over so far.
    public private(set) var updatesDistributed: UInt64 = 0

    /// Creates a distributor over `shards` (one per loop).
    public init(shards: [FanoutShard]) { self.shards = shards }

    /// Sends `batch` to every shard. Call on the producing loop's thread.
    public func distribute(_ batch: [QuoteUpdate], from loop: EventLoop?) {
        guard !batch.isEmpty else { return }
        updatesDistributed &+= UInt64(batch.count)
        for shard in shards {
            if shard.loop === loop {
                batch.withUnsafeBufferPointer { shard.publish($0) }
            } else {
                nonisolated(unsafe) let s = shard
                shard.loop.execute { batch.withUnsafeBufferPointer { s.publish($0) } }
            }
        }
    }
}
