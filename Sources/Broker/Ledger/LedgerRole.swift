// LedgerRole: `broker ledger` (Kafka ledger.events -> PostgresLedger) and `broker ledger replay --user U`.
//
// Owns: startup order (schema, rebuild the fold from ledger_events, read stored offsets, only then assign the
// topic's partitions at those offsets: Kafka's own committed offsets are never used, so the offsets and the
// balances they produced can never disagree), the fatal-error exit (status 3: a supervisor restarts and the
// rebuild starts from what was committed), and the replay comparison.
import Logging
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// `broker ledger`.
public enum LedgerRole {
    /// Runs the service until SIGTERM/SIGINT, or the replay check (exit status 0 when equal, 1 otherwise).
    /// - Throws: `RoleError` on startup failures.
    public static func run(_ ctx: RoleContext) throws {
        let conninfo = ctx.config.string("postgres.conninfo")
        let topic = ctx.config.string("kafka.ledger_topic")
        let brokers = ctx.config.string("kafka.brokers")
        let maxBatch = ctx.config.int("ledger.max_batch")
        TerminationSignals.block()
        let group = try EventLoopGroup(count: 1, name: "ledger", logger: ctx.logger)
        group.start()
        let loop = group.loops[0]
        defer {
            group.stop()
            group.join()
        }
        if ctx.arguments.first == "replay" || ctx.has("replay") {
            guard let user = ctx.argument("--user") else { throw RoleError("ledger replay needs --user USER") }
            try replay(user: user, conninfo: conninfo, loop: loop, logger: ctx.logger)
            return
        }
        final class State: @unchecked Sendable {
            var pg: PostgresConnection?
            var ledger: PostgresLedger?
            var consumer: KafkaConsumer?
            var loaded: Result<[Int32: Int64], OrderStoreError>?
        }
        let state = State()
        let loadedSignal = Semaphore()
        try loop.submitAndWait {
            let pg = PostgresConnection(conninfo: conninfo, loop: loop, logger: ctx.logger)
            pg.connect()
            let ledger = PostgresLedger(pg: pg, topic: topic, maxBatch: maxBatch, logger: ctx.logger)
            ledger.onFatal = { why in
                let e = ByteBuffer(string: "broker ledger: \(why)\n")
                e.withUnsafeReadableBytes { _ = write(2, $0.baseAddress, $0.count) }
                exit(3)
            }
            state.pg = pg
            state.ledger = ledger
            ledger.load { r in
                state.loaded = r
                loadedSignal.signal()
            }
        }
        loadedSignal.wait()
        let offsets: [Int32: Int64]
        switch state.loaded! {
        case .failure(let e): throw RoleError("ledger: \(e)")
        case .success(let o): offsets = o
        }
        try loop.submitAndWait {
            let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
                bootstrapServers: brokers, groupID: ctx.config.string("ledger.consumer_group"),
                maxMessagesPerDrain: 1_000), logger: ctx.logger)
            // Metadata lookup blocks, but nothing else runs on this loop yet.
            let count = try consumer.partitionCount(topic: topic, timeoutMilliseconds: 10_000)
            try consumer.assign((0..<Int32(count)).map { p in
                KafkaTopicPartitionOffset(topic: topic, partition: p, offset: offsets[p] ?? KafkaStartOffset.beginning.raw)
            })
            let ledger = state.ledger!
            try consumer.attach(to: loop) { m in
                ledger.enqueue(m.value, partition: m.partition, offset: m.offset)
            }
            state.consumer = consumer
        }
        print("ledger consuming \(topic) from \(brokers); offsets \(offsets.sorted { $0.key < $1.key })")
        let done = Semaphore()
        TerminationSignals.onSignal { _ in done.signal() }
        done.wait()
        try? loop.submitAndWait { state.consumer?.detach() }
        // Let the transaction in flight finish (a kill would be safe too: it is simply not committed).
        for _ in 0..<200 {
            if (try? loop.submitAndWait({ state.ledger?.isIdle ?? true })) == true { break }
            usleep(10_000)
        }
    }

    static func replay(user: String, conninfo: String, loop: EventLoop, logger: Logger) throws {
        nonisolated(unsafe) var result: Result<(LedgerAccount, [String]), OrderStoreError>?
        let finished = Semaphore()
        nonisolated(unsafe) var keep: PostgresConnection?
        try loop.submitAndWait {
            let pg = PostgresConnection(conninfo: conninfo, loop: loop, logger: logger)
            pg.connect()
            keep = pg
            LedgerReplay.check(user: user, pg: pg) { r in
                result = r
                finished.signal()
            }
        }
        finished.wait()
        _ = keep
        switch result! {
        case .failure(let e): throw RoleError("replay: \(e)")
        case .success(let (account, diffs)):
            print("replayed \(user): cash \(FixedPointDecimal.formatMoney(account.cash)) reserved "
                  + "\(FixedPointDecimal.formatMoney(account.reservedCash)) holdings "
                  + account.holdings.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.qty)" }.joined(separator: ","))
            if diffs.isEmpty {
                print("replay equals the tables")
            } else {
                for d in diffs { print("DIFF \(d)") }
                exit(1)
            }
        }
    }
}
