import ArgumentParser
import SockscopeAnalysis
import SockscopeCollect
import SockscopeModel
import SockscopeRender
import SockscopeSystem

/// `--format`: how the listing, `--map` and `--listeners` print (csv: the listing; dot: `--map`).
enum InsightFormat: String, CaseIterable, ExpressibleByArgument {
    case table, json, dot, csv
}

extension Sockscope {
    /// Service names (none with `-n`) and this host's ephemeral range, read once per call: the
    /// renderers get them as a value and do no I/O.
    /// The port context for socket objects in JSON (`local.service`, `.class`, `.ephemeral`): only with
    /// `-e`. The core schema's `local`/`remote` are exactly `{address, port}`, which scripts and the
    /// independent conformance check compare whole; extra detail is asked for, like the cookie.
    var socketPortContext: PortContext? { extended ? portContext : nil }

    var portContext: PortContext {
        PortContext(services: numeric ? ServiceTable() : services, ephemeral: EphemeralRangeParser.load(procRoot: procRoot))
    }

    /// The output of `--map` / `--listeners`: `--format`, else `--json`, else a table.
    var insightFormat: InsightFormat { format ?? (json ? .json : .table) }

    /// One stderr notice per destination using more than half the ephemeral range.
    func warnEphemeralPressure(_ report: EphemeralReport?, ports: PortContext) {
        for d in report?.warnings ?? [] { FileOutput.standardError("sockscope: \(PressureRenderer.warning(d, ports: ports))") }
    }

    /// Adds the issue-7 parts of `-s`: the kernel's listen queue totals and ephemeral-port use
    /// (the ten busiest destinations, and every one over half the range, which is also warned about).
    func addInsight(to summary: inout SocketSummary, records: [SocketRecord], ports: PortContext) {
        if let c = NetstatParser.loadListenCounters(procRoot: procRoot) {
            summary.listenOverflows = c.overflows
            summary.listenDrops = c.drops
        }
        if let range = ports.ephemeral {
            let report = EphemeralPressure.report(records, range: range, top: 10)
            summary.ephemeralPorts = report
            warnEphemeralPressure(report, ports: ports)
        }
    }
}
