// Loop glue for the Kafka clients: watch librdkafka's queue wake-up fd on a Wire EventLoop and drain on
// readiness (DESIGN.md "Threading and I/O": librdkafka joins our loop through an fd, not a thread of ours).
//
// Owns: the FDWatcher objects and registrations. The draining itself (bounded, re-signalling when the bound is
// hit so other fds get their turn) lives in KafkaProducer.drain / KafkaConsumer.drain.
import Wire

/// Forwards readiness of a librdkafka wake-up fd to a drain closure. Held strongly by its client, because
/// `FDRegistration` holds watchers weakly.
final class RDKafkaWakeupWatcher: FDWatcher {
    let onReadable: () -> Void
    init(_ onReadable: @escaping () -> Void) { self.onReadable = onReadable }
    func fdReadable() { onReadable() }
    func fdWritable() {}
    func fdHangup() {}   // a pipe read end only hangs up once its writer closed, i.e. after our own teardown
}

/// A registration of one client on one loop, removed on `cancel` (loop thread).
final class RDKafkaLoopAttachment {
    unowned let loop: EventLoop
    let registration: FDRegistration
    let watcher: RDKafkaWakeupWatcher

    init(loop: EventLoop, fd: CInt, onReadable: @escaping () -> Void) throws(IOError) {
        self.loop = loop
        self.watcher = RDKafkaWakeupWatcher(onReadable)
        self.registration = try loop.watch(fd: fd, readable: true, writable: false, watcher)
    }

    func cancel() { loop.unwatch(registration) }
}

extension KafkaProducer {
    /// Drives this producer from `loop`: delivery reports, errors and logs are handled on the loop's thread
    /// whenever librdkafka enqueues them. Call on the loop's thread; use the producer only there afterwards.
    /// - Throws: `IOError` if the wake-up fd cannot be watched.
    public func attach(to loop: EventLoop) throws(IOError) {
        precondition(attachment == nil, "producer already attached")
        attachment = try RDKafkaLoopAttachment(loop: loop, fd: wakeupDescriptor) { [unowned self] in
            // Unowned: the attachment (and so this closure) is owned by self and cancelled in detach/deinit.
            self.drain()
        }
        drain()   // anything enqueued before attaching was signalled to nobody
    }

    /// Stops watching. Call on the loop's thread before dropping the producer (deinit also does it).
    public func detach() {
        attachment?.cancel()
        attachment = nil
    }
}

extension KafkaConsumer {
    /// Drives this consumer from `loop`: every wake-up drains up to `maxMessagesPerDrain` messages into `body`
    /// (zero-copy views, valid only during the call). Call on the loop's thread.
    /// - Throws: `IOError` if the wake-up fd cannot be watched.
    public func attach(to loop: EventLoop, _ body: @escaping (borrowing KafkaMessage) -> Void) throws(IOError) {
        precondition(attachment == nil, "consumer already attached")
        attachment = try RDKafkaLoopAttachment(loop: loop, fd: wakeupDescriptor) { [unowned self] in
            // Unowned: owned by self via the attachment, cancelled in detach/deinit.
            self.drain(body)
        }
        drain(body)
    }

    /// Stops watching. Call on the loop's thread before dropping the consumer (deinit also does it).
    public func detach() {
        attachment?.cancel()
        attachment = nil
    }
}
