import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `--listeners`: one row per listening TCP socket with its accept queue against the backlog,
    /// the established connections on its address and port, their peers, and its owner.
    func runListeners() -> Int32 {
        var q = query
        q.protocols = q.protocols.intersection([.tcp])
        q.states = StateSet([.listen, .established])
        // --pid/--process select listeners, not the connections they count (a worker process may hold those).
        q.pid = nil
        q.processName = nil
        let snapshot: Snapshot
        do {
            snapshot = try SocketCollector(options: CollectOptions(source: source, procRoot: procRoot)).collect(q, owners: true)
        } catch {
            FileOutput.standardError("sockscope: \(error)")
            return 1
        }
        for n in snapshot.notices { FileOutput.standardError("sockscope: \(n)") }
        let selector = query
        let rows = ListenerAnalysis.health(snapshot.records, backlogKnown: snapshot.source == .netlink)
            .filter { selector.matchesOwner($0.listener) }
        let renderer = ListenersRenderer(ports: portContext, header: !noHeader)
        let bytes: [UInt8]
        if insightFormat == .json {
            bytes = renderer.json(rows)
        } else {
            bytes = renderer.table(rows, counters: NetstatParser.loadListenCounters(procRoot: procRoot))
        }
        return LineWriter().write(bytes) ?? 0
    }
}
