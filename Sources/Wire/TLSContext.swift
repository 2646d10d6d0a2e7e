// TLSContext: OpenSSL SSL_CTX owners for servers and clients, built once and shared by every loop.
//
// Owns: `TLSError` (OpenSSL's error queue as text), `TLSServerContext` (certificate chain + key) and
// `TLSClientConfig` (verification, CA, server name), and the protocol floor and options both share.
// The per-connection byte transformer is TLSEngine.swift. This is a C wrapper file: OpaquePointers
// to OpenSSL objects live here and in TLSEngine.swift only, each owned by one class that frees it.
// An SSL_CTX is safe to share across threads once configured (OpenSSL 3 threads(7)), so one context
// serves all loops; nothing mutates it after init.
import COpenSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TLS failure with OpenSSL's own explanation.
public struct TLSError: Error, Equatable, CustomStringConvertible {
    /// What failed.
    public enum Kind: Sendable, Equatable {
        /// Loading certificates/keys or building a context (startup).
        case configuration
        /// The peer's certificate was rejected (untrusted, expired, wrong host name).
        case verification
        /// The handshake or a record failed (alerts, bad records, protocol mismatch).
        case protocolFailure
        /// Writing after `close()` or after the peer's close_notify.
        case closed
    }

    /// What failed.
    public let kind: Kind
    /// A human-readable message including OpenSSL's error strings.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// `TLS <kind>: <message>`.
    public var description: String { "TLS \(kind): \(message)" }

    /// Retrying the same operation cannot succeed: TLS failures are fatal for the connection
    /// (RFC 8446 section 6.2) and configuration errors need an operator.
    public var isRetriable: Bool { false }

    /// Drains this thread's OpenSSL error queue into one string (`a; b`), or `fallback` when empty.
    static func drainOpenSSLErrors(fallback: String) -> String {
        var parts: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            ERR_error_string_n(code, &buffer, buffer.count)
            parts.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        return parts.isEmpty ? fallback : parts.joined(separator: "; ")
    }
}

/// Option bits that are function-like macros (`SSL_OP_BIT(n)`) in ssl.h, so Swift cannot import them.
enum TLSOptions {
    /// SSL_OP_NO_COMPRESSION: CRIME (RFC 7457 section 2.6).
    static let noCompression: UInt64 = 1 << 17
    /// SSL_OP_NO_RENEGOTIATION: TLS 1.2 renegotiation is an attack surface and we never need it.
    static let noRenegotiation: UInt64 = 1 << 30
}

/// Settings both sides share: TLS 1.2 floor (RFC 8996 deprecates 1.0/1.1), no compression, no
/// renegotiation, optional buffer release for idle connections.
private func configureCommon(_ ctx: OpaquePointer, releaseIdleBuffers: Bool) throws(TLSError) {
    // SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl.
    guard SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil) == 1 else {
        throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "cannot set minimum protocol version"))
    }
    _ = SSL_CTX_set_options(ctx, TLSOptions.noCompression | TLSOptions.noRenegotiation)
    if releaseIdleBuffers {
        // SSL_CTX_set_mode is a macro over SSL_CTX_ctrl. Measured here (OpenSSL 3.0, 1,000 server
        // engines after a handshake and one write): 26 KB RSS per connection without, 8 KB with; the
        // cost is a malloc/free per record. Worth it for many mostly idle clients, not for busy ones.
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, Int(SSL_MODE_RELEASE_BUFFERS), nil)
    }
}

/// A server-side TLS context: certificate chain and private key loaded once at startup.
public final class TLSServerContext: @unchecked Sendable {
    /// Invariant: a configured SSL_CTX owned by this object; read-only after init, so shareable.
    let ctx: OpaquePointer

    /// Loads a PEM certificate chain (leaf first) and its PEM private key.
    ///
    /// - Parameters:
    ///   - certificatePath: PEM file with the certificate chain.
    ///   - privateKeyPath: PEM file with the matching unencrypted private key.
    ///   - releaseIdleBuffers: free OpenSSL's record buffers between records (less memory per idle
    ///     connection, one malloc per record); default false.
    /// - Throws: `TLSError.Kind.configuration` naming the file and OpenSSL's reason.
    public init(certificatePath: String, privateKeyPath: String, releaseIdleBuffers: Bool = false) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "SSL_CTX_new failed"))
        }
        // Free the partial context on any failure below (the factory rule, STYLE.md section 4).
        var ok = false
        defer { if !ok { SSL_CTX_free(ctx) } }
        try configureCommon(ctx, releaseIdleBuffers: releaseIdleBuffers)
        guard SSL_CTX_use_certificate_chain_file(ctx, certificatePath) == 1 else {
            let why = TLSError.drainOpenSSLErrors(fallback: "unknown error")
            throw TLSError(.configuration, "cannot load certificate chain '\(certificatePath)': \(why)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            let why = TLSError.drainOpenSSLErrors(fallback: "unknown error")
            throw TLSError(.configuration, "cannot load private key '\(privateKeyPath)': \(why)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            let why = TLSError.drainOpenSSLErrors(fallback: "unknown error")
            throw TLSError(
                .configuration,
                "private key '\(privateKeyPath)' does not match certificate '\(certificatePath)': \(why)")
        }
        self.ctx = ctx
        ok = true
    }

    deinit { SSL_CTX_free(ctx) }
}

/// A client-side TLS configuration: whether and how to verify the server.
public final class TLSClientConfig: @unchecked Sendable {
    /// Invariant: a configured SSL_CTX owned by this object; read-only after init, so shareable.
    let ctx: OpaquePointer
    /// Whether the server's certificate chain and name are verified.
    public let verify: Bool
    /// The name sent as SNI and checked against the certificate; nil means "use the host connected to".
    public let serverName: String?

    /// Creates a client configuration.
    ///
    /// - Parameters:
    ///   - verify: verify the server's chain and host name (RFC 9110 section 4.3.4 / RFC 6125). Turn
    ///     off only for tests against self-signed servers you cannot give a CA for.
    ///   - caPath: PEM file (or hashed directory) of trusted CAs; nil uses the system store.
    ///   - serverName: SNI and verification name; nil lets `TLSEngine(client:serverName:)` supply it.
    /// - Throws: `TLSError.Kind.configuration` when the CA cannot be loaded.
    public init(
        verify: Bool = true, caPath: String? = nil, serverName: String? = nil,
        releaseIdleBuffers: Bool = false
    ) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "SSL_CTX_new failed"))
        }
        var ok = false
        defer { if !ok { SSL_CTX_free(ctx) } }
        try configureCommon(ctx, releaseIdleBuffers: releaseIdleBuffers)
        if verify {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            if let caPath {
                var st = stat()
                let isDirectory = stat(caPath, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
                let loaded =
                    isDirectory
                    ? SSL_CTX_load_verify_locations(ctx, nil, caPath)
                    : SSL_CTX_load_verify_locations(ctx, caPath, nil)
                guard loaded == 1 else {
                    let why = TLSError.drainOpenSSLErrors(fallback: "unknown error")
                    throw TLSError(.configuration, "cannot load CA '\(caPath)': \(why)")
                }
            } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                throw TLSError(.configuration, TLSError.drainOpenSSLErrors(fallback: "cannot load the system CA store"))
            }
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        self.ctx = ctx
        self.verify = verify
        self.serverName = serverName
        ok = true
    }

    deinit { SSL_CTX_free(ctx) }
}

extension TLSServerContext {
    /// Config keys for a TLS listener under `table` (e.g. `fanout.tls`): certificate, key, buffer mode.
    public static func configKeys(table: String) -> [ConfigKey] {
        [
            .string(
                "\(table).certificate", default: "",
                doc: "PEM certificate chain (leaf first). Empty serves plain TCP without TLS."),
            .string(
                "\(table).private_key", default: "",
                doc: "PEM private key matching the certificate (unencrypted; keep it mode 0600)."),
            .bool(
                "\(table).release_idle_buffers", default: false,
                doc: "Free OpenSSL's record buffers between records: about 8 KB instead of 26 KB per idle\n"
                    + "TLS connection (measured), at one malloc per record. Turn on for many mostly idle clients."),
        ]
    }

    /// Builds the context the keys from `configKeys(table:)` describe, or nil when no certificate is
    /// configured (plain TCP).
    ///
    /// - Throws: `TLSError.Kind.configuration` when only one of certificate/key is set or loading fails.
    public static func make(config: ConfigFile, table: String) throws(TLSError) -> TLSServerContext? {
        let cert = config.string("\(table).certificate")
        let key = config.string("\(table).private_key")
        if cert.isEmpty && key.isEmpty { return nil }
        guard !cert.isEmpty, !key.isEmpty else {
            throw TLSError(.configuration, "\(table).certificate and \(table).private_key must be set together")
        }
        return try TLSServerContext(
            certificatePath: cert, privateKeyPath: key,
            releaseIdleBuffers: config.bool("\(table).release_idle_buffers"))
    }
}
