// The KafkaMock helper program, run as a separate process the way an operator or a load test would: it must
// print the bootstrap servers first, serve the topics it was asked for, and apply stdin fault-injection commands.
// The binary is found next to the test bundle (`swift build --build-tests` builds it); without it the test is off.
import Logging
import Testing
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

enum KafkaMockBinary {
    static let path: String? = {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        var dir = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        while let last = dir.last, last != "/" { dir.removeLast() }
        // The runner is either <bin>/BrokeragePackageTests.xctest or inside a bundle directory below <bin>.
        for candidate in [dir + "KafkaMock", dir + "../KafkaMock"] where access(candidate, X_OK) == 0 {
            return candidate
        }
        return nil
    }()
}

@Suite struct KafkaMockProcessTests {
    @Test(.enabled(if: KafkaMockBinary.path != nil, "KafkaMock not built"))
    func helperPrintsBootstrapServesTopicsAndInjectsFaults() throws {
        let binary = try #require(KafkaMockBinary.path)
        let fifo = "/tmp/broker-kafkamock-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        // stdout through popen; stdin from the fifo we write commands into (closing it ends the program).
        let out = try #require(popen("'\(binary)' --brokers 2 --topic quotes:4 < \(fifo)", "r"))
        let commands = open(fifo, O_WRONLY)
        #expect(commands >= 0)
        func readLine() -> String {
            var buf = [CChar](repeating: 0, count: 1024)
            guard fgets(&buf, Int32(buf.count), out) != nil else { return "" }
            return String(decoding: buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        func send(_ line: String) -> String {
            var text = line + "\n"
            _ = text.withUTF8 { write(commands, $0.baseAddress, $0.count) }
            return readLine()
        }
        let bootstrap = readLine()
        #expect(bootstrap.split(separator: ",").count == 2)
        #expect(readLine() == "ready")

        var logger = Logger(label: "test.kafkamock")
        logger.logLevel = .critical
        let consumer = try KafkaConsumer(configuration: .init(bootstrapServers: bootstrap), logger: logger)
        #expect(try consumer.partitionCount(topic: "quotes") == 4)

        #expect(send("broker-down 1") == "ok")
        #expect(send("broker-up 1") == "ok")
        #expect(send("rtt 2 5") == "ok")
        #expect(send("topic fills 2") == "ok")
        #expect(try consumer.partitionCount(topic: "fills") == 2)
        #expect(send("request-errors 0 -195 6") == "ok")
        #expect(send("broker-down 7").hasPrefix("error:"))
        #expect(send("bogus").hasPrefix("error: unknown command"))

        close(commands)   // EOF on stdin: the program exits
        #expect(readLine() == "")
        #expect(pclose(out) == 0)
    }
}
