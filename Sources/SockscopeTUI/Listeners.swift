import SockscopeCollect
import SockscopeModel

/// One listening socket and what it serves.
public struct ListenerSummary: Sendable, Hashable {
    /// Index of the listener in the socket list it was computed from.
    public var index: Int
    /// Established connections accepted on this listener's port (and address, for a bound one).
    public var established: Int
    /// Distinct remote addresses among them.
    public var peers: Int
}

/// The listeners view: groups established TCP connections under the listening socket that accepted them.
public enum Listeners {
    struct BindKey: Hashable {
        var family: AddressFamily
        var address: IPAddress
        var port: UInt16
    }

    /// One summary per TCP LISTEN socket in `sockets` (closed ones included, so they can be shown
    /// dimmed), in the order given. A live established connection counts for the listener bound
    /// to its exact local address and port, or else for the wildcard listener of its family on
    /// that port: the one the kernel would have chosen.
    public static func aggregate(_ sockets: some Collection<TrackedSocket>) -> [ListenerSummary] {
        var byBind: [BindKey: Int] = [:]  // binding -> position in `out`
        var out: [ListenerSummary] = []
        var closed: [Bool] = []
        for (i, s) in sockets.enumerated() where s.record.proto == .tcp && s.record.state == .listen {
            let k = BindKey(family: s.record.family, address: s.record.local.address, port: s.record.local.port)
            // A live listener takes the connections over a closed one with the same binding.
            if let existing = byBind[k] {
                if closed[existing] && !s.isClosed { byBind[k] = out.count }
            } else {
                byBind[k] = out.count
            }
            out.append(ListenerSummary(index: i, established: 0, peers: 0))
            closed.append(s.isClosed)
        }
        guard !out.isEmpty else { return out }
        var peers = [Set<IPAddress>](repeating: [], count: out.count)
        for s in sockets where !s.isClosed && s.record.proto == .tcp && s.record.state == .established {
            let r = s.record
            let exact = BindKey(family: r.family, address: r.local.address, port: r.local.port)
            let wild = BindKey(family: r.family, address: r.family == .inet ? .anyIPv4 : .anyIPv6, port: r.local.port)
            guard let j = byBind[exact] ?? byBind[wild] else { continue }
            out[j].established += 1
            peers[j].insert(r.remote.address)
        }
        for j in out.indices { out[j].peers = peers[j].count }
        return out
    }
}
