import SockscopeAnalysis
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
    /// One summary per TCP LISTEN socket in `sockets` (closed ones included, so they can be shown
    /// dimmed), in the order given. A live established connection counts for the listener bound
    /// to its exact local address and port, or else for the wildcard listener of its family on
    /// that port: the one the kernel would have chosen. The counting is the library's
    /// (`ListenerAnalysis.aggregate`), shared with `--listeners`.
    public static func aggregate(_ sockets: some Collection<TrackedSocket>) -> [ListenerSummary] {
        ListenerAnalysis.aggregate(sockets, record: { $0.record }, isClosed: { $0.isClosed })
            .map { ListenerSummary(index: $0.index, established: $0.established, peers: $0.peers) }
    }
}
