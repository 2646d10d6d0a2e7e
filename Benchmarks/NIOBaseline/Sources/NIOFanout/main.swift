// nio-fanout: the SwiftNIO baseline of our WebSocket quote fanout. Owns process wiring: flags, the
// event loop groups, the HTTP -> WebSocket pipeline, signals and shutdown. See README.md.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Writes a line to stderr (the C `stderr` global is not concurrency-safe in Swift 6).
func printError(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    switch error {
    case .help:
        print(Options.usage)
        exit(0)
    case .invalid(let reason):
        printError("nio-fanout: \(reason)\n\(Options.usage)")
        exit(2)
    }
}

let symbols = SymbolTable(count: options.symbols)
let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
// The feed ticks on a thread of its own so it never waits behind a busy serving loop.
let feedGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

// One subscription map per serving loop; a channel always uses its own loop's.
let fanouts: [LoopFanout] = group.makeIterator().map { LoopFanout(eventLoop: $0, symbolCount: options.symbols) }
func fanout(for loop: any EventLoop) -> LoopFanout {
    fanouts.first { $0.eventLoop === loop }!
}

let feed = SyntheticFeed(eventLoop: feedGroup.next(), rate: options.rate, symbols: symbols) { batch in
    // Once per tick and serving loop, not once per quote.
    for fanout in fanouts {
        fanout.eventLoop.execute { fanout.deliver(batch) }
    }
}

@Sendable func gatherStats(on loop: any EventLoop) -> EventLoopFuture<ServerStats> {
    let perLoop = EventLoopFuture.whenAllSucceed(fanouts.map { $0.currentStats() }, on: loop)
    return perLoop.and(feed.currentStats().hop(to: loop)).map { loops, feed in
        ServerStats(loops: loops.reduce(LoopStats(), +), feed: feed)
    }
}

let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4_096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        let loopFanout = fanout(for: channel.eventLoop)
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, head in
                let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
                return channel.eventLoop.makeSucceededFuture(path == "/ws" ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    // Client messages are small; reassemble the rare fragmented one.
                    try channel.pipeline.syncOperations.addHandler(
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 16,
                            maxAccumulatedFrameSize: 1 << 16))
                    try channel.pipeline.syncOperations.addHandler(
                        QuoteSessionHandler(fanout: loopFanout, symbols: symbols))
                }
            }
        )
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withServerUpgrade: (
                    upgraders: [upgrader],
                    completionHandler: { context in
                        context.pipeline.removeHandler(name: "http", promise: nil)
                    }
                )
            )
            try channel.pipeline.syncOperations.addHandler(HTTPHandler(stats: gatherStats), name: "http")
        }
    }

let serverChannel: any Channel
do {
    serverChannel = try bootstrap.bind(host: options.host, port: options.port).wait()
} catch {
    printError("nio-fanout: cannot listen on \(options.host):\(options.port): \(error)")
    exit(1)
}

// SIGTERM / SIGINT: stop accepting, then shut down below once the listener is closed.
var signalSources: [any DispatchSourceSignal] = []
for signo in [SIGTERM, SIGINT] {
    signal(signo, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
    // @Sendable: the handler runs on a Dispatch queue, not on the main actor of this top-level code.
    source.setEventHandler { @Sendable [serverChannel] in serverChannel.close(promise: nil) }
    source.resume()
    signalSources.append(source)
}

feed.start()
print(
    "nio-fanout listening on \(options.host):\(options.port) rate=\(options.rate) symbols=\(options.symbols)"
        + " threads=\(options.threads)")
fflush(nil)  // stdout may be a pipe: make the start line visible to whoever waits for it

try? serverChannel.closeFuture.wait()
let feedStats = try feed.stop().wait()
let loopStats = try EventLoopFuture.whenAllSucceed(fanouts.map { $0.currentStats() }, on: group.next()).wait()
print("nio-fanout stopping: \(ServerStats(loops: loopStats.reduce(LoopStats(), +), feed: feedStats).json)")
fflush(nil)
try group.syncShutdownGracefully()
try feedGroup.syncShutdownGracefully()
