// RDKafkaClient: the one owner of a librdkafka handle (`rd_kafka_t`), the queue our event loop drains,
// and the wake-up pipe librdkafka writes to when that queue becomes non-empty.
//
// Owns: building `rd_kafka_conf_t` from string properties, `rd_kafka_new`, the io-event wake-up fd pair,
// mapping librdkafka's log lines onto the injected `Logger`, and teardown in `deinit`.
// Leaves to KafkaProducer / KafkaConsumer: what to do with the queue's contents.
//
// Why a pipe and not an eventfd: `eventfd` is not visible through Swift's Glibc module and Broker may
// not import CEpoll directly (STYLE.md 1); librdkafka accepts any non-blocking fd and writes its payload
// "whenever a new element is enqueued on a previously empty queue" (rdkafka.h, rd_kafka_queue_io_event_enable).
// Because the trigger is edge-like, a drain that stops at its bound must re-signal the fd itself.
internal import CRdKafka
import Glibc
import Logging

/// Context reachable from librdkafka's C callbacks through `rd_kafka_conf_set_opaque`.
/// Kept alive by its `RDKafkaClient` until after `rd_kafka_destroy`, so an unretained pointer is safe.
final class RDKafkaCallbackContext {
    let logger: Logger
    /// Errors seen by callbacks, delivered after the drain returns (callbacks never re-enter loop state).
    var pendingErrors: [KafkaError] = []

    init(logger: Logger) { self.logger = logger }

    /// syslog level (rdkafka.h `rd_kafka_conf_set_log_cb`) to swift-log level.
    func log(level: Int32, facility: String, message: String) {
        let mapped: Logger.Level
        switch level {
        case ...2: mapped = .critical
        case 3: mapped = .error
        case 4: mapped = .warning
        case 5: mapped = .notice
        case 6: mapped = .info
        default: mapped = .debug
        }
        logger.log(level: mapped, "\(message)", metadata: ["rdkafka.facility": "\(facility)"])
    }
}

/// Owns one `rd_kafka_t` plus the queue the loop drains and its wake-up pipe.
final class RDKafkaClient {
    enum Kind { case producer, consumer }

    let kind: Kind
    /// `rd_kafka_t *`; valid until deinit.
    let handle: OpaquePointer
    /// Producer: the main queue (delivery reports, errors, logs). Consumer: the consumer queue, with the main
    /// queue forwarded into it (`rd_kafka_poll_set_consumer`), so one fd covers everything.
    let queue: OpaquePointer
    /// Read end of the wake-up pipe: readable when `queue` went from empty to non-empty.
    let wakeupFD: CInt
    private let wakeupWriteFD: CInt
    let context: RDKafkaCallbackContext

    private init(kind: Kind, handle: OpaquePointer, queue: OpaquePointer, fds: (CInt, CInt),
                 context: RDKafkaCallbackContext) {
        self.kind = kind
        self.handle = handle
        self.queue = queue
        self.wakeupFD = fds.0
        self.wakeupWriteFD = fds.1
        self.context = context
    }

    /// Builds the configuration, creates the handle and wires the wake-up fd.
    /// - Parameters:
    ///   - properties: librdkafka properties (CONFIGURATION.md); an unknown name or bad value throws.
    ///   - configure: extra C-level setup on the `rd_kafka_conf_t` (callbacks, event mask) before `rd_kafka_new`.
    /// - Throws: `KafkaError` with `.invalidConfiguration` or librdkafka's `rd_kafka_new` error; nothing leaks.
    static func make(kind: Kind, properties: [String: String], logger: Logger,
                     configure: (OpaquePointer) -> Void = { _ in }) throws(KafkaError) -> RDKafkaClient {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError(code: .invalidConfiguration, message: "conf_new") }
        // Until rd_kafka_new succeeds we own conf and must destroy it on every failure path.
        var errstr = [CChar](repeating: 0, count: 512)
        var props = properties
        // Logs go to the main queue (served by our drain on the loop thread), never to librdkafka's own thread.
        props["log.queue"] = "true"
        for (name, value) in props.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(code: .invalidConfiguration, message: cString(errstr))
            }
        }
        let context = RDKafkaCallbackContext(logger: logger)
        // Unretained: `context` is stored in the client, which destroys the handle before releasing it.
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdkafkaLogCallback)
        configure(conf)
        // rd_kafka_new takes ownership of conf on success only.
        guard let rk = rd_kafka_new(kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf,
                                    &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidConfiguration, message: cString(errstr))
        }
        _ = rd_kafka_set_log_queue(rk, nil)   // nil = the main queue
        let q: OpaquePointer
        if kind == .consumer {
            _ = rd_kafka_poll_set_consumer(rk)
            guard let cq = rd_kafka_queue_get_consumer(rk) else {
                rd_kafka_destroy(rk)
                throw KafkaError(code: .invalidConfiguration, message: "consumer queue needs group.id")
            }
            q = cq
        } else {
            q = rd_kafka_queue_get_main(rk)
        }
        var fds: [CInt] = [-1, -1]
        guard pipe(&fds) == 0 else {
            rd_kafka_queue_destroy(q)
            rd_kafka_destroy(rk)
            throw KafkaError(code: .invalidConfiguration, message: "pipe: errno \(errno)")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        var payload: UInt8 = 1
        // librdkafka keeps its own copy of the payload.
        rd_kafka_queue_io_event_enable(q, fds[1], &payload, 1)
        return RDKafkaClient(kind: kind, handle: rk, queue: q, fds: (fds[0], fds[1]), context: context)
    }

    /// Empties the wake-up pipe. Call before draining the queue so no enqueue is missed in between.
    func consumeWakeups() {
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        while true {
            let n = withUnsafeMutableBytes(of: &scratch) { read(wakeupFD, $0.baseAddress, $0.count) }
            if n <= 0 { return }   // EAGAIN (empty) or error: either way nothing more to read
        }
    }

    /// Makes `wakeupFD` readable again: used when a bounded drain stopped with work left, because librdkafka
    /// only signals on the empty -> non-empty transition.
    func signalWakeup() {
        var one: UInt8 = 1
        _ = write(wakeupWriteFD, &one, 1)
    }

    /// Waits up to `timeoutMs` for the wake-up fd (for callers without an event loop: tests, the CLI's shutdown).
    func waitForWakeup(timeoutMs: Int32) {
        var p = pollfd(fd: wakeupFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, timeoutMs)
    }

    /// A C error buffer (NUL-terminated) as a String.
    static func cString(_ buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }   // non-empty: allocated with 512
    }

    /// The current librdkafka error for a failed call that reports through errno (`rd_kafka_produce`).
    static func lastError() -> KafkaError { KafkaError(rd_kafka_last_error()) }

    /// The name of a topic handle, borrowed from librdkafka for the handle's lifetime.
    static func topicName(_ rkt: OpaquePointer) -> UnsafePointer<CChar> { rd_kafka_topic_name(rkt) }

    deinit {
        rd_kafka_queue_io_event_enable(queue, -1, nil, 0)
        // rdkafka.h: the consumer queue must be released before rd_kafka_consumer_close.
        rd_kafka_queue_destroy(queue)
        if kind == .consumer {
            _ = rd_kafka_consumer_close(handle)   // leaves the group; blocks briefly at shutdown only
        }
        rd_kafka_destroy(handle)
        close(wakeupFD)
        close(wakeupWriteFD)
        withExtendedLifetime(context) {}
    }
}

/// Called on whichever thread serves the main queue: with `log.queue=true` that is our drain on the loop thread.
/// Before `rd_kafka_set_log_queue` runs (inside `rd_kafka_new`) it may be a librdkafka thread; the logger is
/// thread-safe, so that is harmless.
private let rdkafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?,
                                                UnsafePointer<CChar>?) -> Void = { rk, level, fac, buf in
    guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
    // Unretained: the context outlives the handle (RDKafkaClient.deinit).
    let context = Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    context.log(level: level, facility: fac.map { String(cString: $0) } ?? "",
                message: buf.map { String(cString: $0) } ?? "")
}
