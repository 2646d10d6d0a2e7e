// MetricsExposition: rendering a MetricsRegistry in the Prometheus text exposition format 0.0.4.
//
// Owns: `# HELP` / `# TYPE` lines, label and help escaping, value formatting and cumulative histogram
// buckets with `_sum` and `_count`. Collecting values lives in Metrics.swift. Runs on a scrape,
// off the hot path, so it may allocate.
// Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/

extension MetricsRegistry {
    /// Renders every metric: families in registration order, series in registration order.
    public func render() -> String {
        let families = state.withLock { $0.families }
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(MetricsRegistry.escapeHelp(f.help))\n"
            switch f.kind {
            case .counter: out += "# TYPE \(f.name) counter\n"
            case .gauge: out += "# TYPE \(f.name) gauge\n"
            case .histogram: out += "# TYPE \(f.name) histogram\n"
            }
            for s in f.series {
                switch f.kind {
                case .counter:
                    let value = s.read.map { MetricsRegistry.format($0()) } ?? String(total(s.slot))
                    out += "\(f.name)\(MetricsRegistry.labelText(s.labels)) \(value)\n"
                case .gauge:
                    let value =
                        s.read.map { MetricsRegistry.format($0()) }
                        ?? String(Int64(bitPattern: total(s.slot)))
                    out += "\(f.name)\(MetricsRegistry.labelText(s.labels)) \(value)\n"
                case .histogram:
                    renderHistogram(f, s, into: &out)
                }
            }
        }
        return out
    }

    /// Renders into a buffer (for the /metrics response body).
    public func render(into buffer: inout ByteBuffer) {
        buffer.writeString(render())
    }

    private func renderHistogram(_ f: Family, _ s: Series, into out: inout String) {
        // Read each bucket once; `_count` is the +Inf bucket so the two always agree even while loops
        // keep observing during the scrape.
        var cumulative: UInt64 = 0
        for (i, bound) in s.bounds.enumerated() {
            cumulative &+= total(s.slot + i)
            let le = f.scale == 1 ? String(bound) : MetricsRegistry.format(Double(bound) / f.scale)
            out += "\(f.name)_bucket\(MetricsRegistry.labelText(s.labels, le: le)) \(cumulative)\n"
        }
        cumulative &+= total(s.slot + s.bounds.count)
        out += "\(f.name)_bucket\(MetricsRegistry.labelText(s.labels, le: "+Inf")) \(cumulative)\n"
        let rawSum = Int64(bitPattern: total(s.slot + s.bounds.count + 1))
        let sum = f.scale == 1 ? String(rawSum) : MetricsRegistry.format(Double(rawSum) / f.scale)
        out += "\(f.name)_sum\(MetricsRegistry.labelText(s.labels)) \(sum)\n"
        out += "\(f.name)_count\(MetricsRegistry.labelText(s.labels)) \(cumulative)\n"
    }

    /// `{a="x",le="0.5"}`, or nothing without labels.
    static func labelText(_ labels: [(String, String)], le: String? = nil) -> String {
        if labels.isEmpty && le == nil { return "" }
        var parts = labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }
        if let le { parts.append("le=\"\(le)\"") }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// Label values escape backslash, double quote and newline.
    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text escapes backslash and newline.
    static func escapeHelp(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Integral values print without a fraction; others in Swift's shortest round-trip form, which
    /// Prometheus (Go's ParseFloat) reads back exactly; infinities and NaN as the format spells them.
    static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        if d == d.rounded(), abs(d) < 9.007_199_254_740_992e15 { return String(Int64(d)) }
        return String(d)
    }
}
