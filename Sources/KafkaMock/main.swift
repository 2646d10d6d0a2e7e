// KafkaMock: a stand-alone librdkafka mock Kafka cluster for manual runs and out-of-process tests.
//
//   KafkaMock [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints the bootstrap servers as the first stdout line, then "ready". Runs until stdin closes (EOF), a
// `quit` line, or SIGTERM (default action). Fault injection, one command per stdin line, each answered with
// `ok` or `error: ...` so a driver can wait for it (all map onto librdkafka 2.0.2's rdkafka_mock.h):
//   broker-down ID            rd_kafka_mock_broker_set_down (disconnects, refuses connections)
//   broker-up ID              rd_kafka_mock_broker_set_up
//   rtt ID MS                 rd_kafka_mock_broker_set_rtt
//   leader TOPIC PART ID      rd_kafka_mock_partition_set_leader
//   topic NAME PARTITIONS     rd_kafka_mock_topic_create
//   request-errors APIKEY ERR...  rd_kafka_mock_push_request_errors_array: the next requests of that ApiKey
//                             (0 = Produce, 1 = Fetch) fail with these rd_kafka_resp_err_t codes (-195 = disconnect)
// Owns nothing else: the in-process equivalent for Swift tests is Broker's KafkaMockCluster.
import CRdKafka
import Glibc

/// Writes one line straight to fd 1 (unbuffered, so a driver reading the pipe sees it at once; Swift 6 also
/// forbids touching C's global `stdout`).
func say(_ line: String, fd: CInt = 1) {
    var text = line + "\n"
    text.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    say("KafkaMock: \(message)", fd: 2)
    exit(2)
}

var brokers: Int32 = 3
var topics: [(String, Int32)] = []
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--brokers":
        guard let v = args.popFirst().flatMap({ Int32($0) }), v > 0 else { fail("--brokers needs a positive count") }
        brokers = v
    case "--topic":
        guard let spec = args.popFirst(), let colon = spec.lastIndex(of: ":"),
              let n = Int32(spec[spec.index(after: colon)...]), n > 0 else { fail("--topic needs NAME:PARTITIONS") }
        topics.append((String(spec[..<colon]), n))
    case "-h", "--help":
        say("""
            usage: KafkaMock [--brokers N] [--topic NAME:PARTITIONS]...
            stdin commands: broker-down ID | broker-up ID | rtt ID MS | leader TOPIC PART ID | topic NAME N |
                            request-errors APIKEY ERR... | quit
            """)
        exit(0)
    default:
        fail("unknown argument \(arg)")
    }
}

// The mock needs a client instance for its configuration; it runs its own broker threads.
guard let conf = rd_kafka_conf_new() else { fail("rd_kafka_conf_new") }
var errstr = [CChar](repeating: 0, count: 512)
_ = rd_kafka_conf_set(conf, "log_level", "3", &errstr, errstr.count)   // keep stderr quiet but for errors
guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
    fail(errstr.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
}
guard let cluster = rd_kafka_mock_cluster_new(rk, brokers) else { fail("rd_kafka_mock_cluster_new") }
for (name, partitions) in topics {
    let err = rd_kafka_mock_topic_create(cluster, name, partitions, 1)
    if err != RD_KAFKA_RESP_ERR_NO_ERROR { fail("topic \(name): \(String(cString: rd_kafka_err2str(err)))") }
}

// First line: the bootstrap servers, as promised to drivers (they read exactly one line).
say(String(cString: rd_kafka_mock_cluster_bootstraps(cluster)))
say("ready")

func run(_ words: [Substring]) -> rd_kafka_resp_err_t? {
    func int(_ i: Int) -> Int32? { i < words.count ? Int32(words[i]) : nil }
    switch (words.first, words.count) {
    case ("broker-down", 2): return int(1).map { rd_kafka_mock_broker_set_down(cluster, $0) }
    case ("broker-up", 2): return int(1).map { rd_kafka_mock_broker_set_up(cluster, $0) }
    case ("rtt", 3):
        guard let id = int(1), let ms = int(2) else { return nil }
        return rd_kafka_mock_broker_set_rtt(cluster, id, ms)
    case ("leader", 4):
        guard let p = int(2), let id = int(3) else { return nil }
        return rd_kafka_mock_partition_set_leader(cluster, String(words[1]), p, id)
    case ("request-errors", 3...):
        guard let apiKey = Int16(words[1]) else { return nil }
        let codes = words.dropFirst(2).compactMap { Int32($0) }.map { rd_kafka_resp_err_t(rawValue: $0) }
        guard codes.count == words.count - 2 else { return nil }
        codes.withUnsafeBufferPointer {
            rd_kafka_mock_push_request_errors_array(cluster, apiKey, $0.count, $0.baseAddress)
        }
        return RD_KAFKA_RESP_ERR_NO_ERROR
    case ("topic", 3):
        guard let n = int(2) else { return nil }
        return rd_kafka_mock_topic_create(cluster, String(words[1]), n, 1)
    default: return nil
    }
}

while let line = readLine() {
    let words = line.split(separator: " ", omittingEmptySubsequences: true)
    if words.isEmpty { continue }
    if words == ["quit"] { break }
    guard let err = run(words) else {
        say("error: unknown command '\(line)' (see KafkaMock --help)")
        continue
    }
    say(err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : "error: \(String(cString: rd_kafka_err2str(err)))")
}

rd_kafka_mock_cluster_destroy(cluster)
rd_kafka_destroy(rk)
