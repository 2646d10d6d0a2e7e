// MarketDataHTTPEndpoint: /health and /metrics of the exchange and ingest roles, on the role's own loop
// (`exchange.metrics_listen`, `ingest.metrics_listen`; off when empty). Plain HTTP through the project's
// WebSocketServer router (no upgrades accepted), answered synchronously from the role's counters.
import Logging
import WebSocket
import Wire

/// A tiny HTTP endpoint for a market-data role. Loop thread only.
final class MarketDataHTTPEndpoint {
    private let server: WebSocketServer
    private var listener: TCPListener?
    /// The bound port.
    let port: Int

    /// Listens on `address` (HOST:PORT) on `loop`; `health` returns nil when healthy or the reason it is not.
    /// - Throws: `ConfigError` for a malformed address, `IOError` when it cannot bind.
    init(address: String, key: String, loop: EventLoop, logger: Logger, health: @escaping () -> String?,
         metrics: @escaping () -> String) throws {
        let (host, port) = try parseHostPort(address, key: key)
        server = WebSocketServer(logger: logger, upgrade: { _ in nil }, route: { head, _ in
            switch head.path {
            case "/health":
                if let why = health() {
                    return HTTPResponse(status: .serviceUnavailable, contentType: "text/plain", body: why + "\n")
                }
                return HTTPResponse(status: .ok, contentType: "text/plain", body: "ok\n")
            case "/metrics":
                return HTTPResponse(status: .ok, contentType: MetricsRegistry.contentType, body: metrics())
            default:
                return nil
            }
        })
        let l = try server.listen(host: host, port: port, on: loop)
        listener = l
        self.port = l.port
    }

    /// Stops listening.
    func close() {
        listener?.close()
        listener = nil
    }
}
