// HiredisConnection: one hiredis async context (`redisAsyncContext`) joined to a Wire EventLoop.
//
// Owns: the context pointer, hiredis's five event hooks (addRead/delRead/addWrite/delWrite/cleanup) mapped onto
// loop.watch/updateWatch/unwatch the way Redis's deps/hiredis/adapters/ae.h maps them onto ae, the connect,
// disconnect and reply C callbacks, and converting replies. Leaves reconnecting, backoff and the public API to
// RedisClient. One connection object per TCP connection: a reconnect makes a new one.
//
// hiredis 0.14.1 facts this relies on (async.c): the connect completes on the first read or write event and is
// reported through the connect callback; a context is freed by hiredis itself after a connect failure or an error
// disconnect (our cleanup hook runs, then it is gone); every pending reply callback is called with a NULL reply
// when the context is freed; reply objects are freed after the callback returns.
internal import CHiredis
import Glibc
import Logging
import Wire

final class HiredisConnection: FDWatcher {
    /// Events for the owner, delivered synchronously from hiredis callbacks on the loop thread.
    enum Event {
        case connected
        /// Connect failed, or an established connection dropped (error set), or closed on request (error nil).
        case disconnected(RedisError?, wasConnected: Bool)
    }

    unowned let loop: EventLoop
    /// `redisAsyncContext *`; nil once hiredis freed it (cleanup hook) or we did.
    private(set) var context: UnsafeMutablePointer<redisAsyncContext>?
    private var registration: FDRegistration?
    private var wantRead = false
    private var wantWrite = false
    private(set) var isConnected = false
    private var tearingDown = false
    private let onEvent: (Event) -> Void
    /// Completions in command order; replies arrive in the same order (Redis pipelining).
    private var completions: [RedisCompletion?] = []
    private var completionsHead = 0
    private let logger: Logger

    /// Starts a non-blocking connect to `host:port`.
    /// - Throws: `RedisError` `.connectFailed` if hiredis cannot even create the socket.
    init(host: String, port: Int, loop: EventLoop, logger: Logger,
         onEvent: @escaping (Event) -> Void) throws(RedisError) {
        self.loop = loop
        self.logger = logger
        self.onEvent = onEvent
        guard let ac = redisAsyncConnect(host, Int32(port)) else {
            throw RedisError(code: .connectFailed, message: "redisAsyncConnect: out of memory")
        }
        if ac.pointee.err != 0 {
            let message = ac.pointee.errstr.map { String(cString: $0) } ?? "connect failed"
            redisAsyncFree(ac)
            throw RedisError(code: .connectFailed, message: message)
        }
        context = ac
        // Unretained: the owner keeps this object until the context is gone (cleanup hook sets context = nil,
        // and deinit frees a live context first).
        let me = Unmanaged.passUnretained(self).toOpaque()
        ac.pointee.data = me
        ac.pointee.ev.data = me
        ac.pointee.ev.addRead = hiredisAddRead
        ac.pointee.ev.delRead = hiredisDelRead
        ac.pointee.ev.addWrite = hiredisAddWrite
        ac.pointee.ev.delWrite = hiredisDelWrite
        ac.pointee.ev.cleanup = hiredisCleanup
        _ = redisAsyncSetConnectCallback(ac, hiredisConnectCallback)
        _ = redisAsyncSetDisconnectCallback(ac, hiredisDisconnectCallback)
        // hiredis only notices the connect on an I/O event, and asks for none until a command is queued: watch
        // for writability now so the connect completes (or fails) promptly.
        addWrite()
    }

    deinit {
        // Runs cleanup (unwatch) and fails pending completions; the owner is not told (it is letting go of us).
        tearingDown = true
        if let ac = context { redisAsyncFree(ac) }
    }

    /// Sends one RESP-encoded command (or several, if `completion` is nil for all but the last).
    /// Returns false when there is no usable context.
    func send(encoded bytes: UnsafeRawBufferPointer, completion: RedisCompletion?) -> Bool {
        guard let ac = context else { return false }
        // Every command gets the C callback, so `outstanding` counts replies still owed (backpressure).
        // privdata: nil = no completion; non-nil marker = pop the next completion (replies come in order).
        let marker = completion == nil ? nil : UnsafeMutableRawPointer(bitPattern: 1)
        let rc = bytes.withMemoryRebound(to: CChar.self) { chars in
            redisAsyncFormattedCommand(ac, hiredisReplyCallback, marker, chars.baseAddress, chars.count)
        }
        guard rc == REDIS_OK else { return false }
        outstanding += 1
        if let completion { completions.append(completion) }
        return true
    }

    /// Number of commands still waiting for a reply with a completion.
    var pendingCount: Int { completions.count - completionsHead }
    /// Number of commands sent (or buffered) whose reply has not arrived, with or without a completion.
    private(set) var outstanding = 0

    /// Graceful close: hiredis sends what is queued, waits for pending replies, then disconnects.
    func disconnect() {
        if let ac = context { redisAsyncDisconnect(ac) }
    }

    /// Immediate close: pending completions fail with `.connectionLost`.
    func free() {
        if let ac = context {
            context = nil
            redisAsyncFree(ac)
        }
    }

    // MARK: Called from the C callbacks (loop thread)

    fileprivate func didConnect(status: Int32) {
        if status == REDIS_OK {
            isConnected = true
            onEvent(.connected)
        } else {
            onEvent(.disconnected(RedisError(code: .connectFailed, message: currentError()), wasConnected: false))
        }
    }

    fileprivate func didDisconnect(status: Int32) {
        let wasConnected = isConnected
        isConnected = false
        if tearingDown { return }
        onEvent(.disconnected(status == REDIS_OK ? nil : RedisError(code: .connectionLost, message: currentError()),
                              wasConnected: wasConnected))
    }

    fileprivate func didReply(_ reply: UnsafeMutablePointer<redisReply>?, hasCompletion: Bool) {
        outstanding -= 1
        guard hasCompletion, completionsHead < completions.count else { return }
        let completion = completions[completionsHead]
        completions[completionsHead] = nil
        completionsHead += 1
        if completionsHead == completions.count {
            completions.removeAll(keepingCapacity: true)
            completionsHead = 0
        } else if completionsHead >= 1024 && completionsHead * 2 >= completions.count {
            completions.removeFirst(completionsHead)
            completionsHead = 0
        }
        guard let completion else { return }
        guard let reply else {
            completion(.failure(RedisError(code: .connectionLost, message: currentError())))
            return
        }
        if reply.pointee.type == REDIS_REPLY_ERROR {
            completion(.failure(RedisError(code: .server, message: Self.text(reply))))
        } else {
            completion(.success(Self.convert(reply)))
        }
    }

    private func currentError() -> String {
        guard let ac = context, ac.pointee.err != 0, let s = ac.pointee.errstr else { return "connection closed" }
        return String(cString: s)
    }

    static func text(_ r: UnsafeMutablePointer<redisReply>) -> String {
        guard let s = r.pointee.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: s, count: r.pointee.len), as: UTF8.self)
    }

    static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        switch r.pointee.type {
        case REDIS_REPLY_STATUS: return .status(text(r))
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.pointee.integer))
        case REDIS_REPLY_STRING:
            return .bulk(Array(UnsafeRawBufferPointer(start: r.pointee.str, count: r.pointee.len)))
        case REDIS_REPLY_ARRAY:
            guard let elements = r.pointee.element else { return .array([]) }
            // element[i] is non-NULL for i < elements (hiredis read.c).
            return .array((0..<r.pointee.elements).map { convert(elements[$0]!) })
        default: return .null
        }
    }

    // MARK: Event hooks (ae.h semantics: idempotent)

    fileprivate func addRead() { if !wantRead { wantRead = true; sync() } }
    fileprivate func delRead() { if wantRead { wantRead = false; sync() } }
    fileprivate func addWrite() { if !wantWrite { wantWrite = true; sync() } }
    fileprivate func delWrite() { if wantWrite { wantWrite = false; sync() } }

    fileprivate func cleanup() {
        if let r = registration { loop.unwatch(r) }
        registration = nil
        wantRead = false
        wantWrite = false
        context = nil   // hiredis frees it right after this hook
    }

    private func sync() {
        guard let ac = context else { return }
        if let r = registration {
            loop.updateWatch(r, readable: wantRead, writable: wantWrite)
        } else {
            do {
                registration = try loop.watch(fd: ac.pointee.c.fd, readable: wantRead, writable: wantWrite, self)
            } catch {
                logger.error("redis: cannot watch socket", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: FDWatcher

    func fdReadable() { if let ac = context { redisAsyncHandleRead(ac) } }
    func fdWritable() { if let ac = context { redisAsyncHandleWrite(ac) } }
    /// EPOLLHUP/EPOLLERR: let hiredis find the error (a failed connect or a reset) through a read.
    func fdHangup() {
        guard let ac = context else { return }
        if isConnected { redisAsyncHandleRead(ac) } else { redisAsyncHandleWrite(ac) }
    }
}

// C hooks. All run on the loop thread: hiredis calls them from redisAsyncCommand/HandleRead/HandleWrite/Free,
// which only our loop-thread code calls. privdata / ac->data is an unretained HiredisConnection (see init).

private func owner(_ p: UnsafeMutableRawPointer?) -> HiredisConnection? {
    p.map { Unmanaged<HiredisConnection>.fromOpaque($0).takeUnretainedValue() }
}

private let hiredisAddRead: @convention(c) (UnsafeMutableRawPointer?) -> Void = { owner($0)?.addRead() }
private let hiredisDelRead: @convention(c) (UnsafeMutableRawPointer?) -> Void = { owner($0)?.delRead() }
private let hiredisAddWrite: @convention(c) (UnsafeMutableRawPointer?) -> Void = { owner($0)?.addWrite() }
private let hiredisDelWrite: @convention(c) (UnsafeMutableRawPointer?) -> Void = { owner($0)?.delWrite() }
private let hiredisCleanup: @convention(c) (UnsafeMutableRawPointer?) -> Void = { owner($0)?.cleanup() }

private let hiredisConnectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = { ac, status in
    owner(ac?.pointee.data)?.didConnect(status: status)
}

private let hiredisDisconnectCallback: @convention(c) (UnsafePointer<redisAsyncContext>?, Int32) -> Void = {
    ac, status in
    owner(ac?.pointee.data)?.didDisconnect(status: status)
}

private let hiredisReplyCallback: @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?,
                                                  UnsafeMutableRawPointer?) -> Void = { ac, reply, marker in
    owner(ac?.pointee.data)?.didReply(reply?.assumingMemoryBound(to: redisReply.self), hasCompletion: marker != nil)
}
