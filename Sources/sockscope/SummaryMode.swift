import SockscopeAnalysis
import SockscopeCollect
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `-s`: totals like `ss -s`. Counts every state unless `--state` narrows it; other filters apply.
    func runSummary() -> Int32 {
        var q = query
        q.states = state ?? .all
        guard let snapshot = collect(q, CollectOptions(source: source, procRoot: procRoot), owners: wantsOwners)
        else { return 1 }
        var summary = Summarizer.summarize(snapshot.records)
        let ports = portContext
        addInsight(to: &summary, records: snapshot.records, ports: ports)
        // ss's lines come from the kernel's counters, read right after the listing.
        summary.kernel = SockstatParser.kernelCounts(procRoot: procRoot)
        do {
            summary.unix = SockstatParser.unixCounts(try FamilySources.unix(CollectOptions(source: source, procRoot: procRoot),
                                                                           details: false).entries)
        } catch {
            FileOutput.standardError("sockscope: UNIX sockets not counted: \(error)")
        }
        let bytes = json ? SummaryRenderer.json(summary) : Array(SummaryRenderer.text(summary, ports: ports).utf8)
        return LineWriter().write(bytes) ?? 0
    }
}
