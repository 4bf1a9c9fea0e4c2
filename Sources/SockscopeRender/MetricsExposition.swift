// The Prometheus exposition formats, written from plain values: no HTTP, no NIO, so the writer is
// unit-tested against golden files and can be fuzzed.
//
// Why not swift-prometheus' `PrometheusCollectorRegistry`: it writes the 0.0.4 text format only (no
// OpenMetrics, no `# EOF`, no `# UNIT`, no gauge histograms), and it is built for long-lived metric
// objects that code updates as things happen. The exporter instead builds every series afresh from
// one socket dump per scrape: a registry would have to register and unregister each label set on
// every scrape (under its lock) only to print it once.

/// Which text format to write.
public enum ExpositionFormat: Sendable, Hashable {
    /// Prometheus text format 0.0.4.
    case prometheusText
    /// OpenMetrics 1.0.0 (counters as `_total` samples of a family without the suffix, `# EOF`).
    case openMetrics

    /// The `Content-Type` of a payload in this format.
    public var contentType: String {
        switch self {
        case .prometheusText: return "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when it accepts `application/openmetrics-text`
    /// (version 1.0.0, 0.0.1 or unversioned) with a quality at least that of the text format; else
    /// the text format, which is also the answer to no header, `*/*` and anything unparseable.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .prometheusText }
        var openMetrics = -1.0, text = -1.0
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingSpaces() }
            guard let type = parts.first?.lowercased() else { continue }
            var q = 1.0, version: String?
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
                guard kv.count == 2 else { continue }
                switch kv[0].lowercased() {
                case "q": q = Double(kv[1]) ?? 0
                case "version": version = kv[1]
                default: break
                }
            }
            guard q > 0 else { continue }
            switch type {
            case "application/openmetrics-text" where version == nil || version == "1.0.0" || version == "0.0.1":
                openMetrics = max(openMetrics, q)
            case "text/plain", "*/*", "text/*":
                text = max(text, q)
            default:
                break
            }
        }
        return openMetrics >= 0 && openMetrics >= text ? .openMetrics : .prometheusText
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}

/// A metric family's type.
public enum MetricType: Sendable, Hashable {
    case counter, gauge
    /// A build or version marker whose value is 1: OpenMetrics `info`, a gauge in the text format.
    case info
    /// The distribution of a quantity over what exists at scrape time (the RTT of the current
    /// connections), not a count of observations since start: OpenMetrics `gaugehistogram`
    /// (`_gcount`, `_gsum`); the text format has no such type and gets `histogram`.
    case gaugeHistogram(buckets: [Double])
}

/// A label: a name (a Prometheus label name, chosen by the code) and a value (anything; escaped on output).
public struct MetricLabel: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// One series of a family (for histograms, one label set with all its buckets).
public struct MetricSample: Sendable, Hashable {
    public enum Value: Sendable, Hashable {
        case number(Double)
        /// Counts per bucket, cumulative and in the order of the family's bounds, then the `+Inf`
        /// count (= `count`), and the sum.
        case histogram(cumulative: [UInt64], count: UInt64, sum: Double)
    }
    public var labels: [MetricLabel]
    public var value: Value

    public init(_ labels: [MetricLabel], _ value: Double) { self.labels = labels; self.value = .number(value) }
    public init(_ labels: [MetricLabel], histogram cumulative: [UInt64], count: UInt64, sum: Double) {
        self.labels = labels; self.value = .histogram(cumulative: cumulative, count: count, sum: sum)
    }

    /// How many exposition lines (series) this sample writes in a family of `type`.
    public func seriesCount(_ type: MetricType) -> Int {
        if case .gaugeHistogram(let b) = type { return b.count + 3 }
        return 1
    }
}

/// A metric family: name, type, help, optional unit, and its samples.
///
/// `name` is the family name without a counter's `_total` (OpenMetrics' family name); the text
/// format names the counter's samples and `# TYPE` line with `_total` added. With a `unit`, the
/// name must end in `_<unit>`, as OpenMetrics requires.
public struct MetricFamily: Sendable, Hashable {
    public var name: String
    public var type: MetricType
    public var help: String
    public var unit: String?
    public var samples: [MetricSample]

    public init(_ name: String, _ type: MetricType, help: String, unit: String? = nil, samples: [MetricSample] = []) {
        self.name = name; self.type = type; self.help = help; self.unit = unit; self.samples = samples
    }

    /// Series this family writes.
    public var seriesCount: Int { samples.reduce(0) { $0 + $1.seriesCount(type) } }
}

/// Collects families under a cap on the number of series: what would pass the cap is dropped and
/// counted, never written half (a histogram goes whole or not at all).
public struct MetricSet: Sendable {
    public private(set) var families: [MetricFamily] = []
    /// Series admitted so far.
    public private(set) var series = 0
    /// Series refused by the cap.
    public private(set) var dropped = 0
    /// The cap; nil for none.
    public let maxSeries: Int?

    public init(maxSeries: Int?) { self.maxSeries = maxSeries }

    /// Adds a family, keeping its samples in order until the cap is reached. A family left without
    /// samples is still listed (HELP and TYPE tell a reader the metric exists).
    public mutating func add(_ family: MetricFamily) {
        var f = family
        if let cap = maxSeries {
            var kept: [MetricSample] = []
            kept.reserveCapacity(f.samples.count)
            for s in f.samples {
                let n = s.seriesCount(f.type)
                if series + n <= cap {
                    kept.append(s)
                    series += n
                } else {
                    dropped += n
                }
            }
            f.samples = kept
        } else {
            series += f.seriesCount
        }
        families.append(f)
    }

    /// Adds a family outside the cap (the exporter's own series, which must always be there).
    public mutating func addUncapped(_ family: MetricFamily) {
        series += family.seriesCount
        families.append(family)
    }
}

/// Writes families in either format.
public enum MetricsWriter {
    public static func write(_ families: [MetricFamily], format: ExpositionFormat) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(families.reduce(0) { $0 + 160 + $1.samples.count * 96 })
        for f in families { write(f, format: format, to: &out) }
        if format == .openMetrics { append("# EOF\n", to: &out) }
        return out
    }

    static func write(_ f: MetricFamily, format: ExpositionFormat, to out: inout [UInt8]) {
        let om = format == .openMetrics
        let typeName: String
        var header = f.name
        switch f.type {
        case .counter:
            typeName = "counter"
            if !om { header += "_total" }
        case .gauge: typeName = "gauge"
        case .info:
            typeName = om ? "info" : "gauge"
            if !om { header += "_info" }
        case .gaugeHistogram: typeName = om ? "gaugehistogram" : "histogram"
        }
        append("# HELP ", to: &out); append(header, to: &out); out.append(0x20)
        escapeHelp(f.help, openMetrics: om, to: &out); out.append(0x0A)
        append("# TYPE ", to: &out); append(header, to: &out); out.append(0x20); append(typeName, to: &out); out.append(0x0A)
        if let unit = f.unit, om {
            append("# UNIT ", to: &out); append(header, to: &out); out.append(0x20); append(unit, to: &out); out.append(0x0A)
        }
        for s in f.samples {
            switch (f.type, s.value) {
            case (.gaugeHistogram(let bounds), .histogram(let cumulative, let count, let sum)):
                let bucket = f.name + "_bucket"
                for (i, b) in bounds.enumerated() {
                    line(bucket, s.labels, extra: MetricLabel("le", bound(b)), value: number(Double(cumulative[i])), to: &out)
                }
                line(bucket, s.labels, extra: MetricLabel("le", "+Inf"), value: number(Double(count)), to: &out)
                line(f.name + (om ? "_gcount" : "_count"), s.labels, extra: nil, value: number(Double(count)), to: &out)
                line(f.name + (om ? "_gsum" : "_sum"), s.labels, extra: nil, value: number(sum), to: &out)
            case (.counter, .number(let v)):
                line(f.name + "_total", s.labels, extra: nil, value: number(v), to: &out)
            case (.info, .number(let v)):
                line(f.name + "_info", s.labels, extra: nil, value: number(v), to: &out)
            case (_, .number(let v)):
                line(f.name, s.labels, extra: nil, value: number(v), to: &out)
            case (_, .histogram):
                // A histogram value in a family of another type is a programming error; writing
                // nothing keeps the payload valid.
                continue
            }
        }
    }

    static func line(_ name: String, _ labels: [MetricLabel], extra: MetricLabel?, value: String, to out: inout [UInt8]) {
        append(name, to: &out)
        if !labels.isEmpty || extra != nil {
            out.append(UInt8(ascii: "{"))
            var first = true
            for l in labels + (extra.map { [$0] } ?? []) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                append(l.name, to: &out)
                out.append(UInt8(ascii: "=")); out.append(UInt8(ascii: "\""))
                escapeLabelValue(l.value, to: &out)
                out.append(UInt8(ascii: "\""))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(0x20)
        append(value, to: &out)
        out.append(0x0A)
    }

    /// A label value between quotes: `\`, `"` and newline escaped (the same three in both formats).
    /// A Swift `String` is valid UTF-8, so the result is too; callers turn raw kernel bytes into
    /// a label value with `labelValue(bytes:)` before grouping by it.
    public static func escapeLabelValue(_ s: String, to out: inout [UInt8]) {
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\\"): out.append(c); out.append(c)
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(c)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            default: out.append(c)
            }
        }
    }

    /// HELP text: `\` and newline escaped; OpenMetrics escapes `"` as well.
    static func escapeHelp(_ s: String, openMetrics: Bool, to out: inout [UInt8]) {
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\\"): out.append(c); out.append(c)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\"") where openMetrics: out.append(UInt8(ascii: "\\")); out.append(c)
            default: out.append(c)
            }
        }
    }

    /// The label value for bytes from the kernel or a process (a `comm`): the terminal-safe form
    /// `sockscope` prints (`Escape.terminal`: controls, invalid UTF-8 and bidi overrides as visible
    /// escapes, `\` doubled). That mapping is one-to-one, so two different names never share a
    /// series, and a scrape read in a terminal cannot move its cursor.
    public static func labelValue(bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        Escape.terminal(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A sample value: integers without a fraction (counts are exact up to 2^53), else Swift's
    /// shortest round-tripping form, which Go's ParseFloat and OpenMetrics parsers read; `+Inf`,
    /// `-Inf`, `NaN` spelled as both formats want.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 9.007_199_254_740_992e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// A bucket bound as a float (`1.0`, `0.005`): the form client libraries write, so `le`
    /// values match across exporters in queries.
    static func bound(_ v: Double) -> String { v.isInfinite ? (v > 0 ? "+Inf" : "-Inf") : "\(v)" }

    @inline(__always)
    static func append(_ s: String, to out: inout [UInt8]) { out.append(contentsOf: s.utf8) }
}
