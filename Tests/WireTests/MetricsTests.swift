// Tests for MetricsRegistry and shards: exact Prometheus exposition output, shard aggregation.
import Testing

@testable import Wire

@Suite struct MetricsTests {
    @Test func countersAndGaugesAggregateAcrossShards() {
        let m = MetricsRegistry(shardCount: 3)
        let ok = m.counter("http_requests_total", help: "Requests answered.", labels: [("code", "200")])
        let missing = m.counter("http_requests_total", help: "Requests answered.", labels: [("code", "404")])
        let conns = m.gauge("ws_connections", help: "Open WebSocket connections.")
        m.shard(0).increment(ok)
        m.shard(1).add(ok, 41)
        m.shard(2).increment(missing)
        m.shard(0).add(conns, 10)
        m.shard(1).add(conns, 5)
        m.shard(1).add(conns, -2)
        m.shard(2).set(conns, 100)
        m.shard(2).set(conns, 7)
        #expect(
            m.render() == """
                # HELP http_requests_total Requests answered.
                # TYPE http_requests_total counter
                http_requests_total{code="200"} 42
                http_requests_total{code="404"} 1
                # HELP ws_connections Open WebSocket connections.
                # TYPE ws_connections gauge
                ws_connections 20

                """)
    }

    @Test func negativeGaugeTotals() {
        let m = MetricsRegistry(shardCount: 2)
        let g = m.gauge("delta", help: "d")
        m.shard(0).add(g, -5)
        m.shard(1).add(g, 2)
        #expect(m.render().hasSuffix("delta -3\n"))
    }

    @Test func registeringTheSameSeriesTwiceSharesIt() {
        let m = MetricsRegistry(shardCount: 1)
        let a = m.counter("x_total", help: "x", labels: [("k", "v")])
        let b = m.counter("x_total", help: "x", labels: [("k", "v")])
        m.shard(0).increment(a)
        m.shard(0).increment(b)
        #expect(m.render() == "# HELP x_total x\n# TYPE x_total counter\nx_total{k=\"v\"} 2\n")
    }

    @Test func histogramExposition() {
        let m = MetricsRegistry(shardCount: 2)
        // Observed in nanoseconds, exposed in seconds.
        let h = m.histogram(
            "quote_latency_seconds", help: "Feed ts to socket write.", labels: [("node", "a")],
            bounds: [1_000_000, 5_000_000, 25_000_000], scale: 1e9)
        m.shard(0).observe(h, 500_000)  // <= 1 ms
        m.shard(1).observe(h, 1_000_000)  // exactly on the bound: inclusive
        m.shard(1).observe(h, 4_000_000)  // <= 5 ms
        m.shard(0).observe(h, 90_000_000)  // +Inf
        #expect(
            m.render() == """
                # HELP quote_latency_seconds Feed ts to socket write.
                # TYPE quote_latency_seconds histogram
                quote_latency_seconds_bucket{node="a",le="0.001"} 2
                quote_latency_seconds_bucket{node="a",le="0.005"} 3
                quote_latency_seconds_bucket{node="a",le="0.025"} 3
                quote_latency_seconds_bucket{node="a",le="+Inf"} 4
                quote_latency_seconds_sum{node="a"} 0.0955
                quote_latency_seconds_count{node="a"} 4

                """)
    }

    @Test func unscaledHistogramAndEmptyHistogram() {
        let m = MetricsRegistry(shardCount: 1)
        let h = m.histogram("batch_size", help: "Quotes per write.", bounds: [1, 4, 16])
        _ = m.histogram("idle", help: "Never observed.", bounds: [10])
        m.shard(0).observe(h, 3)
        m.shard(0).observe(h, 16)
        #expect(
            m.render() == """
                # HELP batch_size Quotes per write.
                # TYPE batch_size histogram
                batch_size_bucket{le="1"} 0
                batch_size_bucket{le="4"} 1
                batch_size_bucket{le="16"} 2
                batch_size_bucket{le="+Inf"} 2
                batch_size_sum 19
                batch_size_count 2
                # HELP idle Never observed.
                # TYPE idle histogram
                idle_bucket{le="10"} 0
                idle_bucket{le="+Inf"} 0
                idle_sum 0
                idle_count 0

                """)
    }

    @Test func escapingAndCallbackGauges() {
        let m = MetricsRegistry(shardCount: 1)
        m.gauge("process_resident_memory_bytes", help: "RSS.\nSecond line with \\.") { 123_456_789 }
        m.gauge("process_cpu_seconds", help: "CPU.") { 1.25 }
        m.gauge("weird", help: "w", labels: [("path", "a\"b\\c\nd")]) { Double.infinity }
        #expect(
            m.render() == """
                # HELP process_resident_memory_bytes RSS.\\nSecond line with \\\\.
                # TYPE process_resident_memory_bytes gauge
                process_resident_memory_bytes 123456789
                # HELP process_cpu_seconds CPU.
                # TYPE process_cpu_seconds gauge
                process_cpu_seconds 1.25
                # HELP weird w
                # TYPE weird gauge
                weird{path="a\\"b\\\\c\\nd"} +Inf

                """)
    }

    @Test func shardsWrittenConcurrentlySumExactly() async {
        let m = MetricsRegistry(shardCount: 4)
        let c = m.counter("events_total", help: "e")
        let h = m.histogram("h", help: "h", bounds: [10])
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                group.addTask {
                    let shard = m.shard(i)
                    for v in 0..<50_000 {
                        shard.increment(c)
                        shard.observe(h, Int64(v % 20))
                    }
                }
            }
        }
        let text = m.render()
        #expect(text.contains("events_total 200000\n"))
        #expect(text.contains("h_bucket{le=\"10\"} 110000\n"))
        #expect(text.contains("h_count 200000\n"))
    }

    @Test func renderIntoBuffer() {
        let m = MetricsRegistry(shardCount: 1)
        _ = m.counter("a_total", help: "a")
        var b = ByteBuffer()
        m.render(into: &b)
        #expect(b.readableString == "# HELP a_total a\n# TYPE a_total counter\na_total 0\n")
        #expect(MetricsRegistry.contentType == "text/plain; version=0.0.4; charset=utf-8")
    }

    @Test func nameValidation() {
        #expect(MetricsRegistry.isValidName("http_requests_total", colons: true))
        #expect(MetricsRegistry.isValidName("ns:metric", colons: true))
        #expect(!MetricsRegistry.isValidName("ns:metric", colons: false))
        #expect(!MetricsRegistry.isValidName("9lives", colons: true))
        #expect(!MetricsRegistry.isValidName("a-b", colons: true))
        #expect(!MetricsRegistry.isValidName("", colons: true))
    }
}

@Suite struct MetricsProcessTests {
    @Test func processMetricsAreRenderedWithPlausibleValues() throws {
        let m = MetricsRegistry(shardCount: 1)
        m.registerProcessMetrics()
        let text = m.render()
        #expect(text.contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "))
        #expect(text.contains("# TYPE process_resident_memory_bytes gauge\n"))
        #expect(MetricsProcessReader.residentBytes() > 1 << 20)  // a Swift test process holds more than 1 MiB
        #expect(MetricsProcessReader.cpuSeconds() > 0)
        let fds = MetricsProcessReader.openFileDescriptors()
        #expect(fds >= 3)  // stdin, stdout, stderr at least
        #expect(text.contains("process_open_fds "))
        #expect(text.contains("process_max_fds "))
    }

    @Test func callbackCounter() {
        let m = MetricsRegistry(shardCount: 1)
        m.counter("bytes_total", help: "b") { 1.5e12 }
        #expect(m.render() == "# HELP bytes_total b\n# TYPE bytes_total counter\nbytes_total 1500000000000\n")
    }
}

@Suite struct MetricsBoundsTests {
    @Test func exponentialAndLinearBounds() {
        #expect(
            MetricsRegistry.exponentialBounds(start: 10_000, factor: 2, count: 5)
                == [10_000, 20_000, 40_000, 80_000, 160_000])
        // Rounding never produces duplicates, which Prometheus would reject.
        #expect(MetricsRegistry.exponentialBounds(start: 1, factor: 1.2, count: 5) == [1, 2, 3, 4, 5])
        #expect(MetricsRegistry.linearBounds(start: 0, width: 5, count: 4) == [0, 5, 10, 15])
    }
}
