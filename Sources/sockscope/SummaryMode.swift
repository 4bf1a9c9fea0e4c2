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
        let snapshot: Snapshot
        do {
            snapshot = try SocketCollector(options: CollectOptions(source: source, procRoot: procRoot))
                .collect(q, owners: wantsOwners)
        } catch {
            FileOutput.standardError("sockscope: \(error)")
            return 1
        }
        for n in snapshot.notices { FileOutput.standardError("sockscope: \(n)") }
        var summary = Summarizer.summarize(snapshot.records)
        let ports = portContext
        addInsight(to: &summary, records: snapshot.records, ports: ports)
        let bytes = json ? SummaryRenderer.json(summary) : Array(SummaryRenderer.text(summary, ports: ports).utf8)
        return LineWriter().write(bytes) ?? 0
    }
}
