import SockscopeModel

/// Computes a `SocketSummary` from records: pure counting, no I/O.
public enum Summarizer {
    /// - Parameter top: how many listening ports and peers to keep.
    public static func summarize(_ records: [SocketRecord], top: Int = 10) -> SocketSummary {
        var byProto: [SocketSummary.ProtocolCount] = []
        // TCP and UDP always (as `ss -s` shows them, zero or not); another protocol when it has sockets.
        let present = Set(records.lazy.map(\.proto))
        for p in TransportProtocol.allCases where p == .tcp || p == .udp || present.contains(p) {
            for f in p.families {
                byProto.append(.init(proto: p, family: f, count: records.lazy.filter { $0.proto == p && $0.family == f }.count))
            }
        }
        var stateCounts: [String: [TransportProtocol: Int]] = [:]
        var listeners: [UInt16: Int] = [:]
        var served: [UInt16: Int] = [:]
        var peers: [IPAddress: Int] = [:]
        for r in records {
            stateCounts[r.stateName, default: [:]][r.proto, default: 0] += 1
            guard r.proto == .tcp else { continue }
            if r.state == .listen { listeners[r.local.port, default: 0] += 1 }
            if r.state == .established {
                served[r.local.port, default: 0] += 1
                peers[r.remote.address, default: 0] += 1
            }
        }
        var states: [SocketSummary.StateCount] = []
        for (name, perProto) in stateCounts {
            for (p, n) in perProto { states.append(.init(proto: p, state: name, count: n)) }
        }
        states.sort { ($0.proto, -$0.count, $0.state) < ($1.proto, -$1.count, $1.state) }
        // A connection "served" by a listening port is an established socket whose local port listens.
        let ports = listeners.map { SocketSummary.ListeningPort(port: $0.key, listeners: $0.value, established: served[$0.key] ?? 0) }
            .sorted { ($1.established, $0.port) < ($0.established, $1.port) }
        let topPeers = peers.map { SocketSummary.Peer(address: $0.key, established: $0.value) }
            .sorted { ($1.established, $0.address) < ($0.established, $1.address) }
        return SocketSummary(total: records.count, protocols: byProto, states: states,
                             topListeningPorts: Array(ports.prefix(top)), topPeers: Array(topPeers.prefix(top)))
    }
}
