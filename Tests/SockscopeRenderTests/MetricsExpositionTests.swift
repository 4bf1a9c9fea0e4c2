import Foundation
import SockscopeRender
import Testing

/// The exposition writer against golden files under `Golden/`. To accept a deliberate change:
///
///     SOCKSCOPE_UPDATE_GOLDEN=1 swift test --filter MetricsExpositionTests
///
/// and review the diff of `Tests/SockscopeRenderTests/Golden/` before committing it.
@Suite struct MetricsExpositionTests {
    /// A family of each type, labels holding every hostile process name, a `"`/`\`/newline in HELP.
    static var families: [MetricFamily] {
        var comm = MetricFamily("sockscope_process_sockets", .gauge, help: "Sockets by process name (comm).")
        for (i, name) in hostileNames.enumerated() {
            comm.samples.append(MetricSample([MetricLabel("comm", MetricsWriter.labelValue(bytes: name)),
                                              MetricLabel("n", String(i))], Double(i)))
        }
        // A label value that is a Swift string with a raw newline, quote and backslash (not a comm).
        comm.samples.append(MetricSample([MetricLabel("comm", "line1\nline2 \"q\" back\\slash"), MetricLabel("n", "raw")], 1))
        return [
            comm,
            MetricFamily("sockscope_listen_overflows", .counter, help: "Times an accept queue was full.\nSecond \"line\" \\ here.",
                         samples: [MetricSample([MetricLabel("netns", "host")], 12345678901),
                                   MetricSample([MetricLabel("netns", "blue")], 0)]),
            MetricFamily("sockscope_tcp_rtt_seconds", .gaugeHistogram(buckets: [0.0001, 0.001, 0.01, 1]),
                         help: "RTT of current connections.", unit: "seconds",
                         samples: [MetricSample([MetricLabel("netns", "host"), MetricLabel("port", "443")],
                                                histogram: [1, 3, 3, 4], count: 5, sum: 3.5)]),
            MetricFamily("sockscope_scrape_duration_seconds", .gauge, help: "Seconds.", unit: "seconds",
                         samples: [MetricSample([], 0.012_5)]),
            MetricFamily("sockscope_weird_values", .gauge, help: "Non-finite values.",
                         samples: [MetricSample([MetricLabel("v", "nan")], .nan), MetricSample([MetricLabel("v", "inf")], .infinity),
                                   MetricSample([MetricLabel("v", "-inf")], -.infinity), MetricSample([MetricLabel("v", "neg")], -2.5)]),
            MetricFamily("sockscope_build", .info, help: "Version.", samples: [MetricSample([MetricLabel("version", "0.1.0")], 1)]),
            MetricFamily("sockscope_empty", .gauge, help: "No samples."),
        ]
    }

    func golden(_ name: String, _ bytes: [UInt8], file: String = #filePath) throws {
        let url = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Golden/\(name)")
        if ProcessInfo.processInfo.environment["SOCKSCOPE_UPDATE_GOLDEN"] == "1" {
            try Data(bytes).write(to: url)
            return
        }
        let expected = try [UInt8](Data(contentsOf: url))
        #expect(bytes == expected, "\(name) differs from its golden file")
    }

    @Test func prometheusTextGolden() throws {
        try golden("exposition.prom", MetricsWriter.write(Self.families, format: .prometheusText))
    }

    @Test func openMetricsGolden() throws {
        try golden("exposition.openmetrics", MetricsWriter.write(Self.families, format: .openMetrics))
    }

    /// Every line of either format is valid UTF-8 with no raw control character, whatever the name.
    @Test func hostileNamesStayInert() {
        for format in [ExpositionFormat.prometheusText, .openMetrics] {
            let out = MetricsWriter.write(Self.families, format: format)
            #expect(String(validating: out, as: UTF8.self) != nil)
            #expect(!hasRawControl(out, allowNewline: true))
            // One line per series and header: a newline in a name never splits a line.
            let lines = out.split(separator: 0x0A)
            let commLines = lines.filter { $0.starts(with: Array("sockscope_process_sockets{".utf8)) }
            #expect(commLines.count == hostileNames.count + 1)
        }
    }

    /// Different raw names never collapse into one label value (no duplicate series).
    @Test func labelValuesAreOneToOne() {
        var names = hostileNames
        names += [Array("\\x1b".utf8), [0x1B], Array("\\\\".utf8), Array("\\".utf8), [0xFF], Array("\\xff".utf8)]
        let values = names.map { MetricsWriter.labelValue(bytes: $0) }
        #expect(Set(values).count == Set(names).count)
    }

    @Test func negotiation() {
        // What Prometheus 2.x and 3.x send.
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") == .openMetrics)
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1") == .openMetrics)
        #expect(ExpositionFormat.negotiate(accept: "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5") == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: nil) == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: "*/*") == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text; version=2.0.0") == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text;q=0") == .prometheusText)
        #expect(ExpositionFormat.negotiate(accept: ";;;,=,q=x") == .prometheusText)
    }

    @Test func seriesCap() {
        var set = MetricSet(maxSeries: 7)
        set.add(MetricFamily("a", .gauge, help: "a", samples: (0..<5).map { MetricSample([MetricLabel("i", String($0))], 1) }))
        // A histogram with 2 bounds is 5 series: it does not fit in the 2 left, and is dropped whole.
        set.add(MetricFamily("h", .gaugeHistogram(buckets: [1, 2]), help: "h",
                             samples: [MetricSample([], histogram: [0, 1], count: 1, sum: 1)]))
        set.add(MetricFamily("b", .gauge, help: "b", samples: (0..<5).map { MetricSample([MetricLabel("i", String($0))], 1) }))
        #expect(set.series == 7)
        #expect(set.dropped == 5 + 3)
        #expect(set.families.map(\.samples.count) == [5, 0, 2])
        set.addUncapped(MetricFamily("self", .gauge, help: "s", samples: [MetricSample([], 1)]))
        #expect(set.series == 8)
        var none = MetricSet(maxSeries: nil)
        none.add(MetricFamily("a", .gauge, help: "a", samples: (0..<50_000).map { MetricSample([MetricLabel("i", String($0))], 1) }))
        #expect(none.series == 50_000 && none.dropped == 0)
    }

    @Test func numbers() {
        #expect(MetricsWriter.number(0) == "0")
        #expect(MetricsWriter.number(12345678901) == "12345678901")
        #expect(MetricsWriter.number(0.25) == "0.25")
        #expect(MetricsWriter.number(1e-7) == "1e-07")
        #expect(MetricsWriter.number(1e300) == "1e+300")
    }
}
