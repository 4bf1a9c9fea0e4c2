import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `--listeners`: one row per listening TCP or UNIX socket with its accept queue against the backlog,
    /// the established connections on its address and port, their peers, and its owner.
    func runListeners() -> Int32 {
        var q = query
        // TCP and UNIX stream/seqpacket listeners (unless a table option narrowed them).
        let chosen = q.protocols == [.tcp, .udp] && !tcp && !udp ? q.protocols.union([.unixStream, .unixSeqpacket]) : q.protocols
        q.protocols = chosen.intersection([.tcp, .unixStream, .unixSeqpacket])
        q.states = StateSet([.listen, .established])
        // --pid/--process select listeners, not the connections they count (a worker process may hold those).
        q.pid = nil
        q.processName = nil
        guard let snapshot = collect(q, CollectOptions(source: source, procRoot: procRoot), owners: true) else { return 1 }
        let selector = query
        let rows = ListenerAnalysis.health(snapshot.records, backlogKnown: snapshot.source == .netlink)
            .filter { selector.matchesOwner($0.listener) }
        let renderer = ListenersRenderer(ports: portContext, header: !noHeader)
        let bytes = insightFormat == .json
            ? renderer.json(rows)
            : renderer.table(rows, counters: NetstatParser.loadListenCounters(procRoot: procRoot))
        return LineWriter().write(bytes) ?? 0
    }
}
