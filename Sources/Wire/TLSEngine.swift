// TLSEngine: one TLS connection as a pure byte transformer over OpenSSL memory BIOs.
//
// Owns: the SSL object and its two memory BIOs, the handshake, record encryption/decryption,
// plaintext written before the handshake finished, and close_notify. It never touches a socket:
// TCPConnection (the lead's) feeds it the ciphertext it read and sends the ciphertext it takes,
// so it fits the non-blocking loop with no WANT_READ/WANT_WRITE dance outside this file.
// Contexts and TLSError live in TLSContext.swift. C wrapper file: OpaquePointers stay inside.
//
// Driving it from a connection (all on the owning loop's thread):
//
//     on connect (client):  try engine.advanceHandshake();  send(engine.takeCiphertext)
//     on bytes read:        engine.feedCiphertext(bytes)
//                           switch try engine.readPlaintext(into: &plain) { ... }   // also drives the handshake
//                           if engine.isHandshakeComplete && !wasComplete { handler.connectionDidConnect }
//                           send(engine.takeCiphertext)      // handshake replies, tickets, alerts
//     on write(plaintext):  try engine.writePlaintext(bytes); send(engine.takeCiphertext)
//     on close():           engine.close(); send(engine.takeCiphertext); then close the socket
//     on TLSError:          send(engine.takeCiphertext) (it may hold an alert), then close
import COpenSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of `TLSEngine.readPlaintext(into:)`.
public enum TLSReadResult: Sendable, Equatable {
    /// No plaintext is available until more ciphertext is fed (the handshake may have progressed).
    case wouldBlock
    /// This many plaintext bytes were appended to the buffer.
    case bytes(Int)
    /// The peer sent close_notify (RFC 8446 section 6.1); no more plaintext will come. Reply with
    /// `close()` and close the socket.
    case closed
}

/// One TLS connection (client or server side) as a byte transformer. Not thread-safe: it belongs to
/// the loop that owns its connection.
public final class TLSEngine {
    /// Invariant: `ssl` is owned by this engine and owns `networkIn`/`networkOut` (SSL_set_bio).
    private let ssl: OpaquePointer
    /// Ciphertext from the peer, read by OpenSSL.
    private let networkIn: OpaquePointer
    /// Ciphertext OpenSSL produced for the peer.
    private let networkOut: OpaquePointer
    /// Plaintext accepted before the handshake completed (or while OpenSSL wanted to read first).
    private var pendingPlaintext = ByteBuffer(capacity: 0)
    private var closeSent = false
    /// Reused scratch for `writePlaintext(gathering:)`; keeps its capacity, so no allocation per flush.
    private var coalesce = ByteBuffer(capacity: 0)

    /// Largest plaintext of one TLS record (RFC 8446 section 5.1): the coalescing target.
    public static let maxRecordPlaintext = 16384

    /// True for the accepting side.
    public let isServer: Bool
    /// True once the handshake finished; plaintext flows from then on.
    public private(set) var isHandshakeComplete = false
    /// True once the peer's close_notify arrived.
    public private(set) var peerClosed = false

    /// Creates the server side of a connection.
    ///
    /// - Throws: `TLSError.Kind.configuration` when OpenSSL cannot allocate the connection.
    public init(server context: TLSServerContext) throws(TLSError) {
        (ssl, networkIn, networkOut) = try TLSEngine.makeSSL(context.ctx)
        isServer = true
        SSL_set_accept_state(ssl)
    }

    /// Creates the client side of a connection.
    ///
    /// - Parameters:
    ///   - config: verification settings.
    ///   - serverName: SNI and the name the certificate must match when `config.serverName` is nil
    ///     (usually the host connected to). IP literals are verified as IP SANs and not sent as SNI
    ///     (RFC 6066 section 3).
    /// - Throws: `TLSError.Kind.configuration` when verification is on but no name is known.
    public init(client config: TLSClientConfig, serverName: String? = nil) throws(TLSError) {
        (ssl, networkIn, networkOut) = try TLSEngine.makeSSL(config.ctx)
        isServer = false
        SSL_set_connect_state(ssl)
        let name = config.serverName ?? serverName
        if let name {
            let isIP = TLSEngine.isIPAddress(name)
            if !isIP {
                // SSL_set_tlsext_host_name is a macro over SSL_ctrl; OpenSSL copies the string.
                _ = name.withCString {
                    SSL_ctrl(
                        ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name),
                        UnsafeMutableRawPointer(mutating: $0))
                }
            }
            if config.verify {
                let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) : SSL_set1_host(ssl, name)
                guard ok == 1 else {
                    throw TLSError(
                        .configuration,
                        "cannot verify against name '\(name)': "
                            + TLSError.drainOpenSSLErrors(fallback: "invalid name"))
                }
            }
        } else if config.verify {
            throw TLSError(.configuration, "verification needs a server name (TLSClientConfig or TLSEngine)")
        }
    }

    private static func makeSSL(_ ctx: OpaquePointer) throws(TLSError)
        -> (OpaquePointer, OpaquePointer, OpaquePointer)
    {
        ERR_clear_error()
        guard let ssl = SSL_new(ctx) else {
            throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "SSL_new failed"))
        }
        guard let rbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "BIO_new failed"))
        }
        guard let wbio = BIO_new(BIO_s_mem()) else {
            BIO_free(rbio)
            SSL_free(ssl)
            throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "BIO_new failed"))
        }
        // An empty input BIO must mean "retry later", not EOF (BIO_set_mem_eof_return is a macro).
        _ = BIO_ctrl(rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        SSL_set_bio(ssl, rbio, wbio)
        return (ssl, rbio, wbio)
    }

    private static func isIPAddress(_ name: String) -> Bool {
        var v6 = in6_addr()
        var v4 = in_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    deinit { SSL_free(ssl) }

    // MARK: - Input

    /// Hands ciphertext read from the socket to the engine (copied into OpenSSL's input BIO, whose
    /// buffer is reused, so steady state does not allocate). Follow with `readPlaintext(into:)`.
    public func feedCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var written = 0
        // A memory BIO accepts everything (it grows); the loop only guards the Int32 length.
        while written < bytes.count {
            let chunk = Int32(min(bytes.count - written, Int(Int32.max)))
            let n = BIO_write(networkIn, base + written, chunk)
            precondition(n > 0, "memory BIO refused input (out of memory)")
            written += Int(n)
        }
    }

    /// Decrypts whatever complete records have arrived, appending plaintext to `buffer`; progresses
    /// the handshake first when it is not done.
    ///
    /// - Returns: `.bytes(n)`, `.wouldBlock` (feed more ciphertext) or `.closed` (peer's close_notify).
    /// - Throws: `TLSError` (`.verification` or `.protocolFailure`): the connection is dead; send
    ///   `takeCiphertext` (it may hold an alert) and close.
    public func readPlaintext(into buffer: inout ByteBuffer) throws(TLSError) -> TLSReadResult {
        if !isHandshakeComplete {
            guard try advanceHandshake() else { return peerClosed ? .closed : .wouldBlock }
        }
        if peerClosed { return .closed }
        // Plaintext OpenSSL refused earlier because it first had to read (TLS 1.3 post-handshake
        // messages) goes out now that new records were fed.
        if pendingPlaintext.readableBytes > 0 { try flushPendingPlaintext() }
        var total = 0
        while true {
            var got = 0
            var rc: Int32 = 0
            ERR_clear_error()
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 4096) { dst -> Int in
                rc = SSL_read_ex(ssl, dst.baseAddress, dst.count, &got)
                return rc == 1 ? got : 0
            }
            if rc == 1 {
                total += got
                continue
            }
            switch SSL_get_error(ssl, rc) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return total > 0 ? .bytes(total) : .wouldBlock
            case SSL_ERROR_ZERO_RETURN:
                peerClosed = true
                return total > 0 ? .bytes(total) : .closed
            default:
                throw failure("read failed")
            }
        }
    }

    /// Runs the handshake as far as the ciphertext fed so far allows. A client calls this once after
    /// connecting to produce its ClientHello (then `takeCiphertext`).
    ///
    /// - Returns: true when the handshake is complete.
    /// - Throws: `TLSError` when the peer or its certificate is rejected.
    @discardableResult
    public func advanceHandshake() throws(TLSError) -> Bool {
        if isHandshakeComplete { return true }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            isHandshakeComplete = true
            try flushPendingPlaintext()
            return true
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return false
        case SSL_ERROR_ZERO_RETURN:
            peerClosed = true
            return false
        default:
            throw failure("handshake failed")
        }
    }

    // MARK: - Output

    /// Encrypts plaintext for the peer. Before the handshake completes the bytes are kept and sent,
    /// in order, as soon as it does. Follow with `takeCiphertext(into:)`.
    ///
    /// - Throws: `TLSError.Kind.closed` after `close()`; `.protocolFailure` if OpenSSL fails.
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        guard !closeSent else { throw TLSError(.closed, "write after close") }
        guard bytes.count > 0 else { return }
        if !isHandshakeComplete || pendingPlaintext.readableBytes > 0 {
            pendingPlaintext.writeBytes(bytes)
            if !isHandshakeComplete { try advanceHandshake() } else { try flushPendingPlaintext() }
            return
        }
        let written = try writeRecords(bytes)
        if written < bytes.count {
            pendingPlaintext.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[written...]))
        }
    }

    /// Encrypts the readable bytes of `buffer` (see `writePlaintext(_:)` for raw bytes).
    public func writePlaintext(_ buffer: ByteBuffer) throws(TLSError) {
        try buffer.withUnsafeReadableBytes { (b) throws(TLSError) in try writePlaintext(b) }
    }

    /// Encrypts several buffers in order as few records as possible: small buffers are copied into a
    /// reused scratch until a record (16 KiB) is full, so a gather write such as a WebSocket frame
    /// header plus a shared payload costs one record (22 bytes of TLS 1.3 overhead and one AEAD
    /// call) instead of one per buffer. Buffers of a full record or more are encrypted directly.
    ///
    /// - Throws: as `writePlaintext(_:)`.
    public func writePlaintext<C: Collection>(gathering buffers: C) throws(TLSError) where C.Element == ByteBuffer {
        let limit = TLSEngine.maxRecordPlaintext
        coalesce.clear()
        for b in buffers {
            let n = b.readableBytes
            if n == 0 { continue }
            if coalesce.readableBytes > 0 && coalesce.readableBytes + n > limit {
                try writePlaintext(coalesce)
                coalesce.clear()
            }
            if n >= limit {
                try writePlaintext(b)
            } else {
                coalesce.writeBuffer(b)
            }
        }
        if coalesce.readableBytes > 0 {
            try writePlaintext(coalesce)
            coalesce.clear()
        }
    }

    /// SSL_write_ex into the memory BIO; returns how much OpenSSL took (all of it unless it first
    /// needs to read, which TLS 1.3 post-handshake messages can cause).
    private func writeRecords(_ bytes: UnsafeRawBufferPointer) throws(TLSError) -> Int {
        var written = 0
        ERR_clear_error()
        let rc = SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &written)
        if rc == 1 { return written }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return 0
        default: throw failure("write failed")
        }
    }

    private func flushPendingPlaintext() throws(TLSError) {
        guard pendingPlaintext.readableBytes > 0 else { return }
        let pending = pendingPlaintext
        let n = try pending.withUnsafeReadableBytes { (b) throws(TLSError) in try writeRecords(b) }
        pendingPlaintext.moveReaderIndex(forwardBy: n)
    }

    /// Ciphertext bytes waiting to be sent.
    public var pendingCiphertextBytes: Int { Int(BIO_ctrl_pending(networkOut)) }

    /// Moves all pending ciphertext into `buffer` (appending). Call after every feed, read, write,
    /// handshake step and close, and send what it returns.
    ///
    /// - Returns: the number of bytes appended.
    @discardableResult
    public func takeCiphertext(into buffer: inout ByteBuffer) -> Int {
        let pending = pendingCiphertextBytes
        guard pending > 0 else { return 0 }
        return buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { dst -> Int in
            let n = BIO_read(networkOut, dst.baseAddress, Int32(min(pending, Int(Int32.max))))
            return max(Int(n), 0)
        }
    }

    // MARK: - Closing

    /// Queues close_notify (RFC 8446 section 6.1) for `takeCiphertext`. Idempotent; later writes throw.
    /// Before the handshake completes there is nothing to notify and only the state changes.
    public func close() {
        guard !closeSent else { return }
        closeSent = true
        guard isHandshakeComplete else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)  // 0: sent ours, not waiting for theirs (we close the socket next)
        ERR_clear_error()
    }

    // MARK: - Introspection

    /// The negotiated protocol version, e.g. `TLSv1.3`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite, e.g. `TLS_AES_256_GCM_SHA384`, or nil before the handshake.
    public var cipherSuite: String? {
        guard let c = SSL_get_current_cipher(ssl) else { return nil }
        return String(cString: SSL_CIPHER_get_name(c))
    }

    // MARK: - Errors

    private func failure(_ what: String) -> TLSError {
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verify))
            let detail = TLSError.drainOpenSSLErrors(fallback: "")
            return TLSError(
                .verification,
                "certificate verification failed: \(reason)"
                    + (detail.isEmpty ? "" : " (\(detail))"))
        }
        return TLSError(.protocolFailure, "\(what): " + TLSError.drainOpenSSLErrors(fallback: "unknown error"))
    }
}
