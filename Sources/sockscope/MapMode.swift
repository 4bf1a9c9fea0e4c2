import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

extension Sockscope {
    /// `--map`: established connections aggregated into client → server edges, as a table, JSON
    /// or Graphviz DOT, with the ephemeral-port use per destination.
    func runMap() -> Int32 {
        var q = query
        // UNIX stream and seqpacket connections too, unless a table option narrowed the protocols:
        // process ↔ process edges over a path.
        if q.protocols == [.tcp, .udp] && !tcp && !udp { q.protocols.formUnion([.unixStream, .unixSeqpacket]) }
        // Every state: listeners tell which end of a connection serves, and TIME_WAIT sockets hold
        // source ports too. Edges are made of ESTABLISHED sockets only.
        q.states = .all
        // --pid/--process select edges by either end, after the map is made.
        q.pid = nil
        q.processName = nil
        guard let snapshot = collect(q, CollectOptions(source: source, procRoot: procRoot, tcpInfo: info), owners: true)
        else { return 1 }
        if snapshot.source == .proc && info {
            FileOutput.standardError("sockscope: --info needs netlink; /proc has no byte counts, so they are left out")
        }
        let ports = portContext
        // The graph draws one node per process; the table and JSON group processes by name.
        var edges = ConnectionMapper.edges(snapshot.records, ephemeral: ports.ephemeral,
                                           perProcess: insightFormat == .dot)
        if let pid { edges = edges.filter { $0.involves(pid: pid) } }
        if let processName { edges = edges.filter { $0.involves(processName: Array(processName.utf8)) } }
        let pressure = ports.ephemeral.map { EphemeralPressure.report(snapshot.records, range: $0, top: 10) }
        warnEphemeralPressure(pressure, ports: ports)
        let renderer = MapRenderer(ports: ports, header: !noHeader)
        let bytes: [UInt8]
        switch insightFormat {
        case .table, .csv: bytes = renderer.table(edges, pressure: pressure)  // csv is refused by validate()
        case .json: bytes = renderer.json(edges, pressure: pressure)
        case .dot: bytes = renderer.dot(edges, pressure: pressure)
        }
        return LineWriter().write(bytes) ?? 0
    }
}
